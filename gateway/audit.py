"""The audit log: every change to providers, routes, prices, accounts, proxies and keys, from the
admin, the API or loadconfig, with who made it. Secret values never enter the log."""

import contextvars
from contextlib import contextmanager

from django.db.models.signals import post_delete, post_save, pre_save

from gateway.crypto import EncryptedTextField

__all__ = ["acting_as", "connect", "AuditActorMiddleware", "AUDITED"]

AUDITED = (
    "providers.Provider", "providers.ModelRoute", "providers.RouteTarget", "providers.ModelPrice",
    "accounts.Account", "proxies.ProxyServer", "gateway.ApiKey",
)
_HIDDEN = {"key_hash"}
_IGNORED = {"updated_at", "created_at", "last_used_at"}
_actor = contextvars.ContextVar("audit_actor", default=("system", "system"))
_before = contextvars.ContextVar("audit_before", default={})


@contextmanager
def acting_as(actor: str, source: str):
    token = _actor.set((actor, source))
    try:
        yield
    finally:
        _actor.reset(token)


class AuditActorMiddleware:
    """Names the signed-in user as the actor of whatever the request changes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        source = "admin" if request.path.startswith("/admin/") else "api"
        with acting_as(user.get_username(), source):
            return self.get_response(request)


def _snapshot(instance) -> dict:
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in _IGNORED:
            continue
        value = field.value_from_object(instance)
        if isinstance(field, EncryptedTextField) or field.name in _HIDDEN:
            value = "set" if value else ""
        values[field.name] = value if isinstance(value, (str, int, float, bool, type(None), list, dict)) else str(value)
    return values


def _remember(sender, instance, **kwargs):
    if instance.pk is None:
        return
    old = sender.objects.filter(pk=instance.pk).first()
    if old is not None:
        _before.set({**_before.get(), (sender, instance.pk): _snapshot(old)})


def _saved(sender, instance, created, **kwargs):
    now = _snapshot(instance)
    if created:
        _write(sender, instance, "create", now)
        return
    memory = dict(_before.get())
    old = memory.pop((sender, instance.pk), {})
    _before.set(memory)
    changes = {k: [old.get(k), v] for k, v in now.items() if old.get(k) != v}
    if changes:
        _write(sender, instance, "update", changes)


def _deleted(sender, instance, **kwargs):
    _write(sender, instance, "delete", _snapshot(instance))


def _write(sender, instance, action: str, changes: dict):
    from gateway.models import AuditEntry

    actor, source = _actor.get()
    AuditEntry.objects.create(actor=actor[:150], source=source, action=action, model=sender._meta.label,
                              object_id=str(instance.pk), object_repr=str(instance)[:200], changes=changes)


def connect():
    from django.apps import apps

    for label in AUDITED:
        model = apps.get_model(label)
        pre_save.connect(_remember, sender=model, dispatch_uid=f"audit-pre-{label}")
        post_save.connect(_saved, sender=model, dispatch_uid=f"audit-save-{label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"audit-delete-{label}")
