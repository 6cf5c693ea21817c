"""Secrets at rest: Fernet under GATEWAY_ENCRYPTION_KEY (several keys, comma-separated, for rotation)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = ["encrypt", "decrypt", "rotate", "rotate_all", "EncryptedTextField", "Unreadable", "SecretDecryptError"]


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


def _encrypted_fields():
    from django.apps import apps

    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if columns:
            yield model, columns


def rotate_all() -> tuple:
    """Re-encrypt every stored secret under the first key; returns (rotated, unreadable).

    Reads raw column values (no decryption through the field), so a secret no configured key can
    read is counted and left as it is rather than destroyed."""
    from django.db import connection, transaction

    rotated = unreadable = 0
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for model, columns in _encrypted_fields():
            table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
            cursor.execute(f"SELECT {pk}, {', '.join(quote(c) for c in columns)} FROM {table}")
            for pk_value, *stored in cursor.fetchall():
                for column, token in zip(columns, stored):
                    if not token:
                        continue
                    try:
                        fresh = rotate(token)
                    except InvalidToken:
                        unreadable += 1
                        continue
                    cursor.execute(f"UPDATE {table} SET {quote(column)} = %s WHERE {pk} = %s", [fresh, pk_value])
                    rotated += 1
    return rotated, unreadable
