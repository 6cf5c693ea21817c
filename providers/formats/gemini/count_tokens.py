"""Gemini countTokens, both directions."""

from providers.types import ChatRequest

from ._common import _get, _object
from .requests import build_request, parse_request

__all__ = [
    "parse_count_tokens_request", "build_count_tokens_request", "build_count_tokens_response",
    "parse_count_tokens_response",
]


# --- countTokens -----------------------------------------------------------------------------

def parse_count_tokens_request(body: dict, *, model: str = "") -> ChatRequest:
    """A countTokens body: ``contents``, or a whole ``generateContentRequest``."""
    body = _object(body, "body")
    inner = _get(body, "generateContentRequest")
    return parse_request(_object(inner, "generateContentRequest") if inner is not None else body, model=model)


def build_count_tokens_request(request: ChatRequest, upstream_model: str) -> dict:
    body = build_request(request, upstream_model)
    if set(body) == {"contents"}:
        return body
    # Bare contents leave out the system prompt and tools; a full request counts them too.
    return {"generateContentRequest": {"model": f"models/{upstream_model}", **body}}


def build_count_tokens_response(total: int) -> dict:
    return {"totalTokens": total}


def parse_count_tokens_response(body: dict) -> int:
    return _get(body, "totalTokens", 0)
