"""The only place an upstream HTTP client is built: one pooled client per egress and event loop.

Direct traffic uses httpx over the aiohttp transport (httpx's own transport costs several times
more CPU per request); SOCKS proxies need httpx's native transport, which speaks SOCKS.
"""

import asyncio
import weakref

import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

__all__ = ["client_for", "close_all"]

_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()


def _limits() -> httpx.Limits:
    conf = settings.GATEWAY
    return httpx.Limits(
        max_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        max_keepalive_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        keepalive_expiry=conf["UPSTREAM_KEEPALIVE_SECONDS"],
    )


def _build(proxy_url: str) -> httpx.AsyncClient:
    # Redirects are never followed: a redirect could take a credential to another host.
    common = {"follow_redirects": False, "timeout": None, "trust_env": False}
    if proxy_url.startswith("socks"):
        return httpx.AsyncClient(proxy=proxy_url, limits=_limits(), **common)
    proxy = httpx.Proxy(proxy_url) if proxy_url else None
    return httpx.AsyncClient(transport=AiohttpTransport(limits=_limits(), proxy=proxy, trust_env=False), **common)


def client_for(proxy_url: str = "") -> httpx.AsyncClient:
    """The shared client for traffic leaving directly ("") or through the given proxy URL."""
    pool = _pools.setdefault(asyncio.get_running_loop(), {})
    client = pool.get(proxy_url)
    if client is None or client.is_closed:
        client = pool[proxy_url] = _build(proxy_url)
    return client


async def close_all():
    pool = _pools.pop(asyncio.get_running_loop(), {})
    for client in pool.values():
        await client.aclose()
