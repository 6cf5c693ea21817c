"""The relay under test: the real ASGI app on loopback, every provider type pointed at the fake upstream."""

from dataclasses import dataclass

import pytest

from accounts.models import Account
from gateway.models import ApiKey
from providers.models import ModelPrice, ModelRoute, Provider, RouteTarget
from tests.fakes import FakeUpstream, fake_upstream  # noqa: F401
from tests.support.server import GatewayServer, settle

KEY = "sk-gw-relay-tests-key"

# provider name -> (type, base URL path on the fake, route glob)
PROVIDERS = {
    "openai": ("openai", "/v1", "oa-*"),
    "anthropic": ("anthropic", "", "an-*"),
    "gemini": ("gemini", "", "ge-*"),
    "glm": ("glm", "/api/paas/v4", "glm-*"),
    "compat": ("openai_compatible", "/v1", "cp-*"),
    "antigravity": ("antigravity", "", "ag-*"),
    "mock": ("mock", "", "mock-*"),
}
MODEL = {name: glob.replace("*", "model") for name, (_, _, glob) in PROVIDERS.items()}


@dataclass
class Gateway:
    url: str
    key: str
    upstream: FakeUpstream

    def model(self, provider: str) -> str:
        return MODEL[provider]


@pytest.fixture(scope="session")
def gateway_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = GatewayServer().start()
    yield server
    server.stop()


def configure(upstream: FakeUpstream):
    for name, (kind, path, glob) in PROVIDERS.items():
        base = upstream.url(path) if path else (upstream.base_url if kind != "mock" else "")
        provider = Provider.objects.create(name=name, type=kind, base_url=base, timeout=10, idle_timeout=5)
        if kind != "mock":
            Account.objects.create(provider=provider, name=f"{name}-a", api_key=f"key-{name}-a",
                                   access_token=f"token-{name}-a" if kind == "antigravity" else "",
                                   project_id="proj-1")
        route = ModelRoute.objects.create(model=glob)
        RouteTarget.objects.create(route=route, provider=provider, position=0)
    ModelPrice.objects.create(model="oa-*", input_per_million=1, output_per_million=2)
    key = ApiKey(name="relay-tests")
    key.set_key(KEY)
    key.save()


@pytest.fixture
def gw(transactional_db, gateway_server, fake_upstream):  # noqa: F811
    configure(fake_upstream)
    yield Gateway(gateway_server.url, KEY, fake_upstream)
    settle()
