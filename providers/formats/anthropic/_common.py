"""Constants and validation helpers shared by the Anthropic Messages codec."""

from providers.types import BadRequest

__all__ = ["STOP_REASONS_IN", "STOP_REASONS_OUT", "ERROR_TYPES", "_integer", "_number", "_flag", "_object", "_string"]


STOP_REASONS_IN = {
    "end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
    "tool_use": "tool_use", "pause_turn": "end_turn", "refusal": "content_filter",
    "model_context_window_exceeded": "max_tokens",
}
STOP_REASONS_OUT = {
    "end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
    "tool_use": "tool_use", "content_filter": "refusal", "error": "end_turn",
}
ERROR_TYPES = {
    "invalid_request": "invalid_request_error", "auth": "authentication_error",
    "unknown_model": "not_found_error", "rate_limit": "rate_limit_error", "timeout": "timeout_error",
    "network": "api_error", "server_error": "api_error",
}


def _integer(body: dict, key: str, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadRequest(f"{key} must be an integer of at least {minimum}", key)
    return value


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{key} must be a number", key)
    return float(value)


def _flag(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be a boolean", key)
    return value


def _object(body: dict, key: str) -> dict:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object", key)
    return value


def _string(block: dict, key: str, param: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string", f"{param}.{key}")
    return value
