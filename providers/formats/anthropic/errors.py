"""Messages API error bodies, both directions."""

import orjson

from ._common import ERROR_TYPES

__all__ = ["build_error", "parse_error"]


ERROR_MESSAGE_LIMIT = 500
STATUS_ERROR_TYPES = {
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    503: "overloaded_error", 529: "overloaded_error",
}


# --- errors --------------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    """Anthropic's error body; its errors have no ``param``, so the field name is not sent."""
    kind = STATUS_ERROR_TYPES.get(status) or ERROR_TYPES.get(error_type, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def parse_error(status: int, body: bytes) -> str:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
    else:
        message = body.decode("utf-8", errors="replace").strip() or f"HTTP {status}"
    return message[:ERROR_MESSAGE_LIMIT]
