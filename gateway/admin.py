from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from gateway.configfile.schema import MIN_KEY_LENGTH
from gateway.adminkit import ReadOnlyAdmin
from gateway.models import ApiKey, AuditEntry, generate_key, hash_key

admin.site.site_header = "AI Gateway"
admin.site.site_title = "AI Gateway"
admin.site.index_title = "Configuration and usage"

LIMITS = ("allowed_models", "rpm", "tpm", "budget_usd", "budget_period", "expires_at", "allowed_ips", "tags")


class ApiKeyAddForm(forms.ModelForm):
    key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 60}),
        help_text="Leave empty to generate one. Either way it is shown once, after saving; only its hash is kept.",
    )

    class Meta:
        model = ApiKey
        fields = ("name", "key", *LIMITS)

    def clean_key(self):
        raw = self.cleaned_data["key"]
        if raw and len(raw) < MIN_KEY_LENGTH:
            raise forms.ValidationError(f"A key must be at least {MIN_KEY_LENGTH} characters.")
        if raw and ApiKey.objects.filter(key_hash=hash_key(raw)).exists():
            raise forms.ValidationError("This key is already in use.")
        return raw


@admin.action(description="Revoke selected gateway keys", permissions=["change"])
def revoke(modeladmin, request, queryset):
    count = 0
    for key in queryset.filter(revoked=False):
        key.revoked = True
        key.save(update_fields=["revoked", "updated_at"])
        modeladmin.log_change(request, key, [{"changed": {"fields": ["revoked"]}}])
        count += 1
    modeladmin.message_user(request, f"{count} revoked.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "active", "revoked", "rpm", "tpm", "budget_usd", "budget_period",
                    "expires_at", "last_used_at")
    list_filter = ("revoked", "budget_period")
    search_fields = ("name", "prefix")
    actions = [revoke]
    add_form = ApiKeyAddForm
    add_fieldsets = [(None, {"fields": ("name", "key")}), ("Limits", {"fields": LIMITS})]
    fieldsets = [
        (None, {"fields": ("name", "prefix", "revoked")}),
        ("Limits", {"fields": LIMITS}),
        ("Activity", {"fields": ("created_at", "updated_at", "last_used_at")}),
    ]
    readonly_fields = ("prefix", "created_at", "updated_at", "last_used_at")

    @admin.display(boolean=True)
    def active(self, obj):
        return not obj.revoked and (obj.expires_at is None or obj.expires_at > timezone.now())

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        raw = form.cleaned_data.get("key") or generate_key()
        obj.set_key(raw)
        super().save_model(request, obj, form, change)
        messages.warning(request, f"The key for “{obj.name}” is {raw} — copy it now: it is not shown again.")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "source", "action", "model", "object_repr")
    list_filter = ("source", "action", "model")
    search_fields = ("actor", "object_repr", "object_id")
    date_hierarchy = "at"
