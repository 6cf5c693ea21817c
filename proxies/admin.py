from django.contrib import admin
from django.db.models import Count

from gateway.adminkit import ReadOnlyAdmin, disable, enable
from gateway.secretfields import SecretsAdmin
from proxies.models import ProxyDailyStats, ProxyServer


@admin.register(ProxyServer)
class ProxyServerAdmin(SecretsAdmin):
    list_display = ("name", "url", "capacity", "account_count", "priority", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    actions = [enable, disable]
    fields = ("name", "url", "username", "password", "capacity", "priority", "enabled")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(account_count=Count("accounts"))

    @admin.display(description="accounts", ordering="account_count")
    def account_count(self, obj):
        return obj.account_count


@admin.register(ProxyDailyStats)
class ProxyDailyStatsAdmin(ReadOnlyAdmin):
    list_display = ("date", "proxy", "requests", "errors")
    list_filter = ("proxy",)
    list_select_related = ("proxy",)
    date_hierarchy = "date"
