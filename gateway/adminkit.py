"""What the apps' admins share: on/off actions, and read-only admins for tables of millions of rows."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

__all__ = ["enable", "disable", "CappedPaginator", "ReadOnlyAdmin"]


def _set_enabled(modeladmin, request, queryset, value: bool):
    changed = 0
    for obj in queryset.filter(enabled=not value):
        obj.enabled = value
        obj.save(update_fields=["enabled", "updated_at"])
        modeladmin.log_change(request, obj, [{"changed": {"fields": ["enabled"]}}])
        changed += 1
    verb = "enabled" if value else "disabled"
    modeladmin.message_user(request, f"{changed} {verb}.")


@admin.action(description="Enable selected %(verbose_name_plural)s", permissions=["change"])
def enable(modeladmin, request, queryset):
    _set_enabled(modeladmin, request, queryset, True)


@admin.action(description="Disable selected %(verbose_name_plural)s", permissions=["change"])
def disable(modeladmin, request, queryset):
    _set_enabled(modeladmin, request, queryset, False)


class CappedPaginator(Paginator):
    """Counts no further than CAP rows: a COUNT(*) over millions of log rows takes seconds.
    Past the cap the last pages are not reachable; narrow with the date links or filters."""

    CAP = 10_000

    @cached_property
    def count(self):
        return self.object_list[: self.CAP].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the gateway writes: viewable, never added, changed or deleted by hand."""

    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
