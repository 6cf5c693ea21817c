"""The same-format fast path: a Gemini client's body sent on to a Gemini upstream unchanged (the
model is in the URL). Every Gemini stream chunk carries usage, so nothing is kept from the client."""

from providers.types import Usage

from ._common import _get
from .responses import _usage

__all__ = ["forward_request", "hides_usage", "response_usage"]


def forward_request(body: dict, model: str, stream: bool) -> dict:
    return body


def hides_usage(body: dict, stream: bool) -> bool:
    return False


def response_usage(data) -> Usage:
    """The usage of a generateContent answer; a body of another shape is not an answer."""
    if not isinstance(data, dict) or "error" in data:
        raise ValueError("the upstream's answer is not a generateContent response")
    return _usage(_get(data, "usageMetadata", {}) or {})
