"""The big load run of the fault suite, on loopback: the gateway's real server (scripts/serve.sh, two
workers by default) against the scripted fake upstream, under a mix of client formats, streams,
upstream failures and clients that leave, from a few hundred connections, for a minute or 100k
requests. It reports throughput, the answers by kind, the workers' RSS over time, and checks that
nothing unexpected was answered and that every request has exactly one log row.

    .venv/bin/python bench/load.py                      # 300 connections, 60 s or 100k requests, SQLite
    .venv/bin/python bench/load.py --seconds 10 --connections 100
    DATABASE_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python bench/load.py   # on MariaDB

The same run is ``pytest -m slow tests/faults/test_load.py``; a small one is part of every test run.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import FakeUpstream  # noqa: E402
from tests.faults.load import run_load  # noqa: E402
from tests.faults.served import KEY, ServedDatabase, ServedGateway, script_upstream  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with FakeUpstream() as upstream:
        script_upstream(upstream)
        database = ServedDatabase(upstream, Path(tempfile.mkdtemp(prefix="load-"))).create()
        try:
            with ServedGateway(database.env(), workers=args.workers) as server:
                report = asyncio.run(run_load(server.url, KEY, connections=args.connections, seconds=args.seconds,
                                              total=args.total, prefix="load-", rss=server.rss, sample_every=5))
                upstream.requests.clear()
                print(report.summary())
                deadline = time.monotonic() + 60
                while len(database.log_ids("load-")) < report.sent and time.monotonic() < deadline:
                    time.sleep(0.5)
                logged = database.log_ids("load-")
            samples = [rss for _, rss in report.rss]
            growth = samples[-1] - min(samples[1:len(samples) // 2 + 1])
            print(f"log rows {len(logged)} (distinct {len(set(logged))}) for {report.sent} requests; "
                  f"RSS growth once warm {growth / 2**20:.1f} MB")
            for unexpected in report.unexpected[:10]:
                print("unexpected:", unexpected)
            ok = not report.unexpected and len(logged) == len(set(logged)) == report.sent
            return 0 if ok else 1
        finally:
            database.drop()


if __name__ == "__main__":
    sys.exit(main())
