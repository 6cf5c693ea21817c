"""Staff operate; only superusers reveal or change secrets, in the admin and through the API."""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Account
from providers.models import Provider
from proxies.models import ProxyServer
from tests.conftest import SECRETS

ALL_APPS = pytest.mark.django_db(transaction=False)  # plain tests: every app installed, no server

pytestmark = ALL_APPS


def api(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def staff():
    user = User.objects.create_user("operator", is_staff=True)
    apps = ["gateway", "providers", "accounts", "proxies", "stats"]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
    return api(user)


@pytest.fixture
def superuser():
    return api(User.objects.create_user("root", is_staff=True, is_superuser=True))


SECRET_WRITES = [
    ("accounts", "api_key", lambda: {"provider": Provider.objects.get().id, "name": "b"}),
    ("accounts", "refresh_token", lambda: {"provider": Provider.objects.get().id, "name": "b"}),
    ("accounts", "access_token", lambda: {"provider": Provider.objects.get().id, "name": "b"}),
    ("providers", "oauth_client_secret", lambda: {"name": "p2", "type": "openai", "base_url": "https://x.example/v1"}),
    ("proxies", "password", lambda: {"name": "px2", "url": "http://10.0.0.9:3128"}),
]


@pytest.mark.parametrize("resource, secret, fields", SECRET_WRITES, ids=[f"{r}.{s}" for r, s, _ in SECRET_WRITES])
def test_staff_may_not_set_a_secret_through_the_api(staff, superuser, account, resource, secret, fields):
    refused = staff.post(f"/api/v1/{resource}", {**fields(), secret: "typed-by-staff"}, format="json")
    assert refused.status_code == 403
    assert secret in refused.json()["detail"]
    accepted = superuser.post(f"/api/v1/{resource}", {**fields(), secret: "typed-by-root"}, format="json")
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()[f"has_{secret}"] is True


@pytest.mark.parametrize("value", ["changed-by-staff", ""])
def test_staff_may_neither_change_nor_clear_a_secret(staff, account, value):
    response = staff.patch(f"/api/v1/accounts/{account.id}", {"api_key": value}, format="json")
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.api_key == SECRETS["api_key"]


def test_staff_may_operate_everything_else(staff, account):
    response = staff.patch(f"/api/v1/accounts/{account.id}", {"weight": 5, "enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["has_api_key"] is True and "api_key" not in response.json()
    proxy = ProxyServer.objects.get()
    assert staff.patch(f"/api/v1/proxies/{proxy.id}", {"capacity": 3}, format="json").status_code == 200
    account.refresh_from_db()
    assert (account.weight, account.enabled, account.api_key) == (5, False, SECRETS["api_key"])


def test_no_staff_page_shows_a_secret(client, account):
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["accounts", "providers",
                                                                                     "proxies"]))
    client.force_login(user)
    pages = [f"/admin/accounts/account/{account.id}/change/",
             f"/admin/providers/provider/{account.provider_id}/change/",
             f"/admin/proxies/proxyserver/{account.proxy_id}/change/"]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert not [name for name, secret in SECRETS.items() if secret in body], page
        assert 'name="api_key"' not in body and 'name="password"' not in body
    assert Account.objects.get().api_key == SECRETS["api_key"]
