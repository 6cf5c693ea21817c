"""Fill-first proxy assignment: each account without a pinned proxy gets the first enabled proxy
(by priority, then id) with free capacity, and keeps it.

Capacity holds across processes: a proxy's row is locked (SELECT ... FOR UPDATE) while its free
places are counted and taken, so two processes never put more accounts behind it than it allows.
"""

import logging

from django.db import transaction
from django.db.models import Count, Q

from accounts.models import Account
from proxies.models import ProxyServer

__all__ = ["assign_proxies", "release_proxy", "rebalance", "proxy_load"]

log = logging.getLogger(__name__)


def _needs_proxy():
    # Accounts whose automatic proxy went away or was disabled need one as much as new accounts.
    # No join in the condition, so that the UPDATE below re-checks it in the same statement (MySQL
    # turns an UPDATE with a join into a SELECT then an UPDATE by id, which would not).
    disabled = ProxyServer.objects.filter(enabled=False).values("id")
    return Account.objects.filter(proxy_pinned=False).filter(Q(proxy__isnull=True) | Q(proxy__in=disabled))


def _fill(proxy_id: int) -> int:
    """Give free places behind one proxy to waiting accounts; returns how many were placed."""
    with transaction.atomic():
        proxy = ProxyServer.objects.select_for_update().filter(id=proxy_id, enabled=True).first()
        if proxy is None:
            return 0
        free = proxy.capacity - Account.objects.filter(proxy=proxy).count()
        if free <= 0:
            return 0
        waiting = list(_needs_proxy().order_by("id").values_list("id", flat=True)[:free])
        # The condition re-checks each account so a concurrent assigner cannot move it twice.
        return _needs_proxy().filter(id__in=waiting).update(proxy=proxy)


def assign_proxies() -> int:
    """Place every account that needs a proxy; returns how many were placed."""
    if not ProxyServer.objects.filter(enabled=True).exists():
        return 0
    placed = 0
    for proxy_id in ProxyServer.objects.filter(enabled=True).order_by("priority", "id").values_list("id", flat=True):
        if not _needs_proxy().exists():
            break
        placed += _fill(proxy_id)
    if placed:
        from gateway.snapshot import bump_config_version

        bump_config_version()
    if _needs_proxy().exists():
        log.warning("some accounts have no proxy: every enabled proxy is full")
    return placed


def _room() -> int:
    """Free places behind enabled proxies that no waiting account will take."""
    load = proxy_load()
    free = sum(max(p.capacity - load.get(p.id, 0), 0) for p in ProxyServer.objects.filter(enabled=True))
    return free - _needs_proxy().count()


def _shed(proxy_id: int, room: int) -> int:
    """Take up to ``room`` of the newest automatic accounts off a proxy holding more than its capacity."""
    with transaction.atomic():
        proxy = ProxyServer.objects.select_for_update().filter(id=proxy_id).first()
        if proxy is None:
            return 0
        extra = min(Account.objects.filter(proxy=proxy).count() - proxy.capacity, room)
        if extra <= 0:
            return 0
        newest = Account.objects.filter(proxy=proxy, proxy_pinned=False).order_by("-id").values_list("id", flat=True)
        return Account.objects.filter(id__in=list(newest[:extra])).update(proxy=None)


def rebalance(proxy_ids: list | None = None) -> tuple:
    """Move automatic accounts off proxies over capacity (all, or those given) as far as other
    proxies have room, then place every account that waits; returns (moved off, placed)."""
    if proxy_ids is None:
        proxy_ids = list(ProxyServer.objects.values_list("id", flat=True))
    shed = 0
    for proxy_id in proxy_ids:
        shed += _shed(proxy_id, _room())
    return shed, assign_proxies()


def release_proxy(proxy: ProxyServer) -> int:
    """Take a proxy's automatic accounts off it (it is being disabled); pinned accounts stay."""
    return Account.objects.filter(proxy=proxy, proxy_pinned=False).update(proxy=None)


def proxy_load() -> dict:
    """proxy id -> number of accounts behind it."""
    return dict(ProxyServer.objects.annotate(n=Count("accounts")).values_list("id", "n"))
