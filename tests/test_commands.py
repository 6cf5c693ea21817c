import stat
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from gateway.models import ApiKey, hash_key


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_prints_a_usable_fernet_key():
    key = run("genkey").strip()
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"


def test_it_creates_a_key_and_prints_it_once(db):
    output = run("createkey", "team-search", "--models", "gpt-*", "fast", "--rpm", "60", "--tpm", "1000",
                 "--budget", "12.5")
    raw = output.strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert key.key_hash == hash_key(raw) and key.allowed_models == ["gpt-*", "fast"]
    assert (key.rpm, key.tpm, float(key.budget_usd)) == (60, 1000, 12.5)


def test_it_refuses_a_second_key_with_the_same_name(db):
    run("createkey", "ci")
    with pytest.raises(CommandError, match="exists"):
        run("createkey", "CI")


def test_it_creates_the_first_admin_once(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    output = run("ensureadmin")
    password = (tmp_path / "admin_password").read_text().strip()
    assert password in output
    assert stat.S_IMODE((tmp_path / "admin_password").stat().st_mode) == 0o600
    assert User.objects.get(username="admin").check_password(password)
    again = run("ensureadmin")
    assert "changepassword admin" in again and password not in again
    assert User.objects.count() == 1


def test_it_takes_the_admin_password_from_the_environment(db, settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    monkeypatch.setenv("GATEWAY_ADMIN_PASSWORD", "from-the-environment")
    output = run("ensureadmin")
    assert "from-the-environment" not in output and not (tmp_path / "admin_password").exists()
    assert User.objects.get(username="admin").check_password("from-the-environment")
