from django.contrib import admin
from django.utils import timezone

from accounts.models import Account, Health
from gateway.adminkit import disable, enable
from gateway.secretfields import SecretsAdmin


@admin.action(description="Mark selected accounts healthy (end cool-down)", permissions=["change"])
def mark_healthy(modeladmin, request, queryset):
    count = queryset.update(health=Health.HEALTHY, cooldown_until=None, last_error="", updated_at=timezone.now())
    modeladmin.message_user(request, f"{count} marked healthy.")


@admin.register(Account)
class AccountAdmin(SecretsAdmin):
    list_display = ("provider", "name", "enabled", "health", "cooldown_until", "weight", "proxy", "last_used_at")
    list_filter = ("provider", "health", "enabled")
    list_select_related = ("provider", "proxy")
    search_fields = ("name", "project_id", "provider__name")
    actions = [enable, disable, mark_healthy]
    readonly_fields = ("last_error", "last_used_at", "token_expires_at", "created_at", "updated_at")
    fieldsets = [
        (None, {"fields": ("provider", "name", "enabled", "weight", "allowed_models", "tags")}),
        ("Credentials", {"fields": ("api_key", "refresh_token", "access_token", "token_expires_at", "project_id")}),
        ("Proxy", {"fields": ("proxy", "proxy_pinned")}),
        ("State", {"fields": ("health", "cooldown_until", "last_error", "last_used_at", "created_at", "updated_at")}),
    ]
