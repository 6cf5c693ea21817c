"""The in-memory configuration snapshot the hot path reads instead of the database.

A snapshot is built from the database in one go, then never mutated. Any change to the
configuration bumps a version number in the shared cache; every process checks it at most once
per ``SNAPSHOT_REFRESH_SECONDS`` (off the request path) and rebuilds when it moved.
"""

import asyncio
import ipaddress
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatchcase

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import close_old_connections

from gateway import conf

__all__ = ["ProviderConf", "AccountConf", "RouteConf", "KeyConf", "PriceConf", "Snapshot", "SnapshotHolder",
           "build_snapshot", "bump_config_version", "holder", "parse_networks"]

log = logging.getLogger(__name__)

VERSION_KEY = "config:version"


@dataclass(frozen=True, slots=True)
class ProviderConf:
    id: int
    name: str
    type: str
    base_url: str
    enabled: bool
    timeout: float
    connect_timeout: float
    idle_timeout: float
    oauth_token_url: str = ""
    oauth_client_id: str = ""
    oauth_client_secret: str = ""


@dataclass(frozen=True, slots=True)
class AccountConf:
    id: int
    provider_id: int
    name: str
    api_key: str
    access_token: str
    refresh_token: str
    token_expires_at: datetime | None
    project_id: str
    allowed_models: tuple
    weight: int
    usable: bool  # enabled, credentials readable, not failed by health checks
    proxy_id: int | None
    proxy_url: str  # with credentials: for the HTTP client only

    def serves(self, model: str) -> bool:
        return not self.allowed_models or any(fnmatchcase(model, p) for p in self.allowed_models)


@dataclass(frozen=True, slots=True)
class RouteConf:
    model: str
    upstream_model: str
    priority: int
    provider_ids: tuple


@dataclass(frozen=True, slots=True)
class KeyConf:
    id: int
    name: str
    key_hash: str
    allowed_models: tuple
    rpm: int | None
    tpm: int | None
    budget_usd: Decimal | None
    budget_period: str
    allowed_ips: tuple
    tags: dict
    expires_at: datetime | None
    revoked: bool
    networks: tuple | None = None  # allowed_ips parsed once; None: any address

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or any(fnmatchcase(model, p) for p in self.allowed_models)

    def allows_address(self, address: str) -> bool:
        if self.networks is None:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


def parse_networks(blocks) -> tuple | None:
    """CIDR blocks (or single addresses) as networks; an entry that is not one matches nothing."""
    if not blocks:
        return None
    networks = []
    for block in blocks:
        try:
            networks.append(ipaddress.ip_network(str(block).strip(), strict=False))
        except ValueError:
            log.warning("ignoring %r in a gateway key's allowed_ips: not an address or CIDR block", block)
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class PriceConf:
    model: str
    valid_from: datetime
    input_per_million: Decimal
    output_per_million: Decimal
    cached_input_per_million: Decimal | None
    per_image: Decimal | None = None


@dataclass(slots=True)
class Snapshot:
    version: str
    providers: dict = field(default_factory=dict)  # id -> ProviderConf
    exact_routes: dict = field(default_factory=dict)  # model -> RouteConf
    glob_routes: list = field(default_factory=list)  # RouteConf, best first
    default_provider_id: int | None = None
    accounts: dict = field(default_factory=dict)  # provider id -> [AccountConf]
    keys: dict = field(default_factory=dict)  # key hash -> KeyConf
    prices: list = field(default_factory=list)  # PriceConf, newest first
    built_at: float = 0.0

    def route_for(self, model: str):
        route = self.exact_routes.get(model)
        if route is not None:
            return route
        for route in self.glob_routes:
            if fnmatchcase(model, route.model):
                return route
        return None

    def public_models(self) -> list:
        """The names the routes expose: exact names, then globs' literal prefixes are not listable."""
        return sorted(self.exact_routes)


def build_snapshot(version: str = "") -> Snapshot:
    """Read the whole configuration in a handful of queries."""
    from accounts.models import Account, Health
    from gateway.crypto import Unreadable
    from gateway.models import ApiKey
    from providers.models import ModelPrice, ModelRoute, Provider
    from proxies.models import ProxyServer

    snap = Snapshot(version=version, built_at=time.time())
    for p in Provider.objects.all():
        snap.providers[p.id] = ProviderConf(
            p.id, p.name, p.type, p.base_url.rstrip("/"), p.enabled, p.timeout, p.connect_timeout,
            p.idle_timeout, p.oauth_token_url, p.oauth_client_id, p.oauth_client_secret,
        )
        if p.is_default and p.enabled:
            snap.default_provider_id = p.id
    for route in ModelRoute.objects.filter(enabled=True).prefetch_related("targets"):
        conf = RouteConf(route.model, route.upstream_model, route.priority,
                         tuple(t.provider_id for t in route.targets.all()))
        if route.is_glob:
            snap.glob_routes.append(conf)
        else:
            snap.exact_routes[route.model] = conf
    # Most specific glob first: higher priority, then the longer (more literal) pattern.
    snap.glob_routes.sort(key=lambda r: (-r.priority, -len(r.model.replace("*", ""))))
    proxies_in_use = ProxyServer.objects.filter(enabled=True).exists()
    for a in Account.objects.select_related("proxy"):
        unreadable = any(isinstance(v, Unreadable) for v in (a.api_key, a.access_token, a.refresh_token))
        usable = a.enabled and not unreadable and a.health not in (Health.FAILED, Health.NEEDS_REAUTH)
        # Once proxies are configured an account leaves only through its own, never directly.
        proxy_ok = a.proxy.enabled if a.proxy else not proxies_in_use
        snap.accounts.setdefault(a.provider_id, []).append(AccountConf(
            a.id, a.provider_id, a.name, a.api_key, a.access_token, a.refresh_token, a.token_expires_at,
            a.project_id, tuple(a.allowed_models or ()), max(a.weight, 0), usable and proxy_ok,
            a.proxy_id, a.proxy.connect_url() if a.proxy else "",
        ))
    for k in ApiKey.objects.all():
        snap.keys[k.key_hash] = KeyConf(
            k.id, k.name, k.key_hash, tuple(k.allowed_models or ()), k.rpm, k.tpm, k.budget_usd,
            k.budget_period, tuple(k.allowed_ips or ()), dict(k.tags or {}), k.expires_at, k.revoked,
            parse_networks(k.allowed_ips),
        )
    snap.prices = [
        PriceConf(p.model, p.valid_from, p.input_per_million, p.output_per_million, p.cached_input_per_million,
                  p.per_image)
        for p in ModelPrice.objects.order_by("-valid_from")
    ]
    return snap


def bump_config_version():
    """Tell every process that the configuration changed."""
    version = uuid.uuid4().hex
    try:
        cache.set(VERSION_KEY, version, None)
    except Exception:  # the shared cache being down must not make a save fail
        log.warning("could not publish the configuration version; other processes refresh on their next check")
    holder.mark_stale()


def _read_version() -> str:
    try:
        return cache.get(VERSION_KEY) or ""
    except Exception:
        return ""


def _build_in_thread(version: str) -> Snapshot:
    try:
        return build_snapshot(version)
    finally:
        close_old_connections()


class SnapshotHolder:
    """The process's current snapshot, refreshed in the background when the version moves."""

    def __init__(self):
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        # Changes asked for and changes built: a request waits while the snapshot lags behind a
        # change made in this process, and a change made during a build asks for another build.
        self._wanted = 0
        self._built = 0
        self._task: asyncio.Future | None = None

    def mark_stale(self):
        self._wanted += 1

    @property
    def current(self) -> Snapshot | None:
        """The snapshot as it is now, without waiting (for background threads)."""
        return self._snapshot

    async def get(self) -> Snapshot:
        snap = self._snapshot
        if snap is None or self._built < self._wanted:
            # A change made in this process is seen by its next request; others see it within the interval.
            return await self._reload()
        if time.monotonic() - self._checked_at > conf.SETTINGS.GATEWAY["SNAPSHOT_REFRESH_SECONDS"]:
            self._checked_at = time.monotonic()
            self._start(self._refresh_if_moved)
        return snap

    async def _reload(self) -> Snapshot:
        for _ in range(3):  # the task under way may be a periodic check, or a build older than the change
            await asyncio.shield(self._start(self._rebuild))
            if self._snapshot is not None and self._built >= self._wanted:
                break
        return self._snapshot

    def _start(self, work) -> asyncio.Future:
        # One refresh at a time per process; a task left over from another event loop (tests) is replaced.
        task = self._task
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = self._task = asyncio.ensure_future(work())
        return task

    async def _rebuild(self):
        wanted = self._wanted
        version = await sync_to_async(_read_version, thread_sensitive=False)()
        try:
            self._snapshot = await sync_to_async(_build_in_thread, thread_sensitive=False)(version)
        except Exception:
            if self._snapshot is None:
                raise
            log.exception("configuration reload failed; serving the previous snapshot")
        self._built = max(self._built, wanted)
        self._checked_at = time.monotonic()

    async def _refresh_if_moved(self):
        try:
            version = await sync_to_async(_read_version, thread_sensitive=False)()
            if self._snapshot is not None and version != self._snapshot.version:
                await self._rebuild()
        except Exception:
            log.exception("configuration check failed; serving the previous snapshot")

    def get_sync(self) -> Snapshot:
        """For management commands and tests outside an event loop."""
        return build_snapshot(_read_version())


holder = SnapshotHolder()
