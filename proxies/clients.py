"""The only place upstream HTTP clients are built: one pooled egress per route out (direct or a
proxy) and event loop.

Direct traffic and HTTP proxies use httpx over the aiohttp transport (httpx's own transport costs
several times more CPU per request); SOCKS proxies need httpx's native transport, which speaks
SOCKS. The hot path hands requests straight to the transport: the client layer around it (cookies,
auth, redirects, URL merging) costs as much as the transport and does nothing for a relay.
"""

import asyncio
import weakref
from functools import lru_cache

import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

__all__ = ["Egress", "egress_for", "client_for", "close_all"]

_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


def _limits() -> httpx.Limits:
    conf = settings.GATEWAY
    return httpx.Limits(
        max_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        max_keepalive_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        keepalive_expiry=conf["UPSTREAM_KEEPALIVE_SECONDS"],
    )


def _transport(proxy_url: str) -> httpx.AsyncBaseTransport:
    if proxy_url.startswith("socks"):
        return httpx.AsyncHTTPTransport(proxy=proxy_url, limits=_limits(), trust_env=False)
    proxy = httpx.Proxy(proxy_url) if proxy_url else None
    return AiohttpTransport(limits=_limits(), proxy=proxy, trust_env=False)


@lru_cache(maxsize=1024)
def _url(url: str) -> httpx.URL:
    # Upstream URLs come from the configuration, so they are few: parse each once.
    return httpx.URL(url)


class Egress:
    """One way out: a pooled transport, and a full client on the same pool for the odd request."""

    def __init__(self, proxy_url: str):
        self.transport = _transport(proxy_url)
        # Redirects are never followed: a redirect could carry a credential to another host.
        self.client = httpx.AsyncClient(transport=self.transport, follow_redirects=False, timeout=None,
                                        trust_env=False)

    async def send(self, method: str, url: str, headers: list, content: bytes,
                   connect_timeout: float | None = None) -> httpx.Response:
        extensions = {"timeout": {"connect": connect_timeout}} if connect_timeout else None
        request = httpx.Request(method, _url(url), headers=headers, content=content, extensions=extensions)
        return await self.transport.handle_async_request(request)

    async def aclose(self):
        await self.client.aclose()


def egress_for(proxy_url: str = "") -> Egress:
    """The shared egress for traffic leaving directly ("") or through the given proxy URL."""
    pool = _pools.setdefault(asyncio.get_running_loop(), {})
    egress = pool.get(proxy_url)
    if egress is None or egress.client.is_closed:
        egress = pool[proxy_url] = Egress(proxy_url)
    return egress


def client_for(proxy_url: str = "") -> httpx.AsyncClient:
    return egress_for(proxy_url).client


async def close_all():
    pool = _pools.pop(asyncio.get_running_loop(), {})
    for egress in pool.values():
        await egress.aclose()
