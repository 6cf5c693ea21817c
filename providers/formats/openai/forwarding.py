"""The same-format fast path: an OpenAI client's body sent on to an OpenAI-format upstream as it is.

Only the model changes. A streaming client that did not ask for usage still gets the upstream
asked for it (the gateway bills from it), and the usage-only chunk is kept from that client.
"""

from providers.types import Usage

from .responses import _parse_usage

__all__ = ["forward_request", "hides_usage", "response_usage"]


def forward_request(body: dict, model: str, stream: bool) -> dict:
    forwarded = dict(body)
    forwarded["model"] = model
    if stream:
        forwarded["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return forwarded


def hides_usage(body: dict, stream: bool) -> bool:
    """Whether the client must not see the usage-only chunk the gateway asked for."""
    return stream and not (body.get("stream_options") or {}).get("include_usage")


def response_usage(data) -> Usage:
    """The usage of a chat.completion; a body of another shape is not an answer."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise ValueError("the upstream's answer is not a chat completion")
    return _parse_usage(data.get("usage"))
