"""Keep the fill-first assignment current when accounts or proxies change."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from accounts.models import Account
from proxies.assignment import assign_proxies
from proxies.models import ProxyServer


def _reassign(sender, **kwargs):
    transaction.on_commit(assign_proxies)


def _unpin(sender, instance, **kwargs):
    # Accounts pinned to a proxy that is going away must get another, never leave directly.
    Account.objects.filter(proxy=instance).update(proxy_pinned=False)


def _account_saved(sender, instance, **kwargs):
    if not instance.proxy_pinned and (instance.proxy_id is None or not instance.proxy.enabled):
        transaction.on_commit(assign_proxies)


def connect():
    post_save.connect(_reassign, sender=ProxyServer, dispatch_uid="proxy-saved")
    pre_delete.connect(_unpin, sender=ProxyServer, dispatch_uid="proxy-unpin")
    post_delete.connect(_reassign, sender=ProxyServer, dispatch_uid="proxy-deleted")
    post_save.connect(_account_saved, sender=Account, dispatch_uid="account-needs-proxy")
