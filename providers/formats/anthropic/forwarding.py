"""The same-format fast path: an Anthropic client's body sent on to an Anthropic upstream as it is,
with only the model changed. Anthropic streams always carry usage, so nothing is kept from the client."""

from providers.types import Usage

from .responses import _usage

__all__ = ["forward_request", "hides_usage", "response_usage"]


def forward_request(body: dict, model: str, stream: bool) -> dict:
    forwarded = dict(body)
    forwarded["model"] = model
    return forwarded


def hides_usage(body: dict, stream: bool) -> bool:
    return False


def response_usage(data) -> Usage:
    """The usage of a message; a body of another shape is not an answer."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise ValueError("the upstream's answer is not a message")
    return _usage(data.get("usage") or {})
