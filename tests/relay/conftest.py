"""The relay under test: the real ASGI app on loopback, every provider type pointed at the fake upstream."""

from dataclasses import dataclass
from pathlib import Path

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

    def route(self, model: str, *providers: str, upstream_model: str = "") -> ModelRoute:
        """Route ``model`` (a name or a glob) to the named providers, in fallback order."""
        route = ModelRoute.objects.create(model=model, upstream_model=upstream_model)
        for position, name in enumerate(providers):
            RouteTarget.objects.create(route=route, provider=Provider.objects.get(name=name), position=position)
        return route


# Each test commits its configuration for the server thread to read; flushing only the gateway's own
# apps, without re-running post_migrate, keeps that cheap.
RELAY_DB = pytest.mark.django_db(transaction=True,
                                 available_apps=["gateway", "providers", "accounts", "proxies", "stats"])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(RELAY_DB)


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
            oauth = kind == "antigravity"
            Account.objects.create(provider=provider, name=f"{name}-a", api_key="" if oauth else f"key-{name}-a",
                                   access_token=f"token-{name}-a" if oauth else "", project_id="proj-1")
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



# The SDK clients are built once: each builds its own HTTP clients and TLS contexts, which is slow.
@pytest.fixture(scope="session")
def sdk_clients(gateway_server):
    import anthropic
    import openai
    from google import genai
    from google.genai import types

    url = gateway_server.url
    google_options = types.HttpOptions(base_url=url, timeout=20_000, retry_options=types.HttpRetryOptions(attempts=1))
    with openai.OpenAI(api_key=KEY, base_url=url + "/v1", max_retries=0, timeout=20) as oa, \
            anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0, timeout=20) as an:
        yield {"oa": oa, "an": an, "ge": genai.Client(api_key=KEY, http_options=google_options)}


@pytest.fixture
def oa(gw, sdk_clients):
    """The official OpenAI SDK, pointed at the gateway's /v1."""
    return sdk_clients["oa"]


@pytest.fixture
def an(gw, sdk_clients):
    """The official Anthropic SDK, pointed at the gateway."""
    return sdk_clients["an"]


@pytest.fixture
def ge(gw, sdk_clients):
    """The official google-genai SDK, pointed at the gateway (it calls /v1beta/models/...)."""
    return sdk_clients["ge"]
