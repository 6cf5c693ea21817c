"""Per-proxy counters of the day in the shared store, rolled into ProxyDailyStats, shown in the admin."""

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from accounts.models import Account
from providers.models import Provider
from proxies import counters, tasks
from proxies.models import ProxyDailyStats, ProxyServer

NOW = datetime.now(timezone.utc)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def own_prefix(settings):
    prefix = f"countertest-{uuid.uuid4().hex[:10]}:"
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": prefix}
    yield
    if settings.REDIS_URL:
        import redis

        with redis.Redis.from_url(settings.REDIS_URL) as client:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)


@pytest.fixture
def proxies(db):
    return [ProxyServer.objects.create(name=f"px-{i}", url=f"http://10.0.0.{i}:3128") for i in (1, 2)]


def row(proxy_id, status=200, error_type="", when=NOW) -> dict:
    return {"proxy_id": proxy_id, "status_code": status, "error_type": error_type, "created_at": when}


def test_it_counts_requests_and_errors_per_proxy(proxies):
    one, two = proxies
    counters.count_rows([row(one.id), row(one.id, 502, "server_error"), row(one.id, 429, "rate_limit"),
                         row(two.id, 504, "timeout"), row(None), row(two.id, 499, "client_disconnected")])
    counters.count_rows([row(one.id, when=NOW.isoformat())])  # rows replayed from the writer's spool
    assert counters.figures([one.id, two.id]) == {one.id: (4, 1), two.id: (2, 1)}


def test_it_drops_the_counts_when_the_store_is_away(proxies, monkeypatch):
    from redis.exceptions import ConnectionError

    class Away:
        def add(self, counts, ttl):
            raise ConnectionError("down")

    monkeypatch.setattr(counters, "sync_state", Away)
    counters.count_rows([row(proxies[0].id)])  # no error for the request-log writer


def test_it_reports_nothing_for_a_proxy_without_traffic(proxies):
    assert counters.figures([proxies[0].id]) == {proxies[0].id: None}


def test_it_rolls_today_and_yesterday_into_daily_stats(proxies):
    one, two = proxies
    yesterday = NOW - timedelta(days=1)
    counters.count_rows([row(one.id), row(one.id, 500), row(one.id, when=yesterday), row(two.id)])
    assert counters.roll() == 3
    counters.count_rows([row(two.id)])
    assert tasks.roll_proxy_counters.apply().get() == 3  # the same rows again, with the new figures
    stats = {(s.proxy.name, s.date): (s.requests, s.errors) for s in ProxyDailyStats.objects.all()}
    assert stats == {("px-1", TODAY): (2, 1), ("px-1", yesterday.date()): (1, 0), ("px-2", TODAY): (2, 0)}


def test_the_admin_shows_load_and_todays_figures(admin_client, proxies):
    one, _ = proxies
    provider = Provider.objects.create(name="openai", type="openai")
    Account.objects.create(provider=provider, name="a", api_key="k", proxy=one, proxy_pinned=True)
    counters.count_rows([row(one.id), row(one.id, 500)])
    page = admin_client.get(reverse("admin:proxies_proxyserver_changelist")).content.decode()
    assert re.search(r'class="field-load">1 / 10<', page)
    assert re.search(r'class="field-requests_today">2<', page)
    assert re.search(r'class="field-errors_today">1<', page)


def test_the_admin_reassigns_accounts_of_a_full_proxy(admin_client, proxies):
    one, two = proxies
    provider = Provider.objects.create(name="openai", type="openai")
    for name in "abc":
        Account.objects.create(provider=provider, name=name, api_key="k", proxy=one)
    ProxyServer.objects.filter(id=one.id).update(capacity=2)
    url = reverse("admin:proxies_proxyserver_changelist")
    admin_client.post(url, {"action": "reassign", "_selected_action": [one.id]})
    assert dict(Account.objects.values_list("name", "proxy__name")) == {"a": "px-1", "b": "px-1", "c": "px-2"}
