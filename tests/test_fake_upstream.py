"""The fake upstream's own tests: plain httpx (and the vendors' SDKs) against each protocol it speaks."""

import asyncio
import base64
import json
import struct

import httpx
import pytest

from tests.fakes import FakeUpstream, Reply, Usage
from tests.fakes.upstream import fake_upstream  # noqa: F401  (the fixture)

OPENAI = {"Authorization": "Bearer key-a"}
ANTHROPIC = {"x-api-key": "ant-key", "anthropic-version": "2023-06-01"}
GOOGLE = {"x-goog-api-key": "goog-key"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi there"}]}
CLAUDE = {"model": "claude-test-model", "max_tokens": 64, "messages": [{"role": "user", "content": "hi there"}]}
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi there"}]}]}
FLASH = "/v1beta/models/gemini-2.5-flash"


def events(text: str) -> list[tuple[str, str]]:
    """``(event, data)`` for each server-sent event in ``text``."""
    found = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            found.append((fields.get("event", ""), fields["data"]))
    return found


def chunks(text: str) -> list[dict]:
    return [json.loads(data) for _, data in events(text) if data != "[DONE]"]


def post(upstream, path, body, headers):
    return httpx.post(upstream.url(path), json=body, headers=headers)


# --- OpenAI -----------------------------------------------------------------------------------

def test_it_echoes_the_last_user_text_in_openai_chat(fake_upstream):
    response = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)

    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: hi there"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 10 and body["usage"]["total_tokens"] == 15
    assert body["model"] == "gpt-4o-mini"


def test_it_streams_openai_chat_with_the_usage_chunk_before_done(fake_upstream):
    body = CHAT | {"stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", fake_upstream.url("/v1/chat/completions"), json=body, headers=OPENAI) as response:
        writes = list(response.iter_raw())
        assert response.headers["content-type"].startswith("text/event-stream")

    text = b"".join(writes).decode()
    assert len(writes) >= 5  # one flushed write per event
    assert events(text)[-1][1] == "[DONE]"
    parsed = chunks(text)
    assert parsed[-1]["choices"] == [] and parsed[-1]["usage"]["completion_tokens"] == 5
    assert all(chunk["usage"] is None for chunk in parsed[:-1])
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in parsed[:-1]) == "echo: hi there"
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop"


def test_it_leaves_usage_out_of_the_stream_unless_asked(fake_upstream):
    response = post(fake_upstream, "/v1/chat/completions", CHAT | {"stream": True}, OPENAI)

    parsed = chunks(response.text)
    assert all("usage" not in chunk and chunk["choices"] for chunk in parsed)


def test_it_streams_parallel_openai_tool_calls_in_fragments(fake_upstream):
    fake_upstream.script(Reply.tool_call("get_weather", {"city": "Paris", "unit": "celsius"},
                                         ("get_time", {"tz": "Europe/Paris"})))
    response = post(fake_upstream, "/v1/chat/completions", CHAT | {"stream": True}, OPENAI)

    calls, fragments = {}, 0
    for chunk in chunks(response.text):
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            call = calls.setdefault(delta["index"], {"name": "", "arguments": ""})
            call["name"] += delta.get("function", {}).get("name", "")
            call["arguments"] += delta["function"]["arguments"]
            fragments += delta["index"] == 0 and bool(delta["function"]["arguments"])
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(calls[1]["arguments"]) == {"tz": "Europe/Paris"}
    assert fragments > 1
    assert chunks(response.text)[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_it_sends_openai_reasoning_content(fake_upstream):
    fake_upstream.script(Reply.thinking("Let me think.", "42"), Reply.thinking("Hmm.", "7"))

    whole = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI).json()
    streamed = chunks(post(fake_upstream, "/v1/chat/completions", CHAT | {"stream": True}, OPENAI).text)

    assert whole["choices"][0]["message"]["reasoning_content"] == "Let me think."
    assert whole["choices"][0]["message"]["content"] == "42"
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 3
    assert "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in streamed) == "Hmm."


def test_it_reports_the_chosen_finish_and_cached_tokens(fake_upstream):
    fake_upstream.script(Reply.text("cut", usage=Usage(prompt=100, completion=20, cached=80, reasoning=5),
                                    finish="length"))

    body = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI).json()

    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 80
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 5


def test_it_serves_glm_chat_on_its_own_path(fake_upstream):
    response = post(fake_upstream, "/api/paas/v4/chat/completions", CHAT | {"model": "glm-4.6"}, OPENAI)

    assert response.json()["choices"][0]["message"]["content"] == "echo: hi there"
    assert fake_upstream.last("paas").credential == "key-a"


def test_it_embeds_deterministically(fake_upstream):
    body = {"model": "text-embedding-3-small", "input": ["a", "b", "a"]}
    data = post(fake_upstream, "/v1/embeddings", body, OPENAI).json()["data"]
    packed = post(fake_upstream, "/v1/embeddings", body | {"encoding_format": "base64"}, OPENAI).json()["data"]

    assert [item["index"] for item in data] == [0, 1, 2]
    assert data[0]["embedding"] == data[2]["embedding"] != data[1]["embedding"]
    decoded = struct.unpack("<8f", base64.b64decode(packed[0]["embedding"]))
    assert decoded == pytest.approx(data[0]["embedding"], abs=1e-6)


def test_it_lists_models_answers_responses_and_images(fake_upstream):
    models = httpx.get(fake_upstream.url("/v1/models"), headers=OPENAI).json()
    answer = post(fake_upstream, "/v1/responses", {"model": "gpt-4o", "input": "ping"}, OPENAI).json()
    images = post(fake_upstream, "/v1/images/generations", {"prompt": "a cat", "n": 2}, OPENAI).json()

    assert "gpt-4o-mini" in [model["id"] for model in models["data"]]
    assert answer["status"] == "completed"
    assert answer["output"][0]["content"][0]["text"] == "echo: ping"
    assert answer["usage"]["input_tokens"] == 10
    assert len(images["data"]) == 2 and base64.b64decode(images["data"][0]["b64_json"]).startswith(b"\x89PNG")


def test_it_answers_openai_errors_in_openai_shape(fake_upstream):
    fake_upstream.script(Reply.status(429, headers={"Retry-After": "7"}))

    response = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)
    unauthenticated = post(fake_upstream, "/v1/chat/completions", CHAT, {})

    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert unauthenticated.status_code == 401 and "message" in unauthenticated.json()["error"]


# --- Anthropic ---------------------------------------------------------------------------------

def test_it_answers_an_anthropic_message_and_records_its_headers(fake_upstream):
    body = post(fake_upstream, "/v1/messages", CLAUDE, ANTHROPIC).json()
    count = post(fake_upstream, "/v1/messages/count_tokens", CLAUDE, ANTHROPIC).json()

    assert body["type"] == "message" and body["stop_reason"] == "end_turn"
    assert body["content"] == [{"type": "text", "text": "echo: hi there"}]
    assert body["usage"]["input_tokens"] == 10 and body["usage"]["output_tokens"] == 5
    assert count == {"input_tokens": 10}
    recorded = fake_upstream.last("/v1/messages")
    assert recorded.credential == "ant-key" and recorded.headers["anthropic-version"] == "2023-06-01"


def test_it_streams_anthropic_in_the_exact_event_grammar(fake_upstream):
    response = post(fake_upstream, "/v1/messages", CLAUDE | {"stream": True}, ANTHROPIC)

    found = events(response.text)
    names = [name for name, _ in found]
    assert all(json.loads(data)["type"] == name for name, data in found)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(json.loads(data)["delta"]["text"] for name, data in found if name == "content_block_delta")
    assert text == "echo: hi there"
    assert json.loads(found[-2][1])["usage"] == {"output_tokens": 5}
    assert json.loads(found[0][1])["message"]["usage"]["input_tokens"] == 10


def test_it_streams_anthropic_thinking_and_tool_use(fake_upstream):
    fake_upstream.script(Reply.thinking("Reasoning here.").with_(
        calls=Reply.tool_call("lookup", {"q": "weather in Paris"}).calls, finish="tool", content=""))

    found = [json.loads(data) for _, data in events(post(fake_upstream, "/v1/messages", CLAUDE | {"stream": True},
                                                          ANTHROPIC).text)]

    starts = [event["content_block"] for event in found if event["type"] == "content_block_start"]
    assert [block["type"] for block in starts] == ["thinking", "tool_use"]
    deltas = [event["delta"] for event in found if event["type"] == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == "Reasoning here."
    assert any(d["type"] == "signature_delta" and d["signature"] for d in deltas)
    partial = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(partial) > 2 and json.loads("".join(partial)) == {"q": "weather in Paris"}
    assert found[-2]["delta"]["stop_reason"] == "tool_use"


def test_it_refuses_anthropic_calls_without_key_or_version(fake_upstream):
    keyless = post(fake_upstream, "/v1/messages", CLAUDE, {"anthropic-version": "2023-06-01"})
    versionless = post(fake_upstream, "/v1/messages", CLAUDE, {"x-api-key": "ant-key"})

    assert keyless.status_code == 401
    assert keyless.json()["type"] == "error" and keyless.json()["error"]["type"] == "authentication_error"
    assert versionless.status_code == 400
    assert fake_upstream.last().headers.get("anthropic-version") is None


def test_it_answers_anthropic_errors_in_anthropic_shape(fake_upstream):
    fake_upstream.script(Reply.status(529, message="Overloaded"))

    response = post(fake_upstream, "/v1/messages", CLAUDE, ANTHROPIC)

    assert response.status_code == 529
    assert response.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}


# --- Gemini -------------------------------------------------------------------------------------

def test_it_answers_gemini_generate_content_with_a_key_param(fake_upstream):
    response = httpx.post(fake_upstream.url(f"{FLASH}:generateContent"), params={"key": "param-key"}, json=CONTENTS)

    candidate = response.json()["candidates"][0]
    assert candidate["content"] == {"parts": [{"text": "echo: hi there"}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    assert response.json()["usageMetadata"]["totalTokenCount"] == 15
    assert fake_upstream.last(":generateContent").credential == "param-key"


def test_it_streams_gemini_as_sse_with_crlf_separators(fake_upstream):
    response = httpx.post(fake_upstream.url(f"{FLASH}:streamGenerateContent"), params={"alt": "sse"},
                          json=CONTENTS, headers=GOOGLE)

    assert response.text.count("\r\n\r\n") == len(chunks(response.text)) > 1
    parsed = chunks(response.text)
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in parsed) == "echo: hi there"
    assert parsed[-1]["candidates"][0]["finishReason"] == "STOP"
    assert parsed[-1]["usageMetadata"]["candidatesTokenCount"] == 5
    assert "finishReason" not in parsed[0]["candidates"][0]


def test_it_streams_gemini_as_a_json_array_without_alt(fake_upstream):
    response = post(fake_upstream, f"{FLASH}:streamGenerateContent", CONTENTS, GOOGLE)

    parsed = response.json()
    assert isinstance(parsed, list) and len(parsed) > 1
    assert parsed[-1]["candidates"][0]["finishReason"] == "STOP"


def test_it_sends_gemini_thoughts_and_whole_function_calls(fake_upstream):
    fake_upstream.script(Reply.thinking("Thinking it over.", usage=(10, 8, 0, 3)).with_(
        calls=Reply.tool_call("lookup", {"q": "x"}).calls, content="", finish="tool"))

    parsed = chunks(httpx.post(fake_upstream.url(f"{FLASH}:streamGenerateContent?alt=sse"), json=CONTENTS,
                               headers=GOOGLE).text)

    parts = [c["candidates"][0]["content"]["parts"][0] for c in parsed]
    assert "".join(p["text"] for p in parts if p.get("thought")) == "Thinking it over."
    assert parts[-1]["functionCall"] == {"name": "lookup", "args": {"q": "x"}}
    assert parts[-1]["thoughtSignature"]
    assert parsed[-1]["usageMetadata"]["thoughtsTokenCount"] == 3
    assert parsed[-1]["usageMetadata"]["candidatesTokenCount"] == 5


def test_it_counts_embeds_and_lists_gemini_models(fake_upstream):
    count = post(fake_upstream, f"{FLASH}:countTokens", CONTENTS, GOOGLE).json()
    one = post(fake_upstream, "/v1beta/models/text-embedding-004:embedContent",
               {"content": {"parts": [{"text": "a"}]}}, GOOGLE).json()
    batch = post(fake_upstream, "/v1beta/models/text-embedding-004:batchEmbedContents",
                 {"requests": [{"content": {"parts": [{"text": "a"}]}}, {"content": {"parts": [{"text": "b"}]}}]},
                 GOOGLE).json()
    models = httpx.get(fake_upstream.url("/v1beta/models"), headers=GOOGLE).json()

    assert count == {"totalTokens": 10}
    assert batch["embeddings"][0]["values"] == one["embedding"]["values"] != batch["embeddings"][1]["values"]
    assert "models/gemini-2.5-flash" in [model["name"] for model in models["models"]]


def test_it_answers_google_errors_with_retry_info(fake_upstream):
    fake_upstream.script(Reply.status(429, retry_delay="12s"))

    response = post(fake_upstream, f"{FLASH}:generateContent", CONTENTS, GOOGLE)
    keyless = post(fake_upstream, f"{FLASH}:generateContent", CONTENTS, {})

    error = response.json()["error"]
    assert response.status_code == 429 and error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429
    assert error["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]
    assert keyless.status_code == 403 and keyless.json()["error"]["status"] == "PERMISSION_DENIED"


# --- Antigravity (Cloud Code Assist) and OAuth ----------------------------------------------------

ENVELOPE = {"model": "gemini-3-pro", "project": "fake-project-123", "userAgent": "antigravity",
            "requestType": "agent", "requestId": "req-1", "request": CONTENTS | {"generationConfig": {}}}
BEARER = {"Authorization": "Bearer ya29.fake-1"}


def test_it_wraps_antigravity_replies_in_the_envelope(fake_upstream):
    whole = post(fake_upstream, "/v1internal:generateContent", ENVELOPE, BEARER).json()
    streamed = chunks(httpx.post(fake_upstream.url("/v1internal:streamGenerateContent?alt=sse"), json=ENVELOPE,
                                 headers=BEARER).text)

    assert whole["traceId"] and whole["response"]["modelVersion"] == "gemini-3-pro"
    assert whole["response"]["candidates"][0]["content"]["parts"] == [{"text": "echo: hi there"}]
    assert all(set(chunk) == {"response", "traceId"} for chunk in streamed)
    assert streamed[-1]["response"]["candidates"][0]["finishReason"] == "STOP"
    assert fake_upstream.last("v1internal").credential == "ya29.fake-1"


def test_it_loads_code_assist_and_demands_a_bearer(fake_upstream):
    loaded = post(fake_upstream, "/v1internal:loadCodeAssist", {"metadata": {}}, BEARER).json()
    refused = post(fake_upstream, "/v1internal:generateContent", ENVELOPE, GOOGLE)

    assert loaded["cloudaicompanionProject"] == "fake-project-123"
    assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"


def test_it_refreshes_oauth_tokens_and_counts_the_calls(fake_upstream):
    form = {"grant_type": "refresh_token", "refresh_token": "1//good", "client_id": "cid", "client_secret": "cs"}

    first = httpx.post(fake_upstream.url("/oauth/token"), data=form).json()
    second = httpx.post(fake_upstream.url("/oauth/token"), data=form).json()
    revoked = httpx.post(fake_upstream.url("/oauth/token"), data=form | {"refresh_token": "revoked"})

    assert first == {"access_token": "ya29.fake-1", "expires_in": 3599, "token_type": "Bearer"}
    assert second["access_token"] == "ya29.fake-2"
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
    assert fake_upstream.oauth_calls == 3
    assert fake_upstream.last("oauth").form["client_id"] == "cid"


# --- scripting and recording ------------------------------------------------------------------

def test_it_scripts_faults_per_credential(fake_upstream):
    fake_upstream.script(Reply.status(429, headers={"Retry-After": "7"}), credential="key-a")

    other = post(fake_upstream, "/v1/chat/completions", CHAT, {"Authorization": "Bearer key-b"})
    faulted = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)
    recovered = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)

    assert [other.status_code, faulted.status_code, recovered.status_code] == [200, 429, 200]
    assert fake_upstream.pending == 0


def test_it_consumes_scripts_in_order_per_path(fake_upstream):
    fake_upstream.script(Reply.text("one"), Reply.text("two"), path="chat/completions")
    fake_upstream.script(Reply.status(500), path="/v1/messages")

    answers = [post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI).json() for _ in range(3)]

    assert [a["choices"][0]["message"]["content"] for a in answers] == ["one", "two", "echo: hi there"]
    assert fake_upstream.pending == 1


def test_it_keeps_a_script_with_no_limit_until_cleared(fake_upstream):
    fake_upstream.script(Reply.status(503), times=None)

    codes = [post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI).status_code for _ in range(3)]
    fake_upstream.clear()

    assert codes == [503, 503, 503]
    assert post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI).status_code == 200
    assert len(fake_upstream.requests) == 1


def test_it_records_method_path_query_headers_and_body(fake_upstream):
    httpx.post(fake_upstream.url(f"{FLASH}:streamGenerateContent?alt=sse"), json=CONTENTS,
               headers={"X-Goog-Api-Key": "goog-key", "X-Custom": "yes"})

    recorded = fake_upstream.last("gemini")
    assert (recorded.method, recorded.path) == ("POST", f"{FLASH}:streamGenerateContent")
    assert recorded.query == {"alt": "sse"}
    assert recorded.headers["x-custom"] == "yes" and recorded.credential == "goog-key"
    assert recorded.json == CONTENTS and json.loads(recorded.body) == CONTENTS
    # The server marks the request after its last write, which may be after the client has read it.
    assert fake_upstream.wait_for(lambda: recorded.completed) and not recorded.disconnected
    with pytest.raises(LookupError):
        fake_upstream.last("nothing-like-this")


def test_it_sends_raw_bytes_piece_by_piece(fake_upstream):
    pieces = [b'data: {"choices": [{"delta": {"content": "caf\xc3', b'\xa9"}}]}\n\n', b"data: [DONE]\n\n"]
    fake_upstream.script(Reply.raw(pieces, content_type="text/event-stream"))

    with httpx.stream("POST", fake_upstream.url("/v1/chat/completions"), json=CHAT, headers=OPENAI) as response:
        received = list(response.iter_raw())

    assert received == pieces


def test_it_refuses_a_body_that_is_not_json(fake_upstream):
    response = httpx.post(fake_upstream.url("/v1/chat/completions"), content=b"{nope", headers=OPENAI)

    assert response.status_code == 400 and "error" in response.json()
    assert fake_upstream.last().body == b"{nope"


def test_it_records_unknown_routes_and_answers_404(fake_upstream):
    response = post(fake_upstream, "/v2/whatever", {}, OPENAI)

    assert response.status_code == 404
    assert fake_upstream.last("/v2/whatever").method == "POST"


# --- faults: hangs, cuts, disconnects ---------------------------------------------------------

def test_it_hangs_and_counts_the_client_giving_up(fake_upstream):
    fake_upstream.script(Reply.hang(5))

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake_upstream.url("/v1/chat/completions"), json=CHAT, headers=OPENAI, timeout=0.3)

    assert fake_upstream.wait_for(lambda: fake_upstream.disconnects == 1)
    assert fake_upstream.last().disconnected and not fake_upstream.last().completed


def test_it_hangs_after_the_first_chunk(fake_upstream):
    fake_upstream.script(Reply.hang_after_first_chunk(5))
    timeout = httpx.Timeout(5, read=0.3)

    with httpx.stream("POST", fake_upstream.url("/v1/chat/completions"), json=CHAT | {"stream": True},
                      headers=OPENAI, timeout=timeout) as response:
        stream = response.iter_raw()
        first = next(stream)
        with pytest.raises(httpx.ReadTimeout):
            next(stream)

    assert b'"role":"assistant"' in first
    assert fake_upstream.wait_for(lambda: fake_upstream.disconnects == 1)


def test_it_answers_after_a_hang_shorter_than_the_timeout(fake_upstream):
    fake_upstream.script(Reply.hang(0.2))

    response = post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)

    assert response.json()["choices"][0]["message"]["content"] == "echo: hi there"


def test_it_cuts_a_stream_without_a_terminator(fake_upstream):
    fake_upstream.script(Reply.cut_mid_stream(after=3))
    received = []

    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", fake_upstream.url("/v1/messages"), json=CLAUDE | {"stream": True},
                          headers=ANTHROPIC) as response:
            received.extend(response.iter_raw())

    names = [name for name, _ in events(b"".join(received).decode())]
    assert names == ["message_start", "ping", "content_block_start"]
    assert fake_upstream.disconnects == 0 and not fake_upstream.last().completed


def test_it_cuts_a_whole_body_half_way(fake_upstream):
    fake_upstream.script(Reply.cut_mid_stream())

    with pytest.raises(httpx.RemoteProtocolError):
        post(fake_upstream, "/v1/chat/completions", CHAT, OPENAI)


def test_it_counts_a_client_leaving_mid_stream(fake_upstream):
    fake_upstream.script(Reply.text("one two three four five six").with_(delay=0.1))

    with httpx.stream("POST", fake_upstream.url("/v1/chat/completions"), json=CHAT | {"stream": True},
                      headers=OPENAI) as response:
        next(response.iter_raw())

    assert fake_upstream.wait_for(lambda: fake_upstream.disconnects == 1)


async def test_it_serves_async_clients(fake_upstream):
    fake_upstream.script(Reply.hang(5))
    async with httpx.AsyncClient(base_url=fake_upstream.url("/v1"), headers=OPENAI) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/chat/completions", json=CHAT, timeout=0.3)
        answer = await client.post("/chat/completions", json=CHAT)

    assert answer.json()["choices"][0]["message"]["content"] == "echo: hi there"
    assert await asyncio.to_thread(fake_upstream.wait_for, lambda: fake_upstream.disconnects == 1)


def test_it_starts_and_stops_as_a_context_manager():
    with FakeUpstream() as upstream:
        url = upstream.url("/v1/models")
        assert httpx.get(url, headers=OPENAI).status_code == 200
    upstream.stop()  # stopping twice is harmless

    with pytest.raises(httpx.ConnectError):
        httpx.get(url, headers=OPENAI)


# --- the vendors' own SDKs accept what the fake sends ----------------------------------------

def test_the_openai_sdk_reassembles_a_streamed_tool_call(fake_upstream):
    openai = pytest.importorskip("openai")
    fake_upstream.script(Reply.tool_call("get_weather", {"city": "Paris"}))
    client = openai.OpenAI(api_key="key-a", base_url=fake_upstream.url("/v1"), max_retries=0)

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=CHAT["messages"], stream=True,
                                            stream_options={"include_usage": True})
    arguments, usage = "", None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            arguments += "".join(call.function.arguments or "" for call in choice.delta.tool_calls or [])

    assert json.loads(arguments) == {"city": "Paris"} and usage.total_tokens == 15


def test_the_anthropic_sdk_accumulates_thinking_and_text(fake_upstream):
    anthropic = pytest.importorskip("anthropic")
    fake_upstream.script(Reply.thinking("Because.", "Answer."))
    client = anthropic.Anthropic(api_key="ant-key", base_url=fake_upstream.base_url, max_retries=0)

    with client.messages.stream(model="claude-test-model", max_tokens=64, messages=CLAUDE["messages"]) as stream:
        message = stream.get_final_message()

    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Because." and message.content[0].signature
    assert message.content[1].text == "Answer." and message.usage.output_tokens == 5


def test_the_google_sdk_reads_a_gemini_stream(fake_upstream):
    genai = pytest.importorskip("google.genai")
    client = genai.Client(api_key="goog-key", http_options={"base_url": fake_upstream.base_url})

    pieces = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi there")
    text = "".join(piece.text or "" for piece in pieces)

    assert text == "echo: hi there"
    assert fake_upstream.last(":streamGenerateContent").query.get("alt") == "sse"
