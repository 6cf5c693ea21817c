"""Raw ASGI request and response plumbing for the relay's endpoints (no Django on this path)."""

import asyncio
import random
import re
import time
from urllib.parse import parse_qs

import orjson
from gateway import conf
from gateway.deadlines import at, within
from gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge
from gateway.forwarded import client_address

__all__ = ["Exchange", "request_id_from", "run_until_disconnect", "ClientDisconnected", "error_headers",
           "head_too_large"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
JSON = b"application/json"
SSE = b"text/event-stream"
MAX_JSON_DEPTH = 64  # far beyond any real request (tool schemas included); orjson's own limit is 1024
WATCH_AFTER_SECONDS = 0.05  # a client gone sooner is noticed then; see run_until_disconnect
# Fields some gateways read from the body to pick the upstream, its credentials or extra headers.
# Here the configuration alone says where a request goes: a client that sends one is told so.
ROUTING_FIELDS = frozenset({
    "api_base", "base_url", "api_key", "api_version", "extra_headers", "extra_query", "extra_body",
    "custom_llm_provider", "organization", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "aws_region_name", "vertex_project", "vertex_location", "vertex_credentials", "azure_ad_token",
})


class ClientDisconnected(Exception):
    pass


def request_id_from(headers: dict) -> str:
    given = headers.get("x-request-id", "")
    if _REQUEST_ID.match(given):
        return given
    # The time in milliseconds first, then 80 random bits: ids in the order they were made keep the request
    # log's unique index appending at its end (random ids land all over it, and each row's insert grew
    # costlier as the table did). Python's generator, seeded from the system's per process: the system's
    # own source costs a system call per request, and a request id is unique, not secret.
    return f"req_{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}"


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
        return client_address(client[0] if client else "", self.headers.get("x-forwarded-for"))

    async def body(self) -> bytes:
        """The whole body, within MAX_BODY_BYTES and BODY_TIMEOUT_SECONDS (a client trickling a byte
        at a time must not hold a worker's slot for ever)."""
        options = conf.SETTINGS.GATEWAY
        limit = options["MAX_BODY_BYTES"]
        declared = self.headers.get("content-length")
        if declared and declared.isdecimal() and int(declared) > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        seconds = options["BODY_TIMEOUT_SECONDS"]
        try:
            async with within(seconds):
                return await self._read_body(limit)
        except TimeoutError:
            raise InvalidRequest(f"the request body did not arrive within {seconds:g}s", status=408) from None

    async def _read_body(self, limit: int) -> bytes:
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
        _check_body(raw, data)
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


def head_too_large(scope) -> InvalidRequest | None:
    """A 431 for a request whose headers pass MAX_HEADER_BYTES (the server's parser may take far more)."""
    limit = conf.SETTINGS.GATEWAY["MAX_HEADER_BYTES"]
    size = sum(len(name) + len(value) for name, value in scope["headers"])
    if size <= limit:
        return None
    return InvalidRequest(f"the request headers are larger than {limit} bytes", status=431)


def _check_body(raw: bytes, data: dict):
    for name in ROUTING_FIELDS.intersection(data):
        raise InvalidRequest(f"'{name}' cannot be set by a client: the gateway's configuration decides where "
                             "a request goes and with which credentials", param=name)
    # Counting brackets runs at memory speed; only a body with many of them is walked.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(data) > MAX_JSON_DEPTH:
        raise InvalidRequest(f"the request body nests JSON deeper than {MAX_JSON_DEPTH} levels")


def _depth(data) -> int:
    """How deep the containers nest, walked without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def error_headers(error: GatewayError) -> tuple:
    if error.retry_after is None:
        return ()
    return ((b"retry-after", str(max(1, round(error.retry_after))).encode()),)


async def run_until_disconnect(exchange: Exchange, work):
    """Await ``work`` (a coroutine) in this task; if the client goes away first, cancel it.

    The work runs in the caller's task, and a small task watches for the disconnect. Most answers take a
    few milliseconds, so the watcher only starts for work still running after WATCH_AFTER_SECONDS: a quick
    answer costs a coarse deadline (gateway.deadlines) instead of a task. A client gone before then is
    seen then (the server keeps the disconnect for the next receive), which is soon enough to spare the
    upstream a long generation.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task(loop)
    watcher = None

    def start_watching():
        nonlocal watcher
        watcher = loop.create_task(_cancel_on_disconnect(exchange.receive, task))

    timer = at(loop.time() + WATCH_AFTER_SECONDS, start_watching)
    try:
        return await work
    except asyncio.CancelledError:
        if watcher is not None and watcher.done() and not watcher.cancelled():
            task.uncancel()
            raise ClientDisconnected() from None
        raise  # the server's own cancellation (shutdown)
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()


async def _cancel_on_disconnect(receive, task: asyncio.Task):
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            task.cancel()
            return
