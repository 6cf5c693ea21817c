import hashlib
import secrets
from fnmatch import fnmatchcase

from django.db import models
from django.utils import timezone

KEY_PREFIX = "sk-gw-"
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 6


def hash_key(raw: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is as safe as a slow one and costs nothing per request.
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class BudgetPeriod(models.TextChoices):
    TOTAL = "total", "total"
    DAILY = "daily", "per day"
    MONTHLY = "monthly", "per month"


class ApiKey(models.Model):
    """A client-facing gateway key. Only its hash is stored; the prefix is kept for display."""

    name = models.SlugField(max_length=64, unique=True)
    prefix = models.CharField(max_length=32, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    allowed_models = models.JSONField(default=list, blank=True, help_text='Model globs; ["*"] or empty: all.')
    rpm = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute; empty: no limit.")
    tpm = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens per minute; empty: no limit.")
    budget_usd = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    budget_period = models.CharField(max_length=16, choices=BudgetPeriod.choices, default=BudgetPeriod.TOTAL)
    allowed_ips = models.JSONField(default=list, blank=True, help_text="CIDR blocks; empty: any address.")
    tags = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "gateway key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def set_key(self, raw: str):
        self.key_hash = hash_key(raw)
        self.prefix = raw[:DISPLAY_PREFIX_LENGTH]

    def matches_key(self, raw: str) -> bool:
        return secrets.compare_digest(self.key_hash, hash_key(raw))

    @property
    def is_active(self) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > timezone.now())

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or any(fnmatchcase(model, p) for p in self.allowed_models)


class AuditEntry(models.Model):
    """One change to the configuration: who, when, from where, what (secrets masked)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150)
    source = models.CharField(max_length=16)  # admin | api | loadconfig | system
    action = models.CharField(max_length=8)  # create | update | delete
    model = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.model} {self.object_repr}"


class StoredResponse(models.Model):
    """A Responses API answer kept so that its conversation can be continued by id.

    ``input`` holds every input item of the conversation up to this answer, earlier turns included,
    and ``response`` the response object the client got: one row rebuilds the whole conversation.
    Only the key that created it sees it; rows past GATEWAY["RESPONSE_RETENTION_DAYS"] are purged.
    """

    id = models.CharField(max_length=64, primary_key=True)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="stored_responses")
    model = models.CharField(max_length=200, blank=True)
    input = models.JSONField(default=list)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.id
