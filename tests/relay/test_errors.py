"""Errors as each official SDK sees them: upstream failures, the gateway's own refusals, cut streams."""

import anthropic
import httpx
import openai
import pytest
from google.genai import errors as genai_errors

from tests.fakes import Reply
from tests.relay.wire import UPSTREAMS

# upstream status -> (status the client gets, exception class per SDK)
UPSTREAM_ERRORS = {
    429: (429, {"oa": openai.RateLimitError, "an": anthropic.RateLimitError, "ge": genai_errors.ClientError}),
    500: (502, {"oa": openai.InternalServerError, "an": anthropic.InternalServerError,
                "ge": genai_errors.ServerError}),
    400: (400, {"oa": openai.BadRequestError, "an": anthropic.BadRequestError, "ge": genai_errors.ClientError}),
}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                 502: "UNAVAILABLE"}


def credential(provider) -> str:
    return f"token-{provider}-a" if provider == "antigravity" else f"key-{provider}-a"


def call(sdk, clients, model, stream=False):
    """One short chat through ``sdk`` ("oa", "an" or "ge"), read to its end."""
    client = clients[sdk]
    if sdk == "oa":
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=stream)
    elif sdk == "an":
        reply = client.messages.create(model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}],
                                       stream=stream)
    elif stream:
        reply = client.models.generate_content_stream(model=model, contents="hi")
    else:
        reply = client.models.generate_content(model=model, contents="hi")
    return list(reply) if stream else reply


def error_body(sdk, response) -> dict:
    """An error response's JSON body, checked to be in the SDK's own format."""
    body = response.json()
    if sdk == "oa":
        assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
    elif sdk == "an":
        assert body["type"] == "error" and {"type", "message"} <= set(body["error"])
    else:
        assert body["error"]["code"] == response.status_code
        assert body["error"]["status"] == GOOGLE_STATUS[response.status_code]
    assert response.headers["x-request-id"].startswith("req_")
    return body


SDKS = ["oa", "an", "ge"]


@pytest.mark.parametrize("status", UPSTREAM_ERRORS)
@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("sdk", SDKS)
def test_it_relays_an_upstream_error_in_the_clients_format(gw, sdk_clients, sdk, provider, status):
    gw.upstream.script(Reply.status(status, message="upstream says no"))
    client_status, exceptions = UPSTREAM_ERRORS[status]
    with pytest.raises(exceptions[sdk]) as raised:
        call(sdk, sdk_clients, gw.model(provider))
    assert raised.value.response.status_code == client_status
    body = error_body(sdk, raised.value.response)
    if status != 429:  # a 429 is answered for the whole pool: when its soonest account is back
        assert "upstream says no" in body["error"]["message"]
    assert credential(provider) not in raised.value.response.text


@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("sdk", SDKS)
def test_it_relays_an_upstream_error_before_a_stream_starts(gw, sdk_clients, sdk, provider):
    gw.upstream.script(Reply.status(429, headers={"Retry-After": "7"}))
    with pytest.raises(UPSTREAM_ERRORS[429][1][sdk]) as raised:
        call(sdk, sdk_clients, gw.model(provider), stream=True)
    error_body(sdk, raised.value.response)
    assert raised.value.response.headers["retry-after"] == "7"


@pytest.mark.parametrize("provider", UPSTREAMS)
def test_it_never_shows_the_upstream_credential(gw, sdk_clients, provider):
    secret = credential(provider)
    gw.upstream.script(Reply.status(401, message=f"Incorrect API key provided: {secret}"))
    with pytest.raises(openai.APIStatusError) as raised:
        call("oa", sdk_clients, gw.model(provider))
    assert raised.value.response.status_code == 502
    assert secret not in raised.value.response.text


@pytest.mark.parametrize("sdk, exception", [("oa", openai.NotFoundError), ("an", anthropic.NotFoundError),
                                            ("ge", genai_errors.ClientError)])
def test_it_refuses_an_unknown_model(gw, sdk_clients, sdk, exception):
    with pytest.raises(exception) as raised:
        call(sdk, sdk_clients, "no-such-model")
    assert raised.value.response.status_code == 404
    body = error_body(sdk, raised.value.response)
    expected = {"oa": ("type", "unknown_model"), "an": ("type", "not_found_error"), "ge": ("status", "NOT_FOUND")}
    field, kind = expected[sdk]
    assert body["error"][field] == kind
    assert gw.upstream.requests == []


def test_it_refuses_a_bad_key_in_every_format(gw, sdk_clients):
    import google.genai
    from google.genai import types

    url = gw.url
    clients = {
        "oa": openai.OpenAI(api_key="sk-wrong", base_url=url + "/v1", max_retries=0),
        "an": anthropic.Anthropic(api_key="sk-wrong", base_url=url, max_retries=0),
        "ge": google.genai.Client(api_key="sk-wrong", http_options=types.HttpOptions(base_url=url)),
    }
    expected = {"oa": openai.AuthenticationError, "an": anthropic.AuthenticationError, "ge": genai_errors.ClientError}
    for sdk, exception in expected.items():
        with pytest.raises(exception) as raised:
            call(sdk, clients, "oa-model")
        assert raised.value.response.status_code == 401
        error_body(sdk, raised.value.response)
    assert gw.upstream.requests == []


OPENAI_CHAT = "/v1/chat/completions"
ANTHROPIC_CHAT = "/v1/messages"
GEMINI_CHAT = "/v1beta/models/ge-model:generateContent"
HI = [{"role": "user", "content": "hi"}]
MALFORMED = [
    (OPENAI_CHAT, b"{not json"),
    (OPENAI_CHAT, b"[1, 2]"),
    (OPENAI_CHAT, {"messages": HI}),
    (OPENAI_CHAT, {"model": "oa-model"}),
    (OPENAI_CHAT, {"model": "oa-model", "messages": "hi"}),
    (OPENAI_CHAT, {"model": 5, "messages": HI}),
    (OPENAI_CHAT, {"model": "oa-model", "messages": HI, "temperature": "hot"}),
    (OPENAI_CHAT, {"model": "oa-model", "messages": HI, "max_tokens": "many"}),
    (OPENAI_CHAT, {"model": "oa-model", "messages": [{"role": "wizard", "content": "hi"}]}),
    (ANTHROPIC_CHAT, b"{not json"),
    (ANTHROPIC_CHAT, {"max_tokens": 10, "messages": HI}),
    (ANTHROPIC_CHAT, {"model": "an-model", "max_tokens": 10}),
    (ANTHROPIC_CHAT, {"model": "an-model", "messages": HI}),
    (ANTHROPIC_CHAT, {"model": "an-model", "max_tokens": "ten", "messages": HI}),
    (ANTHROPIC_CHAT, {"model": "an-model", "max_tokens": 10, "messages": HI, "system": 5}),
    (GEMINI_CHAT, b"{not json"),
    (GEMINI_CHAT, {}),
    (GEMINI_CHAT, {"contents": "hi"}),
    (GEMINI_CHAT, {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": "hot"}}),
]


@pytest.mark.parametrize("path, body", MALFORMED)
def test_it_refuses_a_malformed_request_before_any_upstream_call(gw, path, body):
    content = body if isinstance(body, bytes) else None
    response = httpx.post(gw.url + path, content=content, json=None if content else body,
                          headers={"authorization": f"Bearer {gw.key}", "content-type": "application/json"})
    assert response.status_code == 400, response.text
    sdk = {OPENAI_CHAT: "oa", ANTHROPIC_CHAT: "an", GEMINI_CHAT: "ge"}[path]
    error_body(sdk, response)
    assert gw.upstream.requests == []


# --- a stream cut in the middle ----------------------------------------------------------------

STREAMS = {
    "oa": (OPENAI_CHAT, lambda model: {"model": model, "messages": HI, "stream": True}),
    "an": (ANTHROPIC_CHAT, lambda model: {"model": model, "max_tokens": 32, "messages": HI, "stream": True}),
    "ge": ("/v1beta/models/{model}:streamGenerateContent?alt=sse",
           lambda model: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
}
SUCCESS_ENDINGS = {"oa": b"[DONE]", "an": b"message_stop", "ge": b'"finishReason"'}
ERROR_EVENTS = {"oa": b'data: {"error":', "an": b'event: error\ndata: {"type":"error"', "ge": b'data: {"error":'}


@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("sdk", SDKS)
def test_it_ends_a_cut_stream_with_an_error_and_no_success_ending(gw, sdk, provider):
    gw.upstream.script(Reply.cut_mid_stream(after=5, reply=Reply.text("one two three four five six")))
    path, body = STREAMS[sdk]
    response = httpx.post(gw.url + path.format(model=gw.model(provider)), json=body(gw.model(provider)),
                          headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code == 200
    raw = response.content
    assert ERROR_EVENTS[sdk] in raw, raw
    assert SUCCESS_ENDINGS[sdk] not in raw
    assert raw.rstrip().endswith(b"}")


@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("sdk", SDKS)
def test_a_stream_cut_before_any_content_is_an_error_status(gw, sdk, provider):
    # Cut after the stream's head (OpenAI's role chunk, Anthropic's message_start); Gemini's first chunk holds text.
    gw.upstream.script(Reply.cut_mid_stream(after=0 if provider in ("gemini", "antigravity") else 1))
    path, body = STREAMS[sdk]
    response = httpx.post(gw.url + path.format(model=gw.model(provider)), json=body(gw.model(provider)),
                          headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code == 502
    error_body(sdk, response)


OVERLOADED = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
ANTHROPIC_START = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
                   b'"role":"assistant","model":"m","content":[],"stop_reason":null,'
                   b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n')
ANTHROPIC_TEXT = (b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                  b'"content_block":{"type":"text","text":""}}\n\n'
                  b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                  b'"delta":{"type":"text_delta","text":"partial"}}\n\n')


@pytest.mark.parametrize("sdk", SDKS)
def test_an_error_inside_a_stream_before_any_content_is_an_error_status(gw, sdk):
    gw.upstream.script(Reply.raw([ANTHROPIC_START, OVERLOADED], content_type="text/event-stream"))
    path, body = STREAMS[sdk]
    response = httpx.post(gw.url + path.format(model="an-model"), json=body("an-model"),
                          headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code == 502
    assert "Overloaded" in error_body(sdk, response)["error"]["message"]


@pytest.mark.parametrize("sdk", SDKS)
def test_an_error_inside_a_stream_after_content_ends_it_as_an_error(gw, sdk):
    gw.upstream.script(Reply.raw([ANTHROPIC_START, ANTHROPIC_TEXT, OVERLOADED], content_type="text/event-stream"))
    path, body = STREAMS[sdk]
    response = httpx.post(gw.url + path.format(model="an-model"), json=body("an-model"),
                          headers={"authorization": f"Bearer {gw.key}"})
    assert response.status_code == 200
    assert b"partial" in response.content and ERROR_EVENTS[sdk] in response.content
    assert b"Overloaded" in response.content and SUCCESS_ENDINGS[sdk] not in response.content


@pytest.mark.parametrize("provider", UPSTREAMS)
@pytest.mark.parametrize("sdk, exception", [("oa", openai.APIError), ("an", anthropic.APIStatusError),
                                            ("ge", genai_errors.APIError)])
def test_the_sdk_raises_on_a_cut_stream(gw, sdk_clients, sdk, exception, provider):
    gw.upstream.script(Reply.cut_mid_stream(after=5, reply=Reply.text("one two three four five six")))
    with pytest.raises(exception):
        call(sdk, sdk_clients, gw.model(provider), stream=True)


def test_a_cut_json_array_stream_stays_valid_json_and_ends_with_an_error(gw):
    gw.upstream.script(Reply.cut_mid_stream(after=5, reply=Reply.text("one two three four five six")))
    response = httpx.post(f"{gw.url}/v1beta/models/ge-model:streamGenerateContent", headers={"x-goog-api-key": gw.key},
                          json={"contents": [{"parts": [{"text": "hi"}]}]})
    chunks = response.json()
    assert chunks[-1]["error"]["status"] == "UNAVAILABLE"
    assert all("finishReason" not in chunk["candidates"][0] for chunk in chunks[:-1])
