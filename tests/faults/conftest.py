"""Fault injection. Per-request faults run against the relay in this process (``gw``: the real ASGI
app under uvicorn on loopback, every provider pointed at the scripted fake upstream, as in
tests/relay); outages, drain and load run real server processes (``served.py``)."""

import asyncio
import socket
import time
from dataclasses import dataclass

import psutil
import pytest

from providers.models import ModelRoute, Provider, RouteTarget
from stats.models import RequestLog
from tests.fakes import FakeUpstream, fake_upstream  # noqa: F401
from tests.faults.served import ServedDatabase, script_upstream
from tests.relay.conftest import KEY, MODEL, RELAY_DB, configure
from tests.support.server import GatewayServer, settle

# client format -> (path, body for a model, the header carrying the key)
FORMATS = {
    "oa": ("/v1/chat/completions", lambda model, stream: {
        "model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
    "an": ("/v1/messages", lambda model, stream: {
        "model": model, "stream": stream, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}),
    "ge": ("/v1beta/models/{model}:{method}", lambda model, stream: {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
}
SUCCESS_ENDINGS = {"oa": b"[DONE]", "an": b"message_stop", "ge": b'"finishReason"'}
ERROR_EVENTS = {"oa": b'data: {"error":', "an": b'event: error\ndata: {"type":"error"', "ge": b'data: {"error":'}


def chat_path(fmt: str, model: str, stream: bool) -> str:
    path = FORMATS[fmt][0]
    if fmt == "ge":
        path = path.format(model=model, method="streamGenerateContent?alt=sse" if stream else "generateContent")
    return path


def chat_body(fmt: str, model: str, stream: bool) -> dict:
    return FORMATS[fmt][1](model, stream)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        wants_relay = "tests/faults/" in str(item.path) and "gw" in getattr(item, "fixturenames", ())
        if wants_relay and item.get_closest_marker("django_db") is None:
            item.add_marker(RELAY_DB)


@dataclass
class Gateway:
    url: str
    key: str
    upstream: FakeUpstream
    server: GatewayServer

    def model(self, provider: str) -> str:
        return MODEL[provider]

    def headers(self, request_id: str = "") -> dict:
        headers = {"authorization": f"Bearer {self.key}"}
        return headers | ({"x-request-id": request_id} if request_id else {})

    def provider(self, name: str, **fields) -> Provider:
        """Change a provider (its timeouts, its URL); the relay sees it on its next request."""
        provider = Provider.objects.get(name=name)
        for field, value in fields.items():
            setattr(provider, field, value)
        provider.save()
        return provider

    def add_provider(self, name: str, kind: str, base_url: str, **fields) -> Provider:
        from accounts.models import Account

        provider = Provider.objects.create(name=name, type=kind, base_url=base_url, **fields)
        Account.objects.create(provider=provider, name=f"{name}-a", api_key=f"key-{name}-a")
        return provider

    def route(self, model: str, *providers: str) -> ModelRoute:
        route = ModelRoute.objects.create(model=model)
        for position, name in enumerate(providers):
            RouteTarget.objects.create(route=route, provider=Provider.objects.get(name=name), position=position)
        return route

    def row(self, request_id: str) -> RequestLog:
        settle()
        return RequestLog.objects.get(request_id=request_id)

    # --- the server's own state ---------------------------------------------------------------
    def tasks(self) -> int:
        """Tasks alive on the server's event loop (this probe excluded)."""
        async def count():
            return len(asyncio.all_tasks()) - 1

        loop = self.server.server.servers[0].get_loop()
        return asyncio.run_coroutine_threadsafe(count(), loop).result(5)

    def upstream_connections(self) -> int:
        """Open TCP connections from the gateway to the fake upstream (both live in this process)."""
        return sum(1 for c in psutil.Process().net_connections("tcp")
                   if c.raddr and c.raddr.port == self.upstream.port and c.status == psutil.CONN_ESTABLISHED)


@pytest.fixture(scope="session")
def faults_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = GatewayServer().start()
    yield server
    server.stop()


@pytest.fixture
def gw(transactional_db, faults_server, fake_upstream):  # noqa: F811
    configure(fake_upstream)
    yield Gateway(faults_server.url, KEY, fake_upstream, faults_server)
    settle()


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


class Blackhole:
    """A loopback port whose connects never complete: it listens with a backlog of 0 and one
    connection already fills it, so the kernel drops every further SYN (a firewalled host)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=1)

    def close(self):
        self.filler.close()
        self.listener.close()


@pytest.fixture
def blackhole():
    hole = Blackhole()
    yield hole
    hole.close()


# --- real server processes (served.py) ------------------------------------------------------------

@pytest.fixture(scope="session")
def served_upstream():
    with FakeUpstream() as upstream:
        script_upstream(upstream)
        yield upstream


@pytest.fixture(scope="session")
def served_db(served_upstream, tmp_path_factory):
    database = ServedDatabase(served_upstream, tmp_path_factory.mktemp("served")).create()
    yield database
    database.drop()
