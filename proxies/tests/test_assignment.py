"""Fill-first proxy assignment: capacity, priority, stickiness, changes of proxies, concurrency."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection

from accounts.models import Account
from gateway.snapshot import build_snapshot
from providers.models import Provider
from proxies.assignment import assign_proxies, proxy_load, rebalance
from proxies.models import ProxyServer

# The assignment runs when a transaction commits, as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def provider():
    return Provider.objects.create(name="openai", type="openai", base_url="https://api.openai.com/v1")


def accounts(provider, n, **fields) -> list:
    start = Account.objects.count()
    return [Account.objects.create(provider=provider, name=f"acct-{start + i}", api_key="k", **fields)
            for i in range(n)]


def proxy(name, capacity=2, **fields) -> ProxyServer:
    return ProxyServer.objects.create(name=name, url=f"http://10.0.0.{len(name)}:3128", capacity=capacity, **fields)


def placement() -> dict:
    return {a.name: a.proxy.name if a.proxy else None for a in Account.objects.select_related("proxy").order_by("id")}


def test_it_fills_the_first_proxy_before_the_next(provider):
    proxy("px-b", capacity=2, priority=1)
    proxy("px-a", capacity=2, priority=0)
    accounts(provider, 5)
    assert list(placement().values()) == ["px-a", "px-a", "px-b", "px-b", None]


def test_an_account_keeps_its_proxy_when_a_better_one_appears(provider):
    proxy("px-b", capacity=5, priority=1)
    accounts(provider, 2)
    proxy("px-a", capacity=5, priority=0)
    accounts(provider, 1)
    assert list(placement().values()) == ["px-b", "px-b", "px-a"]


def test_a_pinned_proxy_is_kept_even_over_capacity(provider):
    first, second = proxy("px-a", capacity=1), proxy("px-b", capacity=1)
    (pinned,) = accounts(provider, 1, proxy=second, proxy_pinned=True)
    accounts(provider, 2)
    assert placement() == {pinned.name: "px-b", "acct-1": "px-a", "acct-2": None}
    first.enabled = False
    first.save()
    assert placement()[pinned.name] == "px-b"


def test_accounts_of_a_disabled_proxy_move_to_one_with_room(provider):
    first = proxy("px-a", capacity=2)
    proxy("px-b", capacity=2, priority=1)
    accounts(provider, 2)
    first.enabled = False
    first.save()
    assert list(placement().values()) == ["px-b", "px-b"]


def test_accounts_of_a_deleted_proxy_move_pinned_ones_too(provider):
    first = proxy("px-a", capacity=2)
    proxy("px-b", capacity=2, priority=1)
    accounts(provider, 1)
    accounts(provider, 1, proxy=first, proxy_pinned=True)
    first.delete()
    assert list(placement().values()) == ["px-b", "px-b"]
    assert not Account.objects.filter(proxy_pinned=True).exists()


def test_an_account_whose_proxy_is_disabled_is_not_usable(provider):
    first = proxy("px-a", capacity=1)
    accounts(provider, 1, proxy=first, proxy_pinned=True)
    ProxyServer.objects.filter(id=first.id).update(enabled=False)
    (conf,) = build_snapshot().accounts[provider.id]
    assert not conf.usable  # never sent directly instead


def test_accounts_go_direct_when_there_are_no_proxies(provider):
    accounts(provider, 2)
    assert assign_proxies() == 0
    assert all(conf.usable and conf.proxy_url == "" for conf in build_snapshot().accounts[provider.id])


def test_rebalance_moves_the_newest_accounts_off_a_proxy_over_capacity(provider):
    first = proxy("px-a", capacity=3)
    proxy("px-b", capacity=1, priority=1)
    accounts(provider, 3)
    ProxyServer.objects.filter(id=first.id).update(capacity=1)
    assert rebalance() == (1, 1)  # one moved off, placed on px-b; the last one has nowhere to go
    assert list(placement().values()) == ["px-a", "px-a", "px-b"]
    assert proxy_load() == {first.id: 2, ProxyServer.objects.get(name="px-b").id: 1}


def test_the_command_reassigns_and_shows_the_load(provider):
    accounts(provider, 3)
    ProxyServer.objects.bulk_create([ProxyServer(name="px-a", url="http://10.0.0.1:3128", capacity=2)])
    out = StringIO()
    call_command("reassign_proxies", stdout=out)
    assert out.getvalue().splitlines() == ["0 moved off full proxies, 2 placed", "px-a: 2/2"]


def test_concurrent_assigners_never_overfill_a_proxy():
    """Each thread has its own database connection: on MariaDB these are concurrent transactions
    contending for the proxies' row locks."""
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database refuses concurrent writers instead of queueing them")
    provider = Provider.objects.create(name="openai", type="openai")
    accounts(provider, 12)  # no proxy yet: nothing placed
    ProxyServer.objects.bulk_create([ProxyServer(name=f"px-{i}", url=f"http://10.0.0.{i}:3128", capacity=3)
                                     for i in range(3)])  # no signals: the threads below do the placing
    barrier = threading.Barrier(4)
    placed, errors = [], []

    def assign():
        try:
            barrier.wait()
            placed.append(assign_proxies())
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=assign) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(placed) == 9
    assert sorted(proxy_load().values()) == [3, 3, 3]
    assert Account.objects.filter(proxy__isnull=True).count() == 3
