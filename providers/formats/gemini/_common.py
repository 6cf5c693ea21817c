"""Constants and small helpers shared by the Gemini codec."""

import base64
import binascii
import re
import uuid

import orjson

from providers.types import BadRequest

__all__ = [
    "_FINISH_REASONS", "_GOOGLE_STATUSES", "_TYPE_CODES", "_get", "_usable", "_new_id", "_json",
    "_object", "_list",
]


_FINISH_REASONS = {
    "end_turn": "STOP", "tool_use": "STOP", "stop_sequence": "STOP", "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY", "error": "OTHER",
}

_GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_TYPE_CODES = {
    "invalid_request": 400, "auth": 401, "unknown_model": 404, "rate_limit": 429,
    "timeout": 504, "network": 502, "server_error": 500,
}

_UPPER = re.compile(r"([A-Z])")


# --- shared helpers --------------------------------------------------------------------------

def _get(obj: dict, name: str, default=None):
    """A field by its camelCase name or its snake_case twin."""
    value = obj.get(name)
    if value is None:
        value = obj.get(_UPPER.sub(r"_\1", name).lower())
    return default if value is None else value


def _usable(signature: str) -> str:
    """The signature if it is canonical base64, as every Gemini signature is, else "".

    Other providers' tokens (or a mock's) make the google-genai SDK refuse the whole response and
    can only fail upstream, so they are dropped on the way out.
    """
    if set(signature) & set("-_") and set(signature) & set("+/"):
        return ""  # the URL-safe and standard alphabets mixed
    standard = signature.replace("-", "+").replace("_", "/")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        canonical = base64.b64encode(base64.b64decode(padded, validate=True)).decode() == padded
    except (binascii.Error, ValueError):
        canonical = False
    return signature if canonical else ""


def _new_id() -> str:
    return uuid.uuid4().hex


def _json(value) -> str:
    return orjson.dumps(value).decode()


def _object(value, param: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{param} must be an object", param)
    return value


def _list(value, param: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{param} must be a list", param)
    return value
