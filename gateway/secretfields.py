"""Secret fields in admin forms: never rendered, kept when left blank, emptied with "clear".

A stored secret is not sent to the browser at all: the input is a password box that renders empty,
with a hint saying whether a value is set. Superusers only; other staff do not get the fields.
"""

from dataclasses import dataclass

from django import forms
from django.contrib import admin

from gateway.crypto import EncryptedTextField, Unreadable

__all__ = ["SecretWidget", "SecretField", "SecretsForm", "SecretsAdmin", "secret_hint"]


@dataclass(frozen=True)
class SecretInput:
    typed: str
    clear: bool


class SecretWidget(forms.MultiWidget):
    template_name = "gateway/widgets/secret.html"

    def __init__(self, attrs=None):
        typed = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 60})
        super().__init__({"": typed, "clear": forms.CheckboxInput()}, attrs)

    def decompress(self, value):
        return [None, False]  # the stored value is never put in the page


class SecretField(forms.MultiValueField):
    widget = SecretWidget

    def __init__(self, max_length=None, empty_value=None, **kwargs):
        kwargs["required"] = False
        fields = (forms.CharField(required=False), forms.BooleanField(required=False))
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        typed, clear = (list(data_list) + ["", False])[:2]
        return SecretInput(typed or "", bool(clear))


def secret_hint(stored) -> str:
    if isinstance(stored, Unreadable):
        return "(set, but unreadable with the current GATEWAY_ENCRYPTION_KEY; leave blank to keep)"
    return "(set, leave blank to keep)" if stored else "(not set)"


class SecretsForm(forms.ModelForm):
    """Resolves each SecretField: a typed value replaces, "clear" empties, blank keeps the stored one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, SecretField):
                hint = secret_hint(getattr(self.instance, name, ""))
                field.widget.widgets[0].attrs["placeholder"] = hint
                field.help_text = " ".join(filter(None, [hint, str(field.help_text or "")]))

    def clean(self):
        data = super().clean()
        for name, field in self.fields.items():
            value = data.get(name)
            if isinstance(field, SecretField) and isinstance(value, SecretInput):
                if value.clear:
                    data[name] = ""
                elif value.typed:
                    data[name] = value.typed
                else:
                    del data[name]  # not in cleaned_data: the instance keeps what it has
        return data


class SecretsAdmin(admin.ModelAdmin):
    """Encrypted fields become SecretFields for superusers and are left out for everyone else."""

    form = SecretsForm
    formfield_overrides = {EncryptedTextField: {"form_class": SecretField, "widget": SecretWidget}}

    def secret_fields(self) -> list:
        return [f.name for f in self.model._meta.fields if isinstance(f, EncryptedTextField)]

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude += self.secret_fields()
        return exclude

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = set(self.secret_fields())
        return [(title, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
                for title, opts in fieldsets]
