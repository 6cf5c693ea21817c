import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Account
from gateway.models import KEY_PREFIX, ApiKey, generate_key, hash_key
from providers.models import ModelPrice, ModelRoute, RouteTarget
from proxies.models import ProxyServer, validate_proxy_url


def test_it_generates_distinct_prefixed_keys():
    first, second = generate_key(), generate_key()
    assert first.startswith(KEY_PREFIX) and first != second and len(first) > 40


def test_it_stores_a_key_as_its_hash_and_prefix(db):
    raw = generate_key()
    key = ApiKey(name="ci")
    key.set_key(raw)
    key.save()
    key.refresh_from_db()
    assert key.key_hash == hash_key(raw) and len(key.key_hash) == 64
    assert raw.startswith(key.prefix) and len(key.prefix) < len(raw)
    assert key.matches_key(raw) and not key.matches_key(raw + "x")
    assert str(key) == f"ci ({key.prefix}…)"


def test_it_deactivates_revoked_and_expired_keys():
    past = timezone.now() - datetime.timedelta(seconds=1)
    assert ApiKey().is_active
    assert not ApiKey(revoked=True).is_active
    assert not ApiKey(expires_at=past).is_active


@pytest.mark.parametrize("allowed, model, ok", [
    ([], "anything", True), (["*"], "gpt-4o", True), (["gpt-*"], "gpt-4o", True), (["gpt-*"], "claude-3", False),
])
def test_it_limits_keys_and_accounts_to_their_models(allowed, model, ok):
    assert ApiKey(allowed_models=allowed).allows_model(model) is ok
    assert Account(allowed_models=allowed).serves(model) is ok


def test_it_matches_routes_by_glob():
    assert ModelRoute(model="gpt-*").is_glob and ModelRoute(model="gpt-*").matches("gpt-4o")
    assert not ModelRoute(model="gpt-4o").is_glob and not ModelRoute(model="gpt-4o").matches("gpt-4o-mini")


def test_it_orders_route_targets_by_position(provider):
    from providers.models import Provider

    other = Provider.objects.create(name="anthropic", type="anthropic", base_url="https://api.anthropic.com")
    route = ModelRoute.objects.create(model="claude-*")
    RouteTarget.objects.create(route=route, provider=provider, position=1)
    RouteTarget.objects.create(route=route, provider=other, position=0)
    assert [t.provider.name for t in route.targets.all()] == ["anthropic", "openai"]
    assert str(route.targets.first()) == "claude-* → anthropic"


def test_it_names_rows_readably(account, proxy):
    assert str(account) == "openai/team-a" and str(account.provider) == "openai" and str(proxy) == "px1"
    price = ModelPrice(model="gpt-4o", input_per_million=1, output_per_million=2,
                       valid_from=datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc))
    assert str(price) == "gpt-4o from 2025-01-02"


def test_it_builds_a_proxy_url_with_quoted_credentials():
    proxy = ProxyServer(url="http://10.0.0.5:3128", username="a@b", password="p:ss/w")
    assert proxy.connect_url() == "http://a%40b:p%3Ass%2Fw@10.0.0.5:3128"
    assert ProxyServer(url="socks5://10.0.0.5:1080").connect_url() == "socks5://10.0.0.5:1080"


@pytest.mark.parametrize("url", ["ftp://10.0.0.5", "10.0.0.5:3128", "http://user:pw@10.0.0.5:3128"])
def test_it_rejects_bad_proxy_urls(url):
    with pytest.raises(ValidationError):
        validate_proxy_url(url)


def test_it_says_whether_an_account_uses_oauth():
    assert Account(refresh_token="r").uses_oauth and not Account(api_key="k").uses_oauth
