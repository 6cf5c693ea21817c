"""The security tests run against the real gateway (the relay tests' server and fake upstream), each
with its own key prefix in the shared store; with Redis and MariaDB, some start gateway processes."""

import uuid
from pathlib import Path

import httpx
import pytest

from gateway.models import ApiKey
from tests.fakes import fake_upstream  # noqa: F401
from tests.relay.conftest import KEY, MODEL, PROVIDERS, RELAY_DB, Gateway, configure, gateway_server, gw  # noqa: F401

__all__ = ["make_key", "chat", "KEY", "MODEL", "PROVIDERS"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("django_db") is None:
            item.add_marker(RELAY_DB)


@pytest.fixture(autouse=True)
def redis_prefix(settings) -> str:
    """A fresh key prefix in the shared store: no counter leaks from one test to the next."""
    prefix = f"sectest-{uuid.uuid4().hex[:10]}:"
    settings.GATEWAY = {**settings.GATEWAY, "REDIS_PREFIX": prefix}
    return prefix


def make_key(name: str, **fields) -> tuple:
    """(raw key, ApiKey) with the given limits."""
    raw = f"sk-gw-{name}-{uuid.uuid4().hex}"
    key = ApiKey(name=name, **fields)
    key.set_key(raw)
    key.save()
    return raw, key


def chat(url: str, key: str, model: str = MODEL["openai"], fmt: str = "openai", **body) -> httpx.Response:
    """One chat request in a client format, not streamed."""
    text = body.pop("text", "hi")
    if fmt == "openai":
        payload = {"model": model, "messages": [{"role": "user", "content": text}], **body}
        return httpx.post(f"{url}/v1/chat/completions", json=payload, headers={"authorization": f"Bearer {key}"},
                          timeout=20)
    if fmt == "anthropic":
        payload = {"model": model, "max_tokens": body.pop("max_tokens", 100),
                   "messages": [{"role": "user", "content": text}], **body}
        return httpx.post(f"{url}/v1/messages", json=payload, timeout=20,
                          headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
    payload = {"contents": [{"role": "user", "parts": [{"text": text}]}], **body}
    return httpx.post(f"{url}/v1beta/models/{model}:generateContent", json=payload,
                      headers={"x-goog-api-key": key}, timeout=20)
