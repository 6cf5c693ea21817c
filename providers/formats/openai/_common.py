"""Validation helpers shared by the OpenAI Chat Completions codec."""

from providers.types import BadRequest, Text

__all__ = ["_get", "_positive", "_float", "_required_string", "_joined", "_string"]


_NUMBER = (int, float)
_KIND_NAMES = {
    str: "a string", int: "an integer", _NUMBER: "a number", bool: "a boolean",
    dict: "an object", list: "an array",
}


# --- validation helpers ----------------------------------------------------------------------

def _get(body: dict, key: str, kind, param: str = ""):
    """``body[key]`` when present and of ``kind``; None when absent; BadRequest otherwise."""
    value = body.get(key)
    if value is None:
        return None
    # bool is an int to isinstance, but true is never a valid max_tokens.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        param = param or key
        raise BadRequest(f"'{param}' must be {_KIND_NAMES[kind]}", param)
    return value


def _positive(body: dict, key: str):
    value = _get(body, key, int)
    if value is not None and value < 1:
        raise BadRequest(f"'{key}' must be at least 1", key)
    return value


def _float(body: dict, key: str):
    value = _get(body, key, _NUMBER)
    return None if value is None else float(value)


def _required_string(body: dict, key: str, param: str) -> str:
    value = _get(body, key, str, param)
    if not value:
        raise BadRequest(f"'{param}' is required", param)
    return value


def _joined(parts: list, separator: str = "") -> str:
    return separator.join(part.text for part in parts if isinstance(part, Text))


def _string(value) -> str:
    return value if isinstance(value, str) else ""
