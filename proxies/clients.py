"""The only place upstream HTTP clients are built: one pooled egress per route out (direct or a
proxy) and event loop.

The relay's requests go straight to an aiohttp session: under httpx's API (even with the aiohttp
transport, even handing requests to the transport) building httpx's request and response objects
cost a tenth of a relayed request's CPU, and a relay needs none of what they offer. Its answers keep
the little of httpx's shape the adapters read (``status_code``, ``headers``, ``aiter_raw``,
``aclose``) and its errors are httpx's, so the adapters speak one vocabulary. The odd request (an
OAuth token) uses a full httpx client on the same connection pool. SOCKS proxies need httpx's native
transport, which speaks SOCKS, for both.
"""

import asyncio
import base64
import weakref
from functools import lru_cache

import aiohttp
import httpx
from django.conf import settings
from httpx_aiohttp import AiohttpTransport

__all__ = ["Egress", "Answer", "egress_for", "client_for", "close_all"]

_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()

# aiohttp's errors as httpx's, most specific first.
_ERRORS = (
    ((aiohttp.ClientProxyConnectionError, aiohttp.ClientHttpProxyError), httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.TimeoutException),
    ((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError), httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
)


def _as_httpx(error: aiohttp.ClientError) -> httpx.TransportError:
    for kinds, mapped in _ERRORS:
        if isinstance(error, kinds):
            return mapped(f"{type(error).__name__}: {error}")
    return httpx.NetworkError(str(error))


def _limits() -> httpx.Limits:
    conf = settings.GATEWAY
    return httpx.Limits(
        max_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        max_keepalive_connections=conf["UPSTREAM_MAX_CONNECTIONS"],
        keepalive_expiry=conf["UPSTREAM_KEEPALIVE_SECONDS"],
    )


@lru_cache(maxsize=64)
def _timeout(connect: float | None) -> aiohttp.ClientTimeout:
    # No overall limit: the relay bounds each wait itself (first byte, idle time between events).
    return aiohttp.ClientTimeout(total=None, sock_connect=connect)


@lru_cache(maxsize=1024)
def _url(url: str) -> httpx.URL:
    # Upstream URLs come from the configuration, so they are few: parse each once.
    return httpx.URL(url)


class Answer:
    """An upstream's answer, read as it arrives."""

    __slots__ = ("_response", "status_code", "headers")

    def __init__(self, response: aiohttp.ClientResponse):
        self._response = response
        self.status_code = response.status
        self.headers = response.headers  # case-insensitive

    async def aiter_raw(self):
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except aiohttp.ClientError as error:
            raise _as_httpx(error) from error

    @property
    def declared_length(self) -> int | None:
        return self._response.content_length

    async def read(self) -> bytes:
        """The whole body, in one read: for an answer whose length was declared."""
        try:
            return await self._response.read()
        except aiohttp.ClientError as error:
            raise _as_httpx(error) from error

    async def aclose(self):
        # A connection whose answer was not read to its end is closed, not reused.
        self._response.release()
        await self._response.wait_for_close()


class Egress:
    """One way out: a pooled session for the relay, and an httpx client on the same pool."""

    def __init__(self, proxy_url: str):
        limits = _limits()
        self.session = None
        if proxy_url.startswith("socks"):
            transport = httpx.AsyncHTTPTransport(proxy=proxy_url, limits=limits, trust_env=False)
        else:
            connector = aiohttp.TCPConnector(limit=limits.max_connections, keepalive_timeout=limits.keepalive_expiry,
                                             ssl=httpx.create_ssl_context(trust_env=False))
            self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False,
                                                 timeout=_timeout(None))
            proxy = httpx.Proxy(proxy_url) if proxy_url else None
            transport = AiohttpTransport(client=self.session, proxy=proxy, trust_env=False)
            self._proxy = str(proxy.url) if proxy else None
            self._proxy_headers = _proxy_authorization(proxy) if proxy else None
        self.transport = transport
        # Redirects are never followed: a redirect could carry a credential to another host.
        self.client = httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=None, trust_env=False)

    async def send(self, method: str, url: str, headers: list, content: bytes, connect_timeout: float | None = None):
        """The answer's head (an Answer, or an httpx.Response through SOCKS); httpx's errors."""
        if self.session is None:
            extensions = {"timeout": {"connect": connect_timeout}} if connect_timeout else None
            request = httpx.Request(method, _url(url), headers=headers, content=content, extensions=extensions)
            return await self.transport.handle_async_request(request)
        if self._proxy_headers and url.startswith("http:"):
            # A plain-HTTP request goes to the proxy itself, which reads its credential from the request;
            # an HTTPS one tunnels, and the credential goes with the CONNECT (proxy_headers).
            headers = [*headers, *self._proxy_headers.items()]
        try:
            response = await self.session.request(
                method, url, headers=headers, data=content, allow_redirects=False, compress=False,
                timeout=_timeout(connect_timeout), proxy=self._proxy, proxy_headers=self._proxy_headers)
        except aiohttp.ClientError as error:
            raise _as_httpx(error) from error
        return Answer(response)

    async def aclose(self):
        await self.client.aclose()


def _proxy_authorization(proxy: httpx.Proxy) -> dict | None:
    if not proxy.auth:
        return None
    token = base64.b64encode(f"{proxy.auth[0]}:{proxy.auth[1]}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}


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
