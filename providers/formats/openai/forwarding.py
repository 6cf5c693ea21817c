"""The same-format fast path: an OpenAI client's body sent on to an OpenAI-format upstream as it is.

Only the model changes. A streaming client that did not ask for usage still gets the upstream
asked for it (the gateway bills from it), and the usage-only chunk is kept from that client.
"""

import orjson

from providers.formats.sse import CONTENT, USAGE_ONLY, event_data
from providers.types import MALFORMED, StreamError, Usage

from .responses import _parse_usage
from .streams import _INVALID_JSON, _error_fields

__all__ = ["forward_request", "hides_usage", "response_usage", "ChunkReader"]


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


# In a chunk that has none of these, nothing but the text needs reading (compact JSON, as OpenAI and
# most hosts write it; a chunk written otherwise is read whole, as is any that has one of them).
_NOT_FINISHED = b'"finish_reason":null'
_USAGE, _ERROR = b'"usage"', b'"error"'


class ChunkReader:
    """Reads a relayed ``chat.completion.chunk`` stream for what the gateway needs — usage, the finish,
    an error, the text produced — straight from each event's JSON, without the typed events the
    translating decoder builds (which cost more than the rest of the relay's work on a stream).
    Like the decoder, it stops reading at ``[DONE]`` or an error.

    Once content has begun, a chunk that is plainly neither the end, nor usage, nor an error is content
    and is not parsed: its text is read only if the upstream reports no usage (Produced.add_unread)."""

    __slots__ = ("_done", "_started")

    def __init__(self):
        self._done = False
        self._started = False

    def read(self, event: bytes, into) -> int:
        if self._done:
            return 0
        if event.startswith(b"data: ") and event.find(b"\n") == len(event) - 2:  # the usual event, inline
            data = event[6:-2]
            if self._started and _NOT_FINISHED in data and _USAGE not in data and _ERROR not in data:
                into.produced.add_unread(data, _chunk_text)
                return CONTENT
            return self._data(data, into)
        seen = 0
        for data in event_data(event):
            if not self._done:
                seen |= self._data(data, into)
        return seen

    def close(self, into):
        pass

    def _data(self, data: bytes, into) -> int:
        if data == b"[DONE]":
            self._done = True
            return 0
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = None
        if type(chunk) is not dict:
            return self._fail(into, "server_error", _INVALID_JSON)
        if "error" in chunk:
            return self._fail(into, *_error_fields(chunk["error"]))
        seen = 0
        choices = chunk.get("choices")
        if choices:
            for choice in choices:
                if choice.get("index", 0) == 0:
                    seen |= _choice(choice, into)
        if seen:
            self._started = True
        usage = chunk.get("usage")
        if usage:
            into.usage = _parse_usage(usage)
            return seen or USAGE_ONLY
        return seen

    def _fail(self, into, error_type: str, message: str) -> int:
        self._done = True
        into.fail(StreamError(error_type, message))
        return 0


def _first_text(delta: dict, name: str, other: str) -> str:
    value = delta.get(name)
    if type(value) is str and value:
        return value
    value = delta.get(other)
    return value if type(value) is str else ""


def _texts(delta: dict) -> list:
    """What a delta produced: reasoning, the answer (or a refusal), tool call arguments."""
    # DeepSeek, GLM and Qwen write reasoning_content; OpenRouter and newer vLLM write reasoning.
    texts = [_first_text(delta, "reasoning_content", "reasoning"), _first_text(delta, "content", "refusal")]
    for call in delta.get("tool_calls") or ():
        texts.append((call.get("function") or {}).get("arguments") or "")
    return texts


def _choice(choice: dict, into) -> int:
    seen = 0
    delta = choice.get("delta")
    if delta:
        for text in _texts(delta):
            if text:
                into.produced.add(text)
                seen = CONTENT
        if delta.get("tool_calls"):
            seen = CONTENT
    if choice.get("finish_reason"):
        into.finished = True
        seen = CONTENT
    return seen


def _chunk_text(data: bytes) -> str:
    """The text of a content chunk that was relayed unread (its JSON was whole, or it was not relayed)."""
    try:
        chunk = orjson.loads(data)
        return "".join(text for choice in chunk["choices"] for text in _texts(choice.get("delta") or {}) if text)
    except MALFORMED:  # orjson.JSONDecodeError is a ValueError
        return ""
