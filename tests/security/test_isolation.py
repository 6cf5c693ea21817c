"""Clients cannot steer the gateway: no routing fields in a body, none of their credentials or cookies
forwarded upstream, and an account's credential goes only with that account's own attempts."""

import httpx
import pytest

from accounts.models import Account
from gateway.http import ROUTING_FIELDS
from providers.models import Provider
from tests.fakes import Reply
from tests.security.conftest import MODEL

UPSTREAMS = ["openai", "anthropic", "gemini", "glm", "compat", "antigravity"]
COOKIE = "session=client-cookie-secret-71c2"

REQUESTS = {
    "openai": ("/v1/chat/completions", lambda model: {"model": model, "messages": [{"role": "user", "content": "hi"}]}),
    "anthropic": ("/v1/messages", lambda model: {"model": model, "max_tokens": 50,
                                                 "messages": [{"role": "user", "content": "hi"}]}),
    "gemini": ("/v1beta/models/{model}:generateContent",
               lambda model: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    "responses": ("/v1/responses", lambda model: {"model": model, "input": "hi"}),
    "embeddings": ("/v1/embeddings", lambda model: {"model": model, "input": "hi"}),
}


def send(gw, fmt: str, model: str, extra: dict | None = None, headers: dict | None = None) -> httpx.Response:
    path, body = REQUESTS[fmt]
    all_headers = {"authorization": f"Bearer {gw.key}", "anthropic-version": "2023-06-01", **(headers or {})}
    return httpx.post(gw.url + path.format(model=model), json={**body(model), **(extra or {})}, headers=all_headers,
                      timeout=20)


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "extra_headers", "extra_query",
                                   "custom_llm_provider"])
@pytest.mark.parametrize("fmt", list(REQUESTS))
def test_a_field_that_would_choose_the_upstream_is_refused(gw, fmt, field):
    response = send(gw, fmt, MODEL["openai"], {field: "http://attacker.example"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert field in error["message"]
    if fmt in ("openai", "embeddings", "responses"):
        assert error["param"] == field
    assert gw.upstream.find() == []


def test_the_routing_fields_are_the_ones_documented():
    assert {"api_base", "base_url", "api_key", "extra_headers", "extra_query", "custom_llm_provider"} <= ROUTING_FIELDS


def leaks(req, *secrets) -> list:
    """Where in an upstream request any of ``secrets`` appears."""
    found = []
    for secret in secrets:
        found += [f"header {name}" for name, value in req.headers.items() if secret in value]
        found += [f"query {name}" for name, value in req.query.items() if secret in value]
        if secret.encode() in req.body:
            found.append("body")
    return found


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_the_clients_credentials_and_cookies_never_reach_the_upstream(gw, fmt, upstream):
    headers = {"authorization": f"Bearer {gw.key}", "x-api-key": gw.key, "x-goog-api-key": gw.key, "cookie": COOKIE,
               "proxy-authorization": f"Basic {gw.key}"}
    response = send(gw, fmt, MODEL[upstream], headers=headers)
    assert response.status_code == 200, response.text
    requests = [req for req in gw.upstream.find() if "oauth" not in req.path]
    assert requests
    for req in requests:
        assert leaks(req, gw.key, "client-cookie-secret") == [], (req.path, req.headers)
        assert "cookie" not in req.headers


def credential_of(upstream: str, letter: str) -> str:
    return f"token-{upstream}-{letter}" if upstream == "antigravity" else f"key-{upstream}-{letter}"


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_failover_sends_the_next_accounts_own_credential(gw, upstream):
    provider = Provider.objects.get(name=upstream)
    oauth = upstream == "antigravity"
    Account.objects.create(provider=provider, name=f"{upstream}-b", project_id="proj-1",
                           api_key="" if oauth else credential_of(upstream, "b"),
                           access_token=credential_of(upstream, "b") if oauth else "")
    a, b = credential_of(upstream, "a"), credential_of(upstream, "b")
    gw.upstream.script(Reply.status(500, message="account a is down"), credential=a, times=None)
    statuses = [send(gw, "openai", MODEL[upstream]).status_code for _ in range(4)]
    assert statuses == [200] * 4
    requests = [req for req in gw.upstream.find() if "oauth" not in req.path]
    tried_a = [req for req in requests if req.credential == a]
    served_by_b = [req for req in requests if req.credential == b]
    assert tried_a, "account a was never tried: no failover happened"
    assert len(served_by_b) == 4
    for req in served_by_b:
        assert leaks(req, a) == [], (req.path, leaks(req, a))
    for req in tried_a:
        assert leaks(req, b) == []
