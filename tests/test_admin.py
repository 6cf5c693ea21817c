import re

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import Account, Health
from gateway.models import ApiKey, hash_key
from providers.models import ModelRoute, Provider, RouteTarget
from proxies.models import ProxyServer
from stats.models import RequestLog
from tests.conftest import SECRETS

MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)
IDS = [model._meta.label for model in MODELS]


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_it_renders_every_changelist(admin_client, sample_object, model):
    sample_object(model)
    assert admin_client.get(url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_it_renders_every_add_page(admin_client, admin_user, rf, model):
    request = rf.get("/")
    request.user = admin_user
    expected = 200 if admin.site._registry[model].has_add_permission(request) else 403
    assert admin_client.get(url(model, "add")).status_code == expected


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_it_renders_every_change_page(admin_client, sample_object, model):
    obj = sample_object(model)
    assert admin_client.get(url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize("view", ["changelist", "add", "change"])
def test_it_sends_anonymous_users_to_login(client, sample_object, model, view):
    args = [sample_object(model).pk] if view == "change" else []
    response = client.get(url(model, view, *args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_titles_the_site(admin_client):
    assert "AI Gateway" in admin_client.get(reverse("admin:index")).content.decode()


@pytest.mark.parametrize("model", [Provider, Account, ProxyServer], ids=lambda m: m.__name__)
def test_it_never_renders_a_stored_secret(admin_client, account, model):
    obj = model.objects.get()
    page = admin_client.get(url(model, "change", obj.pk)).content.decode()
    for secret in SECRETS.values():
        assert secret not in page
    assert "(set, leave blank to keep)" in page


@pytest.mark.parametrize("model", [Provider, Account, ProxyServer], ids=lambda m: m.__name__)
def test_it_hides_secret_fields_from_staff(staff_client, account, model):
    obj = model.objects.get()
    response = staff_client.get(url(model, "change", obj.pk))
    page = response.content.decode()
    assert response.status_code == 200
    for name in ["api_key", "refresh_token", "access_token", "oauth_client_secret", "password"]:
        assert f'name="{name}"' not in page
    for secret in SECRETS.values():
        assert secret not in page


def proxy_form(**changes):
    data = {"name": "px1", "url": "http://10.0.0.5:3128", "username": "bob", "password": "",
            "capacity": "10", "priority": "0", "enabled": "on"}
    return {**data, **changes}


def test_it_ignores_secrets_posted_by_staff(staff_client, proxy):
    response = staff_client.post(url(ProxyServer, "change", proxy.pk), proxy_form(password="injected", capacity="7"))
    assert response.status_code == 302
    proxy.refresh_from_db()
    assert (proxy.capacity, proxy.password) == (7, SECRETS["proxy_password"])


def test_it_keeps_a_secret_left_blank(admin_client, proxy):
    response = admin_client.post(url(ProxyServer, "change", proxy.pk), proxy_form(capacity="3"))
    assert response.status_code == 302
    proxy.refresh_from_db()
    assert (proxy.capacity, proxy.password) == (3, SECRETS["proxy_password"])


def test_it_replaces_a_typed_secret(admin_client, proxy):
    admin_client.post(url(ProxyServer, "change", proxy.pk), proxy_form(password="new-password"))
    proxy.refresh_from_db()
    assert proxy.password == "new-password"


def test_it_clears_a_secret_when_asked(admin_client, proxy):
    admin_client.post(url(ProxyServer, "change", proxy.pk), proxy_form(password_clear="on"))
    proxy.refresh_from_db()
    assert proxy.password == ""
    assert "(not set)" in admin_client.get(url(ProxyServer, "change", proxy.pk)).content.decode()


def test_it_sets_a_secret_on_the_add_page(admin_client, db):
    response = admin_client.post(url(ProxyServer, "add"), proxy_form(name="px2", password="first-password"))
    assert response.status_code == 302
    assert ProxyServer.objects.get(name="px2").password == "first-password"


def test_it_rejects_credentials_in_a_proxy_url(admin_client, db):
    response = admin_client.post(url(ProxyServer, "add"), proxy_form(url="http://u:p@10.0.0.5:3128"))
    assert response.status_code == 200
    assert not ProxyServer.objects.exists()


def test_it_shows_a_new_key_once_and_stores_only_its_hash(admin_client, db):
    data = {"name": "ci", "key": "", "budget_period": "total", "allowed_models": "[]", "allowed_ips": "[]",
            "tags": "{}"}
    shown = admin_client.post(url(ApiKey, "add"), data, follow=True).content.decode()
    raw = re.search(r"sk-gw-[A-Za-z0-9_-]{20,}", shown).group(0)
    key = ApiKey.objects.get()
    assert key.key_hash == hash_key(raw) and raw.startswith(key.prefix)
    assert raw not in str(ApiKey.objects.values().get())
    for view, args in [("changelist", []), ("change", [key.pk])]:
        page = admin_client.get(url(ApiKey, view, *args)).content.decode()
        assert raw not in page and key.prefix in page


def test_it_keeps_a_typed_key(admin_client, db):
    raw = "sk-gw-typed-by-the-operator-123"
    admin_client.post(url(ApiKey, "add"), {"name": "ops", "key": raw, "budget_period": "total",
                                           "allowed_models": "[]", "allowed_ips": "[]", "tags": "{}"})
    assert ApiKey.objects.get().matches_key(raw)


def test_it_revokes_keys(admin_client, sample_object):
    key = sample_object(ApiKey)
    admin_client.post(url(ApiKey, "changelist"), {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked


@pytest.mark.parametrize("action, enabled", [("disable", False), ("enable", True)])
def test_it_enables_and_disables_accounts(admin_client, account, action, enabled):
    Account.objects.update(enabled=not enabled)
    admin_client.post(url(Account, "changelist"), {"action": action, "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.enabled is enabled


def test_it_marks_accounts_healthy(admin_client, account):
    Account.objects.update(health=Health.COOLING, last_error="429")
    admin_client.post(url(Account, "changelist"), {"action": "mark_healthy", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert (account.health, account.last_error) == (Health.HEALTHY, "")


def test_it_lists_a_route_chain_in_order(admin_client, provider):
    other = Provider.objects.create(name="anthropic", type="anthropic", base_url="https://api.anthropic.com")
    route = ModelRoute.objects.create(model="claude-sonnet-4-5")
    RouteTarget.objects.create(route=route, provider=other, position=0)
    RouteTarget.objects.create(route=route, provider=provider, position=1)
    assert "anthropic → openai" in admin_client.get(url(ModelRoute, "changelist")).content.decode()


def test_it_keeps_one_default_provider(admin_client, provider):
    Provider.objects.filter(pk=provider.pk).update(is_default=True)
    data = {"name": "mock", "type": "mock", "base_url": "", "enabled": "on", "is_default": "on", "timeout": "600",
            "connect_timeout": "10", "idle_timeout": "120", "oauth_token_url": "", "oauth_client_id": ""}
    assert admin_client.post(url(Provider, "add"), data).status_code == 302
    assert list(Provider.objects.filter(is_default=True).values_list("name", flat=True)) == ["mock"]


def test_it_counts_accounts_per_proxy(admin_client, account):
    page = admin_client.get(url(ProxyServer, "changelist")).content.decode()
    assert re.search(r'class="field-account_count">1<', page)
    assert SECRETS["proxy_password"] not in page and "bob" not in page


def test_it_keeps_request_logs_read_only(admin_client, sample_object):
    log = sample_object(RequestLog)
    response = admin_client.post(url(RequestLog, "change", log.pk), {"status_code": "500"})
    assert response.status_code == 403
    assert admin_client.get(url(RequestLog, "delete", log.pk)).status_code == 403
