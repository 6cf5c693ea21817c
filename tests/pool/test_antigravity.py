"""Antigravity behind the pool: every client format through Cloud Code's envelope, usage counted
once, RetryInfo as the cool-down, and the project id found for an account that has none."""

import time

import httpx
import orjson
import pytest

from accounts.state import live_state
from stats.models import RequestLog
from tests.fakes import Reply
from tests.pool.conftest import KEY
from tests.support.server import settle


def events(response) -> list:
    return [orjson.loads(line[6:]) for line in response.text.splitlines()
            if line.startswith("data: ") and line[6:] != "[DONE]"]


def openai_text(response, stream) -> str:
    if not stream:
        return response.json()["choices"][0]["message"]["content"]
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in events(response) if e.get("choices"))


def anthropic_text(response, stream) -> str:
    if not stream:
        return "".join(block["text"] for block in response.json()["content"] if block["type"] == "text")
    return "".join(e["delta"].get("text", "") for e in events(response) if e["type"] == "content_block_delta")


def gemini_text(response, stream) -> str:
    chunks = events(response) if stream else [response.json()]
    return "".join(p.get("text", "") for c in chunks for p in c["candidates"][0]["content"]["parts"])


def ask(client_format: str, url: str, stream: bool) -> httpx.Response:
    if client_format == "openai":
        body = {"model": "ag-model", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        return httpx.post(f"{url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"})
    if client_format == "anthropic":
        body = {"model": "ag-model", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
                "stream": stream}
        headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
        return httpx.post(f"{url}/v1/messages", json=body, headers=headers)
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    return httpx.post(f"{url}/v1beta/models/ag-model:{method}", json=body, headers={"x-goog-api-key": KEY})


TEXT = {"openai": openai_text, "anthropic": anthropic_text, "gemini": gemini_text}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client_format", ["openai", "anthropic", "gemini"])
def test_every_client_format_reaches_it_through_the_envelope(make_pool, client_format, stream):
    pool = make_pool(1, kind="antigravity")
    response = ask(client_format, pool.url, stream)
    assert response.status_code == 200, response.text
    assert TEXT[client_format](response, stream) == "echo: hi"
    sent = pool.upstream.last("v1internal:").json
    assert pool.upstream.last("v1internal:").path.endswith("streamGenerateContent" if stream else "generateContent")
    assert {k: sent[k] for k in ("model", "project", "userAgent", "requestType")} == {
        "model": "ag-model", "project": "proj-1", "userAgent": "antigravity", "requestType": "agent"}
    assert sent["requestId"].startswith("agent-")
    assert sent["request"]["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    settle()
    log = RequestLog.objects.get()
    # Every stream chunk carries usageMetadata; the request counts the last one, once.
    assert (log.prompt_tokens, log.completion_tokens, log.usage_source) == (10, 5, "reported")


def test_its_retry_delay_is_the_cooldown(make_pool):
    pool = make_pool(2, kind="antigravity")
    pool.upstream.script(Reply.status(429, retry_delay="12s"), credential="token-a")
    assert [pool.chat().status_code for _ in range(4)] == [200] * 4
    a = pool.accounts[0].id
    assert 10 < live_state([a])[a].cooling_until.timestamp() - time.time() <= 12
    assert len(pool.upstream.find("v1internal:", credential="token-a")) == 1


def test_it_discovers_and_keeps_a_missing_project_id(make_pool):
    pool = make_pool(1, kind="antigravity", project_id="")
    assert pool.chat().status_code == 200
    (load,) = pool.upstream.find("v1internal:loadCodeAssist")
    assert load.credential == "token-a" and load.json == {"metadata": {"ideType": "ANTIGRAVITY"}}
    assert pool.upstream.last("v1internal:generateContent").json["project"] == "fake-project-123"
    deadline = time.monotonic() + 5
    while pool.account("a").project_id != "fake-project-123":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert pool.chat().status_code == 200
    assert len(pool.upstream.find("v1internal:loadCodeAssist")) == 1
    assert pool.upstream.last("v1internal:generateContent").json["project"] == "fake-project-123"
