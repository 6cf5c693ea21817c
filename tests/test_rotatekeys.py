"""Key rotation: secrets re-encrypted under the new key stay readable; unreadable ones are left alone."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from accounts.models import Account
from gateway import crypto
from providers.models import Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    old = settings.GATEWAY_ENCRYPTION_KEYS
    crypto._fernet.cache_clear()
    yield settings
    settings.GATEWAY_ENCRYPTION_KEYS = old
    crypto._fernet.cache_clear()


def _raw(account):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM accounts_account WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_it_re_encrypts_under_the_new_key(keys):
    account = Account.objects.create(provider=Provider.objects.create(name="p", type="mock"), name="a",
                                     api_key="sk-secret-rotating")
    new = Fernet.generate_key().decode()
    keys.GATEWAY_ENCRYPTION_KEYS = [new, *keys.GATEWAY_ENCRYPTION_KEYS]
    crypto._fernet.cache_clear()
    call_command("rotatekeys")
    assert Fernet(new.encode()).decrypt(_raw(account).encode()) == b"sk-secret-rotating"
    keys.GATEWAY_ENCRYPTION_KEYS = [new]
    crypto._fernet.cache_clear()
    assert Account.objects.get(pk=account.pk).api_key == "sk-secret-rotating"


def test_a_wrong_key_makes_the_secret_unreadable_never_sent(keys):
    account = Account.objects.create(provider=Provider.objects.create(name="p", type="mock"), name="a",
                                     api_key="sk-secret-rotating")
    stored = _raw(account)
    keys.GATEWAY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    crypto._fernet.cache_clear()
    loaded = Account.objects.get(pk=account.pk)
    assert isinstance(loaded.api_key, crypto.Unreadable) and loaded.api_key == ""
    loaded.save()  # saving with the wrong key must not destroy the stored secret
    assert _raw(account) == stored
    from gateway.snapshot import build_snapshot

    assert not build_snapshot().accounts[account.provider_id][0].usable
