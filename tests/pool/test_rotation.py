"""Weighted round-robin shared by every process, and sessions that stay on one account."""

from concurrent.futures import ThreadPoolExecutor
from itertools import cycle

from tests.fakes import Reply

REQUESTS = 300


def spread(pool) -> dict:
    served = pool.served()
    total = sum(served.values())
    return {name: count / total for name, count in served.items()}


def send(pool, n, urls, workers=12):
    targets = [url for url, _ in zip(cycle(urls), range(n))]
    with ThreadPoolExecutor(workers) as executor:
        statuses = list(executor.map(lambda url: pool.chat(url=url).status_code, targets))
    assert statuses == [200] * n, statuses


def test_it_spreads_requests_evenly_over_equal_accounts(make_pool):
    pool = make_pool(3)
    send(pool, REQUESTS, [pool.url])
    shares = spread(pool)
    assert set(shares) == {"key-a", "key-b", "key-c"}
    assert all(abs(share - 1 / 3) <= 0.05 for share in shares.values()), shares


def test_it_spreads_requests_evenly_across_gateway_processes(make_pool, spawn):
    pool = make_pool(3)
    urls = spawn(pool)
    send(pool, REQUESTS, urls, workers=15)
    shares = spread(pool)
    assert set(shares) == {"key-a", "key-b", "key-c"}
    assert all(abs(share - 1 / 3) <= 0.05 for share in shares.values()), shares


def test_it_follows_the_weights(make_pool):
    pool = make_pool(3, weights=[1, 2, 3])
    send(pool, 120, [pool.url])
    assert pool.served() == {"key-a": 20, "key-b": 40, "key-c": 60}


def test_it_keeps_a_session_on_one_account(make_pool):
    pool = make_pool(3)
    for _ in range(9):
        assert pool.chat(headers={"x-session-id": "conversation-1"}).status_code == 200
    assert len(pool.served()) == 1


def test_it_keeps_a_user_on_one_account_until_it_cools_down(make_pool):
    pool = make_pool(3)
    for _ in range(6):
        assert pool.chat(user="user-42").status_code == 200
    (first,) = pool.served()
    pool.upstream.script(Reply.status(429, headers={"Retry-After": "30"}), credential=first)
    assert pool.chat(user="user-42").status_code == 200
    moved = pool.upstream.find("chat/completions")[-1].credential
    assert moved != first
    for _ in range(4):
        assert pool.chat(user="user-42").status_code == 200
    assert [req.credential for req in pool.upstream.find("chat/completions")[-4:]] == [moved] * 4
