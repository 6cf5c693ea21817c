"""Health, cool-down and failover: a failing account is skipped, clients see no error while one
healthy account remains, and the retry budget holds when every account fails."""

import time
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

import orjson
import pytest

from accounts.models import Account, Health
from accounts.pool import FAILURES_BEFORE_COOLDOWN
from accounts.state import live_state
from gateway.relay import MAX_ATTEMPTS
from gateway.snapshot import bump_config_version
from tests.fakes import Reply


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def send(pool, n, **kwargs) -> list:
    return [pool.chat(**kwargs).status_code for _ in range(n)]


def test_it_fails_over_a_rate_limited_account_and_skips_it_while_it_cools(make_pool):
    pool = make_pool(3)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "7"}), credential="key-a")
    assert send(pool, 12) == [200] * 12
    served = pool.served()
    assert served["key-a"] == 1 and served["key-b"] + served["key-c"] == 12
    until = live_state([pool.accounts[0].id])[pool.accounts[0].id].cooling_until
    assert 5 < until.timestamp() - time.time() <= 7


def test_every_process_skips_a_cooling_account(make_pool, spawn):
    pool = make_pool(3)
    urls = spawn(pool)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "30"}), credential="key-a", times=None)
    targets = [url for url, _ in zip(cycle(urls), range(30))]
    with ThreadPoolExecutor(6) as executor:
        statuses = list(executor.map(lambda url: pool.chat(url=url).status_code, targets))
    assert statuses == [200] * 30
    # Requests already past the pick when the first 429 came back may still try it, once each at most.
    assert pool.served()["key-a"] <= 3
    before = pool.served()["key-a"]
    assert [pool.chat(url=url).status_code for url in urls * 3] == [200] * 9
    assert pool.served()["key-a"] == before


def test_it_uses_a_rate_limited_account_again_once_its_cooldown_passed(make_pool):
    pool = make_pool(2)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "1"}), credential="key-a")
    assert send(pool, 4) == [200] * 4
    assert pool.served()["key-a"] == 1
    time.sleep(1.1)
    assert send(pool, 4) == [200] * 4
    assert pool.served()["key-a"] >= 2


def test_a_success_clears_the_failure_count(make_pool):
    pool = make_pool(3)
    a = pool.accounts[0].id
    pool.upstream.script(Reply.status(500), credential="key-a", times=FAILURES_BEFORE_COOLDOWN - 1)
    for _ in range(30):
        assert pool.chat().status_code == 200
        if pool.served()["key-a"] == FAILURES_BEFORE_COOLDOWN - 1:
            assert live_state([a])[a].failures == FAILURES_BEFORE_COOLDOWN - 1
        if pool.served()["key-a"] == FAILURES_BEFORE_COOLDOWN:
            break
    state = live_state([a])[a]
    assert (state.failures, state.cooling_until) == (0, None)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_credential_marks_the_account_failed(make_pool, status):
    pool = make_pool(3)
    pool.upstream.script(Reply.status(status, message="Incorrect API key provided"), credential="key-a", times=None)
    assert send(pool, 9) == [200] * 9
    assert pool.served()["key-a"] == 1
    wait_for(lambda: pool.account("a").health == Health.FAILED)
    assert str(status) in pool.account("a").last_error
    assert send(pool, 6) == [200] * 6
    assert pool.served()["key-a"] == 1


def test_server_errors_cool_an_account_only_after_several_in_a_row(make_pool):
    pool = make_pool(3)
    pool.upstream.script(Reply.status(500), credential="key-a", times=None)
    assert send(pool, 24) == [200] * 24
    assert pool.served()["key-a"] == FAILURES_BEFORE_COOLDOWN
    a = pool.accounts[0].id
    assert live_state([a])[a].cooling_until is not None
    assert pool.account("a").health == Health.HEALTHY  # cooling is not failed


def test_timeouts_count_as_failures_in_a_row(make_pool):
    pool = make_pool(2)
    pool.provider.timeout = 0.3
    pool.provider.save()
    pool.upstream.script(Reply.hang(2), credential="key-a", times=None)
    assert send(pool, 10) == [200] * 10
    assert pool.served()["key-a"] == FAILURES_BEFORE_COOLDOWN


def test_a_bad_request_is_answered_at_once_without_penalty(make_pool):
    pool = make_pool(3)
    pool.upstream.script(Reply.status(400, message="messages: too long"))
    response = pool.chat()
    assert response.status_code == 400
    assert "too long" in response.json()["error"]["message"]
    (req,) = pool.upstream.find("chat/completions")
    account = next(a for a in pool.accounts if a.api_key == req.credential)
    state = live_state([account.id])[account.id]
    assert (state.failures, state.cooling_until) == (0, None)


def test_it_answers_429_with_the_soonest_retry_after_when_every_account_cools(make_pool):
    pool = make_pool(2)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "20"}), credential="key-a", times=None)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "8"}), credential="key-b", times=None)
    first = pool.chat()
    assert first.status_code == 429 and first.headers["retry-after"] == "8"
    second = pool.chat()
    assert second.status_code == 429 and int(second.headers["retry-after"]) in (7, 8)
    assert len(pool.upstream.find("chat/completions")) == 2  # the second asked nobody


def test_it_answers_503_at_once_when_no_account_is_usable(make_pool):
    pool = make_pool(3)
    Account.objects.update(health=Health.FAILED)
    bump_config_version()
    started = time.monotonic()
    response = pool.chat()
    assert response.status_code == 503
    assert time.monotonic() - started < 1
    assert pool.upstream.find("chat/completions") == []


def test_it_stops_at_the_retry_budget_when_every_account_fails(make_pool):
    pool = make_pool(6)
    pool.upstream.script(Reply.status(500), times=None)
    assert pool.chat().status_code == 502
    assert len(pool.upstream.find("chat/completions")) == MAX_ATTEMPTS


def test_it_never_retries_after_the_first_byte(make_pool):
    pool = make_pool(3)
    pool.upstream.script(Reply.cut_mid_stream(after=2, reply=Reply.text("one two three four five six")))
    response = pool.chat(stream=True)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    chunks = [orjson.loads(e) for e in events if e != "[DONE]"]
    assert any(c.get("choices") and c["choices"][0]["delta"].get("content") for c in chunks)
    assert "error" in chunks[-1]
    assert len(pool.upstream.find("chat/completions")) == 1
