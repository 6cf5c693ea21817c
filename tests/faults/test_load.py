"""Load on loopback against two worker processes: a mix of formats, streams, upstream failures and
clients that leave, from a few hundred concurrent connections. No unexpected answer, memory flat,
and one log row per request. The small run is part of every test run; the big one (a minute,
up to 100k requests) runs with ``pytest -m slow tests/faults/test_load.py`` or ``bench/load.py``."""

import asyncio
import uuid

import pytest

from tests.faults.conftest import wait_until
from tests.faults.load import run_load
from tests.faults.served import KEY, ServedGateway

MB = 1024 * 1024


def check_run(served_db, served_upstream, *, connections: int, seconds: float, total: int | None,
              growth_limit: int):
    prefix = f"load-{uuid.uuid4().hex[:8]}-"
    served_upstream.requests.clear()
    with ServedGateway(served_db.env(), workers=2) as server:
        warm = asyncio.run(run_load(server.url, KEY, connections=50, seconds=1, prefix=prefix + "warm-"))
        report = asyncio.run(run_load(server.url, KEY, connections=connections, seconds=seconds, total=total,
                                      prefix=prefix, rss=server.rss))
        served_upstream.requests.clear()
        print(report.summary())
        assert warm.unexpected == [] and report.unexpected == [], report.unexpected[:10]
        # Every request has its row, once: the request log loses nothing under load.
        ids = warm.request_ids + report.request_ids
        assert wait_until(lambda: len(served_db.log_ids(prefix)) >= len(ids), timeout=60, step=0.5)
        logged = served_db.log_ids(prefix)
        assert len(logged) == len(set(logged)) == len(ids) and set(logged) == set(ids)
        assert not any(status >= 500 and status not in (502, 503) for status, *_ in
                       served_db.log_rows(prefix).values())
    # Memory is flat: what the processes hold at the end is what they held once warm.
    samples = [rss for _, rss in report.rss]
    settled = min(samples[1:len(samples) // 2 + 1])
    assert samples[-1] - settled < growth_limit, report.summary()
    return report


def test_a_few_hundred_connections_of_mixed_traffic(served_db, served_upstream):
    report = check_run(served_db, served_upstream, connections=300, seconds=5, total=None, growth_limit=40 * MB)
    assert report.sent > 300


@pytest.mark.slow
def test_a_minute_of_mixed_traffic(served_db, served_upstream):
    report = check_run(served_db, served_upstream, connections=300, seconds=60, total=100_000,
                       growth_limit=40 * MB)
    assert report.sent > 10_000
