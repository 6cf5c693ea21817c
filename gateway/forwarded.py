"""The client's address behind a trusted reverse proxy (``X-Forwarded-For``), for the relay's endpoints.

uvicorn's ``--proxy-headers`` would do this for every request in a middleware of its own, one more
layer that each wake-up of a relayed request passes through; serve.sh turns it off, the relay reads
the header from the headers it parses anyway, and Django's pages keep uvicorn's middleware (asgi.py).
Trusted peers come from ``FORWARDED_ALLOW_IPS``, as for uvicorn: addresses, networks, or ``*``.
"""

import os
from functools import lru_cache

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

__all__ = ["client_address", "behind_proxies", "TRUSTED"]

TRUSTED = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


@lru_cache(maxsize=1)
def _middleware_for_trust() -> ProxyHeadersMiddleware:
    # Its parsed trust list: addresses, networks and literals, with a cache of the answers.
    return ProxyHeadersMiddleware(None, TRUSTED)


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The peer, or when a trusted peer forwarded the request, the first address it does not trust."""
    if not forwarded_for:
        return peer
    trusted = _middleware_for_trust().trusted_hosts
    if peer not in trusted:
        return peer
    host, _ = trusted.get_trusted_client_address(forwarded_for)
    return host or peer


def behind_proxies(app):
    """``app`` with uvicorn's handling of the forwarded headers (scheme and client) for every request."""
    return ProxyHeadersMiddleware(app, TRUSTED)
