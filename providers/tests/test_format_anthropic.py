"""The Anthropic Messages codec: requests, responses, streams and errors, both directions."""

import copy

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message as SDKMessage
from anthropic.types import MessageTokensCount, ModelInfo, RawMessageStreamEvent
from anthropic.types.message_count_tokens_params import MessageCountTokensParams
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from providers.formats import anthropic as codec
from providers.formats.sse import SSEParser
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, Finish, Image, Message, Reasoning, ResponseFormat, Start,
    StreamError, Text, TextDelta, Thinking, ThinkingDelta, Tool, ToolCall, ToolCallDelta, ToolCallStart,
    ToolChoice, ToolResult, Unsupported, Usage, UsageUpdate,
)

STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
CREATE_PARAMS = TypeAdapter(MessageCreateParamsNonStreaming)
COUNT_PARAMS = TypeAdapter(MessageCountTokensParams)


def body(**fields):
    base = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hi"}]}
    return base | fields


def request(**fields):
    return ChatRequest(model="claude", messages=[Message("user", [Text("Hi")])]) if not fields else \
        ChatRequest(**({"model": "claude", "messages": [Message("user", [Text("Hi")])]} | fields))


def forced(value):
    """The SDK's TypedDicts validate iterables lazily; walking them makes errors surface."""
    if isinstance(value, dict):
        return {key: forced(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or hasattr(value, "__next__"):
        return [forced(item) for item in value]
    return value


def assert_valid_request(built):
    forced(CREATE_PARAMS.validate_python(built))


# --- parse_request -------------------------------------------------------------------------------

def test_it_parses_a_minimal_request():
    parsed = codec.parse_request(body())
    assert parsed.model == "claude-sonnet-4-5"
    assert parsed.max_tokens == 1024
    assert parsed.messages == [Message("user", [Text("Hi")])]
    assert parsed.stream is False
    assert parsed.system == [] and parsed.tools == [] and parsed.tool_choice is None
    assert parsed.reasoning is None and parsed.response_format is None


def test_it_requires_max_tokens():
    fields = body()
    del fields["max_tokens"]
    with pytest.raises(BadRequest) as error:
        codec.parse_request(fields)
    assert (error.value.message, error.value.param) == ("max_tokens is required", "max_tokens")


@pytest.mark.parametrize("fields, param", [
    ({"model": ""}, "model"),
    ({"model": 3}, "model"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "10"}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
    ({"messages": [{"role": "user"}]}, "messages.0.content"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_k": -1}, "top_k"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"stream": "yes"}, "stream"),
    ({"system": 7}, "system"),
    ({"metadata": {"user_id": 5}}, "metadata.user_id"),
    ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
    ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
    ({"thinking": {"type": "maybe"}}, "thinking"),
    ({"tools": [{"name": "f"}]}, "tools.0.input_schema"),
])
def test_it_rejects_malformed_fields(fields, param):
    with pytest.raises(BadRequest) as error:
        codec.parse_request(body(**fields))
    assert error.value.param == param
    assert not isinstance(error.value, Unsupported)


def test_it_rejects_a_body_that_is_not_an_object():
    with pytest.raises(BadRequest):
        codec.parse_request([])


def test_it_lets_the_caller_override_model_and_stream():
    parsed = codec.parse_request(body(stream=True), model="from-url", stream=False)
    assert (parsed.model, parsed.stream) == ("from-url", False)
    assert codec.parse_request(body(stream=True)).stream is True


def test_it_does_not_require_alternating_roles():
    parsed = codec.parse_request(body(messages=[
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"},
    ]))
    assert [m.role for m in parsed.messages] == ["user", "user", "assistant"]


def test_it_reads_the_system_prompt_as_string_or_blocks():
    assert codec.parse_request(body(system="Be brief.")).system == [Text("Be brief.")]
    blocks = [{"type": "text", "text": "One."}, {"type": "text", "text": "Two.", "cache_control": {"type": "ephemeral"}}]
    assert codec.parse_request(body(system=blocks)).system == [Text("One."), Text("Two.")]
    assert codec.parse_request(body(system="")).system == []


def test_it_reads_text_and_images():
    content = [
        {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
    ]
    parsed = codec.parse_request(body(messages=[{"role": "user", "content": content}]))
    assert parsed.messages == [Message("user", [
        Text("What is this?"), Image(media_type="image/png", data="iVBOR"), Image(url="https://example.com/a.jpg"),
    ])]


def test_it_refuses_file_images_and_documents():
    file_image = {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    for block, param in ((file_image, "messages.0.content.0.source"), (document, "messages.0.content.0")):
        with pytest.raises(Unsupported) as error:
            codec.parse_request(body(messages=[{"role": "user", "content": [block]}]))
        assert error.value.param == param


def tool_conversation():
    return [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Two calls.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}},
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "Here you go."},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True, "content": [
                {"type": "text", "text": "no data"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
            ]},
        ]},
    ]


def test_it_reads_tool_use_and_splits_tool_results_out_before_the_user_parts():
    parsed = codec.parse_request(body(messages=tool_conversation()))
    assert parsed.messages == [
        Message("user", [Text("Weather in Paris and Rome?")]),
        Message("assistant", [
            Thinking("Two calls.", "sig-1"),
            Thinking(signature="opaque", redacted=True),
            Text("Checking."),
            ToolCall("toolu_1", "weather", '{"city":"Paris"}'),
            ToolCall("toolu_2", "weather", '{"city":"Rome"}'),
        ]),
        Message("tool", [
            ToolResult("toolu_1", "weather", [Text("18C")]),
            ToolResult("toolu_2", "weather", [Text("no data"), Image(media_type="image/png", data="AAA")], is_error=True),
        ]),
        Message("user", [Text("Here you go.")]),
    ]


def test_it_keeps_a_message_of_only_tool_results_as_one_tool_message():
    messages = tool_conversation()[:2] + [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1"},
        {"type": "tool_result", "tool_use_id": "unknown", "content": ""},
    ]}]
    parsed = codec.parse_request(body(messages=messages))
    assert parsed.messages[-1] == Message("tool", [ToolResult("toolu_1", "weather", []), ToolResult("unknown", "", [])])


def test_it_refuses_blocks_out_of_place():
    with pytest.raises(Unsupported):
        codec.parse_request(body(messages=[{"role": "assistant", "content": [{"type": "image", "source": {}}]}]))
    with pytest.raises(Unsupported):
        codec.parse_request(body(messages=[{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b"}]}]))


def test_it_reads_tools_and_refuses_server_tools():
    tools = [
        {"name": "weather", "description": "Get weather", "input_schema": {"type": "object", "properties": {}},
         "cache_control": {"type": "ephemeral"}},
        {"type": "custom", "name": "noop", "input_schema": {"type": "object"}},
    ]
    assert codec.parse_request(body(tools=tools)).tools == [
        Tool("weather", "Get weather", {"type": "object", "properties": {}}), Tool("noop", "", {"type": "object"}),
    ]
    with pytest.raises(Unsupported) as error:
        codec.parse_request(body(tools=[{"type": "web_search_20250305", "name": "web_search"}]))
    assert error.value.param == "tools.0"


@pytest.mark.parametrize("choice, expected, parallel", [
    ({"type": "auto"}, ToolChoice("auto"), None),
    ({"type": "any"}, ToolChoice("required"), None),
    ({"type": "tool", "name": "weather"}, ToolChoice("tool", "weather"), None),
    ({"type": "none"}, ToolChoice("none"), None),
    ({"type": "auto", "disable_parallel_tool_use": True}, ToolChoice("auto"), False),
    ({"type": "any", "disable_parallel_tool_use": False}, ToolChoice("required"), True),
])
def test_it_maps_tool_choice(choice, expected, parallel):
    parsed = codec.parse_request(body(tool_choice=choice))
    assert (parsed.tool_choice, parsed.parallel_tool_calls) == (expected, parallel)


def test_it_reads_sampling_stop_and_user():
    parsed = codec.parse_request(body(
        temperature=0.5, top_p=1, top_k=40, stop_sequences=["END"], metadata={"user_id": "u-1"}))
    assert (parsed.temperature, parsed.top_p, parsed.top_k) == (0.5, 1.0, 40)
    assert parsed.stop == ["END"] and parsed.user == "u-1"
    assert parsed.metadata == {}


@pytest.mark.parametrize("thinking, output_config, expected", [
    ({"type": "enabled", "budget_tokens": 2048}, None, Reasoning(budget_tokens=2048)),
    ({"type": "disabled"}, None, None),
    ({"type": "adaptive"}, None, Reasoning()),
    ({"type": "adaptive"}, {"effort": "high"}, Reasoning(effort="high")),
    (None, {"effort": "high"}, None),
])
def test_it_maps_thinking(thinking, output_config, expected):
    fields = {"thinking": thinking} if thinking else {}
    if output_config:
        fields["output_config"] = output_config
    assert codec.parse_request(body(**fields)).reasoning == expected


def test_it_reads_a_json_schema_output_format():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    parsed = codec.parse_request(body(output_config={"format": {"type": "json_schema", "schema": schema}}))
    assert parsed.response_format == ResponseFormat("json_schema", schema=schema)
    with pytest.raises(BadRequest):
        codec.parse_request(body(output_config={"format": {"type": "json_object"}}))


def test_it_refuses_server_side_execution():
    with pytest.raises(Unsupported) as error:
        codec.parse_request(body(mcp_servers=[{"type": "url", "url": "https://x", "name": "x"}]))
    assert error.value.param == "mcp_servers"


def test_it_parses_a_count_tokens_request_without_max_tokens():
    parsed = codec.parse_count_tokens_request({"model": "claude", "messages": [{"role": "user", "content": "Hi"}]})
    assert parsed.max_tokens is None and parsed.messages == [Message("user", [Text("Hi")])]


# --- build_request -------------------------------------------------------------------------------

def test_it_builds_a_minimal_request_with_a_default_max_tokens():
    built = codec.build_request(request(), "claude-upstream")
    assert built == {"model": "claude-upstream", "max_tokens": 4096,
                     "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": False}
    assert_valid_request(built)
    assert codec.build_request(request(stream=True, max_tokens=10), "m")["stream"] is True


def test_it_builds_the_system_prompt():
    assert codec.build_request(request(system=[Text("One.")]), "m")["system"] == "One."
    assert codec.build_request(request(system=[Text("One."), Text(""), Text("Two.")]), "m")["system"] == [
        {"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    assert "system" not in codec.build_request(request(system=[Text("")]), "m")


def test_it_merges_turns_and_puts_tool_results_first():
    messages = [
        Message("user", [Text("a")]),
        Message("user", [Text("b"), Image(url="https://x/y.png")]),
        Message("assistant", [Thinking("unsigned"), Text("")]),
        Message("assistant", [Thinking("why", "sig"), Thinking(signature="opaque", redacted=True),
                              ToolCall("c1", "f", '{"x": 1}'), ToolCall("c2", "f", "")]),
        Message("user", [Text("interjection")]),
        Message("tool", [ToolResult("c1", "f", [Text("ok")]),
                         ToolResult("c2", "f", [Image(media_type="image/png", data="AA"), Text("")], is_error=True)]),
        Message("tool", [ToolResult("c3", "f", [])]),
    ]
    built = codec.build_request(request(messages=messages), "m")
    assert built["messages"] == [
        {"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "why", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 1}},
            {"type": "tool_use", "id": "c2", "name": "f", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "ok"}]},
            {"type": "tool_result", "tool_use_id": "c2", "is_error": True, "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA"}}]},
            {"type": "tool_result", "tool_use_id": "c3"},
            {"type": "text", "text": "interjection"},
        ]},
    ]
    assert_valid_request(built)


def test_it_merges_a_tool_message_and_the_next_user_message():
    messages = [Message("tool", [ToolResult("c1", "f", [Text("ok")])]), Message("user", [Text("thanks")])]
    assert codec.build_request(request(messages=messages), "m")["messages"] == [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": [{"type": "text", "text": "ok"}]},
        {"type": "text", "text": "thanks"},
    ]}]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_it_refuses_tool_call_arguments_that_are_not_a_json_object(arguments):
    messages = [Message("user", [Text("hi")]), Message("assistant", [ToolCall("c1", "f", arguments)])]
    with pytest.raises(BadRequest):
        codec.build_request(request(messages=messages), "m")


def test_it_builds_tools_and_tool_choice():
    tools = [Tool("weather", "Get weather", {"type": "object", "properties": {"city": {"type": "string"}}}),
             Tool("noop")]
    built = codec.build_request(request(tools=tools, tool_choice=ToolChoice("tool", "weather")), "m")
    assert built["tools"] == [
        {"name": "weather", "description": "Get weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert built["tool_choice"] == {"type": "tool", "name": "weather"}
    assert_valid_request(built)


@pytest.mark.parametrize("choice, parallel, expected", [
    (None, None, None),
    (ToolChoice("auto"), None, {"type": "auto"}),
    (ToolChoice("required"), None, {"type": "any"}),
    (ToolChoice("none"), None, {"type": "none"}),
    (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    (ToolChoice("required"), False, {"type": "any", "disable_parallel_tool_use": True}),
    (ToolChoice("none"), False, {"type": "none"}),
    (None, True, None),
])
def test_it_maps_tool_choice_out(choice, parallel, expected):
    built = codec.build_request(request(tools=[Tool("f")], tool_choice=choice, parallel_tool_calls=parallel), "m")
    assert built.get("tool_choice") == expected


def test_it_sends_no_tool_choice_without_tools():
    built = codec.build_request(request(tool_choice=ToolChoice("required"), parallel_tool_calls=False), "m")
    assert "tool_choice" not in built


def test_it_builds_sampling_stop_and_metadata():
    built = codec.build_request(request(temperature=0.2, top_p=0.9, top_k=5, stop=["END"], user="u-1"), "m")
    assert (built["temperature"], built["top_p"], built["top_k"]) == (0.2, 0.9, 5)
    assert built["stop_sequences"] == ["END"] and built["metadata"] == {"user_id": "u-1"}
    assert_valid_request(built)


@pytest.mark.parametrize("reasoning, max_tokens, thinking, expected_max", [
    (Reasoning(budget_tokens=2000), None, {"type": "enabled", "budget_tokens": 2000}, 4096),
    (Reasoning(budget_tokens=8000), None, {"type": "enabled", "budget_tokens": 8000}, 12096),
    (Reasoning(budget_tokens=8000), 9000, {"type": "enabled", "budget_tokens": 8000}, 9000),
    (Reasoning(budget_tokens=100), None, {"type": "enabled", "budget_tokens": 1024}, 4096),
    (Reasoning(budget_tokens=0), None, None, 4096),
    (Reasoning(effort="low"), None, {"type": "enabled", "budget_tokens": 1024}, 4096),
    (Reasoning(effort="medium"), None, {"type": "enabled", "budget_tokens": 4096}, 8192),
    (Reasoning(effort="high"), None, {"type": "enabled", "budget_tokens": 16384}, 20480),
    (Reasoning(), None, {"type": "enabled", "budget_tokens": 4096}, 8192),
    (Reasoning(effort="none"), None, None, 4096),
])
def test_it_maps_reasoning_to_a_thinking_budget(reasoning, max_tokens, thinking, expected_max):
    built = codec.build_request(request(reasoning=reasoning, max_tokens=max_tokens), "m")
    assert built.get("thinking") == thinking
    assert built["max_tokens"] == expected_max


def test_it_refuses_a_max_tokens_that_leaves_no_room_after_thinking():
    with pytest.raises(Unsupported) as error:
        codec.build_request(request(reasoning=Reasoning(effort="high"), max_tokens=2000), "m")
    assert error.value.param == "max_tokens"
    with pytest.raises(Unsupported):
        codec.build_request(request(reasoning=Reasoning(effort="galaxy-brain")), "m")


@pytest.mark.parametrize("fields, param", [
    ({"n": 2}, "n"),
    ({"seed": 1}, "seed"),
    ({"presence_penalty": 0.0}, "presence_penalty"),
    ({"frequency_penalty": 0.5}, "frequency_penalty"),
    ({"response_format": ResponseFormat("json_object")}, "response_format"),
])
def test_it_refuses_what_anthropic_cannot_do(fields, param):
    with pytest.raises(Unsupported) as error:
        codec.build_request(request(**fields), "m")
    assert error.value.param == param


def test_it_maps_response_formats():
    schema = {"type": "object", "properties": {}}
    built = codec.build_request(request(response_format=ResponseFormat("json_schema", schema, "answer", True)), "m")
    assert built["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert_valid_request(built)
    assert "output_config" not in codec.build_request(request(response_format=ResponseFormat("text")), "m")


def test_it_round_trips_a_request():
    original = body(
        system="Be brief.", messages=tool_conversation(), temperature=0.3, top_k=10, stop_sequences=["END"],
        metadata={"user_id": "u"}, stream=True, thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=2048,
        tools=[{"name": "weather", "description": "d", "input_schema": {"type": "object", "properties": {}}}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    rebuilt = codec.build_request(codec.parse_request(original), original["model"])
    expected = copy.deepcopy(original)
    expected["messages"][0]["content"] = [{"type": "text", "text": "Weather in Paris and Rome?"}]
    user = expected["messages"][2]["content"]
    user[1]["content"] = [{"type": "text", "text": "18C"}]
    expected["messages"][2]["content"] = user[1:] + user[:1]
    assert rebuilt == expected
    forced(CREATE_PARAMS.validate_python(rebuilt | {"stream": False}))


def test_it_builds_a_count_tokens_request():
    parsed = codec.parse_count_tokens_request(
        {"model": "claude", "system": "s", "messages": [{"role": "user", "content": "Hi"}],
         "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"}})
    built = codec.build_count_tokens_request(parsed, "claude-up")
    assert set(built) == {"model", "messages", "system", "tools", "tool_choice"}
    forced(COUNT_PARAMS.validate_python(built))
    assert codec.build_count_tokens_response(42) == {"input_tokens": 42}
    MessageTokensCount.model_validate(codec.build_count_tokens_response(42))


# --- parse_response / build_response -------------------------------------------------------------

RESPONSE = {
    "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Calling.", "citations": None},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Zürich"}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20,
              "output_tokens": 30, "output_tokens_details": {"thinking_tokens": 12}},
}


def test_it_parses_a_response():
    parsed = codec.parse_response(RESPONSE)
    assert parsed == ChatResponse(
        id="msg_01", model="claude-sonnet-4-5",
        parts=[Thinking("Hmm.", "sig"), Thinking(signature="opaque", redacted=True), Text("Calling."),
               ToolCall("toolu_1", "weather", '{"city":"Zürich"}')],
        stop_reason="tool_use",
        usage=Usage(prompt_tokens=130, completion_tokens=30, cached_tokens=100, cache_write_tokens=20,
                    reasoning_tokens=12),
    )


@pytest.mark.parametrize("upstream, ours", [
    ("end_turn", "end_turn"), ("max_tokens", "max_tokens"), ("stop_sequence", "stop_sequence"),
    ("tool_use", "tool_use"), ("pause_turn", "end_turn"), ("refusal", "content_filter"),
    ("model_context_window_exceeded", "max_tokens"), (None, "end_turn"),
])
def test_it_maps_stop_reasons_in(upstream, ours):
    assert codec.parse_response(RESPONSE | {"stop_reason": upstream}).stop_reason == ours


def test_it_reads_the_stop_sequence_and_skips_server_tool_blocks():
    parsed = codec.parse_response(RESPONSE | {
        "stop_reason": "stop_sequence", "stop_sequence": "END",
        "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}],
    })
    assert (parsed.stop_sequence, parsed.parts) == ("END", [])


def test_it_builds_a_response():
    response = ChatResponse(
        id="chatcmpl-9", model="gpt-x",
        parts=[Thinking("why"), Text(""), Text("Hello"), ToolCall("call_1", "f", '{"a": [1]}'),
               ToolCall("call_2", "g", ""), ToolCall("call_3", "h", "{broken")],
        stop_reason="tool_use",
        usage=Usage(prompt_tokens=130, completion_tokens=30, cached_tokens=100, cache_write_tokens=20),
    )
    built = codec.build_response(response, request(model="claude-alias"))
    assert built == {
        "id": "msg_chatcmpl-9", "type": "message", "role": "assistant", "model": "claude-alias",
        "content": [
            {"type": "thinking", "thinking": "why", "signature": ""},
            {"type": "text", "text": "Hello"},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": [1]}},
            {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
            {"type": "tool_use", "id": "call_3", "name": "h", "input": {}},
        ],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 30, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20},
    }
    SDKMessage.model_validate(built)


def test_it_sends_a_thought_signed_the_gemini_way_as_one_signed_block():
    thought = Message("assistant", [Thinking("why"), Thinking(signature="sig"), Text("Hello")])
    built = codec.build_request(request(messages=[Message("user", [Text("hi")]), thought]), "claude-x")
    assert built["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "why", "signature": "sig"}, {"type": "text", "text": "Hello"},
    ]


def test_it_builds_a_lone_signature_into_the_thought_before_it_as_a_stream_would():
    # Gemini signs the answer part after its thought; the parser keeps that as a signature-only Thinking.
    parts = [Thinking("why"), Thinking(signature="sig"), Text("Hello"), Thinking(signature="other")]
    built = codec.build_response(ChatResponse("msg_1", "m", parts), request())
    assert built["content"] == [
        {"type": "thinking", "thinking": "why", "signature": "sig"}, {"type": "text", "text": "Hello"},
        {"type": "thinking", "thinking": "", "signature": "other"},
    ]


@pytest.mark.parametrize("ours, theirs", [
    ("end_turn", "end_turn"), ("max_tokens", "max_tokens"), ("stop_sequence", "stop_sequence"),
    ("tool_use", "tool_use"), ("content_filter", "refusal"), ("error", "end_turn"),
])
def test_it_maps_stop_reasons_out(ours, theirs):
    built = codec.build_response(ChatResponse("msg_1", "m", [], stop_reason=ours), request())
    assert built["stop_reason"] == theirs and built["id"] == "msg_1" and built["content"] == []
    SDKMessage.model_validate(built)


def test_it_round_trips_a_response():
    parsed = codec.parse_response(RESPONSE)
    rebuilt = codec.build_response(parsed, request(model="claude-sonnet-4-5"))
    expected = copy.deepcopy(RESPONSE)
    del expected["usage"]["output_tokens_details"]
    del expected["content"][2]["citations"]
    assert rebuilt == expected
    assert codec.parse_response(rebuilt) == codec.parse_response(expected)


# --- StreamDecoder -------------------------------------------------------------------------------

RECORDED_STREAM = r"""event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":2048,"output_tokens":2}}}

event: ping
data: {"type": "ping"}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"The user wants two cities. "}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Ich rufe das Tool zweimal — für beide Städte."}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking Zürich "}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"and 東京 🌦️"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"Z"}}

event: content_block_delta
data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ürich\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: content_block_start
data: {"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":" \"東京\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":3}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

""".encode()

START_USAGE = Usage(prompt_tokens=2620, completion_tokens=2, cached_tokens=2048, cache_write_tokens=100)
RECORDED_EVENTS = [
    Start("msg_01XFDUDYJgAACzvnptvVoYEL", "claude-sonnet-4-5-20250929"),
    UsageUpdate(START_USAGE),
    ThinkingDelta("The user wants two cities. "),
    ThinkingDelta("Ich rufe das Tool zweimal — für beide Städte."),
    ThinkingDelta(signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"),
    TextDelta("Checking Zürich "),
    TextDelta("and 東京 🌦️"),
    ToolCallStart(0, "toolu_01A", "get_weather"),
    ToolCallDelta(0, '{"location": "Z'),
    ToolCallDelta(0, 'ürich"}'),
    ToolCallStart(1, "toolu_01B", "get_weather"),
    ToolCallDelta(1, '{"location":'),
    ToolCallDelta(1, ' "東京"}'),
    UsageUpdate(Usage(prompt_tokens=2620, completion_tokens=89, cached_tokens=2048, cache_write_tokens=100)),
    Finish("tool_use"),
]


def decode(*chunks):
    decoder = codec.StreamDecoder()
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.close()


def test_it_decodes_a_recorded_stream():
    assert decode(RECORDED_STREAM) == RECORDED_EVENTS


def test_it_decodes_the_same_events_at_every_split():
    for cut in range(len(RECORDED_STREAM) + 1):
        assert decode(RECORDED_STREAM[:cut], RECORDED_STREAM[cut:]) == RECORDED_EVENTS, cut


def test_it_decodes_a_stream_fed_byte_by_byte():
    assert decode(*(RECORDED_STREAM[i:i + 1] for i in range(len(RECORDED_STREAM)))) == RECORDED_EVENTS


def test_it_decodes_crlf_line_endings():
    assert decode(RECORDED_STREAM.replace(b"\n", b"\r\n")) == RECORDED_EVENTS


def test_it_keeps_multibyte_characters_split_across_chunks():
    raw = ('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
           '"delta":{"type":"text_delta","text":"🌦️東"}}\n\n').encode()
    emoji = raw.index("🌦".encode())
    for cut in range(emoji + 1, emoji + 4):
        assert decode(raw[:cut], raw[cut:]) == [TextDelta("🌦️東")]


def test_it_merges_cumulative_usage_from_message_delta():
    raw = (
        b'data: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
        b'data: {"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},'
        b'"usage":{"output_tokens":7,"input_tokens":9,"cache_read_input_tokens":3,"cache_creation_input_tokens":null}}\n\n'
    )
    assert decode(raw)[2:] == [
        UsageUpdate(Usage(prompt_tokens=12, completion_tokens=7, cached_tokens=3)),
        Finish("stop_sequence", "END"),
    ]


def test_it_reads_initial_text_and_tool_input_from_block_starts():
    raw = (
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":"Hi"}}\n\n'
        b'data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"a":1}}}\n\n'
        b'data: {"type":"content_block_start","index":2,"content_block":{"type":"redacted_thinking","data":"x"}}\n\n'
    )
    assert decode(raw) == [TextDelta("Hi"), ToolCallStart(0, "t", "f"), ToolCallDelta(0, '{"a":1}')]


@pytest.mark.parametrize("upstream, ours", [
    ("overloaded_error", "server_error"), ("rate_limit_error", "rate_limit"), ("api_error", "server_error"),
])
def test_it_decodes_stream_errors(upstream, ours):
    raw = b'event: error\ndata: {"type":"error","error":{"type":"%s","message":"Overloaded"}}\n\n' % upstream.encode()
    assert decode(raw) == [StreamError(ours, "Overloaded")]


def test_it_reports_an_event_that_is_not_json():
    assert decode(b"event: message_start\ndata: {oops\n\n") == [
        StreamError("server_error", "the upstream sent a stream event that is not JSON")]


# --- StreamEncoder -------------------------------------------------------------------------------

def sse(raw):
    parser = SSEParser()
    return [(event.event, orjson.loads(event.data)) for event in parser.feed(raw) + parser.close()]


DELTA_BLOCKS = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "thinking",
                "input_json_delta": "tool_use"}


def assert_grammar(events):
    """A successful Anthropic stream: start, ping, sequential blocks, message_delta, message_stop."""
    assert [name for name, _ in events[:2]] == ["message_start", "ping"]
    assert [name for name, _ in events[-2:]] == ["message_delta", "message_stop"]
    open_block, next_index = None, 0
    for name, data in events[2:-2]:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_block is None and data["index"] == next_index
            open_block, next_index = data["content_block"]["type"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == next_index - 1 and DELTA_BLOCKS[data["delta"]["type"]] == open_block
        else:
            assert name == "content_block_stop" and open_block and data["index"] == next_index - 1
            open_block = None
    assert open_block is None
    for name, data in events:
        if name != "ping":
            STREAM_EVENT.validate_python(data)


def accumulate(events):
    """The final message as the Anthropic SDK assembles it from the stream."""
    snapshot, buffers = None, {}
    for name, data in events:
        if name != "ping":
            snapshot = accumulate_event(event=STREAM_EVENT.validate_python(data), current_snapshot=snapshot,
                                        json_bufs=buffers)
    return snapshot


def encode(events, request_=None):
    encoder = codec.StreamEncoder(request_ or request(model="claude-alias"), "abc", 1700000000)
    return b"".join(encoder.encode(event) for event in events) + encoder.end()


def test_it_encodes_a_text_stream():
    raw = encode([Start("up-1", "gpt"), UsageUpdate(Usage(prompt_tokens=12, cached_tokens=2)), TextDelta("Hel"),
                  TextDelta(""), TextDelta("lo"), Finish("end_turn"), UsageUpdate(Usage(12, 5, 2))])
    events = sse(raw)
    assert_grammar(events)
    start = events[0][1]["message"]
    assert (start["id"], start["model"], start["content"]) == ("msg_abc", "claude-alias", [])
    assert start["usage"] == {"input_tokens": 10, "output_tokens": 0, "cache_read_input_tokens": 2,
                              "cache_creation_input_tokens": 0}
    assert events[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2,
                                       "cache_creation_input_tokens": 0}}
    message = accumulate(events)
    assert [block.text for block in message.content] == ["Hello"]
    assert raw.startswith(b"event: message_start\ndata: {")
    assert raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


def test_it_encodes_an_empty_stream():
    events = sse(encode([]))
    assert_grammar(events)
    assert len(events) == 4


def test_it_sends_nothing_before_the_first_content():
    encoder = codec.StreamEncoder(request(), "abc", 0)
    assert encoder.encode(Start("x", "y")) == b""
    assert encoder.encode(UsageUpdate(Usage(prompt_tokens=3))) == b""
    assert encoder.encode(TextDelta("a")).startswith(b"event: message_start\n")


def test_it_serializes_interleaved_parallel_tool_calls():
    events = sse(encode([
        TextDelta("Let me check."),
        ToolCallStart(0, "call_a", "weather"), ToolCallDelta(0, '{"city":'),
        ToolCallStart(1, "call_b", "weather"), ToolCallDelta(1, '{"city":'),
        ToolCallDelta(0, ' "Paris"}'), ToolCallDelta(1, ' "東京"}'),
        ToolCallStart(2, "call_c", "time"), ToolCallDelta(2, "{}"),
        Finish("tool_use"),
    ]))
    assert_grammar(events)
    message = accumulate(events)
    assert [(block.type, getattr(block, "id", None), getattr(block, "input", None)) for block in message.content] == [
        ("text", None, None),
        ("tool_use", "call_a", {"city": "Paris"}),
        ("tool_use", "call_b", {"city": "東京"}),
        ("tool_use", "call_c", {}),
    ]
    assert message.stop_reason == "tool_use"


def test_it_streams_sequential_tool_calls_without_waiting():
    encoder = codec.StreamEncoder(request(), "abc", 0)
    encoder.encode(ToolCallStart(0, "t0", "f"))
    encoder.encode(ToolCallDelta(0, '{"a": 1}'))
    opened = sse(encoder.encode(ToolCallStart(1, "t1", "g")))
    assert [name for name, _ in opened] == ["content_block_stop", "content_block_start"]
    assert sse(encoder.encode(ToolCallDelta(1, '{"b"')))[0][1]["delta"] == {
        "type": "input_json_delta", "partial_json": '{"b"'}


def test_it_encodes_thinking_then_text():
    events = sse(encode([
        ThinkingDelta("First "), ThinkingDelta("thought."), ThinkingDelta(signature="sig-1"),
        ThinkingDelta("Second thought."), ThinkingDelta(signature="sig-2"),
        TextDelta("Answer."), ThinkingDelta("Late thought."), TextDelta("More."),
    ]))
    assert_grammar(events)
    message = accumulate(events)
    assert [(block.type, getattr(block, "thinking", getattr(block, "text", None)), getattr(block, "signature", None))
            for block in message.content] == [
        ("thinking", "First thought.", "sig-1"),
        ("thinking", "Second thought.", "sig-2"),
        ("text", "Answer.", None),
        ("thinking", "Late thought.", ""),
        ("text", "More.", None),
    ]


def test_it_maps_the_finish_into_message_delta():
    events = sse(encode([TextDelta("x"), Finish("content_filter")]))
    assert events[-2][1]["delta"] == {"stop_reason": "refusal", "stop_sequence": None}
    events = sse(encode([TextDelta("x"), Finish("stop_sequence", "END")]))
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}


def test_it_fails_with_an_error_event_and_no_message_stop():
    encoder = codec.StreamEncoder(request(), "abc", 0)
    raw = encoder.encode(TextDelta("partial")) + encoder.fail("rate_limit", "slow down")
    events = sse(raw)
    assert events[-1] == ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    assert "message_stop" not in [name for name, _ in events]
    ErrorResponse.model_validate(events[-1][1])


def test_its_output_decodes_back_to_equivalent_events():
    usage = Usage(prompt_tokens=50, completion_tokens=20, cached_tokens=10, cache_write_tokens=5)
    original = [
        Start("x", "y"), UsageUpdate(Usage(prompt_tokens=50, cached_tokens=10, cache_write_tokens=5)),
        ThinkingDelta("hm"), ThinkingDelta(signature="s"), TextDelta("Hi "), TextDelta("there"),
        ToolCallStart(0, "t0", "f"), ToolCallDelta(0, '{"q":'), ToolCallDelta(0, ' "ü"}'),
        ToolCallStart(1, "t1", "g"), ToolCallDelta(1, "{}"),
        UsageUpdate(usage), Finish("tool_use"),
    ]
    decoded = decode(encode(original))
    assert decoded == [
        Start("msg_abc", "claude-alias"), UsageUpdate(Usage(prompt_tokens=50, cached_tokens=10, cache_write_tokens=5)),
        *original[2:11], UsageUpdate(usage), Finish("tool_use"),
    ]


def test_it_decodes_its_own_stream_at_every_split():
    raw = encode([ThinkingDelta("ü"), TextDelta("東京"), ToolCallStart(0, "t", "f"), ToolCallDelta(0, "{}")])
    whole = decode(raw)
    for cut in range(len(raw) + 1):
        assert decode(raw[:cut], raw[cut:]) == whole


# --- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, error_type, expected", [
    (400, "invalid_request", "invalid_request_error"),
    (401, "auth", "authentication_error"),
    (403, "auth", "permission_error"),
    (404, "unknown_model", "not_found_error"),
    (404, "invalid_request", "not_found_error"),
    (413, "invalid_request", "request_too_large"),
    (429, "rate_limit", "rate_limit_error"),
    (504, "timeout", "timeout_error"),
    (502, "network", "api_error"),
    (500, "server_error", "api_error"),
    (503, "server_error", "overloaded_error"),
    (529, "server_error", "overloaded_error"),
    (502, "something_new", "api_error"),
])
def test_it_builds_errors(status, error_type, expected):
    built = codec.build_error(status, error_type, "nope", "req_1", param="messages")
    assert built == {"type": "error", "error": {"type": expected, "message": "nope"}, "request_id": "req_1"}
    if expected != "request_too_large":
        ErrorResponse.model_validate(built)


def test_it_parses_upstream_errors():
    anthropic_error = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert codec.parse_error(529, anthropic_error) == "Overloaded"
    assert codec.parse_error(502, b"<html>Bad gateway</html>\n") == "<html>Bad gateway</html>"
    assert codec.parse_error(500, b"") == "HTTP 500"
    assert codec.parse_error(400, b'{"error": "flat"}') == '{"error": "flat"}'
    assert len(codec.parse_error(500, b"x" * 2000)) == 500
    assert codec.parse_error(500, b"\xff\xfe broken") == "\ufffd\ufffd broken"


# --- models --------------------------------------------------------------------------------------

def test_it_builds_model_listings():
    listing = codec.build_model_list(["claude-a", "claude-b"])
    assert listing["has_more"] is False
    assert (listing["first_id"], listing["last_id"]) == ("claude-a", "claude-b")
    assert [model["id"] for model in listing["data"]] == ["claude-a", "claude-b"]
    for model in listing["data"]:
        ModelInfo.model_validate(model)
    assert codec.build_model("claude-a") == listing["data"][0]
    assert codec.build_model("claude-a")["created_at"] == "2024-01-01T00:00:00Z"
    assert codec.build_model_list([]) == {"data": [], "has_more": False, "first_id": None, "last_id": None}
