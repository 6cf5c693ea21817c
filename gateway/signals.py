"""Any saved or deleted configuration row makes every process rebuild its snapshot."""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from gateway.snapshot import bump_config_version

CONFIG_MODELS = (
    "gateway.ApiKey", "providers.Provider", "providers.ModelRoute", "providers.RouteTarget",
    "providers.ModelPrice", "accounts.Account", "proxies.ProxyServer",
)


def _changed(sender, **kwargs):
    transaction.on_commit(bump_config_version)


def connect():
    from django.apps import apps

    for label in CONFIG_MODELS:
        model = apps.get_model(label)
        post_save.connect(_changed, sender=model, dispatch_uid=f"snapshot-save-{label}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"snapshot-delete-{label}")
    m2m_changed.connect(_changed, sender=apps.get_model("providers.ModelRoute").providers.through,
                        dispatch_uid="snapshot-route-targets")
