"""Chat Completions error bodies, both directions."""

import orjson

from ._common import _string

__all__ = ["build_error", "parse_error"]


# --- errors ----------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    """The gateway's error body in OpenAI's shape; the status travels in the HTTP response."""
    error = {
        "message": message, "type": error_type, "code": error_type,
        "param": param or None, "request_id": request_id,
    }
    return {"error": error}


def parse_error(status: int, body: bytes) -> str:
    """The upstream's error message, from its JSON when it has one, else its text (500 chars)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    # Gemini's OpenAI-compatible endpoint wraps its error in a one-element array.
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    message = _json_error_message(parsed) if isinstance(parsed, dict) else ""
    if not message:
        message = body.decode("utf-8", errors="replace").strip()
    return message[:500] or f"upstream answered HTTP {status} with an empty body"


def _json_error_message(parsed: dict) -> str:
    error = parsed.get("error")
    if isinstance(error, dict):
        return _string(error.get("message"))
    return _string(error) or _string(parsed.get("message"))
