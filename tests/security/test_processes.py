"""Keys and limits across gateway processes sharing Redis and the database (MariaDB + Redis only):
a revoked key stops working everywhere within seconds, and a budget holds across processes."""

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from itertools import cycle

import httpx
import pytest
from django.db import connection

from gateway.shared import prefixed, sync_state
from providers.models import ModelPrice
from tests.fakes import Reply
from tests.pool.conftest import GatewayProcesses
from tests.security.conftest import chat, make_key


@pytest.fixture(scope="session")
def two_processes(django_db_setup, django_db_blocker):
    group = GatewayProcesses(2).start()
    yield group
    group.stop()


@pytest.fixture
def processes(gw, settings, request) -> GatewayProcesses:
    if not settings.REDIS_URL or connection.vendor != "mysql":
        pytest.skip("gateway processes share Redis and the server database: set REDIS_URL and DATABASE_URL")
    group = request.getfixturevalue("two_processes")
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": group.prefix}
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(f"{group.prefix}limit:*"))
    if stale:  # key ids are reused once the test database is flushed
        client.delete(*stale)
    client.close()
    return group


def until(predicate, timeout: float = 10.0) -> float:
    """Seconds it took ``predicate()`` to hold; fails past ``timeout``."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "the condition did not hold in time"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_revoked_key_stops_working_on_every_process_within_seconds(processes):
    raw, key = make_key("revoked-everywhere")
    until(lambda: all(chat(url, raw).status_code == 200 for url in processes.urls))
    key.revoked = True
    key.save()
    took = until(lambda: all(chat(url, raw).status_code == 401 for url in processes.urls), timeout=5)
    assert took < 5
    assert "revoked" in chat(processes.urls[1], raw).json()["error"]["message"]


def test_a_budget_that_covers_one_request_is_never_overspent_across_processes(gw, processes):
    ModelPrice.objects.create(model="oa-budget", input_per_million=1, output_per_million=10)
    raw, key = make_key("budget-everywhere", budget_usd=Decimal("0.0101"))
    # The price was saved before the key: a process that knows the key knows the price. Listing costs nothing.
    until(lambda: all(httpx.get(f"{url}/v1/models", headers={"authorization": f"Bearer {raw}"}).status_code == 200
                      for url in processes.urls))
    gw.upstream.clear()
    gw.upstream.script(Reply.text(usage=(10, 900)).with_(delay=0.05), times=None)
    targets = [url for url, _ in zip(cycle(processes.urls), range(20))]
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda url: chat(url, raw, "oa-budget", max_tokens=1000).status_code, targets))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(429) == 19
    counter = prefixed(f"limit:b:{key.id}:total")
    until(lambda: sync_state().get_many([counter]) == ["9010"], timeout=5)  # settled: the real cost only
    assert len(gw.upstream.find("chat/completions")) == 1
