"""Gemini error bodies and retry delays, both directions."""

import orjson

from ._common import _GOOGLE_STATUSES, _TYPE_CODES

__all__ = ["build_error", "parse_error", "retry_delay_seconds"]


# --- errors ----------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    details = [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error_type.upper(),
        "domain": "gateway", "metadata": {"request_id": request_id},
    }]
    if param:
        details.append({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": param, "description": message}],
        })
    google_status = _GOOGLE_STATUSES.get(status) or _GOOGLE_STATUSES[_TYPE_CODES.get(error_type, 500)]
    return {"error": {"code": status, "message": message, "status": google_status, "details": details}}


def parse_error(status: int, body: bytes) -> str:
    error = _error_object(body)
    if error and error.get("message"):
        return str(error["message"])
    text = body.decode("utf-8", errors="replace").strip()
    return text[:1000] or f"HTTP {status}"


def retry_delay_seconds(body: bytes) -> float | None:
    """The wait google.rpc.RetryInfo asks for ("12s", "1.5s"), if the error carries one."""
    error = _error_object(body) or {}
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return _seconds(detail.get("retryDelay"))
    return None


def _seconds(duration) -> float | None:
    if not isinstance(duration, str) or not duration.endswith("s"):
        return None
    try:
        return float(duration[:-1])
    except ValueError:
        return None


def _error_object(body: bytes) -> dict | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]  # the JSON-array stream wraps its error too
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else None
