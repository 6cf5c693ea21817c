"""The Responses API codec: both directions, streams split at every byte, the SDK's view of what we send."""

import json

import pytest
from openai import NOT_GIVEN
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from providers.formats import responses as codec
from providers.formats.sse import SSEParser
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, Finish, Image, Message, Reasoning, ResponseFormat, Start, StreamError,
    Text, TextDelta, Thinking, ThinkingDelta, Tool, ToolCall, ToolCallDelta, ToolCallStart, ToolChoice, ToolResult,
    Unsupported, Usage, UsageUpdate,
)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = {"type": "function", "name": "get_weather", "description": "The weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": True}
EVENTS = TypeAdapter(ResponseStreamEvent)


def full_body() -> dict:
    return {
        "model": "my-alias",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"},
                                         {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look it up."}],
             "encrypted_content": "sig-1"},
            {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
             "arguments": '{"city":"Paris"}', "status": "completed"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ],
        "tools": [WEATHER],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "max_output_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.9,
        "text": {"format": {"type": "json_schema", "name": "weather", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "metadata": {"ticket": "42"},
        "user": "user-7",
        "store": False,
        "previous_response_id": "resp_earlier",
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }


def fields(request: ChatRequest) -> dict:
    return {name: getattr(request, name) for name in ChatRequest.__dataclass_fields__}


# --- parse_request ---------------------------------------------------------------------------

def test_parse_request_maps_every_field():
    request = codec.parse_request(full_body())
    assert fields(request) == fields(ChatRequest(
        model="my-alias",
        system=[Text("Be brief."), Text("Use metric units.")],
        messages=[
            Message("user", [Text("Weather in Paris?"), Image(media_type="image/png", data=PNG)]),
            Message("assistant", [Thinking("Look it up.", "sig-1"), Text("Checking."),
                                  ToolCall("call_1", "get_weather", '{"city":"Paris"}')]),
            Message("tool", [ToolResult("call_1", "get_weather", [Text("18C")])]),
        ],
        tools=[Tool("get_weather", "The weather", WEATHER["parameters"])],
        tool_choice=ToolChoice("tool", "get_weather"), parallel_tool_calls=False, max_tokens=300, temperature=0.5,
        top_p=0.9, response_format=ResponseFormat("json_schema", {"type": "object"}, "weather", True),
        reasoning=Reasoning(effort="low"), metadata={"ticket": "42"}, user="user-7", stream=True,
    ))
    assert request.store is False and request.previous_response_id == "resp_earlier"
    assert request.items == full_body()["input"]


def test_parse_request_takes_a_string_and_answers_under_a_new_id():
    first, second = (codec.parse_request({"model": "m", "input": "hi"}) for _ in range(2))
    assert first.messages == [Message("user", [Text("hi")])]
    assert first.items == [{"type": "message", "role": "user", "content": "hi"}]
    assert first.response_id.startswith("resp_") and first.response_id != second.response_id
    assert first.store is True and first.stream is False


def test_parse_request_puts_the_history_first_and_stores_it_with_the_new_items():
    history = [{"role": "user", "content": "first"},
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "one"}]}]
    request = codec.parse_request({"model": "m", "input": "second"}, history=history)
    assert request.messages == [Message("user", [Text("first")]), Message("assistant", [Text("one")]),
                                Message("user", [Text("second")])]
    assert request.items == history + [{"type": "message", "role": "user", "content": "second"}]


def test_parse_request_joins_parallel_calls_and_their_outputs_into_one_turn_each():
    request = codec.parse_request({"model": "m", "input": [
        {"role": "user", "content": "both?"},
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": ""},
        {"type": "function_call", "call_id": "b", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": [{"type": "input_text", "text": "A"}]},
        {"type": "function_call_output", "call_id": "b", "output": "B"},
        {"type": "function_call_output", "call_id": "zzz", "output": ""},
    ]})
    assert request.messages[1:] == [
        Message("assistant", [ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}")]),
        Message("tool", [ToolResult("a", "f", [Text("A")]), ToolResult("b", "g", [Text("B")]), ToolResult("zzz")]),
    ]


def test_parse_request_keeps_redacted_thinking_and_drops_empty_reasoning():
    request = codec.parse_request({"model": "m", "input": [
        {"role": "user", "content": "x"},
        {"type": "reasoning", "summary": [], "encrypted_content": "redacted:opaque"},
        {"type": "reasoning", "summary": []},
        {"role": "assistant", "content": "y"},
    ]})
    assert request.messages[1] == Message("assistant", [Thinking(signature="opaque", redacted=True), Text("y")])


@pytest.mark.parametrize("choice, expected", [
    ("auto", ToolChoice("auto")), ("none", ToolChoice("none")), ("required", ToolChoice("required")),
    ({"type": "function", "name": "f"}, ToolChoice("tool", "f")),
])
def test_parse_request_maps_tool_choice(choice, expected):
    assert codec.parse_request({"model": "m", "input": "x", "tool_choice": choice}).tool_choice == expected


@pytest.mark.parametrize("text, expected", [
    ({"format": {"type": "text"}}, ResponseFormat("text")),
    ({"format": {"type": "json_object"}}, ResponseFormat("json_object")),
    ({"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
     ResponseFormat("json_schema", {"type": "object"}, "n")),
    ({"verbosity": "low"}, None),
])
def test_parse_request_maps_text_formats(text, expected):
    assert codec.parse_request({"model": "m", "input": "x", "text": text}).response_format == expected


@pytest.mark.parametrize("reasoning, expected", [
    ({"effort": "high"}, Reasoning(effort="high")), ({"summary": "auto"}, Reasoning(effort="")),
    ({"effort": "none"}, None), ({}, None),
])
def test_parse_request_maps_reasoning(reasoning, expected):
    assert codec.parse_request({"model": "m", "input": "x", "reasoning": reasoning}).reasoning == expected


@pytest.mark.parametrize("change, error, param", [
    ({"tools": [{"type": "web_search"}]}, Unsupported, "tools[0].type"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, Unsupported, "tools[0].type"),
    ({"tools": [{"type": "computer_use_preview"}]}, Unsupported, "tools[0].type"),
    ({"tools": [{"type": "function"}]}, BadRequest, "tools[0].name"),
    ({"tool_choice": {"type": "web_search_preview"}}, Unsupported, "tool_choice.type"),
    ({"tool_choice": "sometimes"}, BadRequest, "tool_choice"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, Unsupported, "input[0].type"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, Unsupported, "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, Unsupported,
     "input[0].content[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}, Unsupported,
     "input[0].content[0].file_id"),
    ({"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "x"}]}]}, BadRequest,
     "input[0].content[0].type"),
    ({"input": [{"role": "tool", "content": "x"}]}, BadRequest, "input[0].role"),
    ({"input": [{"type": "function_call", "name": "f"}]}, BadRequest, "input[0].call_id"),
    ({"input": [{"content": "x"}]}, BadRequest, "input[0].type"),
    ({"input": []}, BadRequest, "input"),
    ({"input": [{"role": "system", "content": "only a system prompt"}]}, BadRequest, "input"),
    ({"model": ""}, BadRequest, "model"),
    ({"max_output_tokens": 0}, BadRequest, "max_output_tokens"),
    ({"temperature": "hot"}, BadRequest, "temperature"),
    ({"text": {"format": {"type": "yaml"}}}, BadRequest, "text.format.type"),
    ({"text": {"format": {"type": "json_schema", "name": "n"}}}, BadRequest, "text.format.schema"),
    ({"background": True}, Unsupported, "background"),
    ({"conversation": "conv_1"}, Unsupported, "conversation"),
    ({"prompt": {"id": "pmpt_1"}}, Unsupported, "prompt"),
])
def test_parse_request_refuses_what_it_cannot_relay_naming_the_field(change, error, param):
    with pytest.raises(error) as caught:
        codec.parse_request({"model": "m", "input": "x", **change})
    assert caught.value.param == param


def test_built_in_tools_are_refused_with_a_clear_message():
    with pytest.raises(Unsupported, match="'web_search' tools run inside OpenAI's own service"):
        codec.parse_request({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})


def test_parse_request_remembers_what_a_response_repeats():
    echo = codec.parse_request(full_body()).echo
    assert echo["instructions"] == "Be brief." and echo["tools"] == [WEATHER]
    assert echo["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert echo["text"]["format"]["name"] == "weather" and echo["reasoning"] == {"effort": "low", "summary": "auto"}
    assert (echo["store"], echo["parallel_tool_calls"], echo["max_output_tokens"]) == (False, False, 300)
    defaults = codec.parse_request({"model": "m", "input": "x"}).echo
    assert (defaults["tool_choice"], defaults["tools"], defaults["temperature"], defaults["top_p"]) == (
        "auto", [], 1.0, 1.0)
    assert defaults["text"] == {"format": {"type": "text"}} and defaults["parallel_tool_calls"] is True


# --- build_response --------------------------------------------------------------------------

def answer(parts, stop="end_turn", usage=None) -> ChatResponse:
    return ChatResponse("upstream-id", "upstream-model", parts, stop, usage=usage or Usage(10, 5), created=1700000000)


def request() -> codec.ResponsesRequest:
    return codec.parse_request({"model": "my-alias", "input": "x", "tools": [WEATHER]})


def test_build_response_writes_one_item_per_part_in_order():
    req = request()
    body = codec.build_response(answer([
        Thinking("Hmm.", "sig"), Text("héllo "), Text("世界"), ToolCall("call_1", "get_weather", '{"city":"Paris"}'),
        ToolCall("call_2", "get_weather", ""),
    ], "tool_use", Usage(10, 5, cached_tokens=4, reasoning_tokens=2)), req)
    suffix = req.response_id.removeprefix("resp_")
    assert (body["id"], body["object"], body["model"], body["status"]) == (req.response_id, "response", "my-alias",
                                                                           "completed")
    assert body["output"] == [
        {"id": f"rs_{suffix}_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Hmm."}],
         "encrypted_content": "sig"},
        {"id": f"msg_{suffix}_1", "type": "message", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "héllo 世界", "annotations": [], "logprobs": []}]},
        {"id": f"fc_{suffix}_2", "type": "function_call", "status": "completed", "call_id": "call_1",
         "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"id": f"fc_{suffix}_3", "type": "function_call", "status": "completed", "call_id": "call_2",
         "name": "get_weather", "arguments": "{}"},
    ]
    assert body["usage"] == {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                             "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 15}
    assert body["tools"] == [WEATHER] and body["created_at"] == 1700000000


def test_build_response_validates_as_the_sdks_response():
    body = codec.build_response(answer([Thinking("Hmm.", "sig"), Text("hi"), ToolCall("c", "f", "{}")]), request())
    response = Response.model_validate(body)
    assert response.output_text == "hi"


@pytest.mark.parametrize("stop, reason", [("max_tokens", "max_output_tokens"), ("content_filter", "content_filter")])
def test_build_response_marks_a_cut_answer_and_its_last_item_incomplete(stop, reason):
    body = codec.build_response(answer([Thinking("Hmm."), Text("cut sh")], stop), request())
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": reason}
    assert [item.get("status") for item in body["output"]] == [None, "incomplete"]


def test_build_response_joins_a_bare_signature_to_the_thinking_before_it_and_drops_empty_parts():
    body = codec.build_response(answer([Thinking("Hmm."), Thinking(signature="sig"), Text(""), Thinking()]), request())
    assert [(item["type"], item["encrypted_content"]) for item in body["output"]] == [("reasoning", "sig")]


def test_output_items_sent_back_as_input_give_the_same_turn():
    parts = [Thinking("Hmm.", "sig"), Thinking(signature="opaque", redacted=True), Text("Checking."),
             ToolCall("call_1", "get_weather", '{"city":"Paris"}')]
    body = codec.build_response(answer(parts, "tool_use"), request())
    again = codec.parse_request({"model": "m", "input": [{"role": "user", "content": "x"}, *body["output"]]})
    assert again.messages[1] == Message("assistant", parts)


# --- the stream encoder ----------------------------------------------------------------------

def encode(events, req=None, stop=True, on_complete=None) -> bytes:
    encoder = codec.StreamEncoder(req or request(), "ignored", 1700000002, on_complete=on_complete)
    return b"".join(encoder.encode(event) for event in events) + (encoder.end() if stop else b"")


def parsed(wire: bytes) -> list:
    return [(sse.event, json.loads(sse.data)) for sse in SSEParser().feed(wire)]


def accumulate(wire: bytes):
    """What the SDK's stream helper makes of the wire bytes: (its events, its final response)."""
    state = ResponseStreamState(input_tools=NOT_GIVEN, text_format=NOT_GIVEN)
    seen = []
    for event, data in parsed(wire):
        assert event == data["type"]
        seen += state.handle_event(EVENTS.validate_python(data))
    return seen, state._completed_response


STREAMS = {
    "text": ([Start("u", "m"), TextDelta("héllo "), TextDelta(""), TextDelta("世界"), Finish("end_turn"),
              UsageUpdate(Usage(10, 5))],
             [Text("héllo 世界")], "end_turn"),
    "thinking": ([Start(), ThinkingDelta("Hm"), ThinkingDelta("m."), ThinkingDelta(signature="sig"),
                  ThinkingDelta("More."), ThinkingDelta(signature="sig2"), TextDelta("42"), UsageUpdate(Usage(3, 4)),
                  Finish("end_turn")],
                 [Thinking("Hmm.", "sig"), Thinking("More.", "sig2"), Text("42")], "end_turn"),
    "parallel calls": ([Start(), TextDelta("Both."), ToolCallStart(0, "call_A", "get_weather"),
                        ToolCallStart(1, "call_B", "get_time"), ToolCallDelta(0, '{"city":'), ToolCallDelta(1, "{}"),
                        ToolCallDelta(0, '"Paris"}'), Finish("tool_use")],
                       [Text("Both."), ToolCall("call_A", "get_weather", '{"city":"Paris"}'),
                        ToolCall("call_B", "get_time", "{}")], "tool_use"),
    "text after a call": ([ToolCallStart(0, "call_A", "f"), TextDelta("then "), TextDelta("this"),
                           Finish("max_tokens")],
                          [ToolCall("call_A", "f", "{}"), Text("then this")], "max_tokens"),
    "a lone signature": ([ThinkingDelta(signature="sig"), TextDelta("ok"), Finish("end_turn")],
                         [Thinking(signature="sig"), Text("ok")], "end_turn"),
}


@pytest.mark.parametrize("name", STREAMS)
def test_the_stream_ends_with_what_build_response_would_have_built(name):
    events, parts, stop = STREAMS[name]
    req = request()
    usage = next((event.usage for event in events if isinstance(event, UsageUpdate)), Usage())
    kept = []
    final = parsed(encode(events, req, on_complete=kept.append))[-1][1]["response"]
    whole = codec.build_response(answer(parts, stop, usage), req)
    assert final == {**whole, "created_at": 1700000002}
    assert kept == [final]


@pytest.mark.parametrize("name", STREAMS)
def test_the_stream_follows_the_grammar_the_sdk_expects(name):
    events, parts, stop = STREAMS[name]
    wire = encode(events)
    frames = parsed(wire)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    kinds = [kind for kind, _ in frames]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == ("response.incomplete" if stop == "max_tokens" else "response.completed")
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == len(parts)
    assert frames[0][1]["response"]["status"] == "in_progress" and frames[0][1]["response"]["output"] == []
    if stop != "max_tokens":
        seen, final = accumulate(wire)
        assert final.output_text == "".join(p.text for p in parts if isinstance(p, Text))
        assert seen[-1].type == "response.completed"


def test_the_stream_writes_text_and_call_events_in_openais_shape():
    frames = parsed(encode(STREAMS["parallel calls"][0]))
    by_kind = {}
    for kind, data in frames:
        by_kind.setdefault(kind, []).append(data)
    item_id = by_kind["response.output_item.added"][0]["item"]["id"]
    assert by_kind["response.output_item.added"][0]["item"] == {
        "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    assert by_kind["response.output_text.delta"][0] == {
        "type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0,
        "delta": "Both.", "logprobs": [], "sequence_number": 4}
    call = by_kind["response.output_item.added"][1]["item"]
    assert (call["type"], call["call_id"], call["name"], call["arguments"], call["status"]) == (
        "function_call", "call_A", "get_weather", "", "in_progress")
    assert [d["delta"] for d in by_kind["response.function_call_arguments.delta"]] == ['{"city":', "{}", '"Paris"}']
    assert [d["arguments"] for d in by_kind["response.function_call_arguments.done"]] == ['{"city":"Paris"}', "{}"]


def test_the_stream_writes_reasoning_as_summary_text_events():
    kinds = [kind for kind, _ in parsed(encode(STREAMS["thinking"][0]))]
    assert kinds[2:9] == [
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done"]


def test_fail_before_anything_still_starts_the_response():
    encoder = codec.StreamEncoder(request(), "x", 1)
    frames = parsed(encoder.fail("rate_limit", "slow down"))
    assert [kind for kind, _ in frames] == ["response.created", "response.in_progress", "response.failed"]
    assert frames[-1][1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}


def test_fail_mid_stream_keeps_the_output_so_far_and_numbers_on():
    encoder = codec.StreamEncoder(request(), "x", 1)
    wire = encoder.encode(TextDelta("partial")) + encoder.fail("network", "the upstream went away")
    frames = parsed(wire)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    failed = frames[-1][1]["response"]
    assert failed["status"] == "failed" and failed["output"][0]["content"][0]["text"] == "partial"
    seen, final = accumulate(wire)
    assert seen[-1].type == "response.failed" and final is None


def test_the_stream_and_a_plain_chat_request_work_without_responses_fields():
    plain = ChatRequest(model="m", messages=[])
    frames = parsed(encode([TextDelta("x"), Finish("end_turn")], plain))
    assert frames[-1][1]["response"]["id"] == "ignored"
    assert codec.build_response(answer([Text("x")]), plain)["id"] == "upstream-id"


# --- upstream side: build_request ------------------------------------------------------------

def test_build_request_writes_the_responses_api_fields():
    body = codec.build_request(codec.parse_request(full_body()), "gpt-5")
    assert body == {
        "model": "gpt-5",
        "instructions": "Be brief.\n\nUse metric units.",
        "input": [
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Weather in Paris?"},
                {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ],
        "store": False,
        "tools": [{"type": "function", "name": "get_weather", "description": "The weather",
                   "parameters": WEATHER["parameters"], "strict": False}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": False,
        "max_output_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.9,
        "text": {"format": {"type": "json_schema", "name": "weather", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "low", "summary": "auto"},
        "user": "user-7",
        "stream": True,
    }


def test_build_request_is_the_reverse_of_parse_request():
    req = codec.parse_request({**full_body(), "input": full_body()["input"][1:]})
    again = codec.parse_request(codec.build_request(req, "my-alias"))
    thinking_dropped = [Message(m.role, [p for p in m.parts if not isinstance(p, Thinking)]) for m in req.messages]
    assert fields(again) == {**fields(req), "messages": thinking_dropped, "metadata": {}, "system": [Text("Be brief.")]}


def test_build_request_sends_images_in_tool_outputs_as_content():
    result = ToolResult("c", "f", [Text("see"), Image("image/png", PNG)])
    req = ChatRequest(model="m", messages=[Message("tool", [result])])
    assert codec.build_request(req, "m")["input"] == [{"type": "function_call_output", "call_id": "c", "output": [
        {"type": "input_text", "text": "see"}, {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}]


@pytest.mark.parametrize("change, param", [({"stop": ["x"]}, "stop"), ({"top_k": 3}, "top_k"), ({"seed": 1}, "seed")])
def test_build_request_refuses_what_the_responses_api_lacks(change, param):
    with pytest.raises(Unsupported) as caught:
        codec.build_request(ChatRequest(model="m", messages=[], **change), "m")
    assert caught.value.param == param


def test_build_request_maps_a_thinking_budget_to_an_effort():
    req = ChatRequest(model="m", messages=[], reasoning=Reasoning(budget_tokens=20000, include_thoughts=False))
    assert codec.build_request(req, "m")["reasoning"] == {"effort": "high"}


# --- upstream side: parse_response and the stream decoder -----------------------------------

UPSTREAM_RESPONSE = {
    "id": "resp_up", "object": "response", "created_at": 1700000000, "model": "gpt-5", "status": "completed",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "One."},
                                                        {"type": "summary_text", "text": "Two."}]},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Sunny", "annotations": []},
                     {"type": "output_text", "text": " today.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""},
    ],
    "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8}, "output_tokens": 9,
              "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 29},
}


def test_parse_response_reads_reasoning_messages_and_calls():
    assert codec.parse_response(UPSTREAM_RESPONSE) == ChatResponse(
        "resp_up", "gpt-5", [Thinking("One.\n\nTwo."), Text("Sunny today."), ToolCall("call_1", "get_weather", "{}")],
        "tool_use", usage=Usage(20, 9, cached_tokens=8, reasoning_tokens=3), created=1700000000)


@pytest.mark.parametrize("status, details, stop", [
    ("incomplete", {"reason": "max_output_tokens"}, "max_tokens"),
    ("incomplete", {"reason": "content_filter"}, "content_filter"),
    ("failed", None, "error"),
])
def test_parse_response_maps_unfinished_statuses(status, details, stop):
    body = {"id": "r", "status": status, "incomplete_details": details, "output": []}
    assert codec.parse_response(body).stop_reason == stop


def upstream_stream() -> bytes:
    """A recorded OpenAI stream: two reasoning summary parts, refused text, a call whose arguments come
    only in its done event, keep-alives, CRLF line endings."""
    frames = [
        ("response.created", {"response": {"id": "resp_up", "model": "gpt-5", "status": "in_progress"}}),
        ("response.in_progress", {"response": {"id": "resp_up", "model": "gpt-5", "status": "in_progress"}}),
        ("response.output_item.added", {"output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        ("response.reasoning_summary_part.added", {"output_index": 0, "summary_index": 0}),
        ("response.reasoning_summary_text.delta", {"output_index": 0, "summary_index": 0, "delta": "One."}),
        ("response.reasoning_summary_part.added", {"output_index": 0, "summary_index": 1}),
        ("response.reasoning_summary_text.delta", {"output_index": 0, "summary_index": 1, "delta": "Two."}),
        ("response.output_item.added", {"output_index": 1, "item": {"type": "message", "id": "msg_1", "content": []}}),
        ("response.output_text.delta", {"output_index": 1, "content_index": 0, "delta": "héllo "}),
        ("response.refusal.delta", {"output_index": 1, "content_index": 1, "delta": "世界 🎉"}),
        ("response.output_item.added", {"output_index": 2, "item": {
            "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": ""}}),
        ("response.function_call_arguments.delta", {"output_index": 2, "delta": '{"a":'}),
        ("response.function_call_arguments.delta", {"output_index": 2, "delta": "1}"}),
        ("response.output_item.added", {"output_index": 3, "item": {
            "type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "g", "arguments": ""}}),
        ("response.output_item.done", {"output_index": 3, "item": {"type": "function_call", "call_id": "call_2",
                                                                   "name": "g", "arguments": '{"b":2}'}}),
        ("response.completed", {"response": {"id": "resp_up", "status": "completed",
                                             "usage": UPSTREAM_RESPONSE["usage"]}}),
    ]
    out = b": keep-alive\r\n\r\n"
    for number, (kind, data) in enumerate(frames):
        payload = json.dumps({"type": kind, **data, "sequence_number": number}, ensure_ascii=False)
        out += f"event: {kind}\r\ndata: {payload}\r\n\r\n".encode()
    return out


UPSTREAM_EVENTS = [
    Start("resp_up", "gpt-5"), ThinkingDelta("One."), ThinkingDelta("\n\n"), ThinkingDelta("Two."),
    TextDelta("héllo "), TextDelta("世界 🎉"), ToolCallStart(0, "call_1", "f"), ToolCallDelta(0, '{"a":'),
    ToolCallDelta(0, "1}"), ToolCallStart(1, "call_2", "g"), ToolCallDelta(1, '{"b":2}'),
    UsageUpdate(Usage(20, 9, cached_tokens=8, reasoning_tokens=3)), Finish("tool_use"),
]


def decode(wire: bytes, step: int | None = None) -> list:
    decoder = codec.StreamDecoder()
    pieces = [wire] if step is None else [wire[i:i + step] for i in range(0, len(wire), step)]
    return [event for piece in pieces for event in decoder.feed(piece)] + decoder.close()


def test_decoder_reads_a_recorded_stream():
    assert decode(upstream_stream()) == UPSTREAM_EVENTS


def test_decoder_gives_the_same_events_fed_byte_by_byte():
    assert decode(upstream_stream(), step=1) == UPSTREAM_EVENTS


def test_decoder_gives_the_same_events_split_at_every_byte():
    wire = upstream_stream()
    for cut in range(1, len(wire), 7):
        decoder = codec.StreamDecoder()
        assert decoder.feed(wire[:cut]) + decoder.feed(wire[cut:]) + decoder.close() == UPSTREAM_EVENTS


def test_decoder_reads_what_the_encoder_writes():
    events, parts, stop = STREAMS["parallel calls"]
    decoded = decode(encode(events))
    content = [event for event in decoded if not isinstance(event, (Start, UsageUpdate))]
    assert content == [event for event in events if not isinstance(event, Start)]


@pytest.mark.parametrize("frame, expected", [
    (b'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed",'
     b'"error":{"code":"server_error","message":"boom"}}}\n\n', StreamError("server_error", "boom")),
    (b'event: error\ndata: {"type":"error","code":"rate_limit_exceeded","message":"slow down"}\n\n',
     StreamError("rate_limit_exceeded", "slow down")),
    (b"data: {not json\n\n", StreamError("server_error", "upstream sent invalid JSON in its stream")),
])
def test_decoder_reports_errors_and_stops(frame, expected):
    later = b'data: {"type":"response.output_text.delta","delta":"ignored"}\n\n'
    assert decode(frame + later) == [expected]


def test_decoder_reads_an_incomplete_response_as_cut():
    frame = (b'data: {"type":"response.incomplete","response":{"status":"incomplete",'
             b'"incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":1,"output_tokens":2}}}\n\n')
    assert decode(frame) == [UsageUpdate(Usage(1, 2)), Finish("max_tokens")]
