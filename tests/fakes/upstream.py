"""A scripted fake upstream: a real HTTP server on 127.0.0.1 that speaks the providers' protocols.

It runs aiohttp on its own event loop in a background thread, so sync and async tests can both call
it. It records every request, and answers each from the queue of scripted replies (first match
wins) or, when none matches, with ``Reply.text()``, which echoes the last user text::

    def test_it_fails_over(fake_upstream):
        fake_upstream.script(Reply.status(429, headers={"Retry-After": "7"}), credential="key-a")
        ...  # point the gateway's provider at fake_upstream.base_url + "/v1"
        assert fake_upstream.last("chat/completions").credential == "key-b"

The protocols themselves live in ``protocols.py``; the replies in ``replies.py``.
"""

__all__ = ["FakeUpstream", "RecordedRequest", "Reply", "Usage", "fake_upstream"]

import asyncio
import collections
import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from .protocols import ROUTES, Turn, dumps
from .replies import Reply, Usage


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    headers: dict  # names lowercased
    body: bytes
    json: object = None  # the parsed JSON body, if it was JSON
    form: dict | None = None  # the parsed form, if it was form-encoded
    credential: str | None = None  # x-api-key, x-goog-api-key, bearer token, ?key= or refresh_token
    reply: Reply | None = None  # what it was answered with (None when refused before any reply)
    completed: bool = False  # the whole reply was written
    disconnected: bool = False  # the client went away before the reply was finished


@dataclass
class _Scripted:
    reply: Reply
    path: str | None
    credential: str | None
    times: int | None

    def matches(self, req) -> bool:
        path_ok = self.path is None or self.path in req.path
        return path_ok and (self.credential is None or self.credential == req.credential)


class FakeUpstream:
    """Start with ``start()`` (or ``with FakeUpstream() as upstream``); stop with ``stop()``."""

    def __init__(self):
        self.requests: list[RecordedRequest] = []
        self.port = 0
        self._scripts: list[_Scripted] = []
        self._lock = threading.Lock()
        self._seq = collections.Counter()
        self._loop = self._thread = self._runner = None
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self._thread.start()
        self.port = self._call(self._serve())
        return self

    def stop(self):
        if self._loop is None:
            return
        self._stopping = True
        try:
            self._call(self._runner.cleanup())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            self._loop = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path="") -> str:
        return self.base_url + path

    # --- scripting ---------------------------------------------------------------------------

    def script(self, *replies, path=None, credential=None, times=1):
        """Queue replies for the next matching requests, in order. ``path`` is a substring of the
        request path; ``credential`` must equal the one the request carried; ``times=None`` keeps the
        reply for every matching request until ``clear()``."""
        with self._lock:
            self._scripts += [_Scripted(reply, path, credential, times) for reply in replies]

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        return len(self._scripts)

    def _take(self, req) -> Reply:
        with self._lock:
            entry = next((entry for entry in self._scripts if entry.matches(req)), None)
            if entry is None:
                return Reply.text()
            if entry.times is not None:
                entry.times -= 1
                if entry.times <= 0:
                    self._scripts.remove(entry)
            return entry.reply

    # --- recording ---------------------------------------------------------------------------

    def find(self, path_contains="", credential=None) -> list[RecordedRequest]:
        return [req for req in list(self.requests)
                if path_contains in req.path and (credential is None or req.credential == credential)]

    def last(self, path_contains="", credential=None) -> RecordedRequest:
        found = self.find(path_contains, credential)
        if not found:
            seen = [f"{req.method} {req.path}" for req in self.requests]
            raise LookupError(f"no request to {path_contains!r} was recorded; saw {seen}")
        return found[-1]

    def clear(self):
        """Forget the recorded requests and the unused scripted replies."""
        with self._lock:
            self.requests.clear()
            self._scripts.clear()

    @property
    def disconnects(self) -> int:
        return sum(req.disconnected for req in list(self.requests))

    @property
    def oauth_calls(self) -> int:
        return len(self.find("/oauth/token"))

    def wait_for(self, predicate, timeout=2.0) -> bool:
        """Poll ``predicate()`` until true; from async tests, ``await asyncio.to_thread(upstream.wait_for, ...)``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # --- serving (on the server's own loop) --------------------------------------------------

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _serve(self) -> int:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for method, path, endpoint in ROUTES:
            app.router.add_route(method, path, self._handler(endpoint))
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self._runner.addresses[0][1]

    def _handler(self, endpoint):
        async def handle(request):
            req = await self._record(request)
            try:
                response = await self._respond(request, req, endpoint)
                req.completed = req.completed or not response.prepared  # aiohttp sends it whole
                return response
            except asyncio.CancelledError:  # the client went away (or the server is stopping)
                req.disconnected = not self._stopping
                raise
            except ConnectionResetError:  # the client went away while a write was under way
                req.disconnected = True
                return web.Response()
        return handle

    async def _record(self, request) -> RecordedRequest:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        req = RecordedRequest(request.method, request.path, dict(request.query), headers, body)
        req.json, req.form = _parse(body, request.content_type)
        req.credential = _credential(req)
        self.requests.append(req)
        return req

    async def _respond(self, request, req, endpoint):
        refused = endpoint.reject(req) or _unreadable(request, req, endpoint)
        if refused:
            return web.json_response(refused[1], status=refused[0])
        reply = req.reply = self._take(req)
        if reply.kind == "hang":
            await asyncio.sleep(reply.seconds)
            reply = Reply.text()
        if reply.kind == "status":
            body = reply.body if reply.body is not None else endpoint.error(reply.code, reply.message, reply.retry_delay)
            return web.json_response(body, status=reply.code, headers=reply.headers)
        if reply.kind == "raw":
            return await self._write(request, req, reply, reply.chunks, reply.content_type)
        turn = self._turn(reply, req, endpoint)
        if endpoint.is_stream(req):
            return await self._write(request, req, reply, endpoint.frames(turn, req), endpoint.stream_type(req))
        body = dumps(endpoint.body(turn, req)).encode()
        halves = [body[:len(body) // 2], body[len(body) // 2:]]
        whole = reply.with_(cut_after=1, stall_after=0)
        return await self._write(request, req, whole, halves, "application/json", length=len(body))

    def _turn(self, reply, req, endpoint) -> Turn:
        self._seq[req.path] += 1
        text = reply.content if reply.content is not None else f"echo: {endpoint.user_text(req)}"
        return Turn(reply, text, endpoint.model(req), self._seq[req.path])

    async def _write(self, request, req, reply, frames, content_type, length=None):
        """Write ``frames`` one flushed write each, honouring delay, stall and cut."""
        response = web.StreamResponse(status=reply.code, headers={"Content-Type": content_type, **reply.headers})
        if length is not None:
            response.content_length = length
        await response.prepare(request)
        cut_at = min(reply.cut_after, len(frames) - 1) if reply.kind == "cut" else None
        for index, frame in enumerate(frames):
            if index == cut_at:
                request.transport.close()  # flushes what was written, then drops the connection
                return response
            if reply.stall and index == reply.stall_after:
                await asyncio.sleep(reply.stall)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            await response.write(frame)
        await response.write_eof()
        req.completed = True
        return response


def _parse(body: bytes, content_type: str):
    """``(json, form)`` of a request body; either or both None."""
    if content_type == "application/x-www-form-urlencoded":
        return None, dict(parse_qsl(body.decode(errors="replace")))
    try:
        return (json.loads(body) if body else None), None
    except ValueError:
        return None, None


def _credential(req) -> str | None:
    authorization = req.headers.get("authorization", "")
    bearer = authorization[7:] if authorization.lower().startswith("bearer ") else None
    candidates = (req.headers.get("x-api-key"), req.headers.get("x-goog-api-key"), bearer,
                  req.query.get("key"), (req.form or {}).get("refresh_token"))
    return next((value for value in candidates if value), None)


def _unreadable(request, req, endpoint):
    if request.method == "POST" and not isinstance(req.json, dict) and req.form is None:
        return 400, endpoint.error(400, "the request body is not a JSON object")
    return None


@pytest.fixture
def fake_upstream():
    """A started FakeUpstream, stopped after the test."""
    with FakeUpstream() as upstream:
        yield upstream
