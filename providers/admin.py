from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.utils import timezone

from gateway.adminkit import disable, enable
from gateway.secretfields import SecretsAdmin
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget


@admin.register(Provider)
class ProviderAdmin(SecretsAdmin):
    list_display = ("name", "type", "base_url", "enabled", "is_default", "account_count", "timeout", "updated_at")
    list_filter = ("type", "enabled", "is_default")
    search_fields = ("name", "base_url")
    actions = [enable, disable]
    formfield_overrides = {**SecretsAdmin.formfield_overrides, models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ("name", "type", "base_url", "enabled", "is_default")}),
        ("Timeouts (seconds)", {"fields": ("timeout", "connect_timeout", "idle_timeout")}),
        ("OAuth", {"fields": ("oauth_token_url", "oauth_client_id", "oauth_client_secret"), "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(account_count=Count("accounts"))

    @admin.display(description="accounts", ordering="account_count")
    def account_count(self, obj):
        return obj.account_count

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.is_default:  # one default provider
            others = Provider.objects.exclude(pk=obj.pk).filter(is_default=True)
            others.update(is_default=False, updated_at=timezone.now())


class RouteTargetInline(admin.TabularInline):
    model = RouteTarget
    fields = ("position", "provider")
    ordering = ("position", "id")
    extra = 1
    verbose_name = "provider"
    verbose_name_plural = "providers, tried in ascending position"


@admin.register(ModelRoute)
class ModelRouteAdmin(admin.ModelAdmin):
    list_display = ("model", "chain", "upstream_model", "priority", "enabled")
    list_filter = ("enabled", "providers")
    search_fields = ("model", "upstream_model")
    inlines = [RouteTargetInline]
    actions = [enable, disable]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("targets__provider")

    @admin.display(description="providers")
    def chain(self, obj):
        return " → ".join(target.provider.name for target in obj.targets.all()) or "—"


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model", "input_per_million", "output_per_million", "cached_input_per_million", "per_image",
                    "valid_from")
    search_fields = ("model",)
    date_hierarchy = "valid_from"
