from fnmatch import fnmatchcase

from django.db import models

from gateway.crypto import EncryptedTextField


class Health(models.TextChoices):
    HEALTHY = "healthy", "healthy"
    COOLING = "cooling", "cooling down"
    FAILED = "failed", "failed"
    NEEDS_REAUTH = "needs_reauth", "needs re-auth"


class Account(models.Model):
    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="accounts")
    name = models.SlugField(max_length=64)
    api_key = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    access_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    project_id = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    allowed_models = models.JSONField(default=list, blank=True, help_text="Model globs this account serves; empty: all.")
    weight = models.PositiveIntegerField(default=1)
    enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=16, choices=Health.choices, default=Health.HEALTHY)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    proxy = models.ForeignKey(
        "proxies.ProxyServer", on_delete=models.SET_NULL, null=True, blank=True, related_name="accounts"
    )
    proxy_pinned = models.BooleanField(
        default=False, help_text="Set by the operator; otherwise the pool assigns one fill-first."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "name"]
        constraints = [models.UniqueConstraint(fields=["provider", "name"], name="unique_account_per_provider")]

    def __str__(self):
        return f"{self.provider.name}/{self.name}"

    @property
    def uses_oauth(self) -> bool:
        return bool(self.refresh_token)

    def serves(self, model: str) -> bool:
        return not self.allowed_models or any(fnmatchcase(model, pattern) for pattern in self.allowed_models)
