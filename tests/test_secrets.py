"""Secrets at rest are Fernet tokens: the plaintext never reaches the database, and only the gateway
(with GATEWAY_ENCRYPTION_KEY) can read them back."""

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import connection

from accounts.models import Account
from providers.models import Provider
from proxies.models import ProxyServer
from tests.conftest import SECRETS

STORED = [
    (Provider, "oauth_client_secret", "oauth_client_secret"),
    (ProxyServer, "password", "proxy_password"),
    (Account, "api_key", "api_key"),
    (Account, "refresh_token", "refresh_token"),
    (Account, "access_token", "access_token"),
]


def raw_column(model, field_name: str, pk) -> str:
    quote = connection.ops.quote_name
    column = model._meta.get_field(field_name).column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.GATEWAY_ENCRYPTION_KEYS])


@pytest.mark.parametrize("model, field_name, secret", STORED, ids=[f"{m.__name__}.{f}" for m, f, _ in STORED])
def test_it_stores_secrets_encrypted(account, model, field_name, secret):
    obj = model.objects.get()
    raw = raw_column(model, field_name, obj.pk)
    assert SECRETS[secret] not in raw
    assert fernet().decrypt(raw.encode()).decode() == SECRETS[secret]
    assert getattr(obj, field_name) == SECRETS[secret]


def test_it_keeps_an_empty_secret_empty(provider):
    provider_without = Provider.objects.create(name="mock", type="mock")
    assert raw_column(Provider, "oauth_client_secret", provider_without.pk) == ""


def test_it_encrypts_the_same_secret_differently_each_time(account):
    other = Account.objects.create(provider=account.provider, name="team-b", api_key=SECRETS["api_key"])
    assert raw_column(Account, "api_key", other.pk) != raw_column(Account, "api_key", account.pk)


def test_it_stores_secrets_loaded_from_config_encrypted(db, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "c.yaml"
    path.write_text(
        "providers:\n  - {name: openai, type: openai, base_url: 'https://api.openai.com/v1'}\n"
        "proxies:\n  - {name: px, url: 'http://carol:proxy-secret-77@10.0.0.2:3128'}\n"
        "accounts:\n  - {provider: openai, name: a, api_key: upstream-secret-77}\n"
    )
    call_command("loadconfig", str(path), stdout=None)
    account, proxy = Account.objects.get(), ProxyServer.objects.get()
    assert "upstream-secret-77" not in raw_column(Account, "api_key", account.pk)
    assert "proxy-secret-77" not in raw_column(ProxyServer, "password", proxy.pk)
    assert "proxy-secret-77" not in raw_column(ProxyServer, "url", proxy.pk)
    assert proxy.password == "proxy-secret-77"
