"""Messages API streams: decoding an upstream's events, encoding a client's."""

from dataclasses import dataclass

import orjson

from providers.formats.sse import SSEParser, encode_event
from providers.types import (
    ChatRequest, Event, Finish, Start, StreamError, TextDelta, ThinkingDelta, ToolCallDelta,
    ToolCallStart, Usage, UsageUpdate,
)

from ._common import ERROR_TYPES, STOP_REASONS_IN, STOP_REASONS_OUT
from .messages import _dumps
from .responses import _message_id, _usage, _usage_out

__all__ = ["StreamDecoder", "StreamEncoder"]


STREAM_ERROR_TYPES = {"rate_limit_error": "rate_limit"}


# --- streams: upstream side ----------------------------------------------------------------------

class StreamDecoder:
    """Anthropic's SSE stream -> internal events. A stream without Finish was cut short."""

    __slots__ = ("_parser", "_usage", "_tools")

    def __init__(self):
        self._parser = SSEParser()
        self._usage: dict = {}  # raw usage fields: message_start's, updated by message_delta's
        self._tools: dict[int, int] = {}  # Anthropic block index -> our tool call index

    def feed(self, chunk: bytes) -> list[Event]:
        return self._decode(self._parser.feed(chunk))

    def close(self) -> list[Event]:
        return self._decode(self._parser.close())

    def _decode(self, sse_events) -> list[Event]:
        events = []
        for sse in sse_events:
            events.extend(self._event(sse.data))
        return events

    def _event(self, data: str) -> list[Event]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [StreamError("server_error", "the upstream sent a stream event that is not JSON")]
        if not isinstance(payload, dict):
            return []
        handler = _DECODER_HANDLERS.get(payload.get("type"))
        return handler(self, payload) if handler else []

    def _message_start(self, payload: dict) -> list[Event]:
        message = payload.get("message") or {}
        self._usage = dict(message.get("usage") or {})
        return [Start(message.get("id") or "", message.get("model") or ""), UsageUpdate(_usage(self._usage))]

    def _block_start(self, payload: dict) -> list[Event]:
        block = payload.get("content_block") or {}
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [TextDelta(block["text"])]
        if kind == "thinking" and (block.get("thinking") or block.get("signature")):
            return [ThinkingDelta(block.get("thinking") or "", block.get("signature") or "")]
        if kind == "tool_use":
            return self._tool_start(payload.get("index"), block)
        # Redacted thinking has no event to travel in (see the module notes); server tools are never offered.
        return []

    def _tool_start(self, block_index, block: dict) -> list[Event]:
        index = len(self._tools)
        self._tools[block_index] = index
        events = [ToolCallStart(index, block.get("id") or "", block.get("name") or "")]
        if block.get("input"):
            events.append(ToolCallDelta(index, _dumps(block["input"])))
        return events

    def _block_delta(self, payload: dict) -> list[Event]:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(delta["text"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ThinkingDelta(text=delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [ThinkingDelta(signature=delta["signature"])]
        index = self._tools.get(payload.get("index"))
        if kind == "input_json_delta" and delta.get("partial_json") and index is not None:
            return [ToolCallDelta(index, delta["partial_json"])]
        return []

    def _message_delta(self, payload: dict) -> list[Event]:
        usage = payload.get("usage") or {}
        self._usage.update((key, value) for key, value in usage.items() if value is not None)
        delta = payload.get("delta") or {}
        finish = Finish(STOP_REASONS_IN.get(delta.get("stop_reason"), "end_turn"), delta.get("stop_sequence") or "")
        return [UsageUpdate(_usage(self._usage)), finish]

    def _error(self, payload: dict) -> list[Event]:
        error = payload.get("error") or {}
        kind = STREAM_ERROR_TYPES.get(error.get("type"), "server_error")
        return [StreamError(kind, error.get("message") or "the upstream stream failed")]


_DECODER_HANDLERS = {
    "message_start": StreamDecoder._message_start,
    "content_block_start": StreamDecoder._block_start,
    "content_block_delta": StreamDecoder._block_delta,
    "message_delta": StreamDecoder._message_delta,
    "error": StreamDecoder._error,
}


# --- streams: client side ------------------------------------------------------------------------

@dataclass(slots=True)
class _WaitingTool:
    """A tool call that started while another tool_use block was still receiving arguments."""

    id: str
    name: str
    fragments: list


class StreamEncoder:
    """Internal events -> Anthropic's event grammar.

    Anthropic's blocks are strictly sequential, but OpenAI interleaves the argument deltas of
    parallel tool calls (0, 1, 0, 1). A tool call that starts while the open tool_use block's
    arguments are not yet a complete JSON object therefore waits, its deltas buffered, until the
    open block can close (at the end, or when text or thinking arrives).
    """

    __slots__ = ("_id", "_model", "_started", "_usage", "_finish", "_next_index", "_open",
                 "_open_tool", "_arguments", "_signed", "_waiting")

    def __init__(self, request: ChatRequest, response_id: str, created: int):
        # ``created`` is part of the contract; Anthropic's messages carry no creation time.
        self._id = _message_id(response_id)
        self._model = request.model
        self._started = False
        self._usage = Usage()
        self._finish = Finish("end_turn")
        self._next_index = 0  # the index the next content block gets
        self._open = ""  # the open block's type: "", "text", "thinking" or "tool_use"
        self._open_tool = -1  # our tool call index, when the open block is a tool_use
        self._arguments: list[str] = []  # the open tool_use block's argument fragments
        self._signed = False  # the open thinking block got its signature, so it is complete
        self._waiting: dict[int, _WaitingTool] = {}

    def encode(self, event: Event) -> bytes:
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, Finish):
            self._finish = event
        elif isinstance(event, TextDelta) and event.text:
            return self._start() + self._text(event.text)
        elif isinstance(event, ThinkingDelta) and (event.text or event.signature):
            return self._start() + self._thinking(event)
        elif isinstance(event, ToolCallStart):
            return self._start() + self._tool_start(event)
        elif isinstance(event, ToolCallDelta) and event.arguments:
            return self._tool_delta(event.index, event.arguments)
        return b""

    def end(self) -> bytes:
        finish = self._finish
        delta = {"stop_reason": STOP_REASONS_OUT.get(finish.stop_reason, "end_turn"),
                 "stop_sequence": finish.stop_sequence or None}
        message_delta = {"type": "message_delta", "delta": delta, "usage": _usage_out(self._usage)}
        return (self._start() + self._close_all() + _event("message_delta", message_delta)
                + _event("message_stop", {"type": "message_stop"}))

    def fail(self, error_type: str, message: str) -> bytes:
        # Anthropic ends a failed stream with the error event alone: no block stops, no message_stop.
        error = {"type": ERROR_TYPES.get(error_type, "api_error"), "message": message}
        return _event("error", {"type": "error", "error": error})

    def _start(self) -> bytes:
        # Sent lazily, so an upstream's first usage report (Anthropic's input tokens) is in it.
        if self._started:
            return b""
        self._started = True
        usage = _usage_out(self._usage) | {"output_tokens": 0}
        message = {"id": self._id, "type": "message", "role": "assistant", "model": self._model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": usage}
        return _event("message_start", {"type": "message_start", "message": message}) + _event("ping", {"type": "ping"})

    def _text(self, text: str) -> bytes:
        opened = b"" if self._open == "text" else self._close_all() + self._open_block({"type": "text", "text": ""})
        return opened + self._delta({"type": "text_delta", "text": text})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        # Text after a signature belongs to a new thinking block: a signature ends its block.
        if self._open != "thinking" or (self._signed and event.text):
            out = self._close_all() + self._open_block({"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            self._signed = True
            out += self._delta({"type": "signature_delta", "signature": event.signature})
        return out

    def _tool_start(self, event: ToolCallStart) -> bytes:
        if self._waiting or (self._open == "tool_use" and not _complete_object("".join(self._arguments))):
            self._waiting[event.index] = _WaitingTool(event.id, event.name, [])
            return b""
        return self._close_all() + self._open_tool_block(event.index, event.id, event.name)

    def _tool_delta(self, index: int, arguments: str) -> bytes:
        if self._open == "tool_use" and index == self._open_tool:
            self._arguments.append(arguments)
            return self._delta({"type": "input_json_delta", "partial_json": arguments})
        waiting = self._waiting.get(index)
        if waiting is not None:
            waiting.fragments.append(arguments)
        # A delta for a tool call whose block is closed (or never opened) has nowhere to go.
        return b""

    def _open_tool_block(self, index: int, call_id: str, name: str) -> bytes:
        out = self._open_block({"type": "tool_use", "id": call_id, "name": name, "input": {}})
        self._open_tool = index
        return out

    def _open_block(self, block: dict) -> bytes:
        self._open = block["type"]
        self._next_index += 1
        start = {"type": "content_block_start", "index": self._next_index - 1, "content_block": block}
        return _event("content_block_start", start)

    def _delta(self, delta: dict) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": self._next_index - 1, "delta": delta})

    def _close(self) -> bytes:
        if not self._open:
            return b""
        self._open, self._open_tool, self._arguments, self._signed = "", -1, [], False
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._next_index - 1})

    def _close_all(self) -> bytes:
        """Close the open block, then emit every waiting tool call as a complete block."""
        out = self._close()
        waiting, self._waiting = self._waiting, {}
        for index, tool in waiting.items():
            out += self._open_tool_block(index, tool.id, tool.name)
            for fragment in tool.fragments:
                out += self._tool_delta(index, fragment)
            out += self._close()
        return out


def _complete_object(text: str) -> bool:
    # Nothing but whitespace may follow a complete JSON object, so its block can close.
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


def _event(name: str, data: dict) -> bytes:
    return encode_event(orjson.dumps(data), name)
