"""Raw ASGI request and response plumbing for the relay's endpoints (no Django on this path)."""

import asyncio
import os
import re
from urllib.parse import parse_qs

import orjson
from django.conf import settings

from gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge

__all__ = ["Exchange", "request_id_from", "run_until_disconnect", "ClientDisconnected", "error_headers"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
JSON = b"application/json"
SSE = b"text/event-stream"


class ClientDisconnected(Exception):
    pass


def request_id_from(headers: dict) -> str:
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else "req_" + os.urandom(16).hex()


class Exchange:
    """One HTTP exchange: the parsed head, the body on demand, and ways to answer."""

    __slots__ = ("scope", "receive", "send", "headers", "query", "request_id", "started", "status", "_body_sent")

    def __init__(self, scope, receive, send):
        self.scope = scope
        self.receive = receive
        self.send = send
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw_query = scope.get("query_string", b"")
        self.query = {k: v[-1] for k, v in parse_qs(raw_query.decode("latin-1")).items()} if raw_query else {}
        self.request_id = request_id_from(self.headers)
        self.status = 0
        self.started = False
        self._body_sent = False

    @property
    def client_ip(self) -> str:
        client = self.scope.get("client")
        return client[0] if client else ""

    async def body(self) -> bytes:
        limit = settings.GATEWAY["MAX_BODY_BYTES"]
        declared = self.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        parts, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
            parts.append(chunk)
            if not message.get("more_body"):
                return b"".join(parts) if len(parts) != 1 else parts[0]

    async def json(self) -> dict:
        raw = await self.body()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise InvalidRequest("the request body must be a JSON object")
        return data

    def _head(self, status: int, content_type: bytes, extra: tuple = ()) -> dict:
        headers = [(b"content-type", content_type), (b"x-request-id", self.request_id.encode())]
        headers.extend(extra)
        return {"type": "http.response.start", "status": status, "headers": headers}

    async def respond(self, status: int, body: bytes, content_type: bytes = JSON, extra: tuple = ()):
        self.status = status
        self.started = True
        await self.send(self._head(status, content_type, extra))
        await self.send({"type": "http.response.body", "body": body})

    async def respond_json(self, status: int, data, extra: tuple = ()):
        await self.respond(status, orjson.dumps(data), JSON, extra)

    async def start_stream(self, content_type: bytes = SSE):
        self.status = 200
        self.started = True
        extra = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
        await self.send(self._head(200, content_type, extra))

    async def write(self, chunk: bytes):
        if chunk:
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def end_stream(self, chunk: bytes = b""):
        await self.send({"type": "http.response.body", "body": chunk})


def error_headers(error: GatewayError) -> tuple:
    if error.retry_after is None:
        return ()
    return ((b"retry-after", str(max(1, round(error.retry_after))).encode()),)


async def run_until_disconnect(exchange: Exchange, work):
    """Run ``work`` (a coroutine); if the client goes away first, cancel it at once."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(exchange.receive))
    try:
        done, _ = await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        raise ClientDisconnected()
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


async def _wait_disconnect(receive):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
