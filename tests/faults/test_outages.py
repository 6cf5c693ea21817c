"""Outages, on real server processes: the database, Redis and the Celery broker go away; the relay
keeps serving from its in-memory snapshot, and every answered request is logged exactly once."""

import os
import time
import uuid

import httpx
import pytest

from tests.faults.conftest import chat_body, chat_path, wait_until
from tests.faults.forwarder import Forwarder
from tests.faults.served import KEY, ServedGateway

MIX = [("oa", "oa-model", False), ("oa", "an-model", True), ("an", "ge-model", False), ("an", "oa-model", True),
       ("ge", "an-model", False), ("ge", "ge-model", True), ("oa", "fl-model", False), ("an", "fl-model", True)]


def chat(url: str, fmt: str, model: str, stream: bool, request_id: str) -> httpx.Response:
    return httpx.post(url + chat_path(fmt, model, stream), json=chat_body(fmt, model, stream), timeout=30,
                      headers={"authorization": f"Bearer {KEY}", "x-request-id": request_id})


def serve_mix(url: str, prefix: str, rounds: int = 2) -> list:
    """Every format, streamed and not, one failover route; each must succeed. Returns the request ids."""
    ids = []
    for n in range(rounds):
        for index, (fmt, model, stream) in enumerate(MIX):
            request_id = f"{prefix}{n}-{index}"
            started = time.monotonic()
            response = chat(url, fmt, model, stream, request_id)
            assert response.status_code == 200, (request_id, response.text[:300])
            assert time.monotonic() - started < 3, f"{request_id} took {time.monotonic() - started:.1f}s"
            assert b'"error"' not in response.content, response.text[:300]
            ids.append(request_id)
    return ids


def logged_once(served_db, prefix: str, expected: list, timeout: float = 20) -> bool:
    wait_until(lambda: len(served_db.log_ids(prefix)) >= len(expected), timeout=timeout, step=0.2)
    return sorted(served_db.log_ids(prefix)) == sorted(expected)


@pytest.fixture
def prefix():
    return f"req-{uuid.uuid4().hex[:8]}-"


def test_a_database_outage_neither_stops_the_relay_nor_loses_a_log_row(served_db, prefix):
    forwarder = Forwarder(3306).start() if served_db.mysql else None
    lock = None
    try:
        env = served_db.env(database_port=forwarder.port if forwarder else None)
        with ServedGateway(env) as server:
            before = serve_mix(server.url, prefix + "before-", rounds=1)
            assert logged_once(served_db, prefix + "before-", before)
            if forwarder:
                forwarder.cut()
            else:
                lock = served_db.lock_sqlite()
            during = serve_mix(server.url, prefix + "during-")
            if forwarder:
                health = httpx.get(server.url + "/health", timeout=10)
                assert health.status_code == 200 and health.json()["status"] == "degraded"
            time.sleep(2)  # the writer tries, fails and backs off
            if lock is not None:
                assert lock.execute("SELECT count(*) FROM stats_requestlog WHERE request_id LIKE ?",
                                    (prefix + "during-%",)).fetchone() == (0,)
                lock.rollback()
                lock.close()
                lock = None
            else:
                forwarder.restore()
            assert logged_once(served_db, prefix + "during-", during), served_db.log_ids(prefix + "during-")
            after = serve_mix(server.url, prefix + "after-", rounds=1)
            assert logged_once(served_db, prefix + "after-", after)
            assert "Traceback" not in server.log() or "request log write failed" in server.log()
    finally:
        if lock is not None:
            lock.close()
        if forwarder:
            forwarder.stop()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the embedded pass runs without Redis")
def test_a_redis_outage_does_not_stop_the_relay(served_db, prefix):
    port = int(os.environ["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    forwarder = Forwarder(port).start()
    try:
        with ServedGateway(served_db.env(redis_port=forwarder.port)) as server:
            before = serve_mix(server.url, prefix + "before-", rounds=1)
            forwarder.cut()
            during = serve_mix(server.url, prefix + "during-")
            forwarder.restore()
            after = serve_mix(server.url, prefix + "after-", rounds=1)
            assert logged_once(served_db, prefix, before + during + after)
    finally:
        forwarder.stop()


def test_an_unreachable_broker_fails_no_request(served_db, prefix):
    """Every served process points CELERY_BROKER_URL at a port where nothing listens: nothing on the
    request path publishes to Celery, so every kind of request still succeeds, and quickly."""
    with ServedGateway(served_db.env()) as server:
        assert served_db.env()["CELERY_BROKER_URL"] == "redis://127.0.0.1:1/0"
        health = httpx.get(server.url + "/health", timeout=10).json()
        assert health["checks"]["broker"].startswith("error")
        served = serve_mix(server.url, prefix)
        headers = {"authorization": f"Bearer {KEY}", "x-request-id": prefix + "down"}
        down = httpx.post(server.url + "/v1/chat/completions", headers=headers,
                          json={"model": "dn-model", "messages": [{"role": "user", "content": "hi"}]})
        # The upstream's own failure, relayed (a 429 once its account cools down), not the broker's.
        assert down.status_code in (503, 429)
        others = [
            httpx.post(server.url + "/v1/embeddings", json={"model": "oa-model", "input": "hi"},
                       headers={"authorization": f"Bearer {KEY}", "x-request-id": prefix + "emb"}),
            httpx.post(server.url + "/v1/messages/count_tokens", headers={"x-api-key": KEY},
                       json={"model": "an-model", "messages": [{"role": "user", "content": "hi"}]}),
            httpx.get(server.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"}),
        ]
        assert [r.status_code for r in others] == [200, 200, 200], [r.text[:200] for r in others]
        assert logged_once(served_db, prefix, served + [prefix + "down", prefix + "emb"])
        assert "celery" not in server.log().lower() and "kombu" not in server.log().lower()
