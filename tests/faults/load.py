"""A bounded load generator for the gateway on loopback: a mix of client formats, streams, upstream
failures and clients that leave, from many concurrent connections, for a bounded time or count.

Used by tests/faults/test_load.py (a small run in every test run, the big one behind ``-m slow``)
and by bench/load.py. It expects the configuration of tests/faults/served.py.
"""

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import orjson

__all__ = ["Kind", "MIX", "LoadReport", "run_load"]


@dataclass(frozen=True)
class Kind:
    """One kind of request in the mix and the answers that are not errors for it."""

    name: str
    path: str
    body: dict
    expected: frozenset = frozenset({200})
    leaves: bool = False  # the client closes the connection after the first bytes
    cut: bool = False  # the upstream drops the stream: a 200 that ends with an error event


HI = [{"role": "user", "content": "hi"}]
GEMINI_HI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
MIX = [
    Kind("openai", "/v1/chat/completions", {"model": "oa-model", "messages": HI}),
    Kind("openai-stream", "/v1/chat/completions", {"model": "an-model", "messages": HI, "stream": True}),
    Kind("anthropic", "/v1/messages", {"model": "ge-model", "max_tokens": 16, "messages": HI}),
    Kind("anthropic-stream", "/v1/messages", {"model": "oa-model", "max_tokens": 16, "messages": HI, "stream": True}),
    Kind("gemini", "/v1beta/models/an-model:generateContent", GEMINI_HI),
    Kind("gemini-stream", "/v1beta/models/ge-model:streamGenerateContent?alt=sse", GEMINI_HI),
    Kind("failover", "/v1/chat/completions", {"model": "fl-model", "messages": HI}),
    # No account left: 503, or 429 once the failing account cools down.
    Kind("upstream-down", "/v1/messages", {"model": "dn-model", "max_tokens": 16, "messages": HI},
         expected=frozenset({503, 429})),
    Kind("cut-stream", "/v1/chat/completions", {"model": "cut-model", "messages": HI, "stream": True}, cut=True),
    Kind("client-leaves", "/v1/chat/completions", {"model": "slow-model", "messages": HI, "stream": True},
         leaves=True),
]


@dataclass
class LoadReport:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    unexpected: list = field(default_factory=list)
    request_ids: list = field(default_factory=list)
    rss: list = field(default_factory=list)  # (seconds since start, bytes) of the server's processes

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {status}: {count}" for (kind, status), count in sorted(self.statuses.items()))
        rss = " ".join(f"{t:.0f}s:{b / 2**20:.0f}MB" for t, b in self.rss)
        return (f"{self.sent} requests in {self.seconds:.1f}s ({self.rate:.0f}/s), {len(self.unexpected)} unexpected; "
                f"{kinds}; RSS {rss}")


async def _one(session, url: str, key: str, kind: Kind, request_id: str, report: LoadReport):
    headers = {"authorization": f"Bearer {key}", "x-goog-api-key": key, "x-request-id": request_id,
               "content-type": "application/json"}
    status = 0
    try:
        async with session.post(url + kind.path, data=orjson.dumps(kind.body), headers=headers) as response:
            status = response.status
            if kind.leaves:
                await response.content.readany()
                response.close()  # the connection goes, not back to the pool
                status = 499
                return
            body = await response.read()
            if status == 200 and _ends_badly(body) != kind.cut:
                report.unexpected.append((kind.name, request_id, body[-300:]))
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        report.unexpected.append((kind.name, request_id, repr(error)))
    finally:
        report.statuses[(kind.name, status)] += 1
    if status and status not in kind.expected and not kind.leaves:
        report.unexpected.append((kind.name, request_id, status))


def _ends_badly(body: bytes) -> bool:
    return b'"error"' in body[-2000:]


async def _sample(report: LoadReport, rss, started: float, every: float):
    while True:
        report.rss.append((time.monotonic() - started, rss()))
        await asyncio.sleep(every)


async def run_load(url: str, key: str, *, connections: int, seconds: float, total: int | None = None,
                   prefix: str = "load-", rss=None, sample_every: float = 1.0, mix: list = MIX) -> LoadReport:
    """Keep ``connections`` requests in flight, cycling through ``mix``, until ``seconds`` pass or
    ``total`` requests were sent."""
    report = LoadReport()
    kinds = itertools.cycle(mix)
    numbers = itertools.count()
    started = time.monotonic()
    deadline = started + seconds
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)

    async def worker(session):
        while time.monotonic() < deadline and (total is None or report.sent < total):
            n = next(numbers)
            request_id = f"{prefix}{n}"
            report.sent += 1
            report.request_ids.append(request_id)
            await _one(session, url, key, next(kinds), request_id, report)

    sampler = asyncio.ensure_future(_sample(report, rss, started, sample_every)) if rss else None
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    report.seconds = time.monotonic() - started
    if sampler:
        sampler.cancel()
        report.rss.append((report.seconds, await asyncio.to_thread(rss)))
    return report
