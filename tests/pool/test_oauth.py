"""OAuth accounts: tokens refreshed ahead of expiry by exactly one process, a refused token
refreshed and retried once, a refused refresh token taking the account out of rotation."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from itertools import cycle

from django.core.management import call_command
from django.utils import timezone

from accounts import tasks
from accounts.models import Health
from accounts.upkeep import refresh_expiring_tokens
from tests.fakes import Reply


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def expires_in(**delta):
    return timezone.now() + timedelta(**delta)


def set_account(pool, letter, **fields):
    account = pool.account(letter)
    for name, value in fields.items():
        setattr(account, name, value)
    account.save()


def generate_credentials(pool) -> list:
    return [req.credential for req in pool.upstream.find("v1internal:generateContent")]


def test_it_refreshes_a_token_with_less_than_five_minutes_left(make_pool):
    pool = make_pool(1, kind="antigravity", token_expires_at=expires_in(minutes=4))
    assert pool.chat().status_code == 200
    (grant,) = pool.upstream.find("/oauth/token")
    assert grant.form == {"grant_type": "refresh_token", "refresh_token": "refresh-a", "client_id": "client-1",
                          "client_secret": "client-secret"}
    assert generate_credentials(pool) == ["ya29.fake-1"]
    wait_for(lambda: pool.account("a").access_token == "ya29.fake-1")
    assert pool.account("a").token_expires_at > expires_in(minutes=55)


def test_it_keeps_a_token_with_more_than_five_minutes_left(make_pool):
    pool = make_pool(1, kind="antigravity", token_expires_at=expires_in(minutes=6))
    assert pool.chat().status_code == 200
    assert pool.upstream.oauth_calls == 0
    assert generate_credentials(pool) == ["token-a"]


def test_fifty_requests_finding_the_token_expired_refresh_it_once(make_pool):
    pool = make_pool(1, kind="antigravity", token_expires_at=expires_in(minutes=-1))
    with ThreadPoolExecutor(50) as executor:
        statuses = list(executor.map(lambda _: pool.chat().status_code, range(50)))
    assert statuses == [200] * 50
    assert pool.upstream.oauth_calls == 1
    assert set(generate_credentials(pool)) == {"ya29.fake-1"}


def test_fifty_requests_across_processes_refresh_the_token_once(make_pool, spawn):
    pool = make_pool(2, kind="antigravity")
    set_account(pool, "a", allowed_models=["ag-model"])  # serves while the processes load the test's data
    set_account(pool, "b", allowed_models=["ag-late"], token_expires_at=expires_in(minutes=-1))
    urls = spawn(pool)
    with ThreadPoolExecutor(50) as executor:
        statuses = list(executor.map(lambda url: pool.chat(url=url, model="ag-late").status_code,
                                     [url for url, _ in zip(cycle(urls), range(50))]))
    assert statuses == [200] * 50
    assert pool.upstream.oauth_calls == 1
    assert set(generate_credentials(pool)) == {"ya29.fake-1"}


def test_an_upstream_401_refreshes_once_and_retries_once(make_pool):
    pool = make_pool(1, kind="antigravity")
    pool.upstream.script(Reply.status(401), credential="token-a")
    assert pool.chat().status_code == 200
    assert pool.upstream.oauth_calls == 1
    assert generate_credentials(pool) == ["token-a", "ya29.fake-1"]
    assert pool.account("a").health == Health.HEALTHY


def test_a_refused_refresh_token_takes_the_account_out_of_rotation(make_pool):
    pool = make_pool(2, kind="antigravity")
    set_account(pool, "a", refresh_token="revoked", token_expires_at=expires_in(minutes=-1))
    assert [pool.chat().status_code for _ in range(6)] == [200] * 6
    wait_for(lambda: pool.account("a").health == Health.NEEDS_REAUTH)
    assert "invalid_grant" in pool.account("a").last_error
    assert [pool.chat().status_code for _ in range(4)] == [200] * 4
    assert pool.upstream.oauth_calls == 1
    assert set(generate_credentials(pool)) == {"token-b"}


def test_beat_refreshes_tokens_that_expire_soon(make_pool):
    pool = make_pool(3, kind="antigravity")
    set_account(pool, "a", token_expires_at=expires_in(minutes=10))
    set_account(pool, "c", refresh_token="revoked", token_expires_at=expires_in(minutes=2))
    outcome = refresh_expiring_tokens()
    assert outcome.done == ["pool-antigravity/acct-a"]
    assert list(outcome.failed) == ["pool-antigravity/acct-c"]
    assert pool.account("a").access_token == "ya29.fake-1"
    assert pool.account("b").access_token == "token-b"
    assert pool.account("c").health == Health.NEEDS_REAUTH
    assert pool.upstream.oauth_calls == 2
    assert refresh_expiring_tokens().done == []  # fresh now; the refused one is left alone


def test_the_task_and_the_command_refresh_once_each(make_pool):
    pool = make_pool(1, kind="antigravity", token_expires_at=expires_in(minutes=5))
    assert tasks.refresh_expiring_tokens.apply().get() == "1 done, 0 skipped, 0 failed"
    out = StringIO()
    call_command("refresh_tokens", "--within", "7200", stdout=out)
    assert "refreshed pool-antigravity/acct-a" in out.getvalue()
    assert pool.upstream.oauth_calls == 2
