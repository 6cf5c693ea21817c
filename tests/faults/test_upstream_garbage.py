"""An upstream that misbehaves: events split at any byte, invalid JSON, one huge event, a stream with
no terminator, an endless or oversized body. Each gives the client a clear error in its format (or,
for a split stream, the right answer), memory stays bounded, and nothing answers 500."""

import httpx
import orjson
import psutil
import pytest

from providers.adapters.base import MAX_RESPONSE_BODY
from providers.formats.sse import MAX_EVENT_BYTES
from stats.models import RequestLog
from tests.faults.conftest import ERROR_EVENTS, SUCCESS_ENDINGS, chat_body, chat_path
from tests.faults.test_timeouts import ANTHROPIC_START, anthropic_text, openai_chunk
from tests.fakes import Reply
from tests.support.server import settle

SDKS = ["oa", "an", "ge"]
OPENAI_STREAM = b"".join(openai_chunk(word) for word in ("héllo ", "wörld ", "🎉 ", "done")) + \
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,' \
    b'"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
ANTHROPIC_STREAM = ANTHROPIC_START + anthropic_text("héllo wörld 🎉 done") + \
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n' \
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},' \
    b'"usage":{"output_tokens":7}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
SSE = "text/event-stream"


def stream(gw, fmt, model, request_id):
    return httpx.post(gw.url + chat_path(fmt, model, True), json=chat_body(fmt, model, True),
                      headers=gw.headers(request_id), timeout=30)


def whole(gw, fmt, model, request_id):
    return httpx.post(gw.url + chat_path(fmt, model, False), json=chat_body(fmt, model, False),
                      headers=gw.headers(request_id), timeout=30)


def text_of(fmt, raw: bytes) -> str:
    """The answer's text, gathered from the client's stream."""
    text = ""
    for line in raw.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        event = orjson.loads(line[6:])
        if fmt == "oa":
            text += "".join(c["delta"].get("content") or "" for c in event.get("choices", []))
        elif fmt == "an":
            text += (event.get("delta") or {}).get("text", "")
        else:
            for candidate in event.get("candidates", []):
                text += "".join(p.get("text", "") for p in candidate["content"].get("parts", []))
    return text


def no_server_errors():
    settle()
    assert not RequestLog.objects.filter(status_code=500).exists()


@pytest.mark.parametrize("fmt", SDKS)
@pytest.mark.parametrize("upstream, body", [("openai", OPENAI_STREAM), ("anthropic", ANTHROPIC_STREAM)])
def test_a_stream_split_at_every_byte_arrives_whole(gw, fmt, upstream, body):
    gw.upstream.script(Reply.raw([body[i:i + 1] for i in range(len(body))], content_type=SSE))
    response = stream(gw, fmt, gw.model(upstream), f"req-split-{fmt}-{upstream}")
    assert response.status_code == 200
    assert text_of(fmt, response.content).replace(" ", "") == "héllowörld🎉done"
    assert SUCCESS_ENDINGS[fmt] in response.content and ERROR_EVENTS[fmt] not in response.content


BAD_EVENTS = {
    "openai": [b"data: {this is not json\n\n", b"data: <html>oops</html>\n\n", b'data: {"choices": "none"}\n\n',
               b"data: [1, 2]\n\n", b'data: {"choices": [{"delta": 5}]}\n\n', b'data: {"choices": [7]}\n\n'],
    "anthropic": [b"event: content_block_delta\ndata: {nope\n\n",
                  b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": "x"}\n\n',
                  b'event: content_block_start\ndata: {"type": "content_block_start", "content_block": 5}\n\n',
                  b'event: message_delta\ndata: {"type": "message_delta", "usage": "lots"}\n\n'],
}
BAD_CASES = [(upstream, frame) for upstream, frames in BAD_EVENTS.items() for frame in frames]
FIRST = {"openai": openai_chunk("fine so far"), "anthropic": ANTHROPIC_START + anthropic_text("fine so far")}


@pytest.mark.parametrize("fmt", SDKS)
@pytest.mark.parametrize("upstream, frame", BAD_CASES)
def test_a_malformed_event_in_the_middle_of_a_stream_ends_it_with_an_error(gw, fmt, upstream, frame):
    # Apart in time, so the good event is not read in the same chunk as the bad one (that is a 502 before content).
    gw.upstream.script(Reply.raw([FIRST[upstream], frame, FIRST[upstream]], content_type=SSE).with_(delay=0.05))
    response = stream(gw, fmt, gw.model(upstream), f"req-badevent-{fmt}")
    assert response.status_code == 200
    raw = response.content
    assert b"fine so far" in raw and ERROR_EVENTS[fmt] in raw and SUCCESS_ENDINGS[fmt] not in raw
    assert gw.row(f"req-badevent-{fmt}").status_code == 502


@pytest.mark.parametrize("fmt", SDKS)
@pytest.mark.parametrize("upstream, frame", BAD_CASES)
def test_a_malformed_event_before_any_content_is_a_502_in_the_clients_format(gw, fmt, upstream, frame):
    opening = ANTHROPIC_START if upstream == "anthropic" else b""
    gw.upstream.script(Reply.raw([opening, frame], content_type=SSE), times=None)
    response = stream(gw, fmt, gw.model(upstream), f"req-badevent-early-{fmt}")
    assert response.status_code == 502
    assert "error" in response.json()


@pytest.mark.parametrize("where", ["first", "after-content"])
def test_one_huge_event_is_refused_not_buffered_without_bound(gw, where):
    rss = psutil.Process().memory_info().rss
    huge = b"data: " + b"x" * (1 << 20)
    frames = ([openai_chunk("before")] if where == "after-content" else []) + \
        [huge] * (MAX_EVENT_BYTES // (1 << 20) + 8)  # 16 MB of one event that never ends
    gw.upstream.script(Reply.raw(frames, content_type=SSE))
    response = stream(gw, "oa", "oa-model", f"req-huge-{where}")
    row = gw.row(f"req-huge-{where}")
    assert row.status_code == 502 and "larger than the gateway accepts" in row.error_message
    if where == "first":
        assert response.status_code == 502 and "larger" in response.json()["error"]["message"]
    else:
        assert b"before" in response.content and ERROR_EVENTS["oa"] in response.content
    assert psutil.Process().memory_info().rss - rss < 200 * 1024 * 1024


@pytest.mark.parametrize("fmt", SDKS)
def test_a_stream_without_its_terminator_is_an_error_not_a_success(gw, fmt):
    gw.upstream.script(Reply.raw([openai_chunk("half an answer")], content_type=SSE))  # then a clean end
    response = stream(gw, fmt, "oa-model", f"req-noterm-{fmt}")
    raw = response.content
    assert b"half an answer" in raw and ERROR_EVENTS[fmt] in raw and SUCCESS_ENDINGS[fmt] not in raw
    assert gw.row(f"req-noterm-{fmt}").error_type == "network"


@pytest.mark.parametrize("fmt", SDKS)
def test_an_endless_answer_is_cut_at_the_size_limit(gw, fmt):
    rss = psutil.Process().memory_info().rss
    chunk = b" " * (1 << 20)
    endless = Reply.raw((b'{"id": "x", "choices": [', *([chunk] * 10_000)))  # 10 GB, were it read to the end
    gw.upstream.script(endless)
    response = whole(gw, fmt, "oa-model", f"req-endless-{fmt}")
    assert response.status_code == 502
    assert "larger than the gateway accepts" in response.json()["error"]["message"]
    # The gateway hung up and the upstream did not finish (the fake notices the hang-up a moment later).
    assert gw.upstream.wait_for(lambda: gw.upstream.last().disconnected)
    assert psutil.Process().memory_info().rss - rss < MAX_RESPONSE_BODY + 200 * 1024 * 1024
    no_server_errors()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"choices": "none"}', b"", b"\x00\xff" * 100])
def test_a_garbled_answer_is_a_502_in_the_clients_format(gw, body):
    gw.upstream.script(Reply.raw(body))
    for fmt in SDKS:
        gw.upstream.script(Reply.raw(body))
        response = whole(gw, fmt, "oa-model", f"req-garbled-{fmt}")
        assert response.status_code == 502, response.text
        assert "error" in response.json()
    no_server_errors()
