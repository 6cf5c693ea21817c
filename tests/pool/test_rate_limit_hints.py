"""How long a rate-limited account cools: the provider's own hint, whichever header carries it."""

import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from accounts.state import live_state
from providers.adapters.ratelimit import retry_after
from tests.fakes import Reply


def later(seconds) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after": "7"}, 7),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after-ms": "2500"}, 2.5),
    ({"x-ratelimit-reset-requests": "6m0s"}, 360),
    ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "20ms"}, 1),
    ({"x-ratelimit-reset-tokens": "1m30.5s"}, 90.5),
    ({"x-ratelimit-reset-requests": "2h"}, 7200),
    ({"x-ratelimit-reset": "12"}, 12),
    ({"retry-after": "3", "x-ratelimit-reset-requests": "60s"}, 3),
    ({}, None),
    ({"retry-after": "soon"}, None),
])
def test_it_reads_the_wait_from_the_headers(headers, seconds):
    assert retry_after(headers) == seconds


@pytest.mark.parametrize("headers", [
    lambda: {"anthropic-ratelimit-requests-reset": later(30).isoformat().replace("+00:00", "Z")},
    lambda: {"retry-after": format_datetime(later(30), usegmt=True)},
    lambda: {"x-ratelimit-reset": str(int(time.time()) + 30)},
], ids=["rfc3339", "http-date", "epoch"])
def test_it_reads_times_as_the_wait_until_then(headers):
    assert 28 <= retry_after(headers()) <= 30


def test_an_openai_reset_header_is_the_cooldown(make_pool):
    pool = make_pool(2)
    pool.upstream.script(Reply.status(429, headers={"x-ratelimit-reset-requests": "20s"}), credential="key-a")
    assert [pool.chat().status_code for _ in range(3)] == [200] * 3
    a = pool.accounts[0].id
    assert 18 < live_state([a])[a].cooling_until.timestamp() - time.time() <= 20
