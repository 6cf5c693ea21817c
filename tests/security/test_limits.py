"""Per-key rate limits and budgets through the real gateway: 429 in the client's format with
Retry-After, tokens settled after the call, budgets reserved before it and never overspent."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from gateway import limits
from gateway.models import ApiKey
from gateway.shared import prefixed, sync_state
from providers.models import ModelPrice
from stats.models import RequestLog
from tests.fakes import Reply
from tests.security.conftest import chat, make_key
from tests.support.server import settle

OPENAI = "oa-model"


def budget_counter(key: ApiKey, tag: str = "total") -> int | None:
    value = sync_state().get_many([prefixed(f"limit:b:{key.id}:{tag}")])[0]
    return None if value is None else int(value)


@pytest.mark.parametrize("fmt, model", [("openai", "oa-model"), ("anthropic", "an-model"), ("gemini", "ge-model")])
def test_it_refuses_past_the_requests_per_minute_in_the_clients_format(gw, fmt, model):
    raw, _ = make_key("rpm", rpm=3)
    assert [chat(gw.url, raw, model, fmt).status_code for _ in range(3)] == [200] * 3
    refused = chat(gw.url, raw, model, fmt)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    body = refused.json()
    message = {"openai": lambda b: b["error"]["message"], "anthropic": lambda b: b["error"]["message"],
               "gemini": lambda b: b["error"]["message"]}[fmt](body)
    assert "3 requests per minute" in message
    if fmt == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    elif fmt == "gemini":
        assert body["error"]["status"] == "RESOURCE_EXHAUSTED"
    else:
        assert body["error"]["type"] in ("rate_limit", "rate_limit_exceeded", "requests")
    assert len(gw.upstream.find()) == 3  # the refused request never reached the upstream


def test_a_key_without_limits_costs_no_round_trip(gw, monkeypatch):
    calls = []
    monkeypatch.setattr(limits, "shared_state", lambda: calls.append(1))
    assert chat(gw.url, gw.key).status_code == 200
    settle()
    assert calls == []


def test_a_limited_key_costs_one_round_trip_before_the_call_and_one_after(gw, monkeypatch):
    real = limits.shared_state
    seen = []

    class Counting:
        def __init__(self, state):
            self.state = state

        async def add_within(self, bounds):
            seen.append(("add_within", len(bounds)))
            return await self.state.add_within(bounds)

        async def adjust(self, changes):
            seen.append(("adjust", len(changes)))
            return await self.state.adjust(changes)

    monkeypatch.setattr(limits, "shared_state", lambda: Counting(real()))
    raw, _ = make_key("counted", rpm=100, tpm=100_000)
    assert chat(gw.url, raw).status_code == 200
    settle()
    assert seen == [("add_within", 2), ("adjust", 1)]


def test_tokens_are_counted_after_the_call_and_checked_before_the_next(gw):
    raw, _ = make_key("tpm", tpm=40)
    gw.upstream.script(Reply.text(usage=(20, 15)), times=None)
    assert chat(gw.url, raw).status_code == 200  # 35 tokens counted when it ends
    settle()
    assert chat(gw.url, raw).status_code == 200  # 35 < 40: room left, so it runs (and takes 35 more)
    settle()
    refused = chat(gw.url, raw)
    assert refused.status_code == 429
    assert "40 tokens per minute" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1


def test_the_streamed_tokens_are_counted_too(gw):
    raw, _ = make_key("tpm-stream", tpm=30)
    gw.upstream.script(Reply.text(usage=(20, 15)), times=None)
    import httpx

    with httpx.stream("POST", f"{gw.url}/v1/chat/completions", headers={"authorization": f"Bearer {raw}"},
                      json={"model": OPENAI, "stream": True, "stream_options": {"include_usage": True},
                            "messages": [{"role": "user", "content": "hi"}]}, timeout=20) as response:
        assert response.status_code == 200
        response.read()
    settle()
    assert chat(gw.url, raw).status_code == 429


# --- budgets -----------------------------------------------------------------------------------

def priced_budget_key(name: str, budget: str, period: str = "total") -> tuple:
    """A key whose budget covers one request of ``max_tokens=1000`` (10,000 micro-dollars of output
    plus a few of prompt) and not two; each request really costs 9,010 (usage 10 + 900)."""
    ModelPrice.objects.create(model="oa-budget", input_per_million=1, output_per_million=10)
    return make_key(name, budget_usd=Decimal(budget), budget_period=period)


def test_concurrent_requests_never_overspend_a_budget_that_covers_one(gw):
    raw, key = priced_budget_key("budget-one", "0.0101")
    gw.upstream.script(Reply.text(usage=(10, 900)).with_(delay=0.05), times=None)

    def send(_):
        return chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(send, range(20)))
    settle()
    assert statuses.count(200) == 1, statuses
    assert statuses.count(429) == 19
    spent = sum(RequestLog.objects.filter(api_key=key, cost__isnull=False).values_list("cost", flat=True), Decimal(0))
    assert spent == Decimal("0.00901")
    assert spent <= key.budget_usd
    assert budget_counter(key) == 9010  # the reservation became the real cost
    assert chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code == 429


def test_a_failed_call_releases_its_reservation(gw):
    raw, key = priced_budget_key("budget-release", "0.0101")
    gw.upstream.script(Reply.status(400, message="bad request"))
    assert chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code == 400
    settle()
    assert budget_counter(key) == 0
    assert chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code == 200


def test_the_budget_refusal_says_when_the_period_ends(gw):
    raw, key = priced_budget_key("budget-daily", "0.0001", period="daily")
    refused = chat(gw.url, raw, "oa-budget", max_tokens=1000)
    assert refused.status_code == 429
    assert "budget of $0.0001 is spent today" in refused.json()["error"]["message"]
    now = datetime.now(timezone.utc)
    until_midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert abs(int(refused.headers["retry-after"]) - until_midnight) <= 5


def test_a_missing_counter_is_seeded_from_the_spend_in_the_database(gw):
    raw, key = priced_budget_key("budget-seed", "0.0200", period="monthly")
    RequestLog.objects.create(request_id="earlier", api_key=key, cost=Decimal("0.0150"), upstream_model="oa-budget",
                              created_at=datetime.now(timezone.utc))
    assert chat(gw.url, raw, "oa-budget", max_tokens=1000).status_code == 429  # 0.015 + ~0.01 > 0.02
    tag = datetime.now(timezone.utc).strftime("m%Y%m")
    assert budget_counter(key, tag) == 15000
    assert chat(gw.url, raw, "oa-budget", max_tokens=100).status_code == 200  # ~0.001 fits


def test_a_key_with_a_budget_may_not_use_an_unpriced_model(gw):
    raw, _ = make_key("budget-unpriced", budget_usd=Decimal("10"))
    refused = chat(gw.url, raw, "an-model", "anthropic")
    assert refused.status_code == 403
    assert "no price" in refused.json()["error"]["message"]
    assert gw.upstream.find() == []


def test_embeddings_and_token_counts_are_limited_too(gw):
    import httpx

    raw, _ = make_key("rpm-embed", rpm=1)
    headers = {"authorization": f"Bearer {raw}"}
    first = httpx.post(f"{gw.url}/v1/embeddings", json={"model": OPENAI, "input": "hi"}, headers=headers)
    second = httpx.post(f"{gw.url}/v1/embeddings", json={"model": OPENAI, "input": "hi"}, headers=headers)
    assert (first.status_code, second.status_code) == (200, 429)
    raw, _ = make_key("rpm-count", rpm=1)
    count = {"model": "an-model", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-api-key": raw, "anthropic-version": "2023-06-01"}
    statuses = [httpx.post(f"{gw.url}/v1/messages/count_tokens", json=count, headers=headers).status_code
                for _ in range(2)]
    assert statuses == [200, 429]


# --- the sliding window -------------------------------------------------------------------------

@pytest.mark.parametrize("now, current, previous, expected", [
    (30.0, 10, 0, 30 + 60 * (1 - 9 / 10)),  # this minute is full: its end, then until it fades enough
    (30.0, 4, 12, 60 * (1 - 5 / 12) - 30),  # the last minute must fade: 5 of its 12 may stay
    (50.0, 4, 40, 2.5),  # late in the minute, most of the last one has faded already
    (30.0, 4, 0, 1.0),  # not full: at once (another request took the room in between)
])
def test_the_wait_is_until_the_window_has_room(now, current, previous, expected):
    assert limits.window_wait(now, current, previous, need=1, limit=10) == pytest.approx(max(expected, 1.0))


def test_a_steady_rate_fits_and_a_burst_at_a_minutes_edge_does_not_double_it():
    from gateway.shared import Bound, LocalState

    state = LocalState()

    async def admitted(now: float, n: int) -> int:
        count = 0
        for _ in range(n):
            current, previous, carry = limits._window("r", 1, now)
            failed, _ = await state.add_within([Bound(current, 1, 1, 10, 125, previous, carry)])
            count += failed < 0
        return count

    async def scenario():
        at_end = await admitted(600 * 60 + 59.0, 10)  # ten in the last second of a minute
        at_start = await admitted(601 * 60 + 1.0, 10)  # the next minute's first second sees them still
        later = await admitted(601 * 60 + 59.0, 10)  # nearly a minute on, they have faded
        return at_end, at_start, later

    at_end, at_start, later = asyncio.run(scenario())
    assert (at_end, at_start) == (10, 0)
    assert later == 9  # 10 x (1/60) of the last minute still counts: 9 fit
