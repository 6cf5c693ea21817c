"""The Gemini codec: both directions, streams split at every byte, and the google-genai SDK as judge."""

import json

import httpx
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt

from providers.formats import gemini
from providers.formats.gemini import StreamDecoder, StreamEncoder
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Finish, Image, Message,
    Reasoning, ResponseFormat, Start, StreamError, Text, TextDelta, Thinking, ThinkingDelta, Tool, ToolCall,
    ToolCallDelta, ToolCallStart, ToolChoice, ToolResult, Unsupported, Usage, UsageUpdate,
)

SIG = "CiQBjz1rX8r2c2lnbmF0dXJl"  # base64, as Gemini's signatures are (the SDK decodes them)


def user(text):
    return {"role": "user", "parts": [{"text": text}]}


def parse(body, **kwargs):
    return gemini.parse_request(body, model=kwargs.pop("model", "gemini-2.5-flash"), **kwargs)


def sdk_client(handler):
    transport = httpx.MockTransport(handler)
    return genai.Client(api_key="test-key", http_options=gt.HttpOptions(httpx_client=httpx.Client(transport=transport)))


def sdk_validate_request(body):
    """The SDK's own models refuse unknown fields (extra="forbid"), so they check our shapes."""
    for content in body["contents"]:
        gt.Content.model_validate(content)
    for tool in body.get("tools", []):
        gt.Tool.model_validate(tool)
    if "toolConfig" in body:
        gt.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        gt.GenerationConfig.model_validate(body["generationConfig"])
    if "systemInstruction" in body:
        gt.Content.model_validate(body["systemInstruction"])


# --- parse_request -----------------------------------------------------------------------------

def test_it_parses_text_model_and_stream_from_the_url():
    request = parse({"contents": [user("hi")]}, model="models/gemini-2.5-pro", stream=True)
    assert request.model == "gemini-2.5-pro"
    assert request.stream is True
    assert request.include_usage is True
    assert request.messages == [Message("user", [Text("hi")])]


@pytest.mark.parametrize("body", [{}, {"contents": []}, {"contents": "hi"}, {"contents": {"parts": []}}])
def test_it_refuses_missing_or_empty_contents(body):
    with pytest.raises(BadRequest) as caught:
        parse(body)
    assert caught.value.message == "contents must be a non-empty list"
    assert caught.value.param == "contents"


def test_it_defaults_a_missing_role_to_user():
    assert parse({"contents": [{"parts": [{"text": "hi"}]}]}).messages == [Message("user", [Text("hi")])]


def test_it_refuses_an_unknown_role():
    with pytest.raises(BadRequest) as caught:
        parse({"contents": [{"role": "system", "parts": [{"text": "x"}]}]})
    assert caught.value.param == "contents[0].role"


def test_it_refuses_parts_that_are_not_a_list():
    with pytest.raises(BadRequest) as caught:
        parse({"contents": [{"role": "user", "parts": "hi"}]})
    assert caught.value.param == "contents[0].parts"


def test_it_reads_inline_and_file_data_as_images_in_both_spellings():
    body = {"contents": [{"role": "user", "parts": [
        {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
        {"inline_data": {"mime_type": "image/webp", "data": "UklG"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}},
        {"file_data": {"mime_type": "application/pdf", "file_uri": "https://example.com/a.pdf"}},
    ]}]}
    assert parse(body).messages[0].parts == [
        Image(media_type="image/png", data="iVBOR"),
        Image(media_type="image/webp", data="UklG"),
        Image(media_type="image/jpeg", url="gs://bucket/cat.jpg"),
        Image(media_type="application/pdf", url="https://example.com/a.pdf"),
    ]


def test_it_refuses_parts_it_cannot_hold():
    body = {"contents": [{"role": "user", "parts": [{"executableCode": {"code": "print(1)"}}]}]}
    with pytest.raises(Unsupported) as caught:
        parse(body)
    assert caught.value.param == "contents[0].parts[0]"
    body = {"contents": [{"role": "model", "parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}}]}]}
    with pytest.raises(Unsupported):
        parse(body)


def test_it_gives_function_calls_ids_and_matches_responses_by_name_in_order():
    body = {"contents": [
        user("weather in Paris and Rome, then time"),
        {"role": "model", "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
            {"functionCall": {"name": "clock", "args": {}, "id": "given-id"}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "clock", "response": {"result": "noon"}}},
            {"functionResponse": {"name": "weather", "response": {"output": "sunny"}}},
            {"functionResponse": {"name": "weather", "response": {"temp": 21, "unit": "C"}}},
        ]},
    ]}
    messages = parse(body).messages
    assert messages[1] == Message("assistant", [
        ToolCall("call_0", "weather", '{"city":"Paris"}'),
        ToolCall("call_1", "weather", '{"city":"Rome"}'),
        ToolCall("given-id", "clock", "{}"),
    ])
    assert messages[2] == Message("tool", [
        ToolResult("given-id", "clock", [Text("noon")]),
        ToolResult("call_0", "weather", [Text("sunny")]),
        ToolResult("call_1", "weather", [Text('{"temp":21,"unit":"C"}')]),
    ])


def test_it_matches_a_response_by_its_id_when_given():
    body = {"contents": [
        {"role": "model", "parts": [
            {"functionCall": {"name": "f", "args": {}, "id": "a"}},
            {"functionCall": {"name": "f", "args": {}, "id": "b"}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "id": "b", "response": {"result": "B"}}},
            {"functionResponse": {"name": "f", "response": {"result": "A"}}},
        ]},
    ]}
    results = parse(body).messages[1].parts
    assert [(r.call_id, r.content) for r in results] == [("b", [Text("B")]), ("a", [Text("A")])]


def test_it_reads_an_error_response_and_images_in_a_function_response():
    body = {"contents": [
        {"role": "model", "parts": [{"functionCall": {"name": "shot", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {
            "name": "shot", "response": {"error": "camera offline"},
            "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
        }}]},
    ]}
    assert parse(body).messages[1].parts == [
        ToolResult("call_0", "shot", [Text("camera offline"), Image("image/png", "AAAA")], is_error=True),
    ]


def test_it_splits_a_user_content_mixing_responses_and_text():
    body = {"contents": [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {"result": "ok"}}},
            {"text": "now summarise"},
        ]},
    ]}
    assert parse(body).messages[1:] == [
        Message("tool", [ToolResult("call_0", "f", [Text("ok")])]),
        Message("user", [Text("now summarise")]),
    ]


def test_it_keeps_thoughts_and_signatures_in_model_turns():
    body = {"contents": [user("q"), {"role": "model", "parts": [
        {"text": "Let me think", "thought": True},
        {"text": "signed thought", "thought": True, "thoughtSignature": "T1"},
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG},
        {"text": "and text", "thought_signature": "T2"},
    ]}]}
    assert parse(body).messages[1].parts == [
        Thinking("Let me think"),
        Thinking("signed thought", "T1"),
        Thinking(signature=SIG),
        ToolCall("call_0", "f", '{"a":1}'),
        Thinking(signature="T2"),
        Text("and text"),
    ]


def test_it_reads_the_system_instruction_in_its_shapes():
    assert parse({"contents": [user("x")], "systemInstruction": {"parts": [{"text": "a"}, {"text": "b"}]}}).system == [
        Text("a"), Text("b")]
    assert parse({"contents": [user("x")], "system_instruction": {"parts": {"text": "c"}}}).system == [Text("c")]
    assert parse({"contents": [user("x")], "systemInstruction": "d"}).system == [Text("d")]
    with pytest.raises(Unsupported):
        parse({"contents": [user("x")], "systemInstruction": {"parts": [{"inlineData": {}}]}})


def test_it_reads_function_declarations_and_converts_openapi_schemas():
    body = {"contents": [user("x")], "tools": [{"functionDeclarations": [
        {"name": "a", "description": "A", "parameters": {
            "type": "OBJECT", "properties": {
                "city": {"type": "STRING", "nullable": True},
                "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["x", "y"]}},
            }, "required": ["city"]}},
        {"name": "b", "parametersJsonSchema": {"type": "object", "additionalProperties": False}},
        {"name": "c"},
    ]}, {"function_declarations": [{"name": "d", "parameters_json_schema": {"$ref": "#/x"}}]}]}
    assert parse(body).tools == [
        Tool("a", "A", {"type": "object", "properties": {
            "city": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
        }, "required": ["city"]}),
        Tool("b", "", {"type": "object", "additionalProperties": False}),
        Tool("c", "", {}),
        Tool("d", "", {"$ref": "#/x"}),
    ]


@pytest.mark.parametrize("tool", [{"googleSearch": {}}, {"codeExecution": {}}, {"google_search_retrieval": {}},
                                  {"urlContext": {}}])
def test_it_refuses_built_in_tools(tool):
    with pytest.raises(Unsupported) as caught:
        parse({"contents": [user("x")], "tools": [tool]})
    assert caught.value.param == "tools[0]"


TOOLS = [{"functionDeclarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}]


@pytest.mark.parametrize("config, choice, names", [
    ({"mode": "AUTO"}, ToolChoice("auto"), ["a", "b", "c"]),
    ({"mode": "NONE"}, ToolChoice("none"), ["a", "b", "c"]),
    ({"mode": "ANY"}, ToolChoice("required"), ["a", "b", "c"]),
    ({"mode": "ANY", "allowedFunctionNames": ["b"]}, ToolChoice("tool", "b"), ["a", "b", "c"]),
    ({"mode": "ANY", "allowed_function_names": ["a", "c"]}, ToolChoice("required"), ["a", "c"]),
    ({"mode": "validated"}, ToolChoice("auto"), ["a", "b", "c"]),
])
def test_it_maps_the_function_calling_mode(config, choice, names):
    request = parse({"contents": [user("x")], "tools": TOOLS, "toolConfig": {"functionCallingConfig": config}})
    assert request.tool_choice == choice
    assert [tool.name for tool in request.tools] == names


def test_it_leaves_tool_choice_unset_without_a_tool_config():
    assert parse({"contents": [user("x")], "tools": TOOLS}).tool_choice is None


def test_it_refuses_an_unknown_function_calling_mode():
    with pytest.raises(BadRequest):
        parse({"contents": [user("x")], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}})


def test_it_reads_the_generation_config():
    request = parse({"contents": [user("x")], "generationConfig": {
        "temperature": 0.5, "topP": 0.9, "topK": 3.0, "maxOutputTokens": 100, "stopSequences": ["END"],
        "seed": 7, "candidateCount": 2, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
    }})
    assert (request.temperature, request.top_p, request.top_k, request.max_tokens) == (0.5, 0.9, 3, 100)
    assert isinstance(request.top_k, int)
    assert (request.stop, request.seed, request.n) == (["END"], 7, 2)
    assert (request.presence_penalty, request.frequency_penalty) == (0.1, 0.2)
    assert request.response_format is None and request.reasoning is None


def test_it_reads_snake_case_generation_config():
    request = parse({"contents": [user("x")], "generation_config": {"max_output_tokens": 9, "top_k": 2}})
    assert (request.max_tokens, request.top_k) == (9, 2)


def test_it_refuses_a_number_that_is_not_one():
    with pytest.raises(BadRequest) as caught:
        parse({"contents": [user("x")], "generationConfig": {"temperature": "hot"}})
    assert caught.value.param == "generationConfig.temperature"


@pytest.mark.parametrize("config, expected", [
    ({"responseMimeType": "application/json"}, ResponseFormat("json_object")),
    ({"responseMimeType": "application/json", "responseJsonSchema": {"type": "object", "additionalProperties": False}},
     ResponseFormat("json_schema", {"type": "object", "additionalProperties": False}, name="response")),
    ({"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}},
     ResponseFormat("json_schema", {"type": "object", "properties": {"n": {"type": "integer"}}}, name="response")),
    ({"responseMimeType": "text/plain"}, None),
])
def test_it_reads_the_response_format(config, expected):
    assert parse({"contents": [user("x")], "generationConfig": config}).response_format == expected


def test_it_refuses_other_response_types_and_modalities():
    with pytest.raises(Unsupported):
        parse({"contents": [user("x")], "generationConfig": {"responseMimeType": "text/x.enum"}})
    with pytest.raises(Unsupported):
        parse({"contents": [user("x")], "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}})
    with pytest.raises(Unsupported):
        parse({"contents": [user("x")], "generationConfig": {"responseLogprobs": True}})
    with pytest.raises(Unsupported):
        parse({"contents": [user("x")], "cachedContent": "cachedContents/abc"})


@pytest.mark.parametrize("thinking, expected", [
    ({"thinkingBudget": 2048, "includeThoughts": True}, Reasoning(budget_tokens=2048, include_thoughts=True)),
    ({"thinking_budget": 0}, Reasoning(budget_tokens=0, include_thoughts=False)),
    ({"thinkingBudget": -1, "includeThoughts": True}, Reasoning(include_thoughts=True)),
    ({"thinkingLevel": "HIGH"}, Reasoning(effort="high", include_thoughts=False)),
    ({"thinking_level": "low", "include_thoughts": True}, Reasoning(effort="low", include_thoughts=True)),
])
def test_it_reads_the_thinking_config(thinking, expected):
    request = parse({"contents": [user("x")], "generationConfig": {"thinkingConfig": thinking}})
    assert request.reasoning == expected


def test_it_parses_what_the_google_genai_sdk_sends():
    captured = {}

    def handler(request):
        captured["body"] = json.loads(request.content)
        return httpx.Response(200, json={"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                                                          "finishReason": "STOP", "index": 0}]})

    def weather(city: str) -> str:
        """Get the weather."""
        return city

    client = sdk_client(handler)
    client.models.generate_content(model="gemini-2.5-flash", contents=[
        gt.Content(role="user", parts=[gt.Part(text="hi"), gt.Part.from_bytes(data=b"abc", mime_type="image/png"),
                                       gt.Part.from_uri(file_uri="gs://b/x.jpg", mime_type="image/jpeg")]),
        gt.Content(role="model", parts=[
            gt.Part(text="thinking", thought=True),
            gt.Part(function_call=gt.FunctionCall(name="weather", args={"city": "Paris"}), thought_signature=b"sig")]),
        gt.Content(role="user", parts=[gt.Part.from_function_response(name="weather", response={"result": "sunny"})]),
    ], config=gt.GenerateContentConfig(
        system_instruction="be brief", tools=[weather],
        automatic_function_calling=gt.AutomaticFunctionCallingConfig(disable=True),
        tool_config=gt.ToolConfig(function_calling_config=gt.FunctionCallingConfig(mode="ANY", allowed_function_names=["weather"])),
        temperature=0.5, top_k=3, max_output_tokens=100, stop_sequences=["x"], seed=1,
        response_mime_type="application/json", response_json_schema={"type": "object"},
        thinking_config=gt.ThinkingConfig(thinking_budget=100, include_thoughts=True)))
    request = parse(captured["body"])
    assert request.system == [Text("be brief")]
    assert request.messages == [
        Message("user", [Text("hi"), Image("image/png", "YWJj"), Image("image/jpeg", url="gs://b/x.jpg")]),
        Message("assistant", [Thinking("thinking"), Thinking(signature="c2ln"),
                              ToolCall("call_0", "weather", '{"city":"Paris"}')]),
        Message("tool", [ToolResult("call_0", "weather", [Text("sunny")])]),
    ]
    assert request.tools == [Tool("weather", "Get the weather.", {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})]
    assert request.tool_choice == ToolChoice("tool", "weather")
    assert (request.temperature, request.top_k, request.max_tokens, request.stop, request.seed) == (0.5, 3, 100, ["x"], 1)
    assert request.response_format == ResponseFormat("json_schema", {"type": "object"}, name="response")
    assert request.reasoning == Reasoning(budget_tokens=100, include_thoughts=True)


# --- build_request -----------------------------------------------------------------------------

def chat(*messages, **kwargs):
    return ChatRequest(model=kwargs.pop("model", "alias"), messages=list(messages), **kwargs)


def test_it_builds_roles_and_merges_neighbouring_turns():
    request = chat(
        Message("user", [Text("weather?")]),
        Message("assistant", [Text("checking"), ToolCall("c1", "weather", '{"city":"Paris"}'),
                              ToolCall("c2", "weather", '{"city":"Rome"}')]),
        Message("tool", [ToolResult("c1", content=[Text('{"temp": 20}')])]),
        Message("tool", [ToolResult("c2", content=[Text("sunny")])]),
        Message("user", [Text("thanks")]),
        system=[Text("be brief"), Text("be kind")],
    )
    body = gemini.build_request(request, "gemini-2.5-flash")
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [
                {"text": "checking"},
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "weather", "args": {"city": "Rome"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "weather", "response": {"temp": 20}}},
                {"functionResponse": {"name": "weather", "response": {"result": "sunny"}}},
                {"text": "thanks"},
            ]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}, {"text": "be kind"}]},
    }
    sdk_validate_request(body)


def test_it_builds_error_results_and_images_beside_the_response():
    request = chat(
        Message("assistant", [ToolCall("c1", "shot", "{}")]),
        Message("tool", [ToolResult("c1", "shot", [Text("a"), Text("b"), Image("image/png", "AAAA")], is_error=True)]),
    )
    assert gemini.build_request(request, "m")["contents"][1]["parts"] == [
        {"functionResponse": {"name": "shot", "response": {"error": "a\nb"}}},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
    ]


@pytest.mark.parametrize("text, response", [
    ('{"a": 1}', {"a": 1}), ("[1, 2]", {"result": "[1, 2]"}), ("{not json", {"result": "{not json"}),
    ("plain", {"result": "plain"}), ("", {"result": ""}),
])
def test_it_wraps_tool_results_that_are_not_json_objects(text, response):
    request = chat(Message("assistant", [ToolCall("c", "f")]), Message("tool", [ToolResult("c", content=[Text(text)])]))
    assert gemini.build_request(request, "m")["contents"][1]["parts"][0]["functionResponse"]["response"] == response


def test_it_refuses_a_result_for_no_known_call_and_bad_arguments():
    with pytest.raises(BadRequest):
        gemini.build_request(chat(Message("tool", [ToolResult("nope", content=[Text("x")])])), "m")
    with pytest.raises(BadRequest):
        gemini.build_request(chat(Message("assistant", [ToolCall("c", "f", "{broken")])), "m")
    with pytest.raises(BadRequest):
        gemini.build_request(chat(Message("assistant", [ToolCall("c", "f", "[1]")])), "m")


@pytest.mark.parametrize("image, part", [
    (Image("image/png", "AAAA"), {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}),
    (Image(url="data:image/gif;base64,R0lG"), {"inlineData": {"mimeType": "image/gif", "data": "R0lG"}}),
    (Image(url="https://x.test/a.png"), {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.png"}}),
    (Image(url="https://x.test/photo"), {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/photo"}}),
    (Image("image/webp", url="gs://b/x"), {"fileData": {"mimeType": "image/webp", "fileUri": "gs://b/x"}}),
])
def test_it_builds_image_parts(image, part):
    assert gemini.build_request(chat(Message("user", [image])), "m")["contents"][0]["parts"] == [part]


def test_it_refuses_a_data_url_that_is_not_base64():
    with pytest.raises(BadRequest):
        gemini.build_request(chat(Message("user", [Image(url="data:text/plain,hello")])), "m")


def test_it_puts_a_thinking_signature_on_the_function_call_that_follows():
    request = chat(Message("assistant", [
        Thinking("I should call f", SIG), ToolCall("c1", "f", '{"a": 1}'), ToolCall("c2", "f", "{}"),
    ]))
    assert gemini.build_request(request, "gemini-2.5-flash")["contents"][0]["parts"] == [
        {"text": "I should call f", "thought": True},
        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG},
        {"functionCall": {"name": "f", "args": {}}},
    ]


def test_it_places_signatures_where_gemini_sent_them():
    parts = [
        Thinking("summary"), Thinking(signature="U2ln"), Text("answer"),
        Thinking("lone signed thought", "U2lnMg=="), Thinking("unsigned"),
    ]
    assert gemini.build_request(chat(Message("assistant", parts)), "m")["contents"][0]["parts"] == [
        {"text": "summary", "thought": True},
        {"text": "answer", "thoughtSignature": "U2ln"},
        {"text": "lone signed thought", "thought": True, "thoughtSignature": "U2lnMg=="},
        {"text": "unsigned", "thought": True},
    ]


def test_it_gives_a_trailing_bare_signature_to_the_answer_before_it():
    # What a relay accumulates from a stream whose last chunk is {"text": "", "thoughtSignature": ...}.
    parts = [Text("Hello"), Text(" world"), Thinking(signature=SIG)]
    assert gemini.build_request(chat(Message("assistant", parts)), "m")["contents"][0]["parts"] == [
        {"text": "Hello"}, {"text": " world", "thoughtSignature": SIG},
    ]


@pytest.mark.parametrize("signature", ["mock-signature", "not base64!", "YWJjZB==", "Y"])
def test_it_drops_signatures_no_gemini_sdk_would_accept(signature):
    parts = [Thinking("t", signature), ToolCall("c", "f")]
    assert gemini.build_request(chat(Message("assistant", parts)), "m")["contents"][0]["parts"] == [
        {"text": "t", "thought": True}, {"functionCall": {"name": "f", "args": {}}},
    ]
    response = gemini.build_response(ChatResponse("r", "m", parts), chat())
    assert "thoughtSignature" not in str(response)
    assert b"thoughtSignature" not in encode_all([ThinkingDelta("t", signature), ThinkingDelta(signature=signature),
                                                 ToolCallStart(0, "c", "f")])


def test_it_drops_redacted_thinking_and_empty_text():
    parts = [Thinking(redacted=True, signature="x"), Text(""), Text("ok")]
    assert gemini.build_request(chat(Message("assistant", parts)), "m")["contents"][0]["parts"] == [{"text": "ok"}]


def test_it_signs_unsigned_function_call_turns_for_gemini_3():
    request = chat(
        Message("user", [Text("go")]),
        Message("assistant", [ToolCall("a", "f"), ToolCall("b", "f")]),
        Message("tool", [ToolResult("a", content=[Text("1")]), ToolResult("b", content=[Text("2")])]),
        Message("assistant", [Thinking(signature=SIG), ToolCall("c", "g")]),
        Message("tool", [ToolResult("c", content=[Text("3")])]),
    )
    contents = gemini.build_request(request, "gemini-3-pro-preview")["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == gemini.SKIP_SIGNATURE
    assert "thoughtSignature" not in contents[1]["parts"][1]
    assert contents[3]["parts"][0]["thoughtSignature"] == SIG
    older = gemini.build_request(request, "gemini-2.5-pro")["contents"]
    assert "thoughtSignature" not in older[1]["parts"][0]


def test_it_builds_tools_under_parameters_or_parameters_json_schema():
    openapi = {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}, "required": ["q"]}
    full = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {"q": {"type": "string"}}, "additionalProperties": False}
    nested_ref = {"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "$defs": {"X": {"type": "string"}}}
    union = {"type": "object", "properties": {"x": {"type": ["string", "null"]}}}
    request = chat(Message("user", [Text("x")]), tools=[
        Tool("a", "A", openapi), Tool("b", "", full), Tool("c", "", nested_ref), Tool("d", "", union),
        Tool("e", "", {}), Tool("f", "", {"type": "object", "properties": {}, "additionalProperties": False}),
    ], tool_choice=ToolChoice("tool", "a"))
    body = gemini.build_request(request, "m")
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "a", "description": "A", "parameters": openapi},
        {"name": "b", "parametersJsonSchema": full},
        {"name": "c", "parametersJsonSchema": nested_ref},
        {"name": "d", "parametersJsonSchema": union},
        {"name": "e"},
        {"name": "f"},
    ]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["a"]}}
    sdk_validate_request(body)


@pytest.mark.parametrize("choice, config", [
    (ToolChoice("auto"), {"mode": "AUTO"}), (ToolChoice("none"), {"mode": "NONE"}),
    (ToolChoice("required"), {"mode": "ANY"}),
])
def test_it_builds_the_function_calling_mode(choice, config):
    request = chat(Message("user", [Text("x")]), tools=[Tool("a")], tool_choice=choice)
    assert gemini.build_request(request, "m")["toolConfig"] == {"functionCallingConfig": config}


def test_it_sends_no_tool_config_without_tools():
    request = chat(Message("user", [Text("x")]), tool_choice=ToolChoice("none"))
    assert "toolConfig" not in gemini.build_request(request, "m")


def test_it_builds_the_generation_config():
    request = chat(Message("user", [Text("x")]), temperature=0.2, top_p=0.8, top_k=5, max_tokens=64,
                   stop=["a", "b"], seed=3, presence_penalty=0.5, frequency_penalty=-0.5,
                   response_format=ResponseFormat("json_schema", {"type": "object", "properties": {"n": {"type": "integer"}}}),
                   reasoning=Reasoning(effort="medium"))
    config = gemini.build_request(request, "m")["generationConfig"]
    assert config == {
        "temperature": 0.2, "topP": 0.8, "topK": 5, "maxOutputTokens": 64, "seed": 3,
        "presencePenalty": 0.5, "frequencyPenalty": -0.5, "stopSequences": ["a", "b"],
        "responseMimeType": "application/json",
        "responseSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192},
    }
    gt.GenerationConfig.model_validate(config)


def test_it_sends_no_generation_config_when_nothing_is_set():
    assert "generationConfig" not in gemini.build_request(chat(Message("user", [Text("x")])), "m")


@pytest.mark.parametrize("response_format, config", [
    (ResponseFormat("text"), {}),
    (ResponseFormat("json_object"), {"responseMimeType": "application/json"}),
    (ResponseFormat("json_schema", {"type": "object", "additionalProperties": False}, "x", True),
     {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object", "additionalProperties": False}}),
])
def test_it_builds_response_formats(response_format, config):
    request = chat(Message("user", [Text("x")]), response_format=response_format)
    assert gemini.build_request(request, "m").get("generationConfig", {}) == config


@pytest.mark.parametrize("reasoning, config", [
    (Reasoning(effort="low"), {"includeThoughts": True, "thinkingBudget": 1024}),
    (Reasoning(effort="high", include_thoughts=False), {"includeThoughts": False, "thinkingBudget": 24576}),
    (Reasoning(budget_tokens=5000), {"includeThoughts": True, "thinkingBudget": 5000}),
    (Reasoning(), {"includeThoughts": True}),
])
def test_it_builds_the_thinking_config(reasoning, config):
    request = chat(Message("user", [Text("x")]), reasoning=reasoning)
    assert gemini.build_request(request, "m")["generationConfig"]["thinkingConfig"] == config


def test_it_refuses_an_unknown_effort_and_several_candidates():
    with pytest.raises(Unsupported):
        gemini.build_request(chat(Message("user", [Text("x")]), reasoning=Reasoning(effort="extreme")), "m")
    with pytest.raises(Unsupported) as caught:
        gemini.build_request(chat(Message("user", [Text("x")]), n=2), "m")
    assert caught.value.param == "n"


CANONICAL_BODY = {
    "contents": [
        {"role": "user", "parts": [{"text": "Plan a trip"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
        {"role": "model", "parts": [
            {"text": "thinking about it", "thought": True},
            {"functionCall": {"name": "search", "args": {"q": "Paris"}}, "thoughtSignature": SIG},
        ]},
        {"role": "user", "parts": [{"functionResponse": {"name": "search", "response": {"hits": 3}}}]},
        {"role": "model", "parts": [{"text": "Found 3.", "thoughtSignature": "VDJzaWc="}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ],
    "systemInstruction": {"parts": [{"text": "You are a travel agent."}]},
    "tools": [{"functionDeclarations": [{"name": "search", "description": "Search",
                                         "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"temperature": 0.3, "maxOutputTokens": 500, "stopSequences": ["STOP"],
                         "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2000}},
}


def test_it_passes_a_gemini_request_through_unchanged():
    rebuilt = gemini.build_request(parse(CANONICAL_BODY), "gemini-2.5-flash")
    assert rebuilt == CANONICAL_BODY
    sdk_validate_request(rebuilt)


def test_it_round_trips_an_internal_request():
    request = chat(
        Message("user", [Text("q"), Image("image/png", "AAAA")]),
        Message("assistant", [Thinking("hmm"), Thinking(signature=SIG), ToolCall("call_0", "f", '{"x":1}')]),
        Message("tool", [ToolResult("call_0", "f", [Text("done")])]),
        model="gemini-2.5-flash", system=[Text("sys")], tools=[Tool("f", "F", {"type": "object", "properties": {"x": {"type": "integer"}}})],
        tool_choice=ToolChoice("required"), temperature=0.1, max_tokens=10, stop=["z"],
        reasoning=Reasoning(budget_tokens=300), response_format=ResponseFormat("json_object"), include_usage=True,
    )
    again = parse(gemini.build_request(request, "gemini-2.5-flash"))
    assert again == request


# --- parse_response / build_response -----------------------------------------------------------

RESPONSE = {
    "candidates": [{
        "content": {"role": "model", "parts": [
            {"text": "**Weighing options**", "thought": True},
            {"text": "Let me check."},
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG},
            {"functionCall": {"id": "fc-7", "name": "clock", "args": {}}},
            {"executableCode": {"language": "PYTHON", "code": "1"}},
        ]},
        "finishReason": "STOP", "index": 0,
    }],
    "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
                      "cachedContentTokenCount": 40, "toolUsePromptTokenCount": 5, "totalTokenCount": 155},
    "modelVersion": "gemini-2.5-flash-001", "responseId": "resp-abc",
}


def test_it_parses_a_response():
    response = gemini.parse_response(RESPONSE)
    assert response == ChatResponse(
        id="resp-abc", model="gemini-2.5-flash-001",
        parts=[Thinking("**Weighing options**"), Text("Let me check."), Thinking(signature=SIG),
               ToolCall("call_resp-abc_0", "weather", '{"city":"Paris"}'), ToolCall("fc-7", "clock", "{}")],
        stop_reason="tool_use",
        usage=Usage(prompt_tokens=105, completion_tokens=50, cached_tokens=40, reasoning_tokens=30),
    )


@pytest.mark.parametrize("finish, reason", [
    ("STOP", "end_turn"), ("MAX_TOKENS", "max_tokens"), ("SAFETY", "content_filter"),
    ("RECITATION", "content_filter"), ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
    ("SPII", "content_filter"), ("IMAGE_SAFETY", "content_filter"), ("MALFORMED_FUNCTION_CALL", "end_turn"),
    ("OTHER", "end_turn"), ("FINISH_REASON_UNSPECIFIED", "end_turn"),
])
def test_it_maps_finish_reasons(finish, reason):
    body = {"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": finish}]}
    assert gemini.parse_response(body).stop_reason == reason


def test_it_reads_a_blocked_prompt_as_filtered_with_no_parts():
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
            "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    response = gemini.parse_response(body)
    assert (response.parts, response.stop_reason, response.usage.prompt_tokens) == ([], "content_filter", 8)


def test_it_generates_an_id_when_gemini_sends_none():
    body = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f"}}]},
                            "finishReason": "STOP"}]}
    response = gemini.parse_response(body)
    assert response.id and response.parts[0].id == f"call_{response.id}_0"
    assert response.parts[0].arguments == "{}"


def test_it_builds_a_response_the_sdk_reads():
    request = chat(Message("user", [Text("x")]), model="my-alias")
    response = ChatResponse(
        id="r-1", model="upstream", stop_reason="tool_use",
        parts=[Thinking("plan", ""), Text("Calling."), Thinking(signature=SIG), ToolCall("t1", "f", '{"a": [1, 2]}'),
               ToolCall("t2", "g", "not json")],
        usage=Usage(prompt_tokens=10, completion_tokens=25, cached_tokens=4, reasoning_tokens=15),
    )
    body = gemini.build_response(response, request)
    assert body == {
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "plan", "thought": True},
                {"text": "Calling."},
                {"functionCall": {"id": "t1", "name": "f", "args": {"a": [1, 2]}}, "thoughtSignature": SIG},
                {"functionCall": {"id": "t2", "name": "g", "args": {}}},
            ]},
            "finishReason": "STOP", "index": 0,
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 35,
                          "thoughtsTokenCount": 15, "cachedContentTokenCount": 4},
        "modelVersion": "my-alias", "responseId": "r-1",
    }
    sdk = gt.GenerateContentResponse.model_validate(body)
    assert sdk.text == "Calling."
    assert [call.args for call in sdk.function_calls] == [{"a": [1, 2]}, {}]
    assert sdk.usage_metadata.thoughts_token_count == 15


@pytest.mark.parametrize("reason, finish", [
    ("end_turn", "STOP"), ("stop_sequence", "STOP"), ("max_tokens", "MAX_TOKENS"),
    ("content_filter", "SAFETY"), ("error", "OTHER"),
])
def test_it_builds_finish_reasons(reason, finish):
    response = ChatResponse("r", "m", [Text("x")], reason)
    assert gemini.build_response(response, chat())["candidates"][0]["finishReason"] == finish


def test_it_round_trips_a_response():
    parsed = gemini.parse_response(RESPONSE)
    rebuilt = gemini.build_response(parsed, chat(model="gemini-2.5-flash-001"))
    again = gemini.parse_response(rebuilt)
    assert again == parsed


def test_it_serves_the_sdk_a_whole_response():
    response = ChatResponse("r-9", "m", [Text("Bonjour 🌍")], usage=Usage(3, 4))
    body = gemini.build_response(response, chat(model="alias"))
    client = sdk_client(lambda request: httpx.Response(200, json=body))
    result = client.models.generate_content(model="alias", contents="hi")
    assert result.text == "Bonjour 🌍"
    assert result.response_id == "r-9"
    assert result.usage_metadata.total_token_count == 7


# --- StreamDecoder -----------------------------------------------------------------------------

def sse_fixture(*chunks):
    return b"".join(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\r\n\r\n" for chunk in chunks)


def chunk(parts, *, finish=None, usage=None):
    candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body = {"candidates": [candidate]}
    if usage:
        body["usageMetadata"] = usage
    return body | {"modelVersion": "gemini-2.5-flash", "responseId": "Xl0taMn8Mf6j1dkP4rrpkAQ"}


# Shaped like a recorded gemini-2.5-flash stream with includeThoughts and one tool call.
RECORDED = [
    chunk([{"text": "**Checking the weather**\n\nThe user wants Paris {\"quoted\"} \\ data.", "thought": True}],
          usage={"promptTokenCount": 61, "totalTokenCount": 61, "thoughtsTokenCount": 44}),
    chunk([{"text": "Je vérifie la météo à Paris 🌦️…"}],
          usage={"promptTokenCount": 61, "candidatesTokenCount": 9, "totalTokenCount": 114, "thoughtsTokenCount": 44}),
    chunk([{"functionCall": {"name": "get_weather", "args": {"city": "Paris", "units": "°C"}}, "thoughtSignature": SIG}],
          usage={"promptTokenCount": 61, "candidatesTokenCount": 24, "totalTokenCount": 129, "thoughtsTokenCount": 44}),
    chunk([{"text": ""}], finish="STOP",
          usage={"promptTokenCount": 61, "candidatesTokenCount": 24, "totalTokenCount": 129, "thoughtsTokenCount": 44,
                 "cachedContentTokenCount": 32}),
]

RECORDED_EVENTS = [
    Start("Xl0taMn8Mf6j1dkP4rrpkAQ", "gemini-2.5-flash"),
    ThinkingDelta("**Checking the weather**\n\nThe user wants Paris {\"quoted\"} \\ data."),
    UsageUpdate(Usage(61, 44, 0, 0, 44)),
    TextDelta("Je vérifie la météo à Paris 🌦️…"),
    UsageUpdate(Usage(61, 53, 0, 0, 44)),
    ThinkingDelta(signature=SIG),
    ToolCallStart(0, "call_Xl0taMn8Mf6j1dkP4rrpkAQ_0", "get_weather"),
    ToolCallDelta(0, '{"city":"Paris","units":"°C"}'),
    UsageUpdate(Usage(61, 68, 0, 0, 44)),
    UsageUpdate(Usage(61, 68, 32, 0, 44)),
    Finish("tool_use"),
]


def decode_all(data, cut=None, **kwargs):
    decoder = StreamDecoder(**kwargs)
    pieces = [data] if cut is None else [data[:cut], data[cut:]]
    events = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def test_it_decodes_a_recorded_sse_stream():
    assert decode_all(sse_fixture(*RECORDED)) == RECORDED_EVENTS


def test_it_decodes_the_same_events_whatever_byte_the_stream_is_split_at():
    data = sse_fixture(*RECORDED)
    for cut in range(len(data) + 1):
        assert decode_all(data, cut) == RECORDED_EVENTS, cut


def test_it_decodes_a_stream_fed_one_byte_at_a_time():
    data = sse_fixture(*RECORDED)
    decoder = StreamDecoder()
    events = [event for index in range(len(data)) for event in decoder.feed(data[index:index + 1])]
    assert events + decoder.close() == RECORDED_EVENTS


def json_array_fixture(*chunks):
    # How streamGenerateContent without alt=sse writes: pretty objects, ",\r\n" between them.
    return b"[" + b"\n,\r\n".join(json.dumps(c, indent=2, ensure_ascii=False).encode() for c in chunks) + b"\n]"


def test_it_decodes_the_json_array_stream_split_at_every_byte():
    data = json_array_fixture(*RECORDED)
    assert decode_all(data, json_array=True) == RECORDED_EVENTS
    for cut in range(len(data) + 1):
        assert decode_all(data, cut, json_array=True) == RECORDED_EVENTS, cut


def test_it_decodes_the_json_array_one_byte_at_a_time():
    data = json_array_fixture(*RECORDED)
    decoder = StreamDecoder(json_array=True)
    events = [event for index in range(len(data)) for event in decoder.feed(data[index:index + 1])]
    assert events + decoder.close() == RECORDED_EVENTS


def test_it_splits_json_array_objects_with_escapes_at_chunk_edges():
    texts = ['a\\"}{', "\\\\", '"', "}", "{", "\\u00e9"]
    data = b"[" + b",".join(orjson.dumps(chunk([{"text": text}])) for text in texts) + b"]"
    expected = [TextDelta(text) for text in texts]
    for cut in range(len(data) + 1):
        events = decode_all(data, cut, json_array=True)
        assert [e for e in events if isinstance(e, TextDelta)] == expected, cut


def test_it_finishes_with_end_turn_and_emits_finish_once():
    data = sse_fixture(chunk([{"text": "hi"}], finish="STOP"), chunk([{"text": ""}], finish="STOP"))
    finishes = [event for event in decode_all(data) if isinstance(event, Finish)]
    assert finishes == [Finish("end_turn")]


def test_it_reads_text_signatures_and_max_tokens():
    data = sse_fixture(
        chunk([{"text": "Think", "thought": True}, {"text": "Answer", "thoughtSignature": "S"}]),
        chunk([{"text": "", "thoughtSignature": "S2"}], finish="MAX_TOKENS"),
    )
    assert decode_all(data)[1:] == [
        ThinkingDelta("Think"), ThinkingDelta(signature="S"), TextDelta("Answer"),
        ThinkingDelta(signature="S2"), Finish("max_tokens"),
    ]


def test_it_gives_calls_sequential_indexes_and_keeps_their_ids():
    data = sse_fixture(
        chunk([{"functionCall": {"id": "a1", "name": "f", "args": {}}}, {"functionCall": {"name": "g", "args": {"x": 1}}}]),
        chunk([{"functionCall": {"name": "h"}}], finish="STOP"),
    )
    events = decode_all(data)
    assert [e for e in events if isinstance(e, (ToolCallStart, ToolCallDelta))] == [
        ToolCallStart(0, "a1", "f"), ToolCallDelta(0, "{}"),
        ToolCallStart(1, "call_Xl0taMn8Mf6j1dkP4rrpkAQ_1", "g"), ToolCallDelta(1, '{"x":1}'),
        ToolCallStart(2, "call_Xl0taMn8Mf6j1dkP4rrpkAQ_2", "h"), ToolCallDelta(2, "{}"),
    ]


def test_it_reads_a_blocked_prompt_in_a_stream():
    data = sse_fixture({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "responseId": "r"})
    assert decode_all(data) == [Start("r", ""), UsageUpdate(Usage(5)), Finish("content_filter")]


def test_it_reads_errors_in_a_stream():
    data = sse_fixture(chunk([{"text": "partial"}]),
                       {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}})
    assert decode_all(data)[-1] == StreamError("rate_limit", "Resource exhausted")
    array = b'[{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]'
    assert decode_all(array, json_array=True) == [StreamError("server_error", "overloaded")]
    assert decode_all(b"data: not json\n\n") == [StreamError("server_error", "the upstream sent a stream chunk that is not a JSON object")]


def test_it_decodes_an_sse_stream_without_a_final_blank_line():
    data = b'data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"responseId":"r"}'
    assert decode_all(data) == [Start("r", ""), TextDelta("x"), Finish("end_turn")]


# --- StreamEncoder -----------------------------------------------------------------------------

STREAM_EVENTS = [
    Start("up-1", "gemini-2.5-flash"),
    ThinkingDelta("Thinking about "), ThinkingDelta("Paris", "SIGA"),
    TextDelta("Voilà "), TextDelta("🌍"),
    ThinkingDelta(signature=SIG),
    ToolCallStart(0, "call_a", "weather"), ToolCallDelta(0, '{"ci'), ToolCallDelta(0, 'ty": "Paris"}'),
    ToolCallStart(1, "call_b", "clock"),
    UsageUpdate(Usage(10, 5)), UsageUpdate(Usage(12, 30, cached_tokens=2, reasoning_tokens=8)),
    Finish("tool_use"),
]


def encode_all(events, **kwargs):
    encoder = StreamEncoder(chat(model="alias"), "resp-1", 1700000000, **kwargs)
    return b"".join(encoder.encode(event) for event in events) + encoder.end()


def test_it_encodes_sse_chunks_with_whole_function_calls():
    data = encode_all(STREAM_EVENTS)
    chunks = [orjson.loads(line[6:]) for line in data.split(b"\n\n") if line]
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [
        [{"text": "Thinking about ", "thought": True}],
        [{"text": "Paris", "thought": True, "thoughtSignature": "SIGA"}],
        [{"text": "Voilà "}],
        [{"text": "🌍"}],
        [{"functionCall": {"id": "call_a", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG}],
        [{"functionCall": {"id": "call_b", "name": "clock", "args": {}}}],
        [{"text": ""}],
    ]
    assert all(c["modelVersion"] == "alias" and c["responseId"] == "resp-1" for c in chunks)
    assert [c["candidates"][0].get("finishReason") for c in chunks] == [None] * 6 + ["STOP"]
    assert chunks[-1]["usageMetadata"] == {"promptTokenCount": 12, "candidatesTokenCount": 22, "totalTokenCount": 42,
                                           "thoughtsTokenCount": 8, "cachedContentTokenCount": 2}
    for c in chunks:
        gt.GenerateContentResponse.model_validate(c)


def test_it_decodes_its_own_sse_output():
    events = decode_all(encode_all(STREAM_EVENTS))
    assert events == [
        Start("resp-1", "alias"),
        ThinkingDelta("Thinking about "), ThinkingDelta("Paris", "SIGA"),
        TextDelta("Voilà "), TextDelta("🌍"),
        ThinkingDelta(signature=SIG), ToolCallStart(0, "call_a", "weather"), ToolCallDelta(0, '{"city":"Paris"}'),
        ToolCallStart(1, "call_b", "clock"), ToolCallDelta(1, "{}"),
        UsageUpdate(Usage(12, 30, cached_tokens=2, reasoning_tokens=8)), Finish("tool_use"),
    ]


def test_it_encodes_the_json_array_form_and_decodes_it_back():
    data = encode_all(STREAM_EVENTS, sse=False)
    assert data.startswith(b'[{"candidates"') and data.endswith(b"}]")
    assert data.count(b",\r\n") == 6
    parsed = json.loads(data)
    assert len(parsed) == 7
    assert decode_all(data, json_array=True) == decode_all(encode_all(STREAM_EVENTS))


def test_it_ends_an_empty_stream_with_one_chunk():
    parsed = json.loads(encode_all([], sse=False))
    assert parsed == [{"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP",
                                       "index": 0}], "modelVersion": "alias", "responseId": "resp-1"}]


def test_it_maps_finish_reasons_into_the_last_chunk():
    data = encode_all([TextDelta("x"), Finish("max_tokens")], sse=False)
    assert json.loads(data)[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_it_puts_a_trailing_signature_on_the_last_chunk():
    data = encode_all([TextDelta("x"), ThinkingDelta(signature=SIG), Finish("end_turn")], sse=False)
    assert json.loads(data)[-1]["candidates"][0]["content"]["parts"] == [{"text": "", "thoughtSignature": SIG}]


def test_it_fails_a_stream_in_both_forms():
    encoder = StreamEncoder(chat(model="alias"), "r", 0)
    assert encoder.fail("rate_limit", "slow down") == b'data: {"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}\n\n'
    assert encoder.encode(TextDelta("late")) == b"" and encoder.end() == b""

    encoder = StreamEncoder(chat(model="alias"), "r", 0, sse=False)
    assert json.loads(encoder.fail("server_error", "boom")) == [{"error": {"code": 500, "message": "boom", "status": "INTERNAL"}}]

    encoder = StreamEncoder(chat(model="alias"), "r", 0, sse=False)
    data = encoder.encode(TextDelta("hi")) + encoder.fail("timeout", "too slow")
    parsed = json.loads(data)
    assert parsed[-1] == {"error": {"code": 504, "message": "too slow", "status": "DEADLINE_EXCEEDED"}}
    assert decode_all(data, json_array=True)[-1] == StreamError("timeout", "too slow")


def test_it_encodes_an_upstream_stream_error_as_a_failure():
    encoder = StreamEncoder(chat(model="alias"), "r", 0)
    assert b'"status":"UNAUTHENTICATED"' in encoder.encode(StreamError("auth", "bad key"))
    assert encoder.end() == b""


def sse_response(body):
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def test_it_streams_to_the_sdk():
    body = encode_all(STREAM_EVENTS)
    client = sdk_client(lambda request: sse_response(body))
    chunks = list(client.models.generate_content_stream(model="alias", contents="hi"))
    text = "".join(part.text for c in chunks for part in c.candidates[0].content.parts
                   if part.text and not part.thought)
    assert text == "Voilà 🌍"
    calls = [call for c in chunks for call in c.function_calls or []]
    assert [(call.name, call.args) for call in calls] == [("weather", {"city": "Paris"}), ("clock", {})]
    assert chunks[-1].candidates[0].finish_reason == gt.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 42


def test_it_fails_a_stream_the_sdk_reports():
    encoder = StreamEncoder(chat(model="alias"), "r", 0)
    body = encoder.encode(TextDelta("partial")) + encoder.fail("rate_limit", "quota")
    client = sdk_client(lambda request: sse_response(body))
    with pytest.raises(genai_errors.APIError) as caught:
        list(client.models.generate_content_stream(model="alias", contents="hi"))
    assert caught.value.code == 429


# --- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, error_type, google", [
    (400, "invalid_request", "INVALID_ARGUMENT"), (401, "auth", "UNAUTHENTICATED"), (403, "auth", "PERMISSION_DENIED"),
    (404, "unknown_model", "NOT_FOUND"), (429, "rate_limit", "RESOURCE_EXHAUSTED"), (500, "server_error", "INTERNAL"),
    (502, "network", "UNAVAILABLE"), (503, "server_error", "UNAVAILABLE"), (504, "timeout", "DEADLINE_EXCEEDED"),
    (418, "rate_limit", "RESOURCE_EXHAUSTED"),
])
def test_it_builds_errors_with_google_statuses(status, error_type, google):
    body = gemini.build_error(status, error_type, "nope", "req-1")
    assert body == {"error": {"code": status, "message": "nope", "status": google, "details": [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error_type.upper(), "domain": "gateway",
        "metadata": {"request_id": "req-1"}}]}}


def test_it_names_the_offending_field_in_an_error():
    body = gemini.build_error(400, "invalid_request", "contents must be a non-empty list", "req-2", "contents")
    assert body["error"]["details"][1] == {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
        {"field": "contents", "description": "contents must be a non-empty list"}]}


def test_the_sdk_reads_our_errors():
    body = gemini.build_error(429, "rate_limit", "slow down", "req-3")
    client = sdk_client(lambda request: httpx.Response(429, json=body))
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="m", contents="hi")
    assert (caught.value.code, caught.value.status, caught.value.message) == (429, "RESOURCE_EXHAUSTED", "slow down")


QUOTA_ERROR = orjson.dumps({"error": {
    "code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
    "details": [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "x"}]},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"},
    ],
}})


def test_it_parses_upstream_errors():
    assert gemini.parse_error(429, QUOTA_ERROR) == "You exceeded your current quota."
    assert gemini.parse_error(503, b'[{"error": {"code": 503, "message": "overloaded"}}]') == "overloaded"
    assert gemini.parse_error(502, b"<html>Bad gateway</html>") == "<html>Bad gateway</html>"
    assert gemini.parse_error(500, b"") == "HTTP 500"


@pytest.mark.parametrize("body, delay", [
    (QUOTA_ERROR, 12.0),
    (b'{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]}}', 1.5),
    (b'{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "soon"}]}}', None),
    (b'{"error": {"code": 429, "message": "x"}}', None),
    (b"not json", None), (b"[]", None),
])
def test_it_reads_the_retry_delay(body, delay):
    assert gemini.retry_delay_seconds(body) == delay


# --- countTokens, embeddings, models ---------------------------------------------------------------

def test_it_parses_count_tokens_requests_in_both_forms():
    assert gemini.parse_count_tokens_request({"contents": [user("a")]}, model="m").messages == [
        Message("user", [Text("a")])]
    request = gemini.parse_count_tokens_request({"generateContentRequest": {
        "model": "models/m", "contents": [user("b")], "systemInstruction": {"parts": [{"text": "s"}]}}}, model="m")
    assert (request.messages, request.system, request.stream) == ([Message("user", [Text("b")])], [Text("s")], False)


def test_it_builds_count_tokens_bodies():
    bare = chat(Message("user", [Text("a")]))
    assert gemini.build_count_tokens_request(bare, "gemini-2.5-flash") == {"contents": [{"role": "user", "parts": [{"text": "a"}]}]}
    with_system = chat(Message("user", [Text("a")]), system=[Text("s")])
    assert gemini.build_count_tokens_request(with_system, "gemini-2.5-flash") == {"generateContentRequest": {
        "model": "models/gemini-2.5-flash", "contents": [{"role": "user", "parts": [{"text": "a"}]}],
        "systemInstruction": {"parts": [{"text": "s"}]}}}
    assert gemini.build_count_tokens_response(42) == {"totalTokens": 42}
    assert gemini.parse_count_tokens_response({"totalTokens": 42}) == 42


def test_the_sdk_counts_tokens_through_us():
    captured = {}

    def handler(request):
        captured["body"] = json.loads(request.content)
        return httpx.Response(200, json=gemini.build_count_tokens_response(7))

    result = sdk_client(handler).models.count_tokens(model="alias", contents="hello")
    assert result.total_tokens == 7
    assert gemini.parse_count_tokens_request(captured["body"], model="alias").messages == [Message("user", [Text("hello")])]


def test_it_parses_embedding_requests():
    single = {"content": {"parts": [{"text": "a"}, {"text": "b"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8}
    assert gemini.parse_embedding_request(single, model="models/e", batch=False) == EmbeddingRequest(
        "e", ["a\nb"], 8, "RETRIEVAL_QUERY")
    batch = {"requests": [{"model": "models/e", "content": {"parts": [{"text": t}]}, "task_type": "CLUSTERING"}
                          for t in ("x", "y")]}
    assert gemini.parse_embedding_request(batch, model="e", batch=True) == EmbeddingRequest("e", ["x", "y"], None, "CLUSTERING")


@pytest.mark.parametrize("body, batch, error", [
    ({}, False, BadRequest), ({"requests": []}, True, BadRequest),
    ({"content": {"parts": [{"inlineData": {}}]}}, False, Unsupported),
    ({"requests": [{"content": {"parts": [{"text": "a"}]}, "taskType": "A"},
                   {"content": {"parts": [{"text": "b"}]}, "taskType": "B"}]}, True, Unsupported),
])
def test_it_refuses_bad_embedding_requests(body, batch, error):
    with pytest.raises(error):
        gemini.parse_embedding_request(body, model="e", batch=batch)


def test_it_builds_and_parses_embeddings_in_both_shapes():
    request = EmbeddingRequest("e", ["x", "y"], 4, "RETRIEVAL_DOCUMENT")
    assert gemini.build_embedding_request(request, "text-embedding-004") == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "x"}]},
         "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 4},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "y"}]},
         "taskType": "RETRIEVAL_DOCUMENT", "outputDimensionality": 4},
    ]}
    assert gemini.build_embedding_request(EmbeddingRequest("e", ["z"]), "m") == {
        "requests": [{"model": "models/m", "content": {"parts": [{"text": "z"}]}}]}
    response = EmbeddingResponse("e", [[0.1, 0.2], [0.3, 0.4]])
    assert gemini.build_embedding_response(response, request, batch=True) == {
        "embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}
    assert gemini.build_embedding_response(response, request, batch=False) == {"embedding": {"values": [0.1, 0.2]}}
    assert gemini.parse_embedding_response({"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}).vectors == [[1.0], [2.0]]
    assert gemini.parse_embedding_response({"embedding": {"values": [3.0]}}).vectors == [[3.0]]


def test_the_sdk_embeds_through_us():
    captured = {}

    def handler(request):
        captured["body"] = json.loads(request.content)
        request_ = gemini.parse_embedding_request(captured["body"], model="e", batch=True)
        vectors = [[float(len(text))] for text in request_.inputs]
        return httpx.Response(200, json=gemini.build_embedding_response(EmbeddingResponse("e", vectors), request_, batch=True))

    result = sdk_client(handler).models.embed_content(
        model="e", contents=["ab", "abc"], config=gt.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=1))
    assert [embedding.values for embedding in result.embeddings] == [[2.0], [3.0]]


def test_it_lists_models_the_sdk_reads():
    assert gemini.build_model("models/gemini-2.5-pro") == {
        "name": "models/gemini-2.5-pro", "baseModelId": "gemini-2.5-pro", "displayName": "gemini-2.5-pro",
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]}
    body = gemini.build_model_list(["a", "b"])
    client = sdk_client(lambda request: httpx.Response(200, json=body))
    models = list(client.models.list())
    assert [model.name for model in models] == ["models/a", "models/b"]
    assert models[0].supported_actions == ["generateContent", "streamGenerateContent", "countTokens"]
