"""Bad input and hostile clients: each gets a clear error in its own API's format, never a 5xx, and
the server keeps serving. Hand-picked cases here; random bodies in test_fuzz.py."""

import socket
import time

import httpx
import orjson
import pytest
from django.conf import settings

from stats.models import RequestLog
from tests.support.server import settle

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
GEMINI = "/v1beta/models/ge-model:generateContent"
HI = [{"role": "user", "content": "hi"}]
GEMINI_HI = [{"role": "user", "parts": [{"text": "hi"}]}]


def nested(depth: int):
    value = "deep"
    for _ in range(depth):
        value = [value]
    return value


def deep_json(depth: int) -> bytes:
    return b'{"model": "oa-model", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + \
        b"[" * depth + b"]" * depth + b"}"


# path -> bodies (a dict is sent as JSON, bytes as they are)
BAD = {
    OPENAI: [
        b"", b"{not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe\x00garbage", b'{"model": "oa-model"',
        {"model": 5, "messages": HI}, {"model": "oa-model", "messages": "hi"}, {"model": "oa-model", "messages": []},
        {"model": "oa-model", "messages": [{}]},
        {"model": "oa-model", "messages": [{"role": "user", "content": 5}]},
        {"model": "oa-model", "messages": [None]}, {"model": ["oa-model"], "messages": HI},
        {"model": "oa-model", "messages": HI, "max_tokens": -1},
        {"model": "oa-model", "messages": HI, "max_tokens": "many"},
        {"model": "oa-model", "messages": HI, "max_tokens": 1.5},
        {"model": "oa-model", "messages": HI, "n": 0}, {"model": "oa-model", "messages": HI, "n": 10_000},
        {"model": "oa-model", "messages": HI, "n": "two"}, {"model": "oa-model", "messages": HI, "stream": "yes"},
        {"model": "oa-model", "messages": HI, "tools": "all"},
        {"model": "oa-model", "messages": HI, "temperature": [1]},
        {"model": "oa-model", "messages": [{"role": "user", "content": nested(200)}]},
        b'{"model": "oa-model", "messages": [], "max_tokens": 1' + b"0" * 40 + b"}",
        deep_json(100), deep_json(5000), deep_json(200_000),
    ],
    ANTHROPIC: [
        b"", b"{not json", b"[]", {"model": "an-model", "max_tokens": 10, "messages": []},
        {"model": "an-model", "max_tokens": 10, "messages": "hi"},
        {"model": "an-model", "max_tokens": -5, "messages": HI},
        {"model": "an-model", "max_tokens": "ten", "messages": HI},
        {"model": "an-model", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "nope"}]}]},
        {"model": "an-model", "max_tokens": 10, "messages": [{"role": "user", "content": [5]}]},
        {"model": "an-model", "max_tokens": 10, "messages": HI, "system": {"a": 1}},
        {"model": "an-model", "max_tokens": 10, "messages": HI, "thinking": "lots"},
        {"model": "an-model", "max_tokens": 10, "messages": [{"role": "user", "content": nested(200)}]},
        deep_json(5000),
    ],
    GEMINI: [
        b"", b"{not json", b"[]", {}, {"contents": []}, {"contents": "hi"}, {"contents": [5]},
        {"contents": [{"parts": "hi"}]}, {"contents": [{"parts": [{"text": 5}]}]},
        {"contents": GEMINI_HI, "generationConfig": {"maxOutputTokens": -1}},
        {"contents": GEMINI_HI, "generationConfig": {"candidateCount": 0}},
        {"contents": GEMINI_HI, "generationConfig": {"candidateCount": 50}},
        {"contents": GEMINI_HI, "generationConfig": "hot"},
        {"contents": [{"parts": [{"text": "hi", "extra": nested(200)}]}]},
        deep_json(5000),
    ],
}
CASES = [(path, body) for path, bodies in BAD.items() for body in bodies]
ERROR_SHAPES = {
    OPENAI: lambda body: set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"]),
    ANTHROPIC: lambda body: body["type"] == "error" and {"type", "message"} <= set(body["error"]),
    GEMINI: lambda body: {"code", "message", "status"} <= set(body["error"]),
}


def send(gw, path, body, **headers):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(gw.url + path, content=content, timeout=20,
                      headers={"authorization": f"Bearer {gw.key}", "content-type": "application/json", **headers})


def assert_clear_error(path, response, status=400):
    assert response.status_code == status, response.text[:500]
    assert ERROR_SHAPES[path](response.json()), response.text[:500]


def no_server_errors():
    settle()
    assert not RequestLog.objects.filter(status_code__gte=500).exists()


@pytest.mark.parametrize("path, body", CASES, ids=[f"{p.split('/')[-1][:12]}-{i}" for i, (p, _) in enumerate(CASES)])
def test_a_malformed_request_gets_a_clear_error_and_never_reaches_an_upstream(gw, path, body):
    response = send(gw, path, body)
    assert_clear_error(path, response)
    assert gw.upstream.requests == []
    assert send(gw, OPENAI, {"model": "oa-model", "messages": HI}).status_code == 200  # still serving


@pytest.mark.parametrize("path", [OPENAI, ANTHROPIC, GEMINI])
def test_a_body_over_the_limit_is_refused_with_413(gw, path):
    big = b'{"pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    declared = send(gw, path, big)
    assert_clear_error(path, declared, 413)

    def chunks():  # no Content-Length: the limit holds while reading
        for start in range(0, len(big), 1 << 20):
            yield big[start:start + (1 << 20)]

    streamed = httpx.post(gw.url + path, content=chunks(), headers={"authorization": f"Bearer {gw.key}"}, timeout=20)
    assert_clear_error(path, streamed, 413)
    assert gw.upstream.requests == []
    no_server_errors()


def raw_request(gw, path: str, body: bytes, content_length: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gw.server.port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
                 f"authorization: Bearer {gw.key}\r\ncontent-length: {content_length}\r\n\r\n".encode() + body)
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response read off a raw socket (chunked or not)."""
    received = b""
    while not (b"\r\n0\r\n\r\n" in received or b"content-length" in received.lower() and _whole(received)):
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            chunk = b""
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return status, body


def _whole(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = lengths[0]
    return len(body) >= length


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        size = int(size, 16)
        if not size:
            break
        out, body = out + rest[:size], rest[size + 2:]
    return out


def test_a_content_length_shorter_than_the_body_is_a_clear_error(gw):
    body = orjson.dumps({"model": "oa-model", "messages": HI})
    with raw_request(gw, OPENAI, body, len(body) - 10) as sock:
        status, answer = read_response(sock)
    assert status == 400 and b"not valid JSON" in answer
    no_server_errors()


def test_a_content_length_longer_than_the_body_times_out_with_408(gw, monkeypatch):
    monkeypatch.setitem(settings.GATEWAY, "BODY_TIMEOUT_SECONDS", 1.0)
    body = orjson.dumps({"model": "oa-model", "messages": HI})
    started = time.monotonic()
    with raw_request(gw, OPENAI, body, len(body) + 100) as sock:
        status, answer = read_response(sock)
    assert status == 408 and b"did not arrive within 1s" in answer
    assert time.monotonic() - started < 3
    assert gw.upstream.requests == []
    no_server_errors()


@pytest.mark.parametrize("path", [OPENAI, ANTHROPIC, GEMINI])
def test_a_client_trickling_its_body_is_cut_off_by_the_body_timeout(gw, monkeypatch, path):
    monkeypatch.setitem(settings.GATEWAY, "BODY_TIMEOUT_SECONDS", 0.6)
    body = orjson.dumps({"model": "oa-model", "messages": HI})
    started = time.monotonic()
    with raw_request(gw, path, b"", len(body)) as sock:
        for byte in body[:5]:  # a byte every 0.15 s: each arrives well within any per-read timeout
            sock.sendall(bytes([byte]))
            time.sleep(0.15)
        status, answer = read_response(sock)
    assert status == 408
    assert ERROR_SHAPES[path](orjson.loads(answer))
    assert time.monotonic() - started < 4
    no_server_errors()


def test_many_slow_clients_do_not_stop_the_others(gw, monkeypatch):
    monkeypatch.setitem(settings.GATEWAY, "BODY_TIMEOUT_SECONDS", 2.0)
    slow = [raw_request(gw, OPENAI, b"{", 1000) for _ in range(50)]
    try:
        for _ in range(5):
            assert send(gw, OPENAI, {"model": "oa-model", "messages": HI}).status_code == 200
        assert [read_response(sock)[0] for sock in slow] == [408] * len(slow)
    finally:
        for sock in slow:
            sock.close()
    no_server_errors()
