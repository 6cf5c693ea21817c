"""What the API shows. Secrets (every EncryptedTextField) are write-only: a response says only
whether one is set (``has_<name>``), never its value; only a superuser may set, change or clear one."""

from rest_framework import exceptions, serializers

from accounts.models import Account
from gateway.crypto import EncryptedTextField, Unreadable
from providers.models import Provider
from proxies.models import ProxyServer
from stats.models import RequestLog

__all__ = [
    "FiguresSerializer", "SummarySerializer", "DailySerializer", "ModelFiguresSerializer", "GroupSerializer",
    "UnpricedSerializer", "LogSerializer", "UsageSerializer", "ProviderSerializer", "AccountSerializer",
    "ProxySerializer",
]


def money(**kwargs):
    return serializers.DecimalField(max_digits=20, decimal_places=8, coerce_to_string=False, **kwargs)


class FiguresSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = money(help_text="USD; requests of unpriced models count as 0")
    latency_avg_ms = serializers.FloatField(allow_null=True)
    ttft_avg_ms = serializers.FloatField(allow_null=True)


class SummarySerializer(FiguresSerializer):
    start = serializers.DateField()
    end = serializers.DateField()
    success_rate = serializers.FloatField(allow_null=True, help_text="share of requests with a status below 400")
    latency_p50_ms = serializers.IntegerField(allow_null=True)
    latency_p95_ms = serializers.IntegerField(allow_null=True)


class DailySerializer(FiguresSerializer):
    date = serializers.DateField()
    source = serializers.ChoiceField(
        ["rollup", "log"], help_text="DailyUsage, or the request log (today, or a day not rolled up)"
    )


class ModelFiguresSerializer(FiguresSerializer):
    model = serializers.CharField()


class GroupSerializer(FiguresSerializer):
    id = serializers.IntegerField(allow_null=True, help_text="null: requests that had none")
    name = serializers.CharField(allow_null=True, help_text="null when the row was deleted since")


class UnpricedSerializer(serializers.Serializer):
    model = serializers.CharField()
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    priced_now = serializers.BooleanField(help_text="a price applies now (the logged rows keep no cost)")


class LogSerializer(serializers.ModelSerializer):
    provider_name = serializers.CharField(source="provider.name", default=None, read_only=True)
    account_name = serializers.CharField(source="account.name", default=None, read_only=True)
    key_name = serializers.CharField(source="api_key.name", default=None, read_only=True)
    proxy_name = serializers.CharField(source="proxy.name", default=None, read_only=True)
    cost = money(allow_null=True, read_only=True)

    class Meta:
        model = RequestLog
        fields = [
            "id", "request_id", "created_at", "api_key", "key_name", "provider", "provider_name", "account",
            "account_name", "proxy", "proxy_name", "endpoint", "client_format", "requested_model",
            "upstream_model", "stream", "status_code", "error_type", "error_message", "prompt_tokens",
            "completion_tokens", "cached_tokens", "reasoning_tokens", "usage_source", "cost", "latency_ms",
            "ttft_ms", "attempts", "client_ip",
        ]
        read_only_fields = fields


class LimitsSerializer(serializers.Serializer):
    rpm = serializers.IntegerField(allow_null=True)
    tpm = serializers.IntegerField(allow_null=True)
    budget_usd = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=False, allow_null=True)
    budget_period = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    allowed_models = serializers.ListField(child=serializers.CharField())


class UsageSerializer(FiguresSerializer):
    key = serializers.CharField(help_text="the key's name")
    prefix = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    limits = LimitsSerializer()
    by_model = ModelFiguresSerializer(many=True)
    by_day = DailySerializer(many=True)


class SecretIsSet(serializers.BooleanField):
    """Whether a secret is stored (also when the current encryption key cannot read it)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return isinstance(value, Unreadable) or bool(value)


class SecretsHiddenSerializer(serializers.ModelSerializer):
    """Encrypted fields are accepted on write ("" clears, absent keeps) and shown as has_<name> only."""

    def secret_names(self) -> list:
        return [f.name for f in self.Meta.model._meta.fields if isinstance(f, EncryptedTextField)]

    def get_extra_kwargs(self):
        extra = super().get_extra_kwargs()
        for name in self.secret_names():
            extra[name] = {**extra.get(name, {}), "write_only": True, "required": False,
                           "style": {"input_type": "password"}}
        return extra

    def get_field_names(self, declared_fields, info):
        names = list(super().get_field_names(declared_fields, info))
        return names + [f"has_{name}" for name in self.secret_names() if name in names]

    def validate(self, attrs):
        request = self.context.get("request")
        touched = sorted(name for name in self.secret_names() if name in attrs)
        if touched and not (request and request.user.is_superuser):
            raise exceptions.PermissionDenied(f"only a superuser may set or change secrets: {', '.join(touched)}")
        return super().validate(attrs)

    def build_field(self, field_name, info, model_class, nested_depth):
        name = field_name.removeprefix("has_")
        if field_name.startswith("has_") and name in self.secret_names():
            return SecretIsSet, {"source": name}
        return super().build_field(field_name, info, model_class, nested_depth)


class ProviderSerializer(SecretsHiddenSerializer):
    """An upstream provider; oauth_client_secret is write-only."""

    class Meta:
        model = Provider
        fields = [
            "id", "name", "type", "base_url", "enabled", "is_default", "timeout", "connect_timeout", "idle_timeout",
            "oauth_token_url", "oauth_client_id", "oauth_client_secret", "created_at", "updated_at",
        ]


class AccountSerializer(SecretsHiddenSerializer):
    """A provider account; api_key, refresh_token and access_token are write-only."""

    class Meta:
        model = Account
        fields = [
            "id", "provider", "name", "api_key", "refresh_token", "access_token", "token_expires_at", "project_id",
            "tags", "allowed_models", "weight", "enabled", "health", "cooldown_until", "last_error", "last_used_at",
            "proxy", "proxy_pinned", "created_at", "updated_at",
        ]
        read_only_fields = ["last_error", "last_used_at"]


class ProxySerializer(SecretsHiddenSerializer):
    """An outbound proxy; password is write-only."""

    class Meta:
        model = ProxyServer
        fields = ["id", "name", "url", "username", "password", "capacity", "priority", "enabled", "created_at",
                  "updated_at"]
