"""Timeouts that fit streams: connect, first content, and silence between content events. Nothing
cuts a long stream that keeps producing; keep-alives are not content."""

import time

import httpx
import orjson
import pytest

from providers.tokens import count_text
from tests.faults.conftest import ERROR_EVENTS, SUCCESS_ENDINGS, chat_body, chat_path
from tests.fakes import Reply

SDKS = ["oa", "an", "ge"]

ANTHROPIC_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
                   b'"role":"assistant","model":"m","content":[],"stop_reason":null,'
                   b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n')
ANTHROPIC_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def anthropic_text(text: str, index: int = 0) -> bytes:
    start = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}
    return (b"event: content_block_start\ndata: " + orjson.dumps(start) + b"\n\n"
            b"event: content_block_delta\ndata: " + orjson.dumps(delta) + b"\n\n")


def openai_chunk(text: str) -> bytes:
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def post(gw, fmt, model, stream, request_id, timeout=20.0):
    return httpx.post(gw.url + chat_path(fmt, model, stream), json=chat_body(fmt, model, stream),
                      headers=gw.headers(request_id), timeout=timeout)


# --- connect ------------------------------------------------------------------------------------

def test_it_fails_over_from_an_upstream_that_never_accepts_within_the_connect_timeout(gw, blackhole):
    gw.add_provider("blackholed", "openai", f"http://127.0.0.1:{blackhole.port}/v1", connect_timeout=0.3, timeout=30)
    gw.route("bh-model", "blackholed", "openai")
    started = time.monotonic()
    response = post(gw, "oa", "bh-model", False, "req-connect-failover")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 3  # the connect timeout, not the 30 s answer timeout
    row = gw.row("req-connect-failover")
    assert row.attempts == 2 and row.status_code == 200


@pytest.mark.parametrize("fmt", SDKS)
def test_an_upstream_that_never_accepts_is_a_timeout_in_the_clients_format(gw, blackhole, fmt):
    gw.add_provider("blackholed", "openai", f"http://127.0.0.1:{blackhole.port}/v1", connect_timeout=0.3, timeout=30)
    gw.route("bh-model", "blackholed")
    started = time.monotonic()
    response = post(gw, fmt, "bh-model", True, f"req-connect-{fmt}")
    assert response.status_code == 504, response.text
    assert time.monotonic() - started < 3
    body = response.json()
    assert "timed out" in str(body["error"]["message"])
    assert gw.row(f"req-connect-{fmt}").error_type == "timeout"


# --- time to first content ----------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("stall", ["no-head", "head-no-content"])
def test_a_silent_upstream_fails_over_before_the_first_byte(gw, stream, stall):
    gw.provider("openai", timeout=0.5)
    gw.route("ttfb-model", "openai", "anthropic")
    reply = Reply.hang(5) if stall == "no-head" else Reply.hang_after_first_chunk(5)
    if stall == "head-no-content" and not stream:
        reply = Reply.hang(5)  # an answer that is not streamed has no first chunk to stall after
    gw.upstream.script(reply, path="chat/completions")
    started = time.monotonic()
    response = post(gw, "oa", "ttfb-model", stream, f"req-ttfb-{stall}-{stream}")
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 3
    if stream:
        assert SUCCESS_ENDINGS["oa"] in response.content
    row = gw.row(f"req-ttfb-{stall}-{stream}")
    assert row.attempts == 2 and row.provider.name == "anthropic"


# --- silence in the middle of a stream ----------------------------------------------------------

@pytest.mark.parametrize("fmt", SDKS)
def test_keep_alive_pings_do_not_hold_a_stalled_stream_open(gw, fmt):
    """Anthropic's ping events keep arriving, but no content: the idle timeout cuts the stream."""
    gw.provider("anthropic", timeout=2, idle_timeout=0.6)
    frames = [ANTHROPIC_START, anthropic_text("partial answer")] + [ANTHROPIC_PING] * 12
    gw.upstream.script(Reply.raw(frames, content_type="text/event-stream").with_(delay=0.2))
    started = time.monotonic()
    response = post(gw, fmt, "an-model", True, f"req-idle-ping-{fmt}")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    raw = response.content
    assert b"partial answer" in raw and ERROR_EVENTS[fmt] in raw and SUCCESS_ENDINGS[fmt] not in raw
    assert b"no content for 0.6s" in raw
    assert elapsed < 2.0  # the 12 pings would have taken 2.8 s
    row = gw.row(f"req-idle-ping-{fmt}")
    assert (row.status_code, row.error_type) == (504, "timeout")
    # Billed for what was produced: the prompt as the upstream reported it, the text as counted.
    assert row.usage_source == "partial"
    assert row.prompt_tokens == 3 and row.completion_tokens == count_text("partial answer")


def test_sse_comments_do_not_hold_a_stalled_stream_open(gw):
    gw.provider("openai", timeout=2, idle_timeout=0.6)
    frames = [openai_chunk("some words")] + [b": ping\n\n"] * 12
    gw.upstream.script(Reply.raw(frames, content_type="text/event-stream").with_(delay=0.2))
    response = post(gw, "oa", "oa-model", True, "req-idle-comment")
    raw = response.content
    assert b"some words" in raw and ERROR_EVENTS["oa"] in raw and SUCCESS_ENDINGS["oa"] not in raw
    row = gw.row("req-idle-comment")
    assert (row.status_code, row.error_type) == (504, "timeout")
    # The upstream reported no usage at all: both sides are estimated.
    assert row.usage_source == "estimated"
    assert row.completion_tokens == count_text("some words") and row.prompt_tokens > 0


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_a_long_stream_that_keeps_producing_is_never_cut(gw, provider):
    """Two seconds of steady content under a 0.5 s first-content timeout and a 0.3 s idle timeout."""
    gw.provider(provider, timeout=0.5, idle_timeout=0.3)
    words = " ".join(f"w{n}" for n in range(20))
    gw.upstream.script(Reply.text(words).with_(delay=0.1))
    response = post(gw, "oa", gw.model(provider), True, f"req-long-{provider}")
    assert response.status_code == 200
    assert SUCCESS_ENDINGS["oa"] in response.content and ERROR_EVENTS["oa"] not in response.content
    row = gw.row(f"req-long-{provider}")
    assert row.status_code == 200 and row.latency_ms >= 1800
