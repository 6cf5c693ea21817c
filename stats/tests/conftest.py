"""A small known world (providers, accounts, proxies, keys with canary secrets) and a known request log
over three UTC days, with the numbers recomputed in Python to check the database's against."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Account
from gateway.models import ApiKey
from providers.models import ModelPrice, Provider
from proxies.models import ProxyServer
from stats.aggregation import today
from stats.tests.data import CANARIES, RAW_KEYS, add_log, at


@pytest.fixture
def world(db):
    openai = Provider.objects.create(name="openai", type="openai", base_url="https://api.openai.com/v1",
                                     oauth_client_secret=CANARIES["oauth_client_secret"])
    anthropic = Provider.objects.create(name="anthropic", type="anthropic", base_url="https://api.anthropic.com")
    px1 = ProxyServer.objects.create(name="px1", url="http://10.0.0.5:3128", username="bob",
                                     password=CANARIES["proxy_password"])
    px2 = ProxyServer.objects.create(name="px2", url="http://10.0.0.6:3128")
    team_a = Account.objects.create(provider=openai, name="team-a", api_key=CANARIES["api_key"],
                                    refresh_token=CANARIES["refresh_token"], access_token=CANARIES["access_token"],
                                    proxy=px1)
    team_b = Account.objects.create(provider=anthropic, name="team-b", api_key="sk-ant-other", proxy=px2)
    keys = {}
    for name, raw in RAW_KEYS.items():
        key = ApiKey(name=name, rpm=60, tpm=100000, budget_usd=Decimal("25.5"), budget_period="monthly",
                     allowed_models=["gpt-*"])
        key.set_key(raw)
        key.save()
        keys[name] = key
    ModelPrice.objects.create(model="gpt-4o", input_per_million=Decimal("2.5"), output_per_million=Decimal("10"),
                              cached_input_per_million=Decimal("1.25"))
    return SimpleNamespace(openai=openai, anthropic=anthropic, px1=px1, px2=px2, team_a=team_a, team_b=team_b,
                           ci=keys["ci"], web=keys["web"])


@pytest.fixture
def days():
    d0 = today()
    return SimpleNamespace(d0=d0, d1=d0 - datetime.timedelta(days=1), d2=d0 - datetime.timedelta(days=2))


@pytest.fixture
def logged(world, days):
    """Eight requests over the last three UTC days; day d2 has three, d1 two (on its very edges), today three."""
    w, d0, d1, d2 = world, days.d0, days.d1, days.d2
    openai_a = {"provider": w.openai, "account": w.team_a, "proxy": w.px1}
    anthropic_b = {"provider": w.anthropic, "account": w.team_b, "proxy": w.px2}
    rows = [
        add_log(at(d2, 10), api_key=w.ci, **openai_a, requested_model="gpt-4o", upstream_model="gpt-4o",
                prompt_tokens=1000, completion_tokens=200, cached_tokens=100, cost=Decimal("0.004375"),
                latency_ms=800, ttft_ms=150, stream=True),
        add_log(at(d2, 11), api_key=w.ci, **openai_a, requested_model="gpt-4o", upstream_model="gpt-4o",
                status_code=429, error_type="rate_limit", cost=Decimal("0"), latency_ms=50),
        add_log(at(d2, 12), api_key=w.web, **anthropic_b, requested_model="claude",
                upstream_model="claude-3-5-sonnet", prompt_tokens=500, completion_tokens=100, latency_ms=1200,
                ttft_ms=300, stream=True),
        add_log(at(d1, 23, 59, 59, 999000), api_key=w.web, **openai_a, requested_model="gpt-4o",
                upstream_model="gpt-4o", prompt_tokens=10, completion_tokens=5, cost=Decimal("0.000075"),
                latency_ms=100),
        add_log(at(d1), api_key=w.ci, **anthropic_b, requested_model="claude-x", status_code=502,
                error_type="upstream_error", latency_ms=30),
        add_log(at(d0, 1), api_key=w.ci, **openai_a, requested_model="gpt-4o", upstream_model="gpt-4o",
                prompt_tokens=2000, completion_tokens=1000, cached_tokens=500, reasoning_tokens=300,
                cost=Decimal("0.01437500"), latency_ms=2000, ttft_ms=400, stream=True),
        add_log(at(d0, 2), api_key=w.web, requested_model="gpt-4o", status_code=401, error_type="auth",
                latency_ms=1),
        add_log(at(d0, 3), api_key=w.ci, **openai_a, requested_model="mini", upstream_model="gpt-4o-mini",
                prompt_tokens=100, completion_tokens=50, latency_ms=300, ttft_ms=100, stream=True),
    ]
    return rows


@pytest.fixture
def staff_api(db):
    user = User.objects.create_user("ops", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def superuser_api(db):
    """Only a superuser may set or change secrets through the API."""
    user = User.objects.create_user("root", is_staff=True, is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def key_api(world):
    def make(name="ci", header="bearer"):
        client = APIClient()
        raw = RAW_KEYS[name]
        if header == "bearer":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        else:
            client.credentials(HTTP_X_API_KEY=raw)
        return client

    return make
