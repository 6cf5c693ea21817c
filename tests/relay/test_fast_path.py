"""The same-format fast path: a client's body goes to an upstream of its own format with only the model
changed, and the upstream's bytes come back as they were sent, while usage is read on the way."""

import json

import httpx
import pytest

from stats.models import RequestLog
from tests.fakes import Reply
from tests.support.server import settle

OPENAI_LIKE = ["openai", "glm", "compat"]
PATHS = {"openai": "/v1/chat/completions", "glm": "/api/paas/v4/chat/completions", "compat": "/v1/chat/completions"}

CHAT_ANSWER = (b'{"id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "real-7",\n'
               b' "choices": [{"index": 0, "message": {"role": "assistant", "content": "h\xc3\xa9"},'
               b' "finish_reason": "stop", "logprobs": {"content": []}}],\n'
               b' "usage": {"prompt_tokens": 21, "completion_tokens": 8, "total_tokens": 29},'
               b' "system_fingerprint": "fp_x", "service_tier": "default"}')


def chunk(delta: dict, finish=None, **extra) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    data = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "real-7", "choices": [choice],
            **extra}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


USAGE_CHUNK = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"real-7","choices":[],'
               b'"usage":{"prompt_tokens":21,"completion_tokens":8,"total_tokens":29}}\n\n')
CHAT_STREAM = [chunk({"role": "assistant", "content": ""}), chunk({"content": "h\u00e9llo "}),
               chunk({"content": "world"}, obfuscation="xyz"), chunk({}, "stop"), USAGE_CHUNK, b"data: [DONE]\n\n"]


def post(gw, path, body, **headers):
    headers = {"authorization": f"Bearer {gw.key}", **headers}
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=20)


def split_anyhow(frames: list) -> list:
    """The frames' bytes cut at places that have nothing to do with event boundaries."""
    data = b"".join(frames)
    return [data[i:i + 7] for i in range(0, len(data), 7)]


def only_row() -> RequestLog:
    settle()
    return RequestLog.objects.get()


@pytest.mark.parametrize("provider", OPENAI_LIKE)
def test_an_openai_body_reaches_an_openai_upstream_with_only_the_model_changed(gw, provider):
    gw.route("friendly", provider, upstream_model="real-7")
    body = {"model": "friendly", "messages": [{"role": "user", "content": "hi"}], "logprobs": True,
            "top_logprobs": 2, "metadata": {"team": "a"}, "prediction": {"type": "content", "content": "x"},
            "vendor_extension": {"anything": [1, 2]}}
    assert post(gw, "/v1/chat/completions", body).status_code == 200
    assert gw.upstream.requests[0].path == PATHS[provider]
    assert gw.upstream.requests[0].json == {**body, "model": "real-7"}


def test_a_whole_answer_comes_back_byte_for_byte_and_is_counted(gw):
    gw.upstream.script(Reply.raw(CHAT_ANSWER))
    answer = post(gw, "/v1/chat/completions", {"model": "oa-model", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 200 and answer.content == CHAT_ANSWER
    assert answer.headers["x-request-id"]
    row = only_row()
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (21, 8, "reported")


def test_a_stream_comes_back_byte_for_byte_without_the_usage_the_client_did_not_ask_for(gw):
    gw.upstream.script(Reply.raw(split_anyhow(CHAT_STREAM), content_type="text/event-stream"))
    body = {"model": "oa-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    answer = post(gw, "/v1/chat/completions", body)
    assert answer.content == b"".join(frame for frame in CHAT_STREAM if frame is not USAGE_CHUNK)
    assert gw.upstream.requests[0].json["stream_options"] == {"include_usage": True}
    row = only_row()
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source, row.status_code) == (21, 8, "reported", 200)


def test_a_stream_keeps_its_usage_chunk_for_a_client_that_asked(gw):
    gw.upstream.script(Reply.raw(split_anyhow(CHAT_STREAM), content_type="text/event-stream"))
    body = {"model": "oa-model", "stream": True, "stream_options": {"include_usage": True, "x": 1},
            "messages": [{"role": "user", "content": "hi"}]}
    assert post(gw, "/v1/chat/completions", body).content == b"".join(CHAT_STREAM)
    assert gw.upstream.requests[0].json["stream_options"] == {"include_usage": True, "x": 1}


ANTHROPIC_STREAM = [
    b'event: message_start\r\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"real-7","content":[],"stop_reason":null,"usage":{"input_tokens":13,'
    b'"output_tokens":1}}}\r\n\r\n',
    b"event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n",
    b'event: content_block_start\r\ndata: {"type":"content_block_start","index":0,"content_block":'
    b'{"type":"text","text":""}}\r\n\r\n',
    b'event: content_block_delta\r\ndata: {"type":"content_block_delta","index":0,"delta":'
    b'{"type":"text_delta","text":"h\xc3\xa9"}}\r\n\r\n',
    b'event: content_block_stop\r\ndata: {"type":"content_block_stop","index":0}\r\n\r\n',
    b'event: message_delta\r\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":6}}\r\n\r\n',
    b'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n',
]


def test_an_anthropic_stream_comes_back_byte_for_byte(gw):
    gw.upstream.script(Reply.raw(split_anyhow(ANTHROPIC_STREAM), content_type="text/event-stream"))
    body = {"model": "an-model", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    answer = post(gw, "/v1/messages", body, **{"x-api-key": gw.key, "anthropic-version": "2023-06-01"})
    assert answer.content == b"".join(ANTHROPIC_STREAM)
    assert gw.upstream.requests[0].json == body
    row = only_row()
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (13, 6, "reported")


GEMINI_STREAM = [
    b'data: {"candidates": [{"content": {"parts": [{"text": "h\xc3\xa9"}], "role": "model"}}],'
    b' "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}, "modelVersion": "real-7"}\r\n\r\n',
    b'data: {"candidates": [{"content": {"parts": [{"text": "llo"}], "role": "model"}, "finishReason": "STOP"}],'
    b' "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}}\r\n\r\n',
]


def test_a_gemini_sse_stream_comes_back_byte_for_byte_and_the_json_array_form_is_translated(gw):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"seed": 3}}
    path = "/v1beta/models/ge-model:streamGenerateContent"
    gw.upstream.script(Reply.raw(split_anyhow(GEMINI_STREAM), content_type="text/event-stream"), times=2)
    assert post(gw, path + "?alt=sse", body, **{"x-goog-api-key": gw.key}).content == b"".join(GEMINI_STREAM)
    assert gw.upstream.requests[0].json == body
    array = post(gw, path, body, **{"x-goog-api-key": gw.key})
    assert [part["text"] for item in array.json() for part in item["candidates"][0]["content"]["parts"]][:2] == [
        "h\u00e9", "llo"]
    settle()
    assert [(row.prompt_tokens, row.completion_tokens) for row in RequestLog.objects.all()] == [(4, 3), (4, 3)]


def test_an_answer_that_is_not_a_chat_completion_is_a_bad_gateway_in_the_clients_format(gw):
    gw.upstream.script(Reply.raw(b'{"error": {"message": "quota", "type": "insufficient_quota"}}'))
    answer = post(gw, "/v1/chat/completions", {"model": "oa-model", "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "server_error"


def test_an_error_inside_a_stream_after_content_ends_it_with_the_gateways_error(gw):
    error = b'data: {"error": {"message": "overloaded, key sk-upstream-secret", "type": "server_error"}}\n\n'
    gw.upstream.script(Reply.raw(CHAT_STREAM[:2] + [error], content_type="text/event-stream"))
    body = {"model": "oa-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    answer = post(gw, "/v1/chat/completions", body).content
    assert answer.startswith(b"".join(CHAT_STREAM[:2]))
    events = [json.loads(line[6:]) for line in answer.split(b"\n\n") if line.startswith(b"data: {")]
    assert events[-1]["error"]["type"] == "server_error"
    assert answer.count(b'"error"') == 1
    row = only_row()
    assert row.status_code == 502 and row.usage_source == "estimated"


def test_a_cut_stream_is_billed_by_estimate_and_ends_with_an_error(gw):
    gw.upstream.script(Reply.raw(CHAT_STREAM[:3], content_type="text/event-stream"))
    body = {"model": "oa-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    answer = post(gw, "/v1/chat/completions", body).content
    assert answer.startswith(b"".join(CHAT_STREAM[:3])) and b'"error"' in answer
    row = only_row()
    assert row.completion_tokens > 0 and row.usage_source in ("estimated", "partial")
