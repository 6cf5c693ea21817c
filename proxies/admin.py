from django.contrib import admin
from django.db.models import Count

from gateway.adminkit import ReadOnlyAdmin, disable, enable
from gateway.secretfields import SecretsAdmin
from proxies import counters
from proxies.assignment import rebalance
from proxies.models import ProxyDailyStats, ProxyServer


@admin.action(description="Reassign: move accounts off full proxies, place every waiting account",
              permissions=["change"])
def reassign(modeladmin, request, queryset):
    moved, placed = rebalance(list(queryset.values_list("id", flat=True)))
    modeladmin.message_user(request, f"{moved} moved off full proxies, {placed} placed.")


@admin.register(ProxyServer)
class ProxyServerAdmin(SecretsAdmin):
    list_display = ("name", "url", "account_count", "load", "requests_today", "errors_today", "priority", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    actions = [enable, disable, reassign]
    fields = ("name", "url", "username", "password", "capacity", "priority", "enabled")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(account_count=Count("accounts"))

    def get_changelist_instance(self, request):
        # Today's counters for the whole page in one round trip to the shared store.
        changelist = super().get_changelist_instance(request)
        today = counters.figures([obj.id for obj in changelist.result_list])
        for obj in changelist.result_list:
            obj.today = today[obj.id] or (0, 0)
        return changelist

    @admin.display(description="accounts", ordering="account_count")
    def account_count(self, obj):
        return obj.account_count

    @admin.display(description="load (accounts / capacity)")
    def load(self, obj):
        return f"{obj.account_count} / {obj.capacity}"

    @admin.display(description="requests today")
    def requests_today(self, obj):
        return getattr(obj, "today", (0, 0))[0]

    @admin.display(description="errors today")
    def errors_today(self, obj):
        return getattr(obj, "today", (0, 0))[1]


@admin.register(ProxyDailyStats)
class ProxyDailyStatsAdmin(ReadOnlyAdmin):
    list_display = ("date", "proxy", "requests", "errors")
    list_filter = ("proxy",)
    list_select_related = ("proxy",)
    date_hierarchy = "date"
