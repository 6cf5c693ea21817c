"""Secrets at rest: Fernet under GATEWAY_ENCRYPTION_KEY (several keys, comma-separated, for rotation)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = ["encrypt", "decrypt", "EncryptedTextField", "Unreadable", "SecretDecryptError"]


class SecretDecryptError(Exception):
    """The stored ciphertext cannot be read with any configured key."""


class Unreadable(str):
    """Stands in for a secret that could not be decrypted: empty, never sent anywhere, and
    written back unchanged so that a save with the wrong key does not destroy the secret."""

    def __new__(cls, ciphertext: str):
        obj = super().__new__(cls, "")
        obj.ciphertext = ciphertext
        return obj


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.GATEWAY_ENCRYPTION_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"GATEWAY_ENCRYPTION_KEY is not a valid Fernet key: {exc}") from exc


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptError("secret cannot be decrypted with the configured GATEWAY_ENCRYPTION_KEY") from None


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column whose value is stored encrypted; empty stays empty so 'no secret' is visible."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        try:
            return decrypt(value)
        except SecretDecryptError:
            return Unreadable(value)

    def get_prep_value(self, value):
        if isinstance(value, Unreadable):
            return value.ciphertext
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
