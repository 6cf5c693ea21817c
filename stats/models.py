from django.db import models
from django.utils import timezone


def _loose_fk(to, related_name, db_index=True):
    # Log rows outlive what they point at and are inserted in bulk: no database constraint, no cascade.
    return models.ForeignKey(
        to, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name=related_name,
        db_index=db_index,
    )


class UsageSource(models.TextChoices):
    REPORTED = "reported", "reported by the upstream"
    ESTIMATED = "estimated", "estimated"
    PARTIAL = "partial", "partial (stream cut)"
    NONE = "none", "no usage"


class RequestLog(models.Model):
    request_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Each row is written into every index: these three are served by their (column, created_at) ones.
    api_key = _loose_fk("gateway.ApiKey", "request_logs", db_index=False)
    provider = _loose_fk("providers.Provider", "request_logs", db_index=False)
    account = _loose_fk("accounts.Account", "request_logs", db_index=False)
    proxy = _loose_fk("proxies.ProxyServer", "request_logs")
    endpoint = models.CharField(max_length=64, blank=True)
    client_format = models.CharField(max_length=16, blank=True)
    requested_model = models.CharField(max_length=200, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    stream = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(default=200)
    error_type = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    reasoning_tokens = models.PositiveIntegerField(default=0)
    usage_source = models.CharField(max_length=16, choices=UsageSource.choices, default=UsageSource.NONE)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    images = models.PositiveIntegerField(null=True, blank=True)  # images generated, for per-image prices
    latency_ms = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="log_created"),
            models.Index(fields=["api_key", "created_at"], name="log_key_created"),
            models.Index(fields=["provider", "created_at"], name="log_provider_created"),
            models.Index(fields=["account", "created_at"], name="log_account_created"),
            models.Index(fields=["upstream_model", "created_at"], name="log_model_created"),
            models.Index(fields=["status_code", "created_at"], name="log_status_created"),
        ]

    def __str__(self):
        return self.request_id


class DailyUsage(models.Model):
    date = models.DateField()
    provider = _loose_fk("providers.Provider", "daily_usage")
    account = _loose_fk("accounts.Account", "daily_usage")
    api_key = _loose_fk("gateway.ApiKey", "daily_usage")
    model = models.CharField(max_length=200)
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    cached_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=0)
    latency_ms_sum = models.PositiveBigIntegerField(default=0)
    latency_count = models.PositiveBigIntegerField(default=0)
    ttft_ms_sum = models.PositiveBigIntegerField(default=0)
    ttft_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-date", "model"]
        verbose_name_plural = "daily usage"
        indexes = [
            models.Index(fields=["date", "provider"], name="daily_date_provider"),
            models.Index(fields=["date", "account"], name="daily_date_account"),
            models.Index(fields=["date", "api_key"], name="daily_date_key"),
            models.Index(fields=["date", "model"], name="daily_date_model"),
        ]

    def __str__(self):
        return f"{self.date} {self.model}"
