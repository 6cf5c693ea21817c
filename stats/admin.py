from django.contrib import admin

from gateway.adminkit import ReadOnlyAdmin
from stats.models import DailyUsage, RequestLog


class OutcomeFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("ok", "succeeded"), ("error", "failed")]

    def queryset(self, request, queryset):
        if self.value() == "ok":
            return queryset.filter(status_code__lt=400)
        if self.value() == "error":
            return queryset.filter(status_code__gte=400)
        return queryset


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "request_id", "api_key", "provider", "account", "requested_model",
                    "upstream_model", "stream", "status_code", "prompt_tokens", "completion_tokens", "cost",
                    "latency_ms", "ttft_ms")
    list_filter = (OutcomeFilter, "stream", "client_format", "usage_source", "provider")
    list_select_related = ("api_key", "provider", "account__provider", "proxy")
    search_fields = ("=request_id", "requested_model", "upstream_model")
    date_hierarchy = "created_at"


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ("date", "model", "provider", "account", "api_key", "requests", "errors", "prompt_tokens",
                    "completion_tokens", "cost")
    list_filter = ("provider",)
    list_select_related = ("provider", "account__provider", "api_key")
    search_fields = ("model",)
    date_hierarchy = "date"
