"""Client authentication: the gateway key, taken the way each SDK sends it, checked against the snapshot
(revoked, expired, the client's address against the key's allowed CIDR blocks), and the model it asks for."""

from datetime import datetime, timezone

from gateway.errors import AuthError, PermissionDenied
from gateway.models import hash_key
from gateway.snapshot import KeyConf, Snapshot

__all__ = ["presented_key", "authenticate", "check_address", "check_model"]


def presented_key(headers: dict, query: dict) -> tuple:
    """(key, how) — how is "bearer", "x-api-key", "goog" or "" when nothing was sent."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), "bearer"
    if "x-api-key" in headers:
        return headers["x-api-key"].strip(), "x-api-key"
    if "x-goog-api-key" in headers:
        return headers["x-goog-api-key"].strip(), "goog"
    if "key" in query:
        return query["key"].strip(), "goog"
    return "", ""


def authenticate(snapshot: Snapshot, raw_key: str) -> KeyConf:
    if not raw_key:
        raise AuthError("a gateway key is required (Authorization: Bearer, x-api-key, x-goog-api-key or ?key=)")
    # The snapshot is keyed by the key's hash, so finding it is the constant-time part of the check.
    key = snapshot.keys.get(hash_key(raw_key))
    if key is None:
        raise AuthError("the gateway key is not valid")
    if key.revoked:
        raise AuthError("the gateway key has been revoked")
    if key.expires_at is not None and key.expires_at <= datetime.now(timezone.utc):
        raise AuthError("the gateway key has expired")
    return key


def check_address(key: KeyConf, client_ip: str):
    """The connection's address (the client's behind a proxy uvicorn trusts with --forwarded-allow-ips)."""
    if not key.allows_address(client_ip):
        raise PermissionDenied(f"this gateway key may not be used from {client_ip or 'an unknown address'}")


def check_model(key: KeyConf, model: str):
    if not key.allows_model(model):
        raise PermissionDenied(f"this gateway key may not use the model '{model}'")
