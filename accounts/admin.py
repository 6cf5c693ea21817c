from django.contrib import admin, messages

from accounts.models import Account, Health
from accounts.pool import state_keys
from accounts.state import live_state, restore
from accounts.upkeep import probe, refresh_now
from gateway.adminkit import disable, enable
from gateway.secretfields import SecretsAdmin
from gateway.shared import sync_state


def _ids(queryset) -> list:
    return list(queryset.values_list("id", flat=True))


def _report(modeladmin, request, outcome):
    modeladmin.message_user(request, str(outcome), messages.WARNING if outcome.failed else messages.SUCCESS)


@admin.action(description="Reset selected accounts: healthy, cool-down and failure count cleared",
              permissions=["change"])
def mark_healthy(modeladmin, request, queryset):
    modeladmin.message_user(request, f"{restore(_ids(queryset))} reset.")


@admin.action(description="Test selected accounts now (a one-token request)", permissions=["change"])
def test_now(modeladmin, request, queryset):
    _report(modeladmin, request, probe(_ids(queryset)))


@admin.action(description="Refresh the OAuth tokens of selected accounts now", permissions=["change"])
def refresh_tokens_now(modeladmin, request, queryset):
    _report(modeladmin, request, refresh_now(_ids(queryset)))


@admin.register(Account)
class AccountAdmin(SecretsAdmin):
    list_display = ("provider", "name", "enabled", "state", "cooling_until", "short_error", "weight", "proxy",
                    "last_used_at")
    list_filter = ("provider", "health", "enabled")
    list_select_related = ("provider", "proxy")
    search_fields = ("name", "project_id", "provider__name")
    actions = [enable, disable, mark_healthy, test_now, refresh_tokens_now]
    readonly_fields = ("last_error", "last_used_at", "token_expires_at", "cooling_until", "created_at", "updated_at")
    fieldsets = [
        (None, {"fields": ("provider", "name", "enabled", "weight", "allowed_models", "tags")}),
        ("Credentials", {"fields": ("api_key", "refresh_token", "access_token", "token_expires_at", "project_id")}),
        ("Proxy", {"fields": ("proxy", "proxy_pinned")}),
        ("State", {"fields": ("health", "cooling_until", "last_error", "last_used_at", "created_at", "updated_at")}),
    ]

    def get_changelist_instance(self, request):
        # The pool's live state for the whole page in one round trip to the shared store.
        changelist = super().get_changelist_instance(request)
        states = live_state([obj.id for obj in changelist.result_list])
        for obj in changelist.result_list:
            obj.live = states[obj.id]
        return changelist

    def _live(self, obj):
        if not obj.pk:
            return None
        live = getattr(obj, "live", None)
        return live if live is not None else live_state([obj.pk])[obj.pk]

    @admin.display(description="health", ordering="health")
    def state(self, obj):
        live = self._live(obj)
        if obj.health == Health.HEALTHY and live and live.cooling_until:
            return Health.COOLING.label
        if obj.health == Health.HEALTHY and live and live.failures:
            return f"{obj.get_health_display()} ({live.failures} failures in a row)"
        return obj.get_health_display()

    @admin.display(description="cooling down until")
    def cooling_until(self, obj):
        live = self._live(obj)
        return live.cooling_until if live and live.cooling_until else "-"

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"

    def save_model(self, request, obj, form, change):
        reauthorized = change and "refresh_token" in form.changed_data and obj.health == Health.NEEDS_REAUTH
        if reauthorized:  # a new refresh token is what a "needs re-auth" account was waiting for
            obj.health, obj.last_error = Health.HEALTHY, ""
        super().save_model(request, obj, form, change)
        if change and obj.health == Health.HEALTHY and (reauthorized or "health" in form.changed_data):
            sync_state().delete(*state_keys(obj.pk))
