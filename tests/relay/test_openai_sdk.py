"""The official OpenAI SDK against every provider type, through the gateway's Chat Completions endpoint."""

import json

import pytest

from tests.fakes import Reply, Usage
from tests.relay.wire import (
    PROVIDERS, TIME_ARGS, TINY_PNG_B64, UPSTREAMS, UTF8, WEATHER_ARGS, script, script_weather_call, sent,
)

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}}
TIME = {"type": "function", "function": {
    "name": "get_time",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}}


def ask(text=UTF8, system="Answer briefly."):
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_text(gw, oa, provider):
    reply = oa.chat.completions.create(model=gw.model(provider), messages=ask())
    choice = reply.choices[0]
    assert choice.message.content.endswith(UTF8)
    assert choice.finish_reason == "stop"
    assert reply.model == gw.model(provider)
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_streams_text_without_usage_unless_asked(gw, oa, provider):
    chunks = list(oa.chat.completions.create(model=gw.model(provider), messages=ask(), stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith(UTF8)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(c.usage is None for c in chunks)
    if provider != "mock":
        wire, body = sent(gw, provider)
        assert wire.stream_usage_requested(body)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_streams_usage_when_asked(gw, oa, provider):
    script(gw, provider, Reply.text("fine", usage=(12, 7)))
    chunks = list(oa.chat.completions.create(model=gw.model(provider), messages=ask(), stream=True,
                                             stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    if provider != "mock":
        assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (12, 7)


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_sends_the_system_prompt_and_history_in_the_upstream_shape(gw, oa, provider):
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "first"},
                {"role": "assistant", "content": "an answer"}, {"role": "user", "content": UTF8}]
    reply = oa.chat.completions.create(model=gw.model(provider), messages=messages)
    assert reply.choices[0].message.content == f"echo: {UTF8}"
    wire, body = sent(gw, provider)
    assert wire.system(body) == "Be terse."
    assert wire.turns(body) == [("user", "first"), ("assistant", "an answer"), ("user", UTF8)]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_sampling_parameters(gw, oa, provider):
    oa.chat.completions.create(model=gw.model(provider), messages=ask(), temperature=0.25, top_p=0.5,
                               max_tokens=77, stop=["END"])
    wire, body = sent(gw, provider)
    assert wire.sampling(body) == {"temperature": 0.25, "top_p": 0.5, "max_tokens": 77, "stop": ["END"]}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_returns_a_tool_call(gw, oa, provider):
    expected = script_weather_call(gw, provider)
    reply = oa.chat.completions.create(model=gw.model(provider), messages=ask("weather?"), tools=[WEATHER])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    assert json.loads(call.function.arguments) == expected
    if provider != "mock":
        wire, body = sent(gw, provider)
        assert wire.tool_names(body) == ["get_weather"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_streams_a_tool_call(gw, oa, provider):
    expected = script_weather_call(gw, provider)
    with oa.chat.completions.stream(model=gw.model(provider), messages=ask("weather?"), tools=[WEATHER]) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    assert json.loads(call.function.arguments) == expected


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_returns_parallel_tool_calls(gw, oa, provider, stream):
    gw.upstream.script(Reply.tool_call("get_weather", WEATHER_ARGS, ("get_time", TIME_ARGS)))
    options = {"model": gw.model(provider), "messages": ask("weather and time?"), "tools": [WEATHER, TIME]}
    if stream:
        with oa.chat.completions.stream(**options) as events:
            message = events.get_final_completion().choices[0].message
    else:
        message = oa.chat.completions.create(**options).choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    assert calls == [("get_weather", WEATHER_ARGS), ("get_time", TIME_ARGS)]
    assert len({c.id for c in message.tool_calls}) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_a_tool_result(gw, oa, provider):
    messages = ask("weather?") + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny ☀"},
    ]
    reply = oa.chat.completions.create(model=gw.model(provider), messages=messages, tools=[WEATHER])
    assert reply.choices[0].finish_reason == "stop"
    if provider == "mock":
        assert reply.choices[0].message.content == "Mock answer to: sunny ☀"
        return
    wire, body = sent(gw, provider)
    (call_id, name), = wire.tool_calls(body)
    assert name == "get_weather"
    assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_relays_an_image(gw, oa, provider):
    content = [{"type": "text", "text": "what is this?"},
               {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{TINY_PNG_B64}"}}]
    oa.chat.completions.create(model=gw.model(provider), messages=[{"role": "user", "content": content}])
    wire, body = sent(gw, provider)
    assert wire.images(body) == [("image/png", TINY_PNG_B64)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_maps_a_length_stop(gw, oa, provider, stream):
    script(gw, provider, Reply.text("cut sh", finish="length"))
    options = {"model": gw.model(provider), "messages": ask("a long story"), "max_tokens": 2}
    if stream:  # the SDK's stream helper refuses a cut answer, so the chunks are read here
        chunks = oa.chat.completions.create(**options, stream=True)
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        reasons = [oa.chat.completions.create(**options).choices[0].finish_reason]
    assert reasons == ["length"]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_reports_cached_and_reasoning_tokens(gw, oa, provider):
    gw.upstream.script(Reply.text("fine", usage=Usage(prompt=100, completion=20, cached=40, reasoning=8)))
    usage = oa.chat.completions.create(model=gw.model(provider), messages=ask()).usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (100, 20, 120)
    assert usage.prompt_tokens_details.cached_tokens == 40
    if provider not in ("anthropic",):  # Anthropic does not count thinking tokens apart
        assert usage.completion_tokens_details.reasoning_tokens == 8


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_reasoning(gw, oa, provider, stream):
    script(gw, provider, Reply.thinking("Let me think… 🤔", answer="42"))
    options = {"model": gw.model(provider), "messages": ask("meaning of life?"), "reasoning_effort": "low"}
    if stream:
        chunks = list(oa.chat.completions.create(**options, stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
        text = "".join(d.content or "" for d in deltas)
    else:
        message = oa.chat.completions.create(**options).choices[0].message
        reasoning, text = message.reasoning_content, message.content
    expected = "The mock thinks briefly." if provider == "mock" else "Let me think… 🤔"
    assert reasoning == expected
    assert text.endswith("42") if provider != "mock" else text.startswith("Mock answer to")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_completes_a_tool_loop_with_the_sdks_own_objects(gw, oa, provider):
    script_weather_call(gw, provider)
    messages = ask("weather?")
    reply = oa.chat.completions.create(model=gw.model(provider), messages=messages, tools=[WEATHER])
    message = reply.choices[0].message
    messages += [message.model_dump(exclude_none=True)]
    messages += [{"role": "tool", "tool_call_id": call.id, "content": "sunny ☀"} for call in message.tool_calls]
    reply = oa.chat.completions.create(model=gw.model(provider), messages=messages, tools=[WEATHER])
    assert reply.choices[0].finish_reason == "stop"
    if provider != "mock":
        wire, body = sent(gw, provider)
        (call_id, name), = wire.tool_calls(body)
        assert name == "get_weather"
        assert wire.tool_results(body) == [(call_id or name, "sunny ☀")]


@pytest.mark.parametrize("choice, expected", [
    ({"type": "function", "function": {"name": "get_time"}}, ("tool", "get_time")),
    ("required", ("required", "")), ("none", ("none", "")),
], ids=["named", "required", "none"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_the_tool_choice(gw, oa, provider, choice, expected):
    oa.chat.completions.create(model=gw.model(provider), messages=ask(), tools=[WEATHER, TIME], tool_choice=choice)
    wire, body = sent(gw, provider)
    assert wire.tool_choice(body) == expected
