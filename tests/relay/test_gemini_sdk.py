"""The official google-genai SDK against every provider type, through the gateway's Gemini endpoints."""

import pytest
from google.genai import types

from tests.fakes import Reply, Usage
from tests.fakes.protocols import signature
from tests.relay.wire import (
    PROVIDERS, TIME_ARGS, TINY_PNG, TINY_PNG_B64, UPSTREAMS, UTF8, WEATHER_ARGS, script, script_weather_call, sent,
)

WEATHER = types.FunctionDeclaration(
    name="get_weather", description="The weather in a city",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
)
TIME = types.FunctionDeclaration(
    name="get_time",
    parameters=types.Schema(type="OBJECT", properties={"zone": types.Schema(type="STRING")}, required=["zone"]),
)


def config(**options) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(**options)


def tools(*declarations) -> types.GenerateContentConfig:
    return config(tools=[types.Tool(function_declarations=list(declarations))])


def generate(ge, model, contents, stream, options=None) -> list:
    """The response chunks: one for generate_content, several for generate_content_stream."""
    if stream:
        return list(ge.models.generate_content_stream(model=model, contents=contents, config=options))
    return [ge.models.generate_content(model=model, contents=contents, config=options)]


def text_of(chunks) -> str:
    return "".join(part.text or "" for chunk in chunks for part in chunk.candidates[0].content.parts or []
                   if not part.thought)


def calls_of(chunks) -> list:
    return [(call.name, call.args) for chunk in chunks for call in chunk.function_calls or []]


def finish_of(chunks):
    return [chunk.candidates[0].finish_reason for chunk in chunks if chunk.candidates[0].finish_reason]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_text(gw, ge, provider, stream):
    chunks = generate(ge, gw.model(provider), UTF8, stream, config(system_instruction="Answer briefly."))
    assert text_of(chunks).endswith(UTF8)
    assert finish_of(chunks) == [types.FinishReason.STOP]
    usage = chunks[-1].usage_metadata
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert chunks[-1].model_version == gw.model(provider)


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_sends_the_system_prompt_and_history_in_the_upstream_shape(gw, ge, provider):
    contents = [types.Content(role="user", parts=[types.Part(text="first")]),
                types.Content(role="model", parts=[types.Part(text="an answer")]),
                types.Content(role="user", parts=[types.Part(text=UTF8)])]
    reply = ge.models.generate_content(model=gw.model(provider), contents=contents,
                                       config=config(system_instruction="Be terse."))
    assert reply.text == f"echo: {UTF8}"
    wire, body = sent(gw, provider)
    assert wire.system(body) == "Be terse."
    assert wire.turns(body) == [("user", "first"), ("assistant", "an answer"), ("user", UTF8)]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_sampling_parameters(gw, ge, provider):
    options = config(temperature=0.25, top_p=0.5, max_output_tokens=77, stop_sequences=["END"])
    ge.models.generate_content(model=gw.model(provider), contents=UTF8, config=options)
    wire, body = sent(gw, provider)
    assert wire.sampling(body) == {"temperature": 0.25, "top_p": 0.5, "max_tokens": 77, "stop": ["END"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_returns_a_tool_call(gw, ge, provider, stream):
    expected = script_weather_call(gw, provider)
    chunks = generate(ge, gw.model(provider), "weather?", stream, tools(WEATHER))
    assert calls_of(chunks) == [("get_weather", expected)]
    assert finish_of(chunks) == [types.FinishReason.STOP]
    if provider != "mock":
        wire, body = sent(gw, provider)
        assert wire.tool_names(body) == ["get_weather"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_returns_parallel_tool_calls(gw, ge, provider, stream):
    gw.upstream.script(Reply.tool_call("get_weather", WEATHER_ARGS, ("get_time", TIME_ARGS)))
    chunks = generate(ge, gw.model(provider), "both?", stream, tools(WEATHER, TIME))
    assert calls_of(chunks) == [("get_weather", WEATHER_ARGS), ("get_time", TIME_ARGS)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_a_tool_result(gw, ge, provider):
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args=WEATHER_ARGS)]),
        types.Content(role="user", parts=[types.Part.from_function_response(name="get_weather",
                                                                            response={"result": "sunny ☀"})]),
    ]
    reply = ge.models.generate_content(model=gw.model(provider), contents=contents, config=tools(WEATHER))
    if provider == "mock":
        assert reply.text == "Mock answer to: sunny ☀"
        return
    wire, body = sent(gw, provider)
    (call_id, name), = wire.tool_calls(body)
    assert name == "get_weather"
    assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_relays_an_image(gw, ge, provider):
    contents = [types.Part.from_bytes(data=TINY_PNG, mime_type="image/png"), "what is this?"]
    ge.models.generate_content(model=gw.model(provider), contents=contents)
    wire, body = sent(gw, provider)
    assert wire.images(body) == [("image/png", TINY_PNG_B64)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_maps_a_max_tokens_stop(gw, ge, provider, stream):
    script(gw, provider, Reply.text("cut sh", finish="length"))
    chunks = generate(ge, gw.model(provider), "a long story", stream, config(max_output_tokens=2))
    assert finish_of(chunks) == [types.FinishReason.MAX_TOKENS]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_reports_usage_with_cached_and_thought_tokens(gw, ge, provider, stream):
    gw.upstream.script(Reply.text("fine", usage=Usage(prompt=100, completion=20, cached=40, reasoning=8)))
    usage = generate(ge, gw.model(provider), UTF8, stream)[-1].usage_metadata
    assert (usage.prompt_token_count, usage.total_token_count, usage.cached_content_token_count) == (100, 120, 40)
    if provider != "anthropic":  # Anthropic does not count thinking tokens apart
        assert (usage.candidates_token_count, usage.thoughts_token_count) == (12, 8)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_thoughts(gw, ge, provider, stream):
    script(gw, provider, Reply.thinking("Let me think… 🤔", answer="42"))
    options = config(thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024))
    chunks = generate(ge, gw.model(provider), "meaning of life?", stream, options)
    thoughts = "".join(p.text or "" for c in chunks for p in c.candidates[0].content.parts or [] if p.thought)
    assert thoughts == ("The mock thinks briefly." if provider == "mock" else "Let me think… 🤔")
    assert text_of(chunks) == ("Mock answer to: meaning of life?" if provider == "mock" else "42")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_completes_a_tool_loop_with_the_sdks_own_objects(gw, ge, provider):
    script_weather_call(gw, provider)
    contents = [types.Content(role="user", parts=[types.Part(text="weather?")])]
    first = ge.models.generate_content(model=gw.model(provider), contents=contents, config=tools(WEATHER))
    results = [types.Part.from_function_response(name=call.name, response={"result": "sunny ☀"})
               for call in first.function_calls]
    contents += [first.candidates[0].content, types.Content(role="user", parts=results)]
    reply = ge.models.generate_content(model=gw.model(provider), contents=contents, config=tools(WEATHER))
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    if provider != "mock":
        wire, body = sent(gw, provider)
        (call_id, name), = wire.tool_calls(body)
        assert name == "get_weather"
        assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_thoughts_go_back_upstream_with_their_signature(gw, ge, provider):
    gw.upstream.script(Reply.thinking("Let me think… 🤔", answer="42"))
    options = config(thinking_config=types.ThinkingConfig(include_thoughts=True, thinking_budget=1024))
    first = ge.models.generate_content(model=gw.model(provider), contents="why?", config=options)
    contents = [types.Content(role="user", parts=[types.Part(text="why?")]), first.candidates[0].content,
                types.Content(role="user", parts=[types.Part(text="and then?")])]
    ge.models.generate_content(model=gw.model(provider), contents=contents, config=options)
    wire, body = sent(gw, provider)
    assert wire.turns(body) == [("user", "why?"), ("assistant", "42"), ("user", "and then?")]
    signed = provider in ("anthropic", "gemini", "antigravity")  # Chat Completions cannot carry them
    assert wire.thoughts(body) == (["Let me think… 🤔"] if signed else [])
    assert wire.signatures(body) == ([signature(1)] if signed else [])


@pytest.mark.parametrize("mode, names, expected", [
    ("ANY", ["get_time"], ("tool", "get_time")), ("ANY", None, ("required", "")), ("NONE", None, ("none", "")),
], ids=["named", "any", "none"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_the_tool_choice(gw, ge, provider, mode, names, expected):
    calling = types.FunctionCallingConfig(mode=mode, allowed_function_names=names)
    options = config(tools=[types.Tool(function_declarations=[WEATHER, TIME])],
                     tool_config=types.ToolConfig(function_calling_config=calling))
    ge.models.generate_content(model=gw.model(provider), contents=UTF8, config=options)
    wire, body = sent(gw, provider)
    assert wire.tool_choice(body) == expected
