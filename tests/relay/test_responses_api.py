"""The official OpenAI SDK's Responses API against every provider type, through the gateway.

An ``openai`` provider is asked through OpenAI's own Responses API; every other provider (the
OpenAI-compatible ones included) in its own format. ``sent`` reads either back in wire.py's vocabulary.
"""

import asyncio
import json
import time

import openai
import pytest
from django.conf import settings
from django.db import OperationalError
from pydantic import BaseModel

from gateway.celery import app
from gateway.conversations import Kept, purge_old_responses, store
from gateway.models import ApiKey, StoredResponse
from gateway.tasks import purge_stored_responses
from stats.models import RequestLog
from tests.fakes import Reply, Usage
from tests.relay import wire
from tests.relay.wire import (
    PROVIDERS, TIME_ARGS, TINY_PNG_B64, UPSTREAMS, UTF8, WEATHER_ARGS, script, script_weather_call,
)
from tests.support.server import settle

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"type": "function", "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}
OTHER_KEY = "sk-gw-relay-tests-other-key"


class ResponsesWire:
    """What the gateway sent OpenAI's Responses API, read as wire.py reads the other protocols."""

    def _items(self, body, kind) -> list:
        return [item for item in body["input"] if item.get("type", "message") == kind]

    def system(self, body) -> str:
        return body.get("instructions", "")

    def turns(self, body) -> list:
        return [(item["role"], wire._text(item["content"])) for item in self._items(body, "message")]

    def sampling(self, body) -> dict:
        return {"temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_tokens": body.get("max_output_tokens"), "stop": None}

    def tool_names(self, body) -> list:
        return [tool["name"] for tool in body.get("tools", [])]

    def tool_calls(self, body) -> list:
        return [(item["call_id"], item["name"]) for item in self._items(body, "function_call")]

    def tool_results(self, body) -> list:
        return [(item["call_id"], item["output"]) for item in self._items(body, "function_call_output")]

    def images(self, body) -> list:
        urls = [part["image_url"] for item in self._items(body, "message") if isinstance(item["content"], list)
                for part in item["content"] if part["type"] == "input_image"]
        return [tuple(url[5:].split(";base64,")) for url in urls]


def sent(gw, provider) -> tuple:
    """``(wire, body)`` of the last chat request ``provider``'s upstream got."""
    if provider != "openai":
        return wire.sent(gw, provider)
    return ResponsesWire(), gw.upstream.last("/v1/responses").json


def json_schema(provider, body) -> dict:
    """The JSON schema an upstream request asked the answer to follow, wherever its protocol puts it."""
    if provider == "openai":
        return body["text"]["format"]["schema"]
    if provider in ("glm", "compat"):
        return body["response_format"]["json_schema"]["schema"]
    if provider == "anthropic":
        return body["output_config"]["format"]["schema"]
    inner = body["request"] if provider == "antigravity" else body
    config = inner["generationConfig"]
    return config.get("responseSchema") or config["responseJsonSchema"]


def content(response) -> list:
    """A response's output items without their ids: what a streamed and a whole answer share."""
    out = []
    for item in response.output:
        if item.type == "message":
            out.append(("message", item.status, "".join(part.text for part in item.content)))
        elif item.type == "function_call":
            out.append(("function_call", item.name, json.loads(item.arguments)))
        else:
            out.append(("reasoning", [summary.text for summary in item.summary]))
    return out


def usage(response) -> tuple:
    u = response.usage
    return (u.input_tokens, u.output_tokens, u.total_tokens, u.input_tokens_details.cached_tokens,
            u.output_tokens_details.reasoning_tokens)


@pytest.fixture(autouse=True)
def stored():
    """Each test's stored responses are written before the database is flushed for the next."""
    yield
    deadline = time.monotonic() + 5
    while store.pending and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def other(gw, gateway_server):
    """The SDK with a second gateway key, which must see none of the first key's responses."""
    key = ApiKey(name="relay-tests-other")
    key.set_key(OTHER_KEY)
    key.save()
    with openai.OpenAI(api_key=OTHER_KEY, base_url=gateway_server.url + "/v1", max_retries=0, timeout=20) as client:
        yield client


# --- answers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_answers_text(gw, oa, provider):
    reply = oa.responses.create(model=gw.model(provider), input=UTF8, instructions="Answer briefly.")
    assert reply.output_text.endswith(UTF8)
    assert reply.id.startswith("resp_") and reply.object == "response" and reply.status == "completed"
    assert reply.model == gw.model(provider) and reply.instructions == "Answer briefly."
    (message,) = reply.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_openai_gets_its_own_responses_api_and_every_other_provider_its_own_format(gw, oa, provider):
    oa.responses.create(model=gw.model(provider), input="hi")
    paths = [request.path for request in gw.upstream.requests]
    assert any(path.endswith("/v1/responses") for path in paths) == (provider == "openai")
    body = gw.upstream.requests[-1].json
    if provider == "openai":
        assert body["store"] is False and body["model"] == gw.model(provider)
    if provider in ("glm", "compat"):
        assert paths[-1].endswith("/chat/completions")


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_sends_instructions_and_a_message_list_in_the_upstream_shape(gw, oa, provider):
    items = [{"role": "developer", "content": "Be terse."}, {"role": "user", "content": "first"},
             {"role": "assistant", "content": [{"type": "output_text", "text": "an answer"}]},
             {"type": "message", "role": "user", "content": [{"type": "input_text", "text": UTF8}]}]
    reply = oa.responses.create(model=gw.model(provider), input=items, instructions="You are kind.")
    assert reply.output_text == f"echo: {UTF8}"
    wire_, body = sent(gw, provider)
    assert wire_.system(body).replace("\n", "") == "You are kind.Be terse."
    assert wire_.turns(body) == [("user", "first"), ("assistant", "an answer"), ("user", UTF8)]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_maps_sampling_options(gw, oa, provider):
    oa.responses.create(model=gw.model(provider), input="hi", temperature=0.25, top_p=0.5, max_output_tokens=77)
    wire_, body = sent(gw, provider)
    assert wire_.sampling(body) == {"temperature": 0.25, "top_p": 0.5, "max_tokens": 77, "stop": None}


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_relays_an_image(gw, oa, provider):
    content_ = [{"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": f"data:image/png;base64,{TINY_PNG_B64}"}]
    oa.responses.create(model=gw.model(provider), input=[{"role": "user", "content": content_}])
    wire_, body = sent(gw, provider)
    assert wire_.images(body) == [("image/png", TINY_PNG_B64)]


class City(BaseModel):
    city: str
    country: str


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_asks_for_json_output_and_the_sdk_parses_it(gw, oa, provider, stream):
    gw.upstream.script(Reply.text('{"city": "Zürich", "country": "CH"}'))
    options = {"model": gw.model(provider), "input": "where?", "text_format": City}
    if stream:
        with oa.responses.stream(**options) as events:
            parsed = events.get_final_response().output_parsed
    else:
        parsed = oa.responses.parse(**options).output_parsed
    assert parsed == City(city="Zürich", country="CH")
    _, body = sent(gw, provider)
    assert set(json_schema(provider, body)["properties"]) == {"city", "country"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_relays_reasoning_as_a_reasoning_item(gw, oa, provider):
    script(gw, provider, Reply.thinking("Let me think… 🤔", answer="42"))
    reply = oa.responses.create(model=gw.model(provider), input="meaning of life?",
                                reasoning={"effort": "low", "summary": "auto"})
    reasoning, message = reply.output
    expected = "The mock thinks briefly." if provider == "mock" else "Let me think… 🤔"
    assert reasoning.type == "reasoning" and [s.text for s in reasoning.summary] == [expected]
    assert message.type == "message"
    if provider in ("anthropic", "mock"):  # signed thinking comes back as encrypted content
        assert reasoning.encrypted_content


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_reports_cached_and_reasoning_tokens(gw, oa, provider):
    gw.upstream.script(Reply.text("fine", usage=Usage(prompt=100, completion=20, cached=40, reasoning=8)))
    reply = oa.responses.create(model=gw.model(provider), input="hi")
    assert (reply.usage.input_tokens, reply.usage.output_tokens, reply.usage.total_tokens) == (100, 20, 120)
    assert reply.usage.input_tokens_details.cached_tokens == 40
    if provider != "anthropic":  # Anthropic does not count thinking tokens apart
        assert reply.usage.output_tokens_details.reasoning_tokens == 8


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_cut_answer_is_incomplete(gw, oa, provider, stream):
    script(gw, provider, Reply.text("cut sh", finish="length"))
    options = {"model": gw.model(provider), "input": "a long story", "max_output_tokens": 2}
    if stream:  # the SDK's stream helper wants response.completed, so the events are read here
        events = list(oa.responses.create(**options, stream=True))
        assert events[-1].type == "response.incomplete"
        reply = events[-1].response
    else:
        reply = oa.responses.create(**options)
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.output[-1].status == "incomplete"


# --- tools -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_returns_a_function_call(gw, oa, provider, stream):
    expected = script_weather_call(gw, provider)
    options = {"model": gw.model(provider), "input": "weather?", "tools": [WEATHER]}
    if stream:
        with oa.responses.stream(**options) as events:
            reply = events.get_final_response()
    else:
        reply = oa.responses.create(**options)
    (call,) = [item for item in reply.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.call_id and call.id.startswith("fc_")
    assert json.loads(call.arguments) == expected
    if provider != "mock":
        wire_, body = sent(gw, provider)
        assert wire_.tool_names(body) == ["get_weather"]


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_streams_parallel_function_calls(gw, oa, provider):
    gw.upstream.script(Reply.tool_call("get_weather", WEATHER_ARGS, ("get_time", TIME_ARGS)))
    with oa.responses.stream(model=gw.model(provider), input="weather and time?", tools=[WEATHER, TIME]) as events:
        reply = events.get_final_response()
    calls = [(item.name, json.loads(item.arguments)) for item in reply.output if item.type == "function_call"]
    assert calls == [("get_weather", WEATHER_ARGS), ("get_time", TIME_ARGS)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_completes_a_tool_round_trip_with_the_outputs_sent_back(gw, oa, provider):
    script_weather_call(gw, provider)
    items = [{"role": "user", "content": "weather?"}]
    first = oa.responses.create(model=gw.model(provider), input=items, tools=[WEATHER], store=False)
    (call,) = [item for item in first.output if item.type == "function_call"]
    items += [item.model_dump(exclude_none=True) for item in first.output]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny ☀"})
    second = oa.responses.create(model=gw.model(provider), input=items, tools=[WEATHER], store=False)
    assert second.status == "completed" and second.output_text
    if provider == "mock":
        assert second.output_text == "Mock answer to: sunny ☀"
        return
    wire_, body = sent(gw, provider)
    (call_id, name), = wire_.tool_calls(body)
    assert name == "get_weather"
    assert wire_.tool_results(body) == [(call_id or name, "sunny ☀")]


# --- streams ---------------------------------------------------------------------------------------------------

REPLIES = {
    "text": lambda: Reply.text(f"fine, {UTF8}"),
    "tool": lambda: Reply.tool_call("get_weather", WEATHER_ARGS, text="Let me look."),
    "thinking": lambda: Reply.thinking("Let me think… 🤔", answer="42"),
}


@pytest.mark.parametrize("kind", REPLIES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_stream_helpers_final_response_equals_the_whole_one(gw, oa, provider, kind):
    script(gw, provider, REPLIES[kind](), REPLIES[kind]())
    options = {"model": gw.model(provider), "input": "weather?", "tools": [WEATHER]}
    if kind == "thinking":
        options["reasoning"] = {"effort": "low", "summary": "auto"}
    whole = oa.responses.create(**options)
    deltas = []
    with oa.responses.stream(**options) as events:
        for event in events:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        streamed = events.get_final_response()
    assert content(streamed) == content(whole) and content(whole)
    assert "".join(deltas) == streamed.output_text == whole.output_text
    assert usage(streamed) == usage(whole)
    assert streamed.status == whole.status == "completed"
    assert streamed.id != whole.id


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_the_stream_follows_the_event_grammar(gw, oa, provider):
    gw.upstream.script(Reply.tool_call("get_weather", WEATHER_ARGS, text="Let me look."))
    events = list(oa.responses.create(model=gw.model(provider), input="weather?", tools=[WEATHER], stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert {"response.output_item.added", "response.content_part.added", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.function_call_arguments.delta", "response.function_call_arguments.done"} <= set(kinds)
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 2
    assert len({event.response.id for event in events if hasattr(event, "response")}) == 1


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_a_stream_cut_by_the_upstream_ends_with_response_failed(gw, oa, provider):
    gw.upstream.script(Reply.cut_mid_stream(after=6, reply=Reply.text("one two three four five six seven")))
    events = list(oa.responses.create(model=gw.model(provider), input="count", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.message
    assert [event.sequence_number for event in events] == list(range(len(events)))


def test_built_in_tools_are_refused_with_a_clear_message(gw, oa):
    with pytest.raises(openai.BadRequestError) as caught:
        oa.responses.create(model=gw.model("openai"), input="news?", tools=[{"type": "web_search"}])
    error = caught.value.body
    assert "'web_search' tools run inside OpenAI's own service" in error["message"]
    assert error["param"] == "tools[0].type"
    assert not gw.upstream.requests


# --- conversation state ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_previous_response_id_continues_the_conversation(gw, oa, provider, stream):
    model = gw.model(provider)
    if stream:
        with oa.responses.stream(model=model, input="first question", instructions="Be terse.") as events:
            first = events.get_final_response()
    else:
        first = oa.responses.create(model=model, input="first question", instructions="Be terse.")
    second = oa.responses.create(model=model, input="second question", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    if provider == "mock":
        assert second.output_text == "Mock answer to: second question"
        return
    wire_, body = sent(gw, provider)
    assert wire_.turns(body) == [("user", "first question"), ("assistant", "echo: first question"),
                                 ("user", "second question")]
    assert wire_.system(body) == ""  # instructions are not carried over, as on OpenAI


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tool_loop_continues_by_previous_response_id(gw, oa, provider):
    script_weather_call(gw, provider)
    first = oa.responses.create(model=gw.model(provider), input="weather?", tools=[WEATHER])
    (call,) = [item for item in first.output if item.type == "function_call"]
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny ☀"}
    third_party = oa.responses.create(model=gw.model(provider), input=[output], tools=[WEATHER],
                                      previous_response_id=first.id)
    assert third_party.status == "completed"
    if provider == "mock":
        assert third_party.output_text == "Mock answer to: sunny ☀"
        return
    wire_, body = sent(gw, provider)
    assert wire_.turns(body)[0] == ("user", "weather?")
    (call_id, name), = wire_.tool_calls(body)
    assert wire_.tool_results(body) == [(call_id or name, "sunny ☀")]


def test_a_conversation_continues_on_another_provider(gw, oa):
    first = oa.responses.create(model=gw.model("anthropic"), input="first question")
    oa.responses.create(model=gw.model("openai"), input="second question", previous_response_id=first.id)
    wire_, body = sent(gw, "openai")
    assert wire_.turns(body) == [("user", "first question"), ("assistant", "echo: first question"),
                                 ("user", "second question")]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_stored_response_can_be_read_and_deleted_by_id(gw, oa, stream):
    options = {"model": gw.model("gemini"), "input": "hi", "metadata": {"ticket": "42"}}
    if stream:
        with oa.responses.stream(**options) as events:
            created = events.get_final_response()
    else:
        created = oa.responses.create(**options)
    read = oa.responses.retrieve(created.id)
    assert read.id == created.id and read.output_text == created.output_text == "echo: hi"
    assert read.metadata == {"ticket": "42"} and read.store is True
    settle()
    assert store.pending == 0 and StoredResponse.objects.filter(id=created.id).exists()
    assert oa.responses.retrieve(created.id).output_text == "echo: hi"  # from the database now
    assert oa.responses.delete(created.id) is None
    with pytest.raises(openai.NotFoundError):
        oa.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        oa.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        oa.responses.create(model=gw.model("gemini"), input="more", previous_response_id=created.id)


def test_a_response_is_visible_only_to_the_key_that_created_it(gw, oa, other):
    created = oa.responses.create(model=gw.model("mock"), input="secret")
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(created.id)
    with pytest.raises(openai.BadRequestError) as caught:
        other.responses.create(model=gw.model("mock"), input="more", previous_response_id=created.id)
    assert caught.value.body["param"] == "previous_response_id"
    assert oa.responses.retrieve(created.id).output_text == "Mock answer to: secret"


def test_a_response_with_store_false_is_not_kept(gw, oa):
    created = oa.responses.create(model=gw.model("mock"), input="hi", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        oa.responses.retrieve(created.id)
    settle()
    assert not StoredResponse.objects.exists()


def test_stored_responses_past_their_retention_are_purged(gw, oa):
    old = oa.responses.create(model=gw.model("mock"), input="old")
    new = oa.responses.create(model=gw.model("mock"), input="new")
    settle()
    while store.pending:
        time.sleep(0.01)
    StoredResponse.objects.filter(id=old.id).update(created_at="2000-01-01T00:00:00Z")
    assert purge_old_responses(days=30) == 1
    assert list(StoredResponse.objects.values_list("id", flat=True)) == [new.id]
    StoredResponse.objects.update(created_at="2000-01-01T00:00:00Z")
    assert purge_stored_responses.apply().get() == 1  # the daily task, at the retention setting


def test_the_purge_is_on_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-stored-responses"]
    assert entry["task"] == "gateway.tasks.purge_stored_responses" and entry["task"] in app.tasks


def kept(key_id: int) -> Kept:
    return Kept("resp_test", key_id, "m", [{"role": "user", "content": "hi"}], {"id": "resp_test", "output": []})


def test_a_busy_database_delays_a_stored_response_but_keeps_it(gw, monkeypatch):
    key_id = ApiKey.objects.get().id
    create, attempts = StoredResponse.objects.create, []

    def busy_once(**values):
        attempts.append(values["id"])
        if len(attempts) == 1:
            raise OperationalError("database is locked")
        return create(**values)

    monkeypatch.setattr(StoredResponse.objects, "create", busy_once)

    async def keep_and_find():
        store.keep(kept(key_id))
        return await store.find("resp_test", key_id)

    assert asyncio.run(keep_and_find()).items == [{"role": "user", "content": "hi"}]  # from memory meanwhile
    assert attempts == ["resp_test", "resp_test"] and store.pending == 0
    assert StoredResponse.objects.get(id="resp_test").input == [{"role": "user", "content": "hi"}]


def test_a_response_deleted_before_it_was_written_is_not_kept(gw):
    key_id = ApiKey.objects.get().id

    async def keep_and_delete():
        store.keep(kept(key_id))
        return await store.delete("resp_test", key_id), await store.find("resp_test", key_id)

    assert asyncio.run(keep_and_delete()) == (True, None)
    assert store.pending == 0 and not StoredResponse.objects.exists()


def test_the_request_log_records_responses_calls(gw, oa):
    gw.upstream.script(Reply.text("fine", usage=(12, 7)))
    oa.responses.create(model=gw.model("openai"), input="hi")
    settle()
    row = RequestLog.objects.get(endpoint="responses")
    assert (row.client_format, row.requested_model, row.status_code) == ("responses", gw.model("openai"), 200)
    assert (row.prompt_tokens, row.completion_tokens) == (12, 7) and row.cost is not None


def test_it_works_under_the_openai_prefix(gw, gateway_server):
    with openai.OpenAI(api_key=gw.key, base_url=gateway_server.url + "/openai/v1", max_retries=0) as client:
        created = client.responses.create(model=gw.model("mock"), input="hi")
        assert client.responses.retrieve(created.id).id == created.id
