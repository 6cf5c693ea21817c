"""Graceful drain: on SIGTERM the server stops accepting, readiness turns 503, streams in flight finish
within the drain window, and the request log is flushed before the process exits."""

import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from gateway import lifespan
from gateway.health import draining
from tests.faults.conftest import wait_until
from tests.faults.served import KEY, SLOW_WORDS, ServedGateway
from tests.faults.test_outages import logged_once, serve_mix

STREAMS = 12


def slow_stream(url: str, request_id: str, started: threading.Semaphore) -> bytes:
    body = {"model": "slow-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {KEY}", "x-request-id": request_id}
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        received = b""
        for chunk in response.iter_bytes():
            if not received:
                started.release()
            received += chunk
    return received


def test_sigterm_drains_streams_in_flight_and_flushes_the_log_before_exit(served_db):
    prefix = f"req-drain-{uuid.uuid4().hex[:8]}-"
    # Rows are written only when a batch fills or the process shuts down: the drain must flush them.
    env = served_db.env() | {"GATEWAY_LOG_FLUSH_SECONDS": "600", "GATEWAY_LOG_BATCH_SIZE": "100000"}
    server = ServedGateway(env, workers=2, graceful=15).start()
    try:
        answered = serve_mix(server.url, prefix + "warm-", rounds=1)
        started = threading.Semaphore(0)
        with ThreadPoolExecutor(STREAMS) as pool:
            ids = [f"{prefix}stream-{n}" for n in range(STREAMS)]
            streams = [pool.submit(slow_stream, server.url, request_id, started) for request_id in ids]
            for _ in range(STREAMS):  # every stream has its first bytes: all are in flight
                assert started.acquire(timeout=10)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            # uvicorn's supervisor looks at its exit flag every 0.5 s before it signals the workers, and
            # a worker at its own every 0.1 s: after 1 s none accepts, while the 3 s streams still run.
            time.sleep(1.0)
            try:  # a new request is not served any more (refused, reset, or left unanswered)
                late = httpx.get(server.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"}, timeout=1)
                assert late.status_code != 200, "a request arriving after SIGTERM was served"
            except httpx.TransportError:
                pass
            bodies = [stream.result(timeout=20) for stream in streams]
        drained = time.monotonic() - signalled
        for body in bodies:  # each stream finished whole, as a success
            assert SLOW_WORDS.split()[-1].encode() in body and b"data: [DONE]" in body and b'"error"' not in body
        assert server.process.wait(15) == 0
        assert drained < 15
        assert "ERROR" not in server.log(), server.log()[-2000:]
    finally:
        server.stop()
    # Every answered request was logged, once, before the process exited: nothing waits for a restart.
    assert logged_once(served_db, prefix, answered + ids, timeout=0)


def test_readiness_turns_503_on_sigterm_while_requests_are_still_served(gw):
    previous = signal.getsignal(signal.SIGTERM)
    seen = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))  # stands for uvicorn's handler
    try:
        lifespan._chain_drain_signal()
        assert httpx.get(gw.url + "/health").status_code == 200
        signal.raise_signal(signal.SIGTERM)
        assert wait_until(lambda: seen == [signal.SIGTERM]) and draining.active
        health = httpx.get(gw.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "draining"
        chat = httpx.post(gw.url + "/v1/chat/completions", headers=gw.headers(),
                          json={"model": "oa-model", "messages": [{"role": "user", "content": "hi"}]})
        assert chat.status_code == 200  # draining refuses no work: the server stops accepting, not the app
    finally:
        signal.signal(signal.SIGTERM, previous)
        draining.active = False
