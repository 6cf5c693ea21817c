"""Every configuration change lands in the audit log with its actor; secrets are masked."""

import pytest
from django.core.management import call_command

from accounts.models import Account
from gateway.models import AuditEntry
from providers.models import Provider

pytestmark = pytest.mark.django_db

SECRET = "sk-canary-audit-0123456789"


def test_it_records_an_admin_change_with_the_user(admin_client):
    provider = Provider.objects.create(name="openai", type="openai", base_url="https://api.openai.com/v1")
    response = admin_client.post(f"/admin/providers/provider/{provider.pk}/change/", {
        "name": "openai", "type": "openai", "base_url": "https://example.com/v1", "enabled": "on",
        "timeout": 600, "connect_timeout": 10, "idle_timeout": 120,
        "oauth_client_secret_0": "", "routes-TOTAL_FORMS": 0, "routes-INITIAL_FORMS": 0,
    })
    assert response.status_code in (200, 302)
    entry = AuditEntry.objects.filter(model="providers.Provider", action="update").first()
    assert entry is not None, response.content[:2000]
    assert entry.actor == "admin" and entry.source == "admin"
    assert entry.changes["base_url"] == ["https://api.openai.com/v1", "https://example.com/v1"]


def test_it_masks_secrets_and_names_loadconfig(tmp_path):
    config = tmp_path / "gw.yaml"
    config.write_text(
        "providers:\n  - {name: openai, type: openai, base_url: 'https://api.openai.com/v1'}\n"
        f"accounts:\n  - {{provider: openai, name: team-a, api_key: '{SECRET}'}}\n")
    call_command("loadconfig", str(config))
    entry = AuditEntry.objects.get(model="accounts.Account", action="create")
    assert entry.source == "loadconfig"
    assert entry.changes["api_key"] == "set"
    assert SECRET not in str(list(AuditEntry.objects.values_list("changes", flat=True)))


def test_it_records_deletes():
    provider = Provider.objects.create(name="p", type="mock")
    account = Account.objects.create(provider=provider, name="a", api_key=SECRET)
    account.delete()
    assert AuditEntry.objects.filter(model="accounts.Account", action="delete").count() == 1
