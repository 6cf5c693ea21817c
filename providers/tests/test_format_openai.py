"""The OpenAI Chat Completions codec: both directions, streams split at every byte, the SDK's view."""

import array
import base64
import json

import httpx
import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from providers.formats import openai as codec
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Finish, Image,
    Message, Reasoning, ResponseFormat, Start, StreamError, Text, TextDelta, Thinking,
    ThinkingDelta, Tool, ToolCall, ToolCallDelta, ToolCallStart, ToolChoice, ToolResult,
    Unsupported, Usage, UsageUpdate,
)

# --- recorded streams ------------------------------------------------------------------------

# DeepSeek-style: reasoning_content first, then text with multi-byte characters, a keep-alive
# comment, a finish chunk and the usage-only final chunk OpenAI sends for include_usage.
REASONING_STREAM = (
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":"",'
    b'"reasoning_content":""},"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,'
    b'"reasoning_content":"Let me think"},"logprobs":null,"finish_reason":null}]}\n\n'
    b': keep-alive\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,'
    b'"reasoning_content":" \xe2\x80\x94 ok."},"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"h\xc3\xa9llo ",'
    b'"reasoning_content":null},"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"\xe4\xb8\x96\xe7\x95\x8c '
    b'\xf0\x9f\x8e\x89"},"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":""},"logprobs":null,'
    b'"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"chatcmpl-r1","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"deepseek-reasoner","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,'
    b'"total_tokens":42,"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":8,'
    b'"completion_tokens_details":{"reasoning_tokens":20}}}\n\n'
    b"data: [DONE]\n\n"
)

REASONING_EVENTS = [
    Start("chatcmpl-r1", "deepseek-reasoner"),
    ThinkingDelta("Let me think"),
    ThinkingDelta(" \u2014 ok."),
    TextDelta("héllo "),
    TextDelta("世界 🎉"),
    Finish("end_turn"),
    UsageUpdate(Usage(prompt_tokens=12, completion_tokens=30, cached_tokens=8, reasoning_tokens=20)),
]

# OpenAI parallel tool calls, with CRLF line endings: the second call starts in the same delta
# as a fragment of its arguments, and the fragments of the two calls interleave.
_PARALLEL_CHUNKS = [
    {"delta": {"role": "assistant", "content": None}},
    {"delta": {"tool_calls": [{"index": 0, "id": "call_A", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}},
    {"delta": {"tool_calls": [{"index": 1, "id": "call_B", "type": "function",
                               "function": {"name": "get_time", "arguments": "{\"tz\""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}},
    {"delta": {"tool_calls": [{"index": 1, "function": {"arguments": ": \"CET\"}"}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
]


def _parallel_stream() -> bytes:
    lines = []
    for choice in _PARALLEL_CHUNKS:
        chunk = {"id": "chatcmpl-p1", "object": "chat.completion.chunk", "created": 1700000001,
                 "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
                 "choices": [{"index": 0, "logprobs": None, "finish_reason": None, **choice}],
                 "usage": None}
        lines.append(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n")
    usage = {"id": "chatcmpl-p1", "object": "chat.completion.chunk", "created": 1700000001,
             "model": "gpt-4o-2024-08-06", "choices": [],
             "usage": {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120,
                       "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0}}}
    lines.append(b"data: " + json.dumps(usage).encode() + b"\r\n\r\n")
    lines.append(b"data: [DONE]\r\n\r\n")
    return b"".join(lines)


PARALLEL_STREAM = _parallel_stream()

PARALLEL_EVENTS = [
    Start("chatcmpl-p1", "gpt-4o-2024-08-06"),
    ToolCallStart(0, "call_A", "get_weather"),
    ToolCallDelta(0, '{"city": '),
    ToolCallStart(1, "call_B", "get_time"),
    ToolCallDelta(1, '{"tz"'),
    ToolCallDelta(0, '"Paris"}'),
    ToolCallDelta(1, ': "CET"}'),
    Finish("tool_use"),
    UsageUpdate(Usage(prompt_tokens=80, completion_tokens=40, cached_tokens=64)),
]

STREAMS = [(REASONING_STREAM, REASONING_EVENTS), (PARALLEL_STREAM, PARALLEL_EVENTS)]


def decode(*chunks: bytes) -> list:
    decoder = codec.StreamDecoder()
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.close()


def sse_chunk(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def data_lines(wire: bytes) -> list:
    return [line[6:] for line in wire.split(b"\n\n") if line.startswith(b"data: ")]


# --- StreamDecoder ---------------------------------------------------------------------------

@pytest.mark.parametrize("stream, expected", STREAMS)
def test_decoder_reads_a_recorded_stream(stream, expected):
    assert decode(stream) == expected


@pytest.mark.parametrize("stream, expected", STREAMS)
def test_decoder_gives_the_same_events_split_at_every_byte(stream, expected):
    for split in range(len(stream) + 1):
        assert decode(stream[:split], stream[split:]) == expected, split


@pytest.mark.parametrize("stream, expected", STREAMS)
def test_decoder_gives_the_same_events_fed_byte_by_byte(stream, expected):
    events = decode(*(stream[i:i + 1] for i in range(len(stream))))
    assert events == expected
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text in ("", "héllo 世界 🎉")


def test_decoder_keeps_multibyte_characters_split_across_chunks():
    stream = sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "héllo 世界 🎉"}}]})
    emoji = stream.index("🎉".encode())
    for split in (emoji + 1, emoji + 2, emoji + 3, stream.index("世".encode()) + 1):
        assert decode(stream[:split], stream[split:])[1] == TextDelta("héllo 世界 🎉")


def test_decoder_maps_upstream_tool_indexes_to_its_own_in_order_of_appearance():
    stream = b"".join([
        sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 3, "id": "x", "function": {"name": "a", "arguments": "{}"}},
            {"index": 1, "id": "y", "function": {"name": "b", "arguments": "{"}}]}}]}),
        sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 1, "function": {"arguments": "}"}}]}, "finish_reason": "tool_calls"}]}),
    ])
    assert decode(stream)[1:] == [
        ToolCallStart(0, "x", "a"), ToolCallDelta(0, "{}"),
        ToolCallStart(1, "y", "b"), ToolCallDelta(1, "{"), ToolCallDelta(1, "}"),
        Finish("tool_use"),
    ]


def test_decoder_tells_calls_apart_by_id_when_a_host_sends_no_index():
    # Gemini's OpenAI-compatible endpoint sends whole calls without an index.
    stream = sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [
        {"id": "x", "type": "function", "function": {"name": "a", "arguments": "{\"q\":1}"}},
        {"id": "y", "type": "function", "function": {"name": "b", "arguments": "{}"}}]},
        "finish_reason": "stop"}]})
    assert decode(stream)[1:] == [
        ToolCallStart(0, "x", "a"), ToolCallDelta(0, '{"q":1}'),
        ToolCallStart(1, "y", "b"), ToolCallDelta(1, "{}"),
        Finish("tool_use"),  # "stop" with tool calls is a tool-calling turn
    ]


@pytest.mark.parametrize("reason, stop", [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"),
    ("function_call", "tool_use"), ("content_filter", "content_filter"),
])
def test_decoder_maps_finish_reasons(reason, stop):
    stream = sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    assert decode(stream) == [Start("c", "m"), Finish(stop)]


def test_decoder_reports_an_error_event_and_stops():
    stream = (
        sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]})
        + sse_chunk({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}})
        + sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "late"}}]})
    )
    assert decode(stream) == [
        Start("c", "m"), TextDelta("Hi"), StreamError("rate_limit_error", "Rate limit reached"),
    ]


def test_decoder_reports_invalid_json():
    assert decode(b"data: {\"id\": \"c\", \n\n") == [
        StreamError("server_error", "upstream sent invalid JSON in its stream"),
    ]


def test_decoder_ignores_anything_after_done():
    stream = b"data: [DONE]\n\n" + sse_chunk({"id": "c", "choices": []})
    assert decode(stream) == []


def test_decoder_reads_a_final_event_without_a_blank_line_at_close():
    stream = b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}'
    assert decode(stream) == [Start("c", "m"), TextDelta("x")]


def test_decoder_reads_usage_sent_with_the_finish_chunk():
    stream = sse_chunk({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    assert decode(stream)[1:] == [Finish("end_turn"), UsageUpdate(Usage(3, 4))]


# --- StreamEncoder ---------------------------------------------------------------------------

ENCODED_EVENTS = [
    Start("upstream-id", "upstream-model"),
    ThinkingDelta("Considering…"),
    ThinkingDelta(signature="sig"),  # nothing to show in Chat Completions
    TextDelta("héllo 世界 🎉"),
    TextDelta(""),
    ToolCallStart(0, "call_1", "get_weather"),
    ToolCallDelta(0, '{"city":'),
    ToolCallStart(1, "call_2", "get_time"),
    ToolCallDelta(1, "{}"),
    ToolCallDelta(0, '"Paris"}'),
    UsageUpdate(Usage(10, 5, reasoning_tokens=2)),
    Finish("tool_use"),
    UsageUpdate(Usage(prompt_tokens=11, completion_tokens=6, cached_tokens=4, reasoning_tokens=3)),
]


def encode(events, include_usage=True) -> bytes:
    request = ChatRequest(model="my-alias", messages=[], stream=True, include_usage=include_usage)
    encoder = codec.StreamEncoder(request, "chatcmpl-gw", 1700000002)
    return b"".join(encoder.encode(event) for event in events) + encoder.end()


def test_encoder_output_decodes_to_the_same_events():
    expected = [Start("chatcmpl-gw", "my-alias")] + [
        event for event in ENCODED_EVENTS[1:]
        if not isinstance(event, UsageUpdate) and event not in (ThinkingDelta(signature="sig"), TextDelta(""))
    ] + [ENCODED_EVENTS[-1]]
    assert decode(encode(ENCODED_EVENTS)) == expected


def test_encoder_writes_chunks_the_sdk_accepts():
    wire = encode(ENCODED_EVENTS)
    assert wire.endswith(b"\n\ndata: [DONE]\n\n")
    payloads = data_lines(wire)
    assert payloads[-1] == b"[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(payload) for payload in payloads[:-1]]
    assert {(c.id, c.object, c.created, c.model) for c in chunks} == {
        ("chatcmpl-gw", "chat.completion.chunk", 1700000002, "my-alias")}
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 17
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 4


def test_encoder_chunks_accumulate_in_the_sdk_to_the_whole_message():
    state = ChatCompletionStreamState()
    for payload in data_lines(encode(ENCODED_EVENTS))[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(payload))
    completion = state.get_final_completion()
    message = completion.choices[0].message
    assert message.content == "héllo 世界 🎉"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_1", "get_weather", '{"city":"Paris"}'), ("call_2", "get_time", "{}")]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_encoder_writes_tool_call_deltas_in_openais_shape():
    payloads = [json.loads(p) for p in data_lines(encode(ENCODED_EVENTS[5:7], include_usage=False))[:-1]]
    assert payloads[1]["choices"][0]["delta"] == {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}
    assert payloads[2]["choices"][0]["delta"] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}


def test_encoder_writes_reasoning_as_reasoning_content():
    payloads = data_lines(encode([Start(), ThinkingDelta("hmm")], include_usage=False))
    assert json.loads(payloads[1])["choices"][0]["delta"] == {"reasoning_content": "hmm"}


def test_encoder_sends_usage_only_when_the_client_asked():
    wire = encode(ENCODED_EVENTS, include_usage=False)
    assert b'"usage"' not in wire
    assert wire.endswith(b'"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n')


def test_encoder_starts_with_the_role_chunk_even_without_a_start_event():
    payloads = data_lines(encode([TextDelta("hi"), Finish("end_turn")], include_usage=False))
    deltas = [json.loads(p)["choices"][0]["delta"] for p in payloads[:-1]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "hi"}, {}]


@pytest.mark.parametrize("stop, reason", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("tool_use", "tool_calls"), ("content_filter", "content_filter"),
])
def test_encoder_maps_stop_reasons_back(stop, reason):
    payloads = data_lines(encode([Start(), Finish(stop)], include_usage=False))
    assert json.loads(payloads[1])["choices"][0]["finish_reason"] == reason


def test_encoder_fail_writes_an_error_and_no_done():
    encoder = codec.StreamEncoder(ChatRequest(model="m", messages=[]), "id", 1)
    wire = encoder.encode(Start()) + encoder.fail("overloaded_error", "upstream is overloaded")
    assert b"[DONE]" not in wire
    assert json.loads(data_lines(wire)[-1]) == {"error": {
        "message": "upstream is overloaded", "type": "overloaded_error", "param": None, "code": "overloaded_error"}}
    assert encoder.encode(StreamError("server_error", "x")) == encoder.fail("server_error", "x")


def test_encoder_output_is_what_the_decoder_reads_for_an_error():
    encoder = codec.StreamEncoder(ChatRequest(model="m", messages=[]), "id", 1)
    assert decode(encoder.fail("rate_limit_error", "slow down")) == [StreamError("rate_limit_error", "slow down")]


# --- parse_request ---------------------------------------------------------------------------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def full_body() -> dict:
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and the weather?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ]},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{ "tz" : "CET" }'}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:00"}]},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "get_time"}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "max_completion_tokens": 500,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": ["END", "STOP"],
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": -0.2,
        "n": 2,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object"}, "strict": True}},
        "reasoning_effort": "high",
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "user-42",
        "metadata": {"session": "s1"},
    }


def test_parse_request_maps_every_field():
    request = codec.parse_request(full_body())
    assert request.model == "gpt-4o"
    assert request.system == [Text("Be brief."), Text("Use metric units."), Text("Answer in French.")]
    assert request.messages == [
        Message("user", [Text("What is in this image, and the weather?"),
                         Image(media_type="image/png", data=PNG), Image(url="https://example.com/cat.jpg")]),
        Message("assistant", [Text("Checking."), ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
                              ToolCall("call_2", "get_time", '{ "tz" : "CET" }')]),
        Message("tool", [ToolResult("call_1", "get_weather", [Text("18C")]),
                         ToolResult("call_2", "get_time", [Text("14:00")])]),
        Message("user", [Text("Thanks")]),
    ]
    assert request.tools == [
        Tool("get_weather", "Weather by city", {"type": "object", "properties": {"city": {"type": "string"}}}),
        Tool("get_time"),
    ]
    assert request.tool_choice == ToolChoice("tool", "get_weather")
    assert request.parallel_tool_calls is False
    assert (request.max_tokens, request.temperature, request.top_p, request.stop, request.seed) == (
        500, 0.5, 0.9, ["END", "STOP"], 7)
    assert (request.presence_penalty, request.frequency_penalty, request.n) == (0.1, -0.2, 2)
    assert request.response_format == ResponseFormat("json_schema", {"type": "object"}, "answer", True)
    assert request.reasoning == Reasoning(effort="high")
    assert request.stream and request.include_usage
    assert (request.user, request.metadata, request.top_k) == ("user-42", {"session": "s1"}, None)


def test_parse_request_defaults():
    request = codec.parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert request == ChatRequest(model="m", messages=[Message("user", [Text("hi")])])


def test_parse_request_ignores_unknown_fields():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "api_base": "http://evil", "api_key": "k", "extra_headers": {"x": "y"}, "logit_bias": {}}
    assert codec.parse_request(body) == codec.parse_request({"model": "m", "messages": body["messages"]})


def test_parse_request_takes_the_model_and_stream_from_arguments():
    request = codec.parse_request({"messages": [{"role": "user", "content": "hi"}], "stream": False},
                                  model="from-url", stream=True)
    assert (request.model, request.stream) == ("from-url", True)


def test_parse_request_prefers_max_completion_tokens_and_accepts_max_tokens():
    messages = [{"role": "user", "content": "hi"}]
    assert codec.parse_request({"model": "m", "messages": messages, "max_tokens": 9}).max_tokens == 9
    both = {"model": "m", "messages": messages, "max_tokens": 9, "max_completion_tokens": 5}
    assert codec.parse_request(both).max_tokens == 5


def test_parse_request_accepts_a_stop_string():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END"}
    assert codec.parse_request(body).stop == ["END"]


@pytest.mark.parametrize("choice, expected", [
    ("auto", ToolChoice("auto")), ("none", ToolChoice("none")), ("required", ToolChoice("required")),
    ({"type": "function", "function": {"name": "f"}}, ToolChoice("tool", "f")),
])
def test_parse_request_maps_tool_choice(choice, expected):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": choice}
    assert codec.parse_request(body).tool_choice == expected


@pytest.mark.parametrize("response_format, expected", [
    ({"type": "text"}, ResponseFormat("text")),
    ({"type": "json_object"}, ResponseFormat("json_object")),
    ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
     ResponseFormat("json_schema", {"type": "object"}, "x", False)),
])
def test_parse_request_maps_response_format(response_format, expected):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": response_format}
    assert codec.parse_request(body).response_format == expected


def test_parse_request_accepts_legacy_functions():
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None,
             "function_call": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"role": "function", "name": "get_weather", "content": "-3C"},
        ],
        "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
        "function_call": {"name": "get_weather"},
    }
    request = codec.parse_request(body)
    call = request.messages[1].parts[0]
    assert call.name == "get_weather" and call.arguments == '{"city":"Oslo"}'
    assert request.messages[2] == Message("tool", [ToolResult(call.id, "get_weather", [Text("-3C")])])
    assert request.tools == [Tool("get_weather", "", {"type": "object"})]
    assert request.tool_choice == ToolChoice("tool", "get_weather")


def test_parse_request_writes_empty_tool_arguments_as_an_empty_object():
    body = {"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}]}]}
    assert codec.parse_request(body).messages[0].parts == [ToolCall("c", "f", "{}")]


def test_parse_request_leaves_an_unknown_tool_result_name_empty():
    body = {"model": "m", "messages": [{"role": "tool", "tool_call_id": "nowhere", "content": "x"}]}
    assert codec.parse_request(body).messages == [Message("tool", [ToolResult("nowhere", "", [Text("x")])])]


@pytest.mark.parametrize("part", [
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    {"type": "file", "file": {"file_id": "file-1"}},
])
def test_parse_request_refuses_audio_and_files(part):
    body = {"model": "m", "messages": [{"role": "user", "content": [part]}]}
    with pytest.raises(Unsupported) as caught:
        codec.parse_request(body)
    assert caught.value.param == "messages[0].content[0].type"


def test_parse_request_refuses_non_function_tools():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "custom", "custom": {"name": "x"}}]}
    with pytest.raises(Unsupported):
        codec.parse_request(body)


GOOD_MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("body, param", [
    ({"messages": GOOD_MESSAGES}, "model"),
    ({"model": 5, "messages": GOOD_MESSAGES}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": "hi"}, "messages"),
    ({"model": "m", "messages": ["hi"]}, "messages[0]"),
    ({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
     "messages[0].content[0].text"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
    ({"model": "m", "messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}, "messages[0].content[0].type"),
    ({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]}, "messages[0].content[0].image_url.url"),
    ({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {}}]}]}, "messages[0].content[0].image_url.url"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]},
     "messages[0].tool_calls[0].id"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]},
     "messages[0].tool_calls[0].function.name"),
    ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
    ({"model": "m", "messages": GOOD_MESSAGES, "temperature": "hot"}, "temperature"),
    ({"model": "m", "messages": GOOD_MESSAGES, "top_p": True}, "top_p"),
    ({"model": "m", "messages": GOOD_MESSAGES, "max_tokens": 1.5}, "max_tokens"),
    ({"model": "m", "messages": GOOD_MESSAGES, "max_tokens": 0}, "max_tokens"),
    ({"model": "m", "messages": GOOD_MESSAGES, "max_completion_tokens": "9"}, "max_completion_tokens"),
    ({"model": "m", "messages": GOOD_MESSAGES, "seed": "7"}, "seed"),
    ({"model": "m", "messages": GOOD_MESSAGES, "n": 0}, "n"),
    ({"model": "m", "messages": GOOD_MESSAGES, "stop": [1]}, "stop"),
    ({"model": "m", "messages": GOOD_MESSAGES, "tools": {}}, "tools"),
    ({"model": "m", "messages": GOOD_MESSAGES, "tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
    ({"model": "m", "messages": GOOD_MESSAGES, "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "messages": GOOD_MESSAGES, "tool_choice": {"type": "function"}}, "tool_choice"),
    ({"model": "m", "messages": GOOD_MESSAGES, "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"model": "m", "messages": GOOD_MESSAGES, "response_format": {"type": "yaml"}}, "response_format.type"),
    ({"model": "m", "messages": GOOD_MESSAGES, "response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ({"model": "m", "messages": GOOD_MESSAGES, "reasoning_effort": 3}, "reasoning_effort"),
    ({"model": "m", "messages": GOOD_MESSAGES, "stream": "true"}, "stream"),
    ({"model": "m", "messages": GOOD_MESSAGES, "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
    ({"model": "m", "messages": GOOD_MESSAGES, "user": 42}, "user"),
    ({"model": "m", "messages": GOOD_MESSAGES, "metadata": []}, "metadata"),
])
def test_parse_request_refuses_bad_fields_naming_them(body, param):
    with pytest.raises(BadRequest) as caught:
        codec.parse_request(body)
    assert caught.value.param == param
    assert caught.value.message


def test_parse_request_refuses_a_body_that_is_not_an_object():
    with pytest.raises(BadRequest):
        codec.parse_request([])


# --- build_request ---------------------------------------------------------------------------

def test_build_request_is_the_reverse_of_parse_request():
    request = codec.parse_request(full_body())
    request.system = [Text("Be brief.")]  # several system parts are joined into one message
    again = codec.parse_request(codec.build_request(request, "gpt-4o"))
    assert again == ChatRequest(**{**_fields(request), "metadata": {}})  # metadata stays with us


def test_build_request_round_trips_an_internal_request():
    request = ChatRequest(
        model="up", messages=[
            Message("user", [Text("a"), Image(url="https://x/y.png")]),
            Message("assistant", [ToolCall("c1", "f", '{"a":1}')]),
            Message("tool", [ToolResult("c1", "f", [Text("done")])]),
            Message("assistant", [Text("ok")]),
        ],
        tools=[Tool("f", "does f", {"type": "object"})], tool_choice=ToolChoice("required"),
        parallel_tool_calls=True, max_tokens=10, stop=["x"], n=1, reasoning=Reasoning(effort="low"),
        response_format=ResponseFormat("json_object"),
    )
    assert codec.parse_request(codec.build_request(request, "up")) == request


def _fields(request: ChatRequest) -> dict:
    return {name: getattr(request, name) for name in ChatRequest.__dataclass_fields__}


def test_build_request_writes_openai_fields():
    body = codec.build_request(codec.parse_request(full_body()), "gpt-4o-2024-08-06")
    assert body["model"] == "gpt-4o-2024-08-06"
    assert body["messages"][0] == {"role": "system", "content": "Be brief.\n\nUse metric units.\n\nAnswer in French."}
    assert body["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_1", "content": "18C"}
    assert body["max_tokens"] == 500 and "max_completion_tokens" not in body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object"}, "strict": True}}
    assert "metadata" not in body


def test_build_request_always_asks_for_usage_in_streams():
    request = ChatRequest(model="m", messages=[Message("user", [Text("hi")])], stream=True)
    body = codec.build_request(request, "up")
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in codec.build_request(ChatRequest(model="m", messages=[]), "up")


def test_build_request_refuses_top_k():
    request = ChatRequest(model="m", messages=[Message("user", [Text("hi")])], top_k=40)
    with pytest.raises(Unsupported) as caught:
        codec.build_request(request, "up")
    assert caught.value.param == "top_k"
    assert caught.value.message == "top_k is not supported by this model's provider"


@pytest.mark.parametrize("budget, effort", [
    (0, "low"), (1024, "low"), (2048, "low"), (2049, "medium"), (8192, "medium"), (8193, "high"), (32000, "high"),
])
def test_build_request_maps_a_thinking_budget_to_an_effort(budget, effort):
    request = ChatRequest(model="m", messages=[], reasoning=Reasoning(budget_tokens=budget))
    assert codec.build_request(request, "up")["reasoning_effort"] == effort


def test_build_request_prefers_an_effort_the_client_gave():
    request = ChatRequest(model="m", messages=[], reasoning=Reasoning(effort="minimal", budget_tokens=99999))
    assert codec.build_request(request, "up")["reasoning_effort"] == "minimal"
    assert "reasoning_effort" not in codec.build_request(ChatRequest(model="m", messages=[], reasoning=Reasoning()), "up")


def test_build_request_drops_thinking_from_assistant_history():
    message = Message("assistant", [Thinking("secret", "sig"), Text("Hi"), Text(" there"), ToolCall("c", "f")])
    body = codec.build_request(ChatRequest(model="m", messages=[message]), "up")
    assert body["messages"] == [{"role": "assistant", "content": "Hi there", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]


def test_build_request_writes_null_content_for_tool_calls_alone():
    message = Message("assistant", [Thinking("t"), ToolCall("c", "f")])
    assert codec.build_request(ChatRequest(model="m", messages=[message]), "up")["messages"][0]["content"] is None
    empty = Message("assistant", [Thinking("t")])
    assert codec.build_request(ChatRequest(model="m", messages=[empty]), "up")["messages"][0]["content"] == ""


def test_build_request_sends_tool_result_images_in_a_following_user_message():
    results = Message("tool", [
        ToolResult("c1", "screenshot", [Text("taken"), Image("image/png", PNG)], is_error=False),
        ToolResult("c2", "ls", [Text("a"), Text("b")]),
    ])
    assert codec.build_request(ChatRequest(model="m", messages=[results]), "up")["messages"] == [
        {"role": "tool", "tool_call_id": "c1", "content": "taken"},
        {"role": "tool", "tool_call_id": "c2", "content": "a\n\nb"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
    ]


def test_build_request_leaves_tool_choice_out_without_tools():
    request = ChatRequest(model="m", messages=[], tool_choice=ToolChoice("none"), parallel_tool_calls=False)
    body = codec.build_request(request, "up")
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


def test_build_request_names_an_unnamed_json_schema():
    request = ChatRequest(model="m", messages=[], response_format=ResponseFormat("json_schema", {"type": "object"}))
    assert codec.build_request(request, "up")["response_format"]["json_schema"]["name"] == "response"


def test_build_request_writes_n_and_user_only_when_set():
    plain = codec.build_request(ChatRequest(model="m", messages=[]), "up")
    assert plain == {"model": "up", "messages": []}
    both = codec.build_request(ChatRequest(model="m", messages=[], n=3, user="u"), "up")
    assert (both["n"], both["user"]) == (3, "u")


# --- parse_response --------------------------------------------------------------------------

OPENAI_RESPONSE = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000003, "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_1",
    "choices": [{"index": 0, "logprobs": None, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "refusal": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                       {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}]}}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
              "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0}},
}


def test_parse_response_reads_tool_calls_and_usage():
    assert codec.parse_response(OPENAI_RESPONSE) == ChatResponse(
        id="chatcmpl-1", model="gpt-4o-2024-08-06",
        parts=[ToolCall("call_1", "get_weather", '{"city":"Paris"}'), ToolCall("call_2", "now", "{}")],
        stop_reason="tool_use", usage=Usage(100, 20, cached_tokens=64, reasoning_tokens=5), created=1700000003,
    )


def test_parse_response_reads_reasoning_content():
    body = {"id": "x", "model": "deepseek-reasoner", "created": 1, "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "42", "reasoning_content": "Let me add."}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 9, "prompt_cache_hit_tokens": 3,
                      "completion_tokens_details": {"reasoning_tokens": 7}}}
    response = codec.parse_response(body)
    assert response.parts == [Thinking("Let me add."), Text("42")]
    assert response.usage == Usage(5, 9, cached_tokens=3, reasoning_tokens=7)


@pytest.mark.parametrize("reason, stop", [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"),
    ("function_call", "tool_use"), ("content_filter", "content_filter"), (None, "end_turn"),
])
def test_parse_response_maps_finish_reasons(reason, stop):
    body = {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": reason,
                                                  "message": {"role": "assistant", "content": "hi"}}]}
    assert codec.parse_response(body).stop_reason == stop


def test_parse_response_survives_a_bare_body():
    assert codec.parse_response({}) == ChatResponse(id="", model="", parts=[])


# --- build_response --------------------------------------------------------------------------

def test_build_response_is_a_chat_completion_for_the_sdk():
    response = ChatResponse(
        id="chatcmpl-gw", model="claude-sonnet-4", created=1700000004,
        parts=[Thinking("Hmm."), Thinking(redacted=True, text="x"), Text("Hello"), Text(" world"),
               ToolCall("call_9", "f", '{"a":1}')],
        stop_reason="tool_use", usage=Usage(30, 12, cached_tokens=10, cache_write_tokens=5, reasoning_tokens=4),
    )
    body = codec.build_response(response, ChatRequest(model="my-alias", messages=[]))
    completion = ChatCompletion.model_validate(body)
    assert (completion.id, completion.model, completion.created) == ("chatcmpl-gw", "my-alias", 1700000004)
    message = completion.choices[0].message
    assert message.content == "Hello world"
    assert message.tool_calls[0].function.arguments == '{"a":1}'
    assert body["choices"][0]["message"]["reasoning_content"] == "Hmm."
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage.total_tokens == 42
    assert completion.usage.prompt_tokens_details.cached_tokens == 10
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4


def test_build_response_writes_null_content_for_tool_calls_alone():
    response = ChatResponse(id="x", model="m", parts=[ToolCall("c", "f")], stop_reason="tool_use")
    message = codec.build_response(response, ChatRequest(model="m", messages=[]))["choices"][0]["message"]
    assert message["content"] is None and "reasoning_content" not in message


@pytest.mark.parametrize("stop, reason", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("tool_use", "tool_calls"), ("content_filter", "content_filter"),
])
def test_build_response_maps_stop_reasons_back(stop, reason):
    response = ChatResponse(id="x", model="m", parts=[Text("hi")], stop_reason=stop, created=1)
    assert codec.build_response(response, ChatRequest(model="m", messages=[]))["choices"][0]["finish_reason"] == reason


def test_parse_response_reads_what_build_response_writes():
    response = ChatResponse(id="x", model="alias", parts=[Thinking("t"), Text("hi"), ToolCall("c", "f", "{}")],
                            stop_reason="tool_use", usage=Usage(1, 2, 3, 0, 4), created=5)
    assert codec.parse_response(codec.build_response(response, ChatRequest(model="alias", messages=[]))) == response


# --- errors ----------------------------------------------------------------------------------

def test_build_error_shape():
    assert codec.build_error(400, "invalid_request_error", "bad", "req_1", "messages") == {"error": {
        "message": "bad", "type": "invalid_request_error", "code": "invalid_request_error",
        "param": "messages", "request_id": "req_1"}}
    assert codec.build_error(500, "server_error", "oops", "req_2")["error"]["param"] is None


@pytest.mark.parametrize("body, message", [
    (b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}', "Incorrect API key provided"),
    (b'[{"error": {"code": 400, "message": "API key not valid", "status": "INVALID_ARGUMENT"}}]', "API key not valid"),
    (b'{"error": "model overloaded"}', "model overloaded"),
    (b'{"message": "Not Found"}', "Not Found"),
    (b"<html>Bad Gateway</html>\n", "<html>Bad Gateway</html>"),
    (b"", "upstream answered HTTP 502 with an empty body"),
])
def test_parse_error_finds_the_message(body, message):
    assert codec.parse_error(502, body) == message


def test_parse_error_truncates_long_text():
    assert codec.parse_error(500, b"x" * 2000) == "x" * 500


# --- embeddings ------------------------------------------------------------------------------

def test_parse_embedding_request():
    request = codec.parse_embedding_request({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 256})
    assert request == codec.OpenAIEmbeddingRequest("text-embedding-3-small", ["a", "b"], 256)
    assert isinstance(request, EmbeddingRequest)
    assert codec.parse_embedding_request({"model": "m", "input": "a"}).inputs == ["a"]


@pytest.mark.parametrize("body, error, param", [
    ({"model": "m", "input": [1, 2, 3]}, Unsupported, "input"),
    ({"model": "m", "input": [[1, 2], [3]]}, Unsupported, "input"),
    ({"model": "m", "input": []}, BadRequest, "input"),
    ({"model": "m", "input": ["a", 1]}, BadRequest, "input"),
    ({"model": "m"}, BadRequest, "input"),
    ({"input": "a"}, BadRequest, "model"),
    ({"model": "m", "input": "a", "dimensions": 0}, BadRequest, "dimensions"),
    ({"model": "m", "input": "a", "encoding_format": "int8"}, BadRequest, "encoding_format"),
])
def test_parse_embedding_request_refuses(body, error, param):
    with pytest.raises(error) as caught:
        codec.parse_embedding_request(body)
    assert caught.value.param == param


def test_build_embedding_response_writes_floats():
    request = codec.parse_embedding_request({"model": "alias", "input": ["a", "b"]})
    response = EmbeddingResponse(model="up", vectors=[[0.5, -1.0], [0.25, 2.0]], usage=Usage(prompt_tokens=4))
    body = codec.build_embedding_response(response, request)
    assert body == {"object": "list", "model": "alias", "usage": {"prompt_tokens": 4, "total_tokens": 4}, "data": [
        {"object": "embedding", "index": 0, "embedding": [0.5, -1.0]},
        {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}]}
    CreateEmbeddingResponse.model_validate(body)


def test_build_embedding_response_writes_base64_the_way_the_sdk_decodes_it():
    request = codec.parse_embedding_request({"model": "m", "input": "a", "encoding_format": "base64"})
    response = EmbeddingResponse(model="up", vectors=[[0.5, -1.0, 3.25]])
    encoded = codec.build_embedding_response(response, request)["data"][0]["embedding"]
    assert array.array("f", base64.b64decode(encoded)).tolist() == [0.5, -1.0, 3.25]


def test_build_embedding_response_writes_floats_for_a_plain_request():
    response = EmbeddingResponse(model="up", vectors=[[1.0]])
    assert codec.build_embedding_response(response, EmbeddingRequest("m", ["a"]))["data"][0]["embedding"] == [1.0]


def test_build_embedding_request():
    request = EmbeddingRequest("alias", ["a"], dimensions=64)
    assert codec.build_embedding_request(request, "up") == {
        "model": "up", "input": ["a"], "encoding_format": "float", "dimensions": 64}
    assert "dimensions" not in codec.build_embedding_request(EmbeddingRequest("alias", ["a"]), "up")


def test_parse_embedding_response_orders_vectors_by_index():
    body = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 6, "total_tokens": 6},
            "data": [{"object": "embedding", "index": 1, "embedding": [2.0]},
                     {"object": "embedding", "index": 0, "embedding": [1.0]}]}
    assert codec.parse_embedding_response(body) == EmbeddingResponse(
        "text-embedding-3-small", [[1.0], [2.0]], Usage(prompt_tokens=6))


# --- models ----------------------------------------------------------------------------------

def test_build_model_list():
    body = codec.build_model_list(["gpt-4o", "claude"], {"claude": "anthropic"})
    assert body == {"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "gateway"},
        {"id": "claude", "object": "model", "created": 0, "owned_by": "anthropic"}]}
    Model.model_validate(body["data"][1])
    assert codec.build_model("x", "me") == {"id": "x", "object": "model", "created": 0, "owned_by": "me"}
    assert codec.build_model_list(["x"])["data"][0]["owned_by"] == "gateway"


# --- the openai SDK against the codec --------------------------------------------------------

ANSWER = [Start("up", "up"), TextDelta("Bonjour"), ToolCallStart(0, "call_1", "f"), ToolCallDelta(0, "{}"),
          Finish("tool_use"), UsageUpdate(Usage(7, 3))]


def _gateway(http_request: httpx.Request) -> httpx.Response:
    """A stand-in relay: the codec's client side answering with canned internal results."""
    body = json.loads(http_request.content)
    if http_request.url.path.endswith("/embeddings"):
        request = codec.parse_embedding_request(body)
        vectors = EmbeddingResponse(model="up", vectors=[[0.5, 1.5] for _ in request.inputs])
        return httpx.Response(200, json=codec.build_embedding_response(vectors, request))
    request = codec.parse_request(body)
    if not request.stream:
        response = ChatResponse(id="chatcmpl-gw", model="up", parts=[Text("Bonjour")], created=1, usage=Usage(7, 3))
        return httpx.Response(200, json=codec.build_response(response, request))
    encoder = codec.StreamEncoder(request, "chatcmpl-gw", 1)
    wire = b"".join(encoder.encode(event) for event in ANSWER) + encoder.end()
    return httpx.Response(200, content=wire, headers={"content-type": "text/event-stream"})


@pytest.fixture
def client():
    http_client = httpx.Client(transport=httpx.MockTransport(_gateway))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway/v1", http_client=http_client, max_retries=0)


def test_sdk_reads_a_completion(client):
    completion = client.chat.completions.create(model="alias", messages=[{"role": "user", "content": "hi"}])
    assert (completion.model, completion.choices[0].message.content) == ("alias", "Bonjour")


def test_sdk_reads_a_stream(client):
    stream = client.chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Bonjour"
    assert chunks[-1].usage.total_tokens == 10


def test_sdk_stream_helper_accumulates_the_tool_call(client):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    with client.chat.completions.stream(model="alias", messages=[{"role": "user", "content": "hi"}], tools=tools) as stream:
        completion = stream.get_final_completion()
    call = completion.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_1", "f", "{}")


def test_sdk_embeddings_with_its_default_base64(client):
    result = client.embeddings.create(model="alias", input=["a", "b"])
    assert [item.embedding for item in result.data] == [[0.5, 1.5], [0.5, 1.5]]
    explicit = client.embeddings.create(model="alias", input="a", encoding_format="float")
    assert explicit.data[0].embedding == [0.5, 1.5]
