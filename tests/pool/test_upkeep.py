"""Failed accounts probed back into rotation; the admin's health columns and actions."""

import re
import time

import pytest
from django.urls import reverse

from accounts import tasks
from accounts.models import Account, Health
from accounts.state import live_state
from accounts.upkeep import probe_failed_accounts
from providers.models import ModelRoute, RouteTarget
from tests.fakes import Reply


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


@pytest.fixture
def failed_pool(make_pool):
    """Two accounts; a was refused by the upstream (401) and is out of rotation."""
    pool = make_pool(2)
    route = ModelRoute.objects.create(model="pm-model")  # an exact name: a model the probe can ask for
    RouteTarget.objects.create(route=route, provider=pool.provider)
    pool.upstream.script(Reply.status(401), credential="key-a")
    assert [pool.chat().status_code for _ in range(2)] == [200, 200]
    wait_for(lambda: pool.account("a").health == Health.FAILED)
    return pool


def changelist(admin_client) -> str:
    return admin_client.get(reverse("admin:accounts_account_changelist")).content.decode()


def test_a_probe_brings_a_failed_account_back(failed_pool):
    pool = failed_pool
    outcome = probe_failed_accounts()
    assert outcome.done == ["pool-openai/acct-a"]
    probe = pool.upstream.last("chat/completions")
    assert probe.credential == "key-a" and probe.json["model"] == "pm-model"
    account = pool.account("a")
    assert (account.health, account.last_error) == (Health.HEALTHY, "")
    assert live_state([account.id])[account.id].cooling_until is None
    assert {pool.chat().status_code for _ in range(4)} == {200}
    assert pool.served()["key-a"] == 4  # the failure, the probe, two of the four


def test_a_probe_that_fails_keeps_the_account_out(failed_pool):
    pool = failed_pool
    pool.upstream.script(Reply.status(401, message="still revoked"), credential="key-a")
    assert tasks.probe_failed_accounts.apply().get() == "0 done, 0 skipped, 1 failed; pool-openai/acct-a: " \
        "upstream error 401: still revoked"
    assert pool.account("a").health == Health.FAILED
    assert "still revoked" in pool.account("a").last_error


def test_a_probe_skips_an_account_with_no_model_to_ask_for(make_pool):
    pool = make_pool(1)
    Account.objects.update(health=Health.FAILED)
    assert probe_failed_accounts().skipped == ["pool-openai/acct-a"]
    assert pool.upstream.requests == []


def test_the_admin_shows_health_cooldown_and_last_error(make_pool, admin_client):
    pool = make_pool(2)
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "60"}), credential="key-a")
    pool.upstream.script(Reply.status(403, message="account suspended"), credential="key-b")
    assert pool.chat().status_code in (429, 502)
    wait_for(lambda: pool.account("b").health == Health.FAILED)
    page = changelist(admin_client)
    rows = {name: page[page.index(f">{name}<"):][:1500] for name in ("acct-a", "acct-b")}
    assert re.search(r'class="field-state">cooling down<', rows["acct-a"])
    assert not re.search(r'class="field-cooling_until">-<', rows["acct-a"])
    assert re.search(r'class="field-state">failed<', rows["acct-b"])
    assert "account suspended" in rows["acct-b"]


def test_the_admin_resets_an_account(failed_pool, admin_client):
    pool = failed_pool
    a = pool.account("a")
    admin_client.post(reverse("admin:accounts_account_changelist"),
                      {"action": "mark_healthy", "_selected_action": [a.id]})
    assert pool.account("a").health == Health.HEALTHY
    assert live_state([a.id])[a.id].cooling_until is None
    assert {pool.chat().status_code for _ in range(4)} == {200}
    assert pool.served()["key-a"] == 3


def test_the_admin_tests_an_account_now(failed_pool, admin_client):
    pool = failed_pool
    a = pool.account("a")
    response = admin_client.post(reverse("admin:accounts_account_changelist"),
                                 {"action": "test_now", "_selected_action": [a.id]}, follow=True)
    assert "1 done, 0 skipped, 0 failed" in response.content.decode()
    assert pool.account("a").health == Health.HEALTHY


def test_the_admin_refreshes_a_token_now(make_pool, admin_client):
    pool = make_pool(1, kind="antigravity")
    admin_client.post(reverse("admin:accounts_account_changelist"),
                      {"action": "refresh_tokens_now", "_selected_action": [pool.accounts[0].id]})
    assert pool.upstream.oauth_calls == 1
    assert pool.account("a").access_token == "ya29.fake-1"
