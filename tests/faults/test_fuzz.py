"""Property: whatever body a client sends to any of the three chat APIs, the gateway answers with
something other than a 5xx (a success, or a clear 4xx in the client's own error format)."""

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults import test_bad_input as bad

MODELS = ["oa-model", "an-model", "ge-model", "mock-model", "cp-model", "no-such-model", "", "oa-*"]
ROLES = ["user", "assistant", "system", "developer", "tool", "model", "function", "wizard", ""]

scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=10), inner, max_size=4), max_leaves=12)
maybe = lambda strategy: st.one_of(strategy, json_values)  # noqa: E731

text_parts = st.lists(st.fixed_dictionaries({"type": maybe(st.sampled_from(["text", "image_url", "image", "x"]))},
                                            optional={"text": maybe(st.text(max_size=30))}), max_size=3)
openai_messages = st.lists(st.fixed_dictionaries(
    {"role": maybe(st.sampled_from(ROLES))},
    optional={"content": maybe(st.text(max_size=30)) | text_parts, "tool_calls": json_values,
              "tool_call_id": maybe(st.text(max_size=8)), "name": maybe(st.text(max_size=8))}), max_size=4)
common = {"max_tokens": maybe(st.integers(-5, 2**40)), "stream": maybe(st.booleans()),
          "temperature": maybe(st.floats(-5, 5)), "tools": json_values, "tool_choice": json_values,
          "stop": json_values, "metadata": json_values}
OPENAI = st.fixed_dictionaries({"model": maybe(st.sampled_from(MODELS)), "messages": maybe(openai_messages)},
                               optional=common | {"n": maybe(st.integers(-3, 5)), "response_format": json_values,
                                                  "stream_options": json_values, "reasoning_effort": json_values})
ANTHROPIC = st.fixed_dictionaries(
    {"model": maybe(st.sampled_from(MODELS)), "messages": maybe(openai_messages),
     "max_tokens": maybe(st.integers(-2**63, 2**63 - 1))},
    optional={key: value for key, value in common.items() if key != "max_tokens"} | {
        "system": maybe(st.text(max_size=20)) | text_parts, "thinking": json_values, "top_k": json_values})
gemini_parts = st.lists(st.fixed_dictionaries({}, optional={
    "text": maybe(st.text(max_size=30)), "inlineData": json_values, "functionCall": json_values,
    "functionResponse": json_values, "thought": json_values}), max_size=3)
GEMINI = st.fixed_dictionaries(
    {"contents": maybe(st.lists(st.fixed_dictionaries({"parts": maybe(gemini_parts)},
                                                      optional={"role": maybe(st.sampled_from(ROLES))}), max_size=3))},
    optional={"generationConfig": maybe(st.fixed_dictionaries({}, optional={
        "maxOutputTokens": json_values, "candidateCount": json_values, "temperature": json_values,
        "thinkingConfig": json_values, "responseMimeType": json_values, "stopSequences": json_values})),
        "systemInstruction": json_values, "tools": json_values, "toolConfig": json_values})

FORMATS = {
    "/v1/chat/completions": OPENAI,
    "/v1/messages": ANTHROPIC,
    "/v1beta/models/{model}:{method}": GEMINI,
}
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check(gw, client: httpx.Client, path: str, body):
    if "{model}" in path:
        method = "streamGenerateContent" if isinstance(body, dict) and body.get("stream") else "generateContent"
        path = path.format(model="ge-model" if len(str(body)) % 2 else "mock-model", method=method)
    response = client.post(gw.url + path, content=orjson.dumps(body), headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code < 500, (body, response.text[:300])
    if response.status_code >= 400:
        kind = bad.OPENAI if "chat/completions" in path else bad.ANTHROPIC if path.endswith("/messages") else bad.GEMINI
        assert bad.ERROR_SHAPES[kind](response.json()), response.text[:300]


@pytest.fixture
def client(gw):
    with httpx.Client(timeout=20) as client:
        yield client


@pytest.mark.parametrize("path", FORMATS)
def test_no_structured_body_gets_a_5xx(gw, client, path):
    @FUZZ
    @given(body=FORMATS[path])
    def property_(body):
        check(gw, client, path, body)

    property_()


@pytest.mark.parametrize("path", FORMATS)
def test_no_json_value_gets_a_5xx(gw, client, path):
    @settings(FUZZ, max_examples=60)
    @given(body=json_values)
    def property_(body):
        check(gw, client, path, body)

    property_()
