"""Bad input gets a 4xx, never a 500: body and header size limits, JSON nesting, random bodies in every
client format; only /health, /metrics and the API's schema and docs answer without credentials."""

import json
import threading
import time

import httpx
import pytest
import uvicorn
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway.http import MAX_JSON_DEPTH
from tests.security.conftest import chat
from tests.support.server import free_port

HEADERS = {
    "openai": lambda key: {"authorization": f"Bearer {key}"},
    "anthropic": lambda key: {"x-api-key": key, "anthropic-version": "2023-06-01"},
    "gemini": lambda key: {"x-goog-api-key": key},
}
ALL_APPS = pytest.mark.django_db(transaction=True)  # Django's own views need auth and sessions installed
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
         "gemini": "/v1beta/models/ge-model:generateContent"}


def post(gw, fmt: str, content: bytes, **headers) -> httpx.Response:
    return httpx.post(gw.url + PATHS[fmt], content=content, timeout=20,
                      headers={"content-type": "application/json", **HEADERS[fmt](gw.key), **headers})


# --- size limits --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(PATHS))
def test_a_body_over_the_limit_is_a_413(gw, settings, fmt):
    settings.GATEWAY = {**settings.GATEWAY, "MAX_BODY_BYTES": 2048}
    big = json.dumps({"model": "oa-model", "messages": [{"role": "user", "content": "x" * 4096}]}).encode()
    declared = post(gw, fmt, big)
    chunked = httpx.post(gw.url + PATHS[fmt], content=iter([big[:1000], big[1000:]]), timeout=20,
                         headers={"content-type": "application/json", **HEADERS[fmt](gw.key)})
    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert "larger than 2048 bytes" in declared.text
    assert gw.upstream.find() == []


def nested(depth: int) -> bytes:
    return b'{"model": "oa-model", "messages": [{"role": "user", "content": "hi"}], "metadata": ' + \
        b'{"a": ' * (depth - 1) + b"1" + b"}" * (depth - 1) + b"}"


@pytest.mark.parametrize("fmt", list(PATHS))
def test_json_nested_past_the_limit_is_a_400(gw, fmt):
    refused = post(gw, fmt, nested(MAX_JSON_DEPTH + 1))
    assert refused.status_code == 400
    assert f"deeper than {MAX_JSON_DEPTH} levels" in refused.text
    assert post(gw, fmt, nested(5000)).status_code == 400  # past orjson's own limit too


def test_json_nested_within_the_limit_is_served(gw):
    assert post(gw, "openai", nested(MAX_JSON_DEPTH - 2)).status_code == 200


def test_many_brackets_side_by_side_are_not_depth(gw):
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]} for _ in range(200)]
    body = json.dumps({"model": "oa-model", "messages": messages}).encode()
    assert post(gw, "openai", body).status_code == 200


@pytest.fixture(scope="module")
def httptools_server(gateway_server):
    """The production server's parser (the test server uses h11): it takes headers of any size itself."""
    port = free_port()
    config = uvicorn.Config("gateway.asgi:application", host="127.0.0.1", port=port, lifespan="off",
                            log_level="warning", http="httptools")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@ALL_APPS
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/health", "/api/v1/usage", "/admin/login/"])
def test_a_100_kb_header_is_a_4xx_on_either_parser(gw, httptools_server, path):
    for url in (gw.url, httptools_server):
        try:
            response = httpx.post(url + path, json={"model": "oa-model", "messages": []}, timeout=20,
                                  headers={"authorization": f"Bearer {gw.key}", "x-padding": "a" * 100_000})
        except httpx.RemoteProtocolError:
            continue  # the parser hung up on it: not a 500 either
        assert 400 <= response.status_code < 500, (url, response.status_code)
    assert gw.upstream.find() == []


def test_an_ordinary_header_load_is_fine(gw):
    assert chat(gw.url, gw.key, "oa-model").status_code == 200


# --- random bodies ------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=20)
anything = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
models = st.sampled_from(["oa-model", "an-model", "ge-model", "mock-model", "cp-model", "glm-model", "nope"]) | anything
roles = st.sampled_from(["user", "assistant", "system", "tool", "developer", "model", "function"]) | anything
parts = st.fixed_dictionaries({}, optional={"type": st.sampled_from(["text", "image_url", "image", "tool_use",
                                                                     "tool_result", "thinking"]) | anything,
                                            "text": anything, "image_url": anything, "source": anything,
                                            "id": anything, "input": anything, "content": anything})
contents = st.text(max_size=20) | st.lists(parts, max_size=3) | anything
messages = st.lists(st.fixed_dictionaries({"role": roles}, optional={"content": contents, "tool_calls": anything,
                                                                      "tool_call_id": anything, "name": anything}),
                    max_size=3) | anything
options = {"max_tokens": anything | st.integers(-5, 5000), "temperature": anything, "tools": anything,
           "tool_choice": anything, "stop": anything, "n": anything | st.integers(0, 3), "response_format": anything,
           "stream_options": anything, "thinking": anything, "system": anything, "metadata": anything,
           "reasoning_effort": anything, "user": anything, "top_k": anything, "seed": anything}
BODIES = {
    "openai": st.fixed_dictionaries({"model": models, "messages": messages}, optional=options),
    "anthropic": st.fixed_dictionaries({"model": models, "messages": messages, "max_tokens": st.integers(1, 100)},
                                       optional={k: v for k, v in options.items() if k != "max_tokens"}),
    "gemini": st.fixed_dictionaries({}, optional={
        "contents": st.lists(st.fixed_dictionaries({"role": roles}, optional={"parts": st.lists(st.fixed_dictionaries(
            {}, optional={"text": anything, "inlineData": anything, "functionCall": anything,
                          "functionResponse": anything, "thought": anything}), max_size=3) | anything}),
            max_size=3) | anything,
        "systemInstruction": anything, "generationConfig": anything, "tools": anything, "toolConfig": anything,
        "safetySettings": anything}),
}


@pytest.mark.parametrize("fmt", list(BODIES))
def test_random_bodies_never_get_a_5xx(gw, fmt):
    failures = []

    @hypothesis_settings(max_examples=150, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    @given(body=BODIES[fmt] | anything, stream=st.booleans())
    def check(body, stream):
        if stream and isinstance(body, dict) and fmt != "gemini":
            body = {**body, "stream": True}
        response = post(gw, fmt, json.dumps(body).encode())
        if response.status_code >= 500:
            failures.append((body, response.status_code, response.text[:300]))
        assert response.status_code < 500, (body, response.text[:300])

    check()
    assert not failures


def test_bytes_that_are_not_json_are_a_400(gw):
    for content in (b"", b"\xff\xfe", b"{", b"[1, 2]", b'"text"', b"null", b"{\"model\": NaN}"):
        assert post(gw, "openai", content).status_code == 400, content


# --- what answers without credentials ---------------------------------------------------------

OPEN = {"/health", "/metrics", "/api/schema/", "/api/docs/", "/admin/login/"}


def concrete_paths(patterns=None, prefix="") -> list:
    """Every Django URL, with 1 for each parameter."""
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        for token in ("<path:object_id>", "<int:pk>", "<pk>", "<str:pk>", "<id>", "<object_id>"):
            route = route.replace(token, "1")
        route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\.", ".")
        if isinstance(entry, URLResolver):
            found += concrete_paths(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern) and "<" not in route and "(?P" not in route and "(" not in route:
            found.append("/" + prefix + route)
    return sorted(set(found))


@ALL_APPS
def test_only_health_metrics_and_the_api_docs_answer_without_credentials(gw, settings):
    settings.GATEWAY = {**settings.GATEWAY, "METRICS_TOKEN": ""}
    paths = concrete_paths()
    assert "/api/v1/providers" in paths and "/admin/gateway/apikey/" in paths
    opened = []
    with httpx.Client(base_url=gw.url, timeout=20) as client:
        for path in paths + ["/v1/models", "/v1/chat/completions", "/v1beta/models", "/v1/responses/resp_1"]:
            response = client.get(path)
            assert response.status_code < 500, path
            admitted = response.status_code < 300
            if admitted:
                opened.append(path)
            if response.status_code in (301, 302):
                assert response.headers["location"].startswith(("/admin/login/", "/admin/")), path
    assert set(opened) <= OPEN, set(opened) - OPEN


@ALL_APPS
def test_metrics_can_require_a_token(gw, settings):
    settings.GATEWAY = {**settings.GATEWAY, "METRICS_TOKEN": "metrics-token-1"}
    assert httpx.get(gw.url + "/metrics").status_code == 401
    assert httpx.get(gw.url + "/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    allowed = httpx.get(gw.url + "/metrics", headers={"authorization": "Bearer metrics-token-1"})
    assert allowed.status_code == 200 and "gateway_" in allowed.text
