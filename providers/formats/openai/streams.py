"""Chat Completions streams: decoding an upstream's chunks, encoding a client's."""

import orjson

from providers.formats.sse import SSEParser, SSETooLarge
from providers.types import (
    ChatRequest, Finish, Start, StreamError, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart,
    Usage, UsageUpdate,
)

from ._common import _string
from .responses import _FINISH_REASONS, _build_usage, _parse_usage, _reasoning_text, _stop_reason

__all__ = ["StreamDecoder", "StreamEncoder"]


_INVALID_JSON = "upstream sent invalid JSON in its stream"


# --- upstream side: decoding a stream --------------------------------------------------------

class StreamDecoder:
    """Upstream ``chat.completion.chunk`` events -> internal events, for chunks split anywhere.

    An error event, invalid JSON or ``[DONE]`` ends decoding; later bytes are ignored.
    """

    __slots__ = ("_sse", "_started", "_done", "_calls", "_last_call")

    def __init__(self):
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._calls: dict = {}  # upstream index (or id, for hosts without one) -> our index
        self._last_call = None

    def feed(self, chunk: bytes) -> list:
        try:
            return self._decode(self._sse.feed(chunk))
        except SSETooLarge as error:
            return self._fail("server_error", str(error))

    def close(self) -> list:
        return self._decode(self._sse.close())

    def _decode(self, sse_events: list) -> list:
        events = []
        for sse in sse_events:
            if not self._done:
                self._event(sse.data, events)
        return events

    def _fail(self, error_type: str, message: str) -> list:
        if self._done:
            return []
        self._done = True
        return [StreamError(error_type, message)]

    def _event(self, data: str, events: list):
        if data == "[DONE]":
            self._done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            events.extend(self._fail("server_error", _INVALID_JSON))
        elif "error" in chunk:
            events.extend(self._fail(*_error_fields(chunk["error"])))
        else:
            self._chunk(chunk, events)

    def _chunk(self, chunk: dict, events: list):
        if not self._started:
            self._started = True
            events.append(Start(chunk.get("id") or "", chunk.get("model") or ""))
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0:
                self._choice(choice, events)
        usage = chunk.get("usage")
        if usage:
            events.append(UsageUpdate(_parse_usage(usage)))

    def _choice(self, choice: dict, events: list):
        delta = choice.get("delta") or {}
        thinking = _reasoning_text(delta)
        if thinking:
            events.append(ThinkingDelta(thinking))
        text = _string(delta.get("content")) or _string(delta.get("refusal"))
        if text:
            events.append(TextDelta(text))
        for entry in delta.get("tool_calls") or ():
            self._tool_call(entry, events)
        if choice.get("finish_reason"):
            events.append(Finish(_stop_reason(choice["finish_reason"], bool(self._calls))))

    def _tool_call(self, entry: dict, events: list):
        function = entry.get("function") or {}
        key = entry.get("index", entry.get("id"))
        key = self._last_call if key is None else key
        index = self._calls.get(key)
        if index is None:
            index = self._calls[key] = len(self._calls)
            call_id = entry.get("id") or f"call_{index}"
            events.append(ToolCallStart(index, call_id, function.get("name") or ""))
        self._last_call = key
        arguments = function.get("arguments")
        if arguments:
            events.append(ToolCallDelta(index, arguments))


def _error_fields(error) -> tuple[str, str]:
    if isinstance(error, dict):
        error_type = _string(error.get("type")) or _string(error.get("code")) or "server_error"
        return error_type, _string(error.get("message")) or "upstream reported an error"
    return "server_error", str(error)


# --- client side: encoding a stream ----------------------------------------------------------

class StreamEncoder:
    """Internal events -> ``chat.completion.chunk`` SSE bytes.

    Every chunk shares its id, created and model, so their JSON is encoded once here and each
    event only serializes its own payload.
    """

    __slots__ = ("_prefix", "_include_usage", "_started", "_usage")

    def __init__(self, request: ChatRequest, response_id: str, created: int):
        self._prefix = b"".join((
            b'data: {"id":', orjson.dumps(response_id),
            b',"object":"chat.completion.chunk","created":', str(int(created)).encode(),
            b',"model":', orjson.dumps(request.model), b',"choices":',
        ))
        self._include_usage = request.include_usage
        self._started = False
        self._usage = None

    def encode(self, event) -> bytes:
        kind = type(event)
        if kind is UsageUpdate:
            self._usage = event.usage  # sent once, at the end, when the client asked for it
            return b""
        if kind is StreamError:
            return self.fail(event.type, event.message)
        head = b"" if self._started else self._role_chunk()
        if kind is Start:
            return head
        return head + _CHUNK_ENCODERS[kind](self, event)

    def end(self) -> bytes:
        if not self._include_usage:
            return b"data: [DONE]\n\n"
        usage = orjson.dumps(_build_usage(self._usage or Usage()))
        return self._prefix + b'[],"usage":' + usage + b"}\n\ndata: [DONE]\n\n"

    def fail(self, error_type: str, message: str) -> bytes:
        error = {"message": message, "type": error_type, "param": None, "code": error_type}
        return b"data: " + orjson.dumps({"error": error}) + b"\n\n"

    def _role_chunk(self) -> bytes:
        self._started = True
        return self._delta(b'{"role":"assistant","content":""}')

    def _delta(self, delta: bytes, finish_reason: bytes = b"null") -> bytes:
        return b"".join((
            self._prefix, b'[{"index":0,"delta":', delta,
            b',"logprobs":null,"finish_reason":', finish_reason, b"}]}\n\n",
        ))

    def _text(self, event: TextDelta) -> bytes:
        return self._delta(b'{"content":' + orjson.dumps(event.text) + b"}") if event.text else b""

    def _thinking(self, event: ThinkingDelta) -> bytes:
        # A signature-only delta has nothing to show: Chat Completions has no field for it.
        if not event.text:
            return b""
        return self._delta(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}")

    def _tool_start(self, event: ToolCallStart) -> bytes:
        call = {"index": event.index, "id": event.id, "type": "function",
                "function": {"name": event.name, "arguments": ""}}
        return self._delta(b'{"tool_calls":[' + orjson.dumps(call) + b"]}")

    def _tool_delta(self, event: ToolCallDelta) -> bytes:
        if not event.arguments:
            return b""
        call = {"index": event.index, "function": {"arguments": event.arguments}}
        return self._delta(b'{"tool_calls":[' + orjson.dumps(call) + b"]}")

    def _finish(self, event: Finish) -> bytes:
        reason = _FINISH_REASONS[event.stop_reason].encode()
        return self._delta(b"{}", b'"' + reason + b'"')


_CHUNK_ENCODERS = {
    TextDelta: StreamEncoder._text,
    ThinkingDelta: StreamEncoder._thinking,
    ToolCallStart: StreamEncoder._tool_start,
    ToolCallDelta: StreamEncoder._tool_delta,
    Finish: StreamEncoder._finish,
}
