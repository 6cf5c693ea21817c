"""The gateway's other endpoints through the official SDKs: models, embeddings, token counting, the JSON-array
stream, the /openai, /anthropic and /gemini prefixes, and request ids."""

import json
import math

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types

from tests.relay.wire import PROVIDERS, UTF8

EXACT = ["claude-exact", "gemini-exact", "gpt-exact"]


@pytest.fixture
def listed(gw):
    """Only exact route names are listed: give the gateway some."""
    for name, provider in zip(EXACT, ["anthropic", "gemini", "openai"]):
        gw.route(name, provider)
    return EXACT


def test_each_sdk_lists_the_models_in_its_own_form(listed, oa, an, ge):
    assert [(m.id, m.object) for m in oa.models.list()] == [(name, "model") for name in listed]
    assert [(m.id, m.type) for m in an.models.list()] == [(name, "model") for name in listed]
    assert [m.name for m in ge.models.list()] == [f"models/{name}" for name in listed]
    assert oa.models.retrieve("gpt-exact").id == "gpt-exact"
    assert an.models.retrieve("claude-exact").id == "claude-exact"
    assert ge.models.get(model="gemini-exact").name == "models/gemini-exact"
    with pytest.raises(openai.NotFoundError):
        oa.models.retrieve("gpt-nowhere")


@pytest.mark.parametrize("headers, shape", [
    ({"authorization": "Bearer {key}"}, "object"),
    ({"x-api-key": "{key}", "anthropic-version": "2023-06-01"}, "has_more"),
    ({"x-goog-api-key": "{key}"}, "models"),
])
def test_get_v1_models_answers_in_the_form_of_whoever_asked(gw, listed, headers, shape):
    headers = {name: value.format(key=gw.key) for name, value in headers.items()}
    response = httpx.get(gw.url + "/v1/models", headers=headers)
    assert response.status_code == 200
    assert shape in response.json()


# --- embeddings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider, size", [("openai", 8), ("gemini", 8), ("mock", 16)])
def test_the_openai_sdk_gets_embeddings(gw, oa, provider, size):
    result = oa.embeddings.create(model=gw.model(provider), input=[UTF8, "two"])
    assert [item.index for item in result.data] == [0, 1]
    assert [len(item.embedding) for item in result.data] == [size, size]
    assert result.data[0].embedding != result.data[1].embedding
    assert result.model == gw.model(provider)
    if provider == "openai":
        assert gw.upstream.last("/embeddings").json["input"] == [UTF8, "two"]
    if provider == "gemini":
        requests = gw.upstream.last(":batchEmbedContents").json["requests"]
        assert [r["content"]["parts"][0]["text"] for r in requests] == [UTF8, "two"]


def test_embeddings_from_a_provider_without_them_are_refused(gw, oa):
    with pytest.raises(openai.BadRequestError, match="does not serve"):
        oa.embeddings.create(model=gw.model("anthropic"), input="hi")
    assert gw.upstream.requests == []


@pytest.mark.parametrize("provider", ["gemini", "openai", "mock"])
def test_the_genai_sdk_embeds_content(gw, ge, provider):
    result = ge.models.embed_content(model=gw.model(provider), contents=[UTF8, "two"],
                                     config=types.EmbedContentConfig(output_dimensionality=4))
    vectors = [e.values for e in result.embeddings]
    assert len(vectors) == 2 and vectors[0] != vectors[1]
    if provider != "mock":
        assert [len(v) for v in vectors] == [4, 4]


# --- token counting --------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_anthropic_sdk_counts_tokens(gw, an, provider):
    counted = an.messages.count_tokens(model=gw.model(provider), system="Be terse.",
                                       messages=[{"role": "user", "content": UTF8}])
    if provider == "anthropic":
        assert counted.input_tokens == 10  # what the fake upstream counted
        assert gw.upstream.last("/count_tokens").json["system"] == "Be terse."
    elif provider == "gemini":
        assert counted.input_tokens == 10
        assert gw.upstream.last(":countTokens").json
    else:
        assert counted.input_tokens > 0  # estimated by the gateway


@pytest.mark.parametrize("provider", ["gemini", "anthropic", "openai", "mock"])
def test_the_genai_sdk_counts_tokens(gw, ge, provider):
    counted = ge.models.count_tokens(model=gw.model(provider), contents=UTF8)
    assert counted.total_tokens == 10 if provider in ("gemini", "anthropic") else counted.total_tokens > 0


# --- Gemini's stream without alt=sse: one JSON array, written as it goes ---------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_generate_content_without_sse_is_a_json_array(gw, provider):
    body = {"contents": [{"role": "user", "parts": [{"text": UTF8}]}]}
    response = httpx.post(f"{gw.url}/v1beta/models/{gw.model(provider)}:streamGenerateContent",
                          json=body, headers={"x-goog-api-key": gw.key})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    chunks = json.loads(response.content)
    text = "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])
    assert text.endswith(UTF8)
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] > 0


def test_the_genai_sdk_may_call_v1_instead_of_v1beta(gw):
    options = types.HttpOptions(base_url=gw.url, api_version="v1")
    client = genai.Client(api_key=gw.key, http_options=options)
    assert client.models.generate_content(model="mock-model", contents=UTF8).text == f"Mock answer to: {UTF8}"
    chunks = client.models.generate_content_stream(model="mock-model", contents=UTF8)
    assert "".join(c.text or "" for c in chunks) == f"Mock answer to: {UTF8}"


# --- path prefixes and request ids -----------------------------------------------------------------

def test_each_sdk_works_under_its_path_prefix(gw, listed):
    oa = openai.OpenAI(api_key=gw.key, base_url=gw.url + "/openai/v1", max_retries=0)
    an = anthropic.Anthropic(api_key=gw.key, base_url=gw.url + "/anthropic", max_retries=0)
    ge = genai.Client(api_key=gw.key, http_options=types.HttpOptions(base_url=gw.url + "/gemini"))
    reply = oa.chat.completions.create(model="oa-model", messages=[{"role": "user", "content": UTF8}])
    assert reply.choices[0].message.content == f"echo: {UTF8}"
    message = an.messages.create(model="an-model", max_tokens=32, messages=[{"role": "user", "content": UTF8}])
    assert message.content[0].text == f"echo: {UTF8}"
    assert ge.models.generate_content(model="ge-model", contents=UTF8).text == f"echo: {UTF8}"
    # Under a prefix, GET /v1/models answers in that API's form whatever the headers.
    assert [m.id for m in oa.models.list()] == listed
    assert [m.type for m in an.models.list()] == ["model"] * 3
    assert "has_more" in httpx.get(gw.url + "/anthropic/v1/models", headers={"x-api-key": gw.key}).json()
    assert "models" in httpx.get(gw.url + "/gemini/v1/models", headers={"authorization": f"Bearer {gw.key}"}).json()


def test_it_echoes_the_clients_request_id(gw, oa):
    raw = oa.chat.completions.with_raw_response.create(
        model="mock-model", messages=[{"role": "user", "content": "hi"}], extra_headers={"X-Request-ID": "trace-42"})
    assert raw.headers["x-request-id"] == "trace-42"
    with pytest.raises(openai.NotFoundError) as raised:
        oa.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"X-Request-ID": "trace-43"})
    assert raised.value.request_id == "trace-43"
    assert raised.value.response.json()["error"]["request_id"] == "trace-43"


@pytest.mark.parametrize("path, body", [
    ("/v1/messages", {"model": "an-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}],
                      "stream": True}),
    ("/v1beta/models/ge-model:streamGenerateContent?alt=sse", {"contents": [{"parts": [{"text": "hi"}]}]}),
])
def test_it_echoes_the_request_id_on_streams(gw, path, body):
    headers = {"x-api-key": gw.key, "x-request-id": "trace-44"}
    response = httpx.post(gw.url + path, json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-44"


def test_vectors_survive_the_openai_sdks_base64_encoding(gw, oa):
    from tests.fakes.protocols import vector

    result = oa.embeddings.create(model="oa-model", input="abc")
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(result.data[0].embedding, vector("abc")))
