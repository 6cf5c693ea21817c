"""The official Anthropic SDK against every provider type, through the gateway's Messages endpoint."""

import pytest

from tests.fakes import Reply, Usage
from tests.fakes.protocols import signature
from tests.relay.wire import (
    PROVIDERS, TIME_ARGS, TINY_PNG_B64, UPSTREAMS, UTF8, WEATHER_ARGS, script, script_weather_call, sent,
)

WEATHER = {"name": "get_weather", "description": "The weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}},
                                             "required": ["zone"]}}


def ask(text=UTF8):
    return [{"role": "user", "content": text}]


def text_of(message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_text(gw, an, provider, stream):
    options = {"model": gw.model(provider), "max_tokens": 256, "system": "Answer briefly.", "messages": ask()}
    if stream:
        with an.messages.stream(**options) as events:
            streamed = "".join(events.text_stream)
            message = events.get_final_message()
        assert streamed == text_of(message)
    else:
        message = an.messages.create(**options)
    assert text_of(message).endswith(UTF8)
    assert message.stop_reason == "end_turn"
    assert message.model == gw.model(provider) and message.id.startswith("msg_")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_sends_the_system_prompt_and_history_in_the_upstream_shape(gw, an, provider):
    messages = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": [{"type": "text", "text": UTF8}]}]
    message = an.messages.create(model=gw.model(provider), max_tokens=64, system="Be terse.", messages=messages)
    assert text_of(message) == f"echo: {UTF8}"
    wire, body = sent(gw, provider)
    assert wire.system(body) == "Be terse."
    assert wire.turns(body) == [("user", "first"), ("assistant", "an answer"), ("user", UTF8)]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_sampling_parameters(gw, an, provider):
    # This SDK version has no temperature or top_p arguments; the API still takes them.
    an.messages.create(model=gw.model(provider), max_tokens=77, messages=ask(), stop_sequences=["END"],
                       extra_body={"temperature": 0.25, "top_p": 0.5})
    wire, body = sent(gw, provider)
    assert wire.sampling(body) == {"temperature": 0.25, "top_p": 0.5, "max_tokens": 77, "stop": ["END"]}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_returns_a_tool_call(gw, an, provider, stream):
    expected = script_weather_call(gw, provider)
    options = {"model": gw.model(provider), "max_tokens": 256, "messages": ask("weather?"), "tools": [WEATHER]}
    if stream:
        with an.messages.stream(**options) as events:
            message = events.get_final_message()
    else:
        message = an.messages.create(**options)
    assert message.stop_reason == "tool_use"
    (call,) = [block for block in message.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.id
    assert call.input == expected


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_returns_parallel_tool_calls(gw, an, provider, stream):
    gw.upstream.script(Reply.tool_call("get_weather", WEATHER_ARGS, ("get_time", TIME_ARGS)))
    options = {"model": gw.model(provider), "max_tokens": 256, "messages": ask("both?"), "tools": [WEATHER, TIME]}
    if stream:
        with an.messages.stream(**options) as events:
            message = events.get_final_message()
    else:
        message = an.messages.create(**options)
    calls = [(block.name, block.input) for block in message.content if block.type == "tool_use"]
    assert calls == [("get_weather", WEATHER_ARGS), ("get_time", TIME_ARGS)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_a_tool_result(gw, an, provider):
    messages = ask("weather?") + [
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Zürich"}},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny ☀"}]},
    ]
    message = an.messages.create(model=gw.model(provider), max_tokens=64, messages=messages, tools=[WEATHER])
    assert message.stop_reason == "end_turn"
    if provider == "mock":
        assert text_of(message) == "Mock answer to: sunny ☀"
        return
    wire, body = sent(gw, provider)
    (call_id, name), = wire.tool_calls(body)
    assert name == "get_weather"
    assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_relays_an_image(gw, an, provider):
    content = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": TINY_PNG_B64}},
               {"type": "text", "text": "what is this?"}]
    an.messages.create(model=gw.model(provider), max_tokens=64, messages=[{"role": "user", "content": content}])
    wire, body = sent(gw, provider)
    assert wire.images(body) == [("image/png", TINY_PNG_B64)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_maps_a_max_tokens_stop(gw, an, provider, stream):
    script(gw, provider, Reply.text("cut sh", finish="length"))
    options = {"model": gw.model(provider), "max_tokens": 2, "messages": ask("a long story")}
    if stream:
        with an.messages.stream(**options) as events:
            message = events.get_final_message()
    else:
        message = an.messages.create(**options)
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_reports_usage_with_cache_reads(gw, an, provider, stream):
    gw.upstream.script(Reply.text("fine", usage=Usage(prompt=100, completion=20, cached=40)))
    options = {"model": gw.model(provider), "max_tokens": 64, "messages": ask()}
    if stream:
        with an.messages.stream(**options) as events:
            usage = events.get_final_message().usage
    else:
        usage = an.messages.create(**options).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (60, 40, 20)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_thinking(gw, an, provider, stream):
    script(gw, provider, Reply.thinking("Let me think… 🤔", answer="42"))
    options = {"model": gw.model(provider), "max_tokens": 2048, "messages": ask("meaning of life?"),
               "thinking": {"type": "enabled", "budget_tokens": 1024}}
    if stream:
        with an.messages.stream(**options) as events:
            message = events.get_final_message()
    else:
        message = an.messages.create(**options)
    (thinking,) = [block for block in message.content if block.type == "thinking"]
    assert thinking.thinking == ("The mock thinks briefly." if provider == "mock" else "Let me think… 🤔")
    assert message.content[0].type == "thinking"
    assert text_of(message) == ("42" if provider != "mock" else "Mock answer to: meaning of life?")
    if provider == "anthropic":
        assert thinking.signature  # Anthropic's own signature travels back to the client


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_completes_a_tool_loop_with_the_sdks_own_objects(gw, an, provider):
    script_weather_call(gw, provider)
    options = {"model": gw.model(provider), "max_tokens": 256, "tools": [WEATHER]}
    first = an.messages.create(**options, messages=ask("weather?"))
    results = [{"type": "tool_result", "tool_use_id": block.id, "content": "sunny ☀"}
               for block in first.content if block.type == "tool_use"]
    messages = ask("weather?") + [{"role": "assistant", "content": first.content}, {"role": "user", "content": results}]
    assert an.messages.create(**options, messages=messages).stop_reason == "end_turn"
    if provider != "mock":
        wire, body = sent(gw, provider)
        (call_id, name), = wire.tool_calls(body)
        assert name == "get_weather"
        assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_thinking_goes_back_upstream_with_its_signature(gw, an, provider):
    gw.upstream.script(Reply.thinking("Let me think… 🤔", answer="42"))
    options = {"model": gw.model(provider), "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    first = an.messages.create(**options, messages=ask("why?"))
    history = ask("why?") + [{"role": "assistant", "content": first.content}] + ask("and then?")
    an.messages.create(**options, messages=history)
    wire, body = sent(gw, provider)
    assert wire.turns(body) == [("user", "why?"), ("assistant", "42"), ("user", "and then?")]
    signed = provider in ("anthropic", "gemini", "antigravity")  # Chat Completions cannot carry them
    assert wire.thoughts(body) == (["Let me think… 🤔"] if signed else [])
    assert wire.signatures(body) == ([signature(1)] if signed else [])


@pytest.mark.parametrize("choice, expected", [
    ({"type": "tool", "name": "get_time"}, ("tool", "get_time")), ({"type": "any"}, ("required", "")),
    ({"type": "none"}, ("none", "")),
], ids=["named", "any", "none"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_the_tool_choice(gw, an, provider, choice, expected):
    an.messages.create(model=gw.model(provider), max_tokens=64, messages=ask(), tools=[WEATHER, TIME],
                       tool_choice=choice)
    wire, body = sent(gw, provider)
    assert wire.tool_choice(body) == expected
