"""The adapter contract: how the relay calls one type of upstream.

An adapter module defines ``adapter = SomeAdapter()``. Most upstreams are HTTP APIs speaking one
of the wire formats, so ``HttpAdapter`` does the work and a subclass only says where to send the
request and how to authenticate. An adapter that is not HTTP (the mock) overrides ``complete``
and ``stream`` directly.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson

from gateway.bytestream import ByteStream, DecodedReader
from gateway.deadlines import within
from gateway.errors import GatewayError, NetworkError, UpstreamError, UpstreamTimeout
from gateway.snapshot import AccountConf, ProviderConf
from proxies.clients import egress_for
from providers.adapters import ratelimit
from providers.types import (
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, ImageRequest, ImageResponse, Usage,
)

__all__ = ["Upstream", "Forwarded", "Adapter", "HttpAdapter", "classify_status", "MAX_ERROR_BODY", "MAX_RESPONSE_BODY"]

MAX_ERROR_BODY = 64 * 1024
_BASE_HEADERS = (("content-type", "application/json"), ("accept-encoding", "identity"))
MAX_RESPONSE_BODY = 64 * 1024 * 1024


@dataclass(slots=True)
class Upstream:
    """One attempt's target: a provider, the account to bill, the model name it knows."""

    provider: ProviderConf
    account: AccountConf | None
    model: str
    credential: str = ""  # api key or fresh access token, set by the relay
    stats: dict = field(default_factory=dict)  # what the attempt learned: ttft, first byte time


@dataclass(slots=True)
class Forwarded:
    """A same-format answer: the upstream's body as it came, and the usage read from it."""

    body: bytes
    usage: Usage


class Adapter:
    """Base contract. ``format`` names the wire codec this upstream speaks (None: not HTTP)."""

    format: str | None = None
    needs_account = True
    supports_embeddings = False
    supports_images = False

    async def complete(self, up: Upstream, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    def stream(self, up: Upstream, request: ChatRequest) -> AsyncIterator:
        raise NotImplementedError

    def forwards(self, client_format: str) -> bool:
        """Whether a client's own body can go to this upstream as it is (the same-format fast path)."""
        return False

    async def embed(self, up: Upstream, request: EmbeddingRequest) -> EmbeddingResponse:
        raise GatewayError("this provider does not serve embeddings", status=400)

    async def count_tokens(self, up: Upstream, request: ChatRequest) -> int | None:
        """Input tokens as the upstream counts them; None when it has no such endpoint."""
        return None

    async def generate_images(self, up: Upstream, request: ImageRequest) -> ImageResponse:
        raise GatewayError("this provider does not generate images", status=400)


def classify_status(status: int, message: str, retry_after: float | None) -> UpstreamError:
    """Map an upstream's error status to what the client gets; the account pool reads the rest."""
    text = f"upstream error {status}: {message}" if message else f"upstream error {status}"
    if status == 429:
        return UpstreamError(text, status=429, error_type="rate_limit", retry_after=retry_after, upstream_status=status)
    if status in (401, 403):
        # The gateway's credential was refused; the client's own key was fine.
        return UpstreamError(text, status=502, error_type="auth", upstream_status=status)
    if status in (400, 404, 409, 413, 422):
        return UpstreamError(text, status=status, error_type="invalid_request", upstream_status=status)
    if status in (408, 504):
        return UpstreamError(text, status=504, error_type="timeout", upstream_status=status)
    if status in (503, 529):
        return UpstreamError(text, status=503, error_type="server_error", retry_after=retry_after, upstream_status=status)
    return UpstreamError(text, status=502, error_type="server_error", upstream_status=status)


def _loads(raw: bytes):
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("the upstream answered with invalid JSON", status=502) from None


async def _read_body(response, limit: int) -> bytes:
    """A whole body within ``limit`` bytes; the caller bounds the time."""
    try:
        declared = getattr(response, "declared_length", None)
        if declared is not None and declared <= limit:
            return await response.read()
        parts, size = [], 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > limit:
                raise UpstreamError("the upstream's answer is larger than the gateway accepts", status=502)
            parts.append(chunk)
        return b"".join(parts)
    except httpx.TransportError as exc:
        raise NetworkError(f"the upstream connection broke: {type(exc).__name__}") from None


def _redact(message: str, credential: str) -> str:
    """Some upstreams quote the key they were sent in their error; the client must never see it."""
    return message.replace(credential, "[redacted]") if credential else message


class HttpAdapter(Adapter):
    """An upstream reached over HTTP with one of the wire codecs."""

    codec = None  # the providers.formats module
    forwards_bodies = True  # False for an upstream that wraps the codec's bodies in its own envelope

    # --- what a subclass says ---------------------------------------------------------------
    def chat_url(self, up: Upstream, stream: bool) -> str:
        raise NotImplementedError

    def headers(self, up: Upstream) -> dict:
        return {"authorization": f"Bearer {up.credential}"}

    def wrap(self, body: dict, up: Upstream) -> dict:
        return body

    def unwrap(self, body: dict) -> dict:
        return body

    def stream_decoder(self):
        return self.codec.StreamDecoder()

    def stream_reader(self):
        """What reads a stream relayed as it is (the same-format fast path)."""
        return DecodedReader(self.stream_decoder())

    def error_message(self, status: int, body: bytes) -> str:
        return self.codec.parse_error(status, body)

    def retry_after(self, response: httpx.Response, body: bytes) -> float | None:
        return ratelimit.retry_after(response.headers)

    # --- the work ---------------------------------------------------------------------------
    async def complete(self, up: Upstream, request: ChatRequest) -> ChatResponse:
        body = self.wrap(self.codec.build_request(request, up.model), up)
        data = await self.post_json(up, self.chat_url(up, False), body)
        return self.codec.parse_response(self.unwrap(data))

    async def stream(self, up: Upstream, request: ChatRequest) -> AsyncIterator:
        body = self.wrap(self.codec.build_request(request, up.model), up)
        decoder = self.stream_decoder()
        async for chunk in self.post_stream(up, self.chat_url(up, True), body):
            for event in decoder.feed(chunk):
                yield event
        for event in decoder.close():
            yield event

    def forwards(self, client_format: str) -> bool:
        return self.forwards_bodies and client_format == self.format

    async def forward(self, up: Upstream, body: dict) -> Forwarded:
        """The client's body, with the upstream's model, answered with the upstream's own bytes."""
        raw = await self.post(up, self.chat_url(up, False), self.codec.forward_request(body, up.model, False))
        return Forwarded(raw, self.codec.response_usage(_loads(raw)))

    def forward_stream(self, up: Upstream, body: dict) -> ByteStream:
        chunks = self.post_stream(up, self.chat_url(up, True), self.codec.forward_request(body, up.model, True))
        return ByteStream(chunks, self.stream_reader(), self.codec.hides_usage(body, True))

    async def post_json(self, up: Upstream, url: str, body: dict) -> dict:
        return _loads(await self.post(up, url, body))

    async def post(self, up: Upstream, url: str, body: dict) -> bytes:
        """The whole body of a successful answer: its head and body within the provider's timeout."""
        try:
            async with within(up.provider.timeout):
                response = await self._send(up, url, body)
                try:
                    return await _read_body(response, MAX_RESPONSE_BODY)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise UpstreamTimeout(f"the upstream did not answer within {up.provider.timeout:g}s") from None

    async def post_stream(self, up: Upstream, url: str, body: dict) -> AsyncIterator:
        """The raw body of a streamed answer. Its timeouts are the relay's, on decoded events: only
        content counts as progress, never a keep-alive."""
        response = await self.open(up, url, body)
        try:
            chunks = response.aiter_raw()
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except httpx.TransportError as exc:
                    raise NetworkError(f"the upstream connection broke: {type(exc).__name__}") from None
                yield chunk
        finally:
            await response.aclose()

    async def open(self, up: Upstream, url: str, body: dict) -> httpx.Response:
        """Send the request and wait, within the provider's timeout, for the response head."""
        try:
            async with within(up.provider.timeout):
                return await self._send(up, url, body)
        except TimeoutError:
            raise UpstreamTimeout(f"the upstream did not answer within {up.provider.timeout:g}s") from None

    async def _send(self, up: Upstream, url: str, body: dict) -> httpx.Response:
        """Send the request and wait for the response head; error statuses are raised here."""
        egress = egress_for(up.account.proxy_url if up.account else "")
        headers = [*_BASE_HEADERS, *self.headers(up).items()]
        started = time.monotonic()
        try:
            response = await egress.send("POST", url, headers, orjson.dumps(body), up.provider.connect_timeout)
        except httpx.TimeoutException:
            raise UpstreamTimeout("the upstream connection timed out") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"could not reach the upstream: {type(exc).__name__}") from None
        up.stats["first_byte_s"] = time.monotonic() - started
        if response.status_code >= 400:
            try:
                raw = await self._read_all(up, response, MAX_ERROR_BODY)
            except GatewayError:
                raw = b""
            finally:
                await response.aclose()
            message = _redact(self.error_message(response.status_code, raw), up.credential)
            raise classify_status(response.status_code, message, self.retry_after(response, raw))
        return response

    async def _read_all(self, up: Upstream, response: httpx.Response, limit: int) -> bytes:
        try:
            async with within(up.provider.timeout):
                return await _read_body(response, limit)
        except TimeoutError:
            raise UpstreamTimeout(f"the upstream did not finish its answer within {up.provider.timeout:g}s") from None
