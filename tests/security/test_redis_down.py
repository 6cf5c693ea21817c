"""REDIS_URL set but Redis unreachable: each process counts on its own and the relay keeps serving.

The policy (README, "Limits"): rate limits, budgets, account rotation and cool-downs fall back to
this process's memory at one boundary (gateway/shared.py), with a warning, and Redis is tried again
after RETRY_SECONDS; no request fails because the shared store is away.
"""

import asyncio
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from accounts.models import Account
from gateway import limits, shared
from gateway.shared import Bound, Fallback, LocalState, RedisState, sync_state
from providers.models import ModelPrice, Provider
from stats.models import RequestLog
from tests.fakes import Reply
from tests.security.conftest import chat, make_key
from tests.support.server import free_port


@pytest.fixture
def redis_down(settings, monkeypatch) -> str:
    """REDIS_URL points at a port nothing listens on; Redis is retried every 0.3 s."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    monkeypatch.setattr(shared, "RETRY_SECONDS", 0.3)
    return url


def test_the_store_answers_from_memory_and_retries_redis_later(redis_down, caplog):
    local = LocalState()
    state = Fallback(RedisState(redis_down), local, shared._Outage())
    attempts = []
    real_incr = RedisState.incr

    async def counted(self, key, ttl=None):
        attempts.append(key)
        return await real_incr(self, key, ttl)

    async def scenario():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(RedisState, "incr", counted)
            counts = [await state.incr("n", 60) for _ in range(3)]
            degraded = state.degraded
            await asyncio.sleep(0.35)
            counts.append(await state.incr("n", 60))
            admitted = await state.add_within([Bound("r", 1, 1, 1, 60)])
            refused = await state.add_within([Bound("r", 1, 1, 1, 60)])
        await state.aclose()
        return counts, degraded, admitted[0], refused[0]

    with caplog.at_level(logging.WARNING, logger="gateway.shared"):
        counts, degraded, admitted, refused = asyncio.run(scenario())
    assert counts == [1, 2, 3, 4]
    assert degraded
    assert (admitted, refused) == (-1, 0)
    assert len(attempts) == 2  # the first call, then one more after the retry interval
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.shared"]
    assert len(warnings) == 2 and "unreachable" in warnings[0]


def test_the_synchronous_view_falls_back_too(redis_down):
    store = sync_state()
    store.add({"x": 2}, 60)
    assert store.get_many(["x"]) == ["2"]
    store.delete("x")
    assert store.get_many(["x"]) == [None]


def test_the_relay_keeps_serving_and_limits_hold_per_process(gw, redis_down, caplog):
    raw, _ = make_key("rpm-down", rpm=2)
    with caplog.at_level(logging.WARNING, logger="gateway.shared"):
        statuses = [chat(gw.url, raw).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_accounts_still_rotate_and_cool_down_per_process(gw, redis_down):
    provider = Provider.objects.get(name="openai")
    Account.objects.create(provider=provider, name="openai-b", api_key="key-openai-b")
    gw.upstream.script(Reply.status(429, headers={"Retry-After": "30"}), credential="key-openai-a")
    statuses = [chat(gw.url, gw.key).status_code for _ in range(6)]
    assert statuses == [200] * 6
    served = Counter(req.credential for req in gw.upstream.find("chat/completions"))
    # a was tried at most once (its 429 cooled it down in this process), b served the rest
    assert served["key-openai-a"] <= 1 and served["key-openai-b"] == 6


def test_budgets_are_re_read_from_the_database_while_redis_is_down(gw, redis_down, monkeypatch):
    """Every process writes its spend to the database; without Redis that is what they share."""
    monkeypatch.setattr(limits, "DEGRADED_SEED_SECONDS", 0.3)
    ModelPrice.objects.create(model="oa-budget", input_per_million=1, output_per_million=10)
    raw, key = make_key("budget-down", budget_usd=Decimal("0.0500"), budget_period="daily")
    assert chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code == 200
    # Another process spent most of the budget meanwhile; this one learns it from the database.
    RequestLog.objects.create(request_id="elsewhere", api_key=key, cost=Decimal("0.0450"),
                              upstream_model="oa-budget", created_at=datetime.now(timezone.utc))
    time.sleep(0.5)
    refused = chat(gw.url, raw, "oa-budget", max_tokens=1000)
    assert refused.status_code == 429
    assert "budget" in refused.json()["error"]["message"]
