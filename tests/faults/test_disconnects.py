"""A client that leaves before or during a stream: the upstream connection is closed within a second,
nothing is leaked (tasks on the server's loop, connections to the upstream), and the request log
marks the call (499, client_disconnected) and bills what was produced."""

import socket
import time

import orjson
import pytest

from providers.tokens import count_text
from tests.faults.conftest import chat_body, chat_path, wait_until
from tests.fakes import Reply

WORDS = " ".join(f"w{n}" for n in range(200))


def open_stream(gw, fmt: str, model: str, request_id: str) -> socket.socket:
    """A streamed chat sent over a raw socket, so the test decides exactly when the client vanishes."""
    body = orjson.dumps(chat_body(fmt, model, True))
    head = (f"POST {chat_path(fmt, model, True)} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {gw.key}\r\nx-request-id: {request_id}\r\ncontent-length: {len(body)}\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", gw.server.port), timeout=10)
    sock.sendall(head.encode() + body)
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, f"the stream ended before {marker!r}: {received[-500:]!r}"
        received += chunk
    return received


def leave(gw, sock: socket.socket, disconnects_before: int) -> float:
    """Close the client's socket; seconds until the fake upstream saw the gateway hang up."""
    left = time.monotonic()
    sock.close()
    assert wait_until(lambda: gw.upstream.disconnects > disconnects_before, timeout=5, step=0.002)
    seconds = time.monotonic() - left
    print(f"the upstream saw the gateway hang up {seconds * 1000:.0f} ms after the client left")
    return seconds


@pytest.mark.parametrize("fmt", ["oa", "an", "ge"])
def test_a_client_leaving_before_the_first_byte_closes_the_upstream_at_once(gw, fmt):
    gw.upstream.script(Reply.hang(10))
    sock = open_stream(gw, fmt, "oa-model", f"req-gone-early-{fmt}")
    assert wait_until(lambda: len(gw.upstream.requests) == 1)
    assert leave(gw, sock, 0) < 1.0
    row = gw.row(f"req-gone-early-{fmt}")
    assert (row.status_code, row.error_type) == (499, "client_disconnected")
    assert row.usage_source == "none" and row.completion_tokens == 0  # nothing was produced


@pytest.mark.parametrize("provider, source", [("anthropic", "partial"), ("openai", "estimated"),
                                              ("gemini", "partial")])
def test_a_client_leaving_mid_stream_closes_the_upstream_and_is_billed_for_what_it_got(gw, provider, source):
    gw.upstream.script(Reply.text(WORDS).with_(delay=0.02))
    request_id = f"req-gone-mid-{provider}"
    sock = open_stream(gw, "oa", gw.model(provider), request_id)
    read_until(sock, b"w20")
    assert leave(gw, sock, 0) < 1.0
    upstream = gw.upstream.last()
    assert upstream.disconnected and not upstream.completed
    row = gw.row(request_id)
    assert (row.status_code, row.error_type) == (499, "client_disconnected")
    assert row.usage_source == source
    # At least the 20 words the client saw, less than the whole answer it never got.
    assert count_text(" ".join(f"w{n}" for n in range(20))) <= row.completion_tokens < count_text(WORDS)
    assert row.prompt_tokens > 0


def test_clients_leaving_leak_no_task_and_no_upstream_connection(gw):
    tasks_before = gw.tasks()
    gw.upstream.script(Reply.hang(10), times=5, path="chat/completions")
    gw.upstream.script(Reply.text(WORDS).with_(delay=0.02), times=None)
    early = [open_stream(gw, "oa", "oa-model", f"req-leak-early-{n}") for n in range(5)]
    assert wait_until(lambda: len(gw.upstream.requests) == 5)
    late = [open_stream(gw, fmt, gw.model(provider), f"req-leak-mid-{fmt}-{provider}")
            for fmt in ("oa", "an", "ge") for provider in ("openai", "anthropic", "gemini")]
    for sock in late:
        read_until(sock, b"w5")
    assert gw.upstream_connections() == 14
    started = time.monotonic()
    for sock in early + late:
        sock.close()
    assert wait_until(lambda: gw.upstream.disconnects == 14, timeout=5, step=0.002)
    print(f"14 upstream requests closed {(time.monotonic() - started) * 1000:.0f} ms after their clients left")
    assert time.monotonic() - started < 1.0
    assert wait_until(lambda: gw.upstream_connections() == 0, timeout=2), "a connection to the upstream leaked"
    assert wait_until(lambda: gw.tasks() <= tasks_before, timeout=2), f"{gw.tasks()} tasks, {tasks_before} before"
    assert not any(req.completed for req in gw.upstream.requests)
