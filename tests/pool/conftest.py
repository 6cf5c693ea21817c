"""The account pool under test: the real gateway in front of the fake upstream, with several
accounts per provider. The gateway runs in this process (a uvicorn thread); with Redis, tests that
need several processes also start real ``uvicorn`` processes sharing that Redis and the test
database. Every test gets its own key prefix in the shared store.
"""

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from gateway.models import ApiKey
from providers.models import ModelRoute, Provider, RouteTarget
from tests.fakes import FakeUpstream, fake_upstream  # noqa: F401
from tests.fakes.forward_proxy import forward_proxy  # noqa: F401
from tests.support.redis_keys import forget
from tests.support.server import GatewayServer, free_port, settle

KEY = "sk-gw-pool-tests-key"
ROOT = Path(__file__).resolve().parents[2]
LETTERS = "abcdefghij"

# provider type -> (base URL path on the fake, route glob, model)
KINDS = {
    "openai": ("/v1", "pm-*", "pm-model"),
    "antigravity": ("", "ag-*", "ag-model"),
}


@dataclass
class Pool:
    """One provider with several accounts, reachable through one or more gateway URLs."""

    url: str
    upstream: FakeUpstream
    provider: Provider
    accounts: list
    model: str
    urls: list = field(default_factory=list)  # every gateway serving this pool (one per process)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=20, verify=False))

    def chat(self, text="hi", *, url=None, headers=None, stream=False, **body) -> httpx.Response:
        payload = {"model": self.model, "messages": [{"role": "user", "content": text}], "stream": stream, **body}
        return self.client.post(f"{url or self.url}/v1/chat/completions", json=payload,
                                headers={"authorization": f"Bearer {KEY}", **(headers or {})})

    def account(self, letter: str) -> Account:
        return Account.objects.get(id=self.accounts[LETTERS.index(letter)].id)

    def served(self, path="chat/completions") -> Counter:
        """How many upstream requests each credential made."""
        return Counter(req.credential for req in self.upstream.find(path))


def credential(kind: str, letter: str) -> str:
    return f"key-{letter}" if kind == "openai" else f"token-{letter}"


def _account_fields(kind: str, letter: str) -> dict:
    if kind == "openai":
        return {"api_key": credential(kind, letter)}
    return {"refresh_token": f"refresh-{letter}", "access_token": credential(kind, letter),
            "token_expires_at": timezone.now() + timedelta(hours=1), "project_id": "proj-1"}


@pytest.fixture(scope="session")
def pool_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = GatewayServer().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def redis_prefix(settings) -> str:
    """A fresh key prefix in the shared store: no rotation counter or cool-down leaks between tests."""
    prefix = f"pooltest-{uuid.uuid4().hex[:10]}:"
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": prefix}
    yield prefix
    forget(prefix)


@pytest.fixture
def make_pool(transactional_db, pool_server, fake_upstream):  # noqa: F811
    """make_pool(n=3, kind="openai", weights=None, **account_fields) -> Pool."""

    pools = []

    def make(n=3, kind="openai", weights=None, **fields) -> Pool:
        path, glob, model = KINDS[kind]
        base = fake_upstream.url(path) if path else fake_upstream.base_url
        provider = Provider.objects.create(name=f"pool-{kind}", type=kind, base_url=base, timeout=5,
                                           idle_timeout=5, oauth_token_url=fake_upstream.url("/oauth/token"),
                                           oauth_client_id="client-1", oauth_client_secret="client-secret")
        accounts = [
            Account.objects.create(provider=provider, name=f"acct-{letter}", weight=(weights or [1] * n)[i],
                                   **{**_account_fields(kind, letter), **fields})
            for i, letter in enumerate(LETTERS[:n])
        ]
        route = ModelRoute.objects.create(model=glob)
        RouteTarget.objects.create(route=route, provider=provider, position=0)
        if not ApiKey.objects.filter(name="pool-tests").exists():
            key = ApiKey(name="pool-tests")
            key.set_key(KEY)
            key.save()
        pools.append(Pool(pool_server.url, fake_upstream, provider, accounts, model, [pool_server.url]))
        return pools[-1]

    yield make
    settle()
    for pool in pools:
        pool.client.close()


# --- several gateway processes ------------------------------------------------------------------

def _database_url() -> str:
    conf = connection.settings_dict
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    return f"mysql://{conf['USER']}{password}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 3306}/{conf['NAME']}"


class GatewayProcesses:
    """Real gateway processes (uvicorn) sharing the test database, Redis and one key prefix."""

    def __init__(self, n: int):
        from django.conf import settings

        self.prefix = f"pooltest-procs-{uuid.uuid4().hex[:10]}:"
        self.ports = [free_port() for _ in range(n)]
        self.env = {
            **os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": settings.REDIS_URL,
            "GATEWAY_REDIS_PREFIX": self.prefix, "GATEWAY_ENCRYPTION_KEY": ",".join(settings.GATEWAY_ENCRYPTION_KEYS),
            "DJANGO_SECRET_KEY": settings.SECRET_KEY, "GATEWAY_SNAPSHOT_REFRESH_SECONDS": "0.1",
            "LOG_LEVEL": "WARNING", "DB_CONN_MAX_AGE": "0",
        }
        self.procs = []

    @property
    def urls(self) -> list:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self):
        command = [sys.executable, "-m", "uvicorn", "gateway.asgi:application", "--host", "127.0.0.1",
                   "--log-level", "warning", "--lifespan", "on", "--port"]
        self.procs = [subprocess.Popen(command + [str(port)], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL)
                      for port in self.ports]
        deadline = time.monotonic() + 60
        for url, proc in zip(self.urls, self.procs):
            while not _answers(url):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the gateway process at {url} did not start")
                time.sleep(0.05)
        return self

    def serve(self, pool: Pool):
        """Wait until every process serves the pool's configuration, then forget those requests."""
        deadline = time.monotonic() + 10
        for url in self.urls:
            while pool.chat(url=url).status_code != 200:
                assert time.monotonic() < deadline, f"the gateway process at {url} did not load the configuration"
                time.sleep(0.05)
        pool.upstream.clear()
        pool.urls = self.urls

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(url: str) -> bool:
    try:
        httpx.get(url + "/health", timeout=1)
    except httpx.TransportError:
        return False
    return True


@pytest.fixture(scope="session")
def gateway_processes(django_db_setup, django_db_blocker):
    """Three gateway processes for the whole session, started by the first test that asks."""
    group = GatewayProcesses(3).start()
    yield group
    group.stop()
    forget(group.prefix)


@pytest.fixture
def spawn(transactional_db, settings, request):
    """spawn(pool) -> the URLs of three gateway processes serving the pool (Redis and MariaDB only).

    The processes outlive the test: their keys in the shared store carry their own prefix, which
    this test then uses too; account ids are never reused, so no state leaks from test to test."""
    if not settings.REDIS_URL:
        pytest.skip("several gateway processes share their state through Redis: set REDIS_URL to run this")
    if connection.vendor != "mysql":
        pytest.skip("the gateway processes need the server database (DATABASE_URL) to share the test data")
    group = request.getfixturevalue("gateway_processes")
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": group.prefix}

    def start(pool: Pool) -> list:
        group.serve(pool)
        return pool.urls

    return start
