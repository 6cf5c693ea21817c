"""Responses API streams: encoding a client's events, decoding an upstream's."""

import orjson

from providers.formats.openai import _string
from providers.formats.sse import SSEParser, SSETooLarge
from providers.types import (
    ChatRequest, Finish, Start, StreamError, Text, TextDelta, Thinking, ThinkingDelta, ToolCall,
    ToolCallDelta, ToolCallStart, Usage, UsageUpdate,
)

from .responses import (
    _envelope, _finish, _item, _item_id, _output_text, _parse_usage, _response_id, _status, _stop_reason,
    _unsigned,
)

__all__ = ["StreamEncoder", "StreamDecoder"]


# A failed response's error code is one of OpenAI's; the gateway's error types map onto them.
_FAILURE_CODES = {"rate_limit": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}
_INVALID_JSON = "upstream sent invalid JSON in its stream"


# --- client side: encoding a stream ----------------------------------------------------------

class StreamEncoder:
    """Internal events -> the Responses event stream, numbered from 0 by ``sequence_number``.

    A message or reasoning item stays open while its deltas come and closes when another item
    starts; function calls stay open until the answer finishes, so the argument fragments of
    parallel calls may interleave. ``end()`` sends ``response.completed`` (``response.incomplete``
    for a cut answer) holding what ``build_response`` would have built, and hands that object to
    ``on_complete``.
    """

    __slots__ = ("_request", "_id", "_created", "_on_complete", "_seq", "_started", "_parts", "_open",
                 "_unclosed", "_calls", "_usage", "_stop")

    def __init__(self, request: ChatRequest, response_id: str, created: int, on_complete=None):
        self._request = request
        self._id = _response_id(request, response_id)
        self._created = int(created)
        self._on_complete = on_complete
        self._seq = 0
        self._started = False
        self._parts: list = []  # one per output item
        self._open = None  # index of the open message or reasoning item
        self._unclosed: list = []  # indexes of items added and not done, in order
        self._calls: dict = {}  # tool call index -> output index
        self._usage = Usage()
        self._stop = None

    def encode(self, event) -> bytes:
        head = b"" if self._started else self._head()
        handler = _EVENT_ENCODERS.get(type(event))
        return head + handler(self, event) if handler else head

    def end(self) -> bytes:
        out = (b"" if self._started else self._head()) + self._close_all()
        response = _finish(self._envelope(), self._parts, self._stop or "end_turn", self._usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        out += self._event(kind, {"response": response})
        if self._on_complete is not None:
            self._on_complete(response)
        return out

    def fail(self, error_type: str, message: str) -> bytes:
        out = b"" if self._started else self._head()
        response = self._envelope("failed")
        response["output"] = [_item(part, self._id, i, "incomplete") for i, part in enumerate(self._parts)]
        response["error"] = {"code": _FAILURE_CODES.get(error_type, "server_error"), "message": message}
        return out + self._event("response.failed", {"response": response})

    # --- framing ------------------------------------------------------------------------------
    def _event(self, kind: str, payload: dict) -> bytes:
        data = orjson.dumps({"type": kind, **payload, "sequence_number": self._seq})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def _envelope(self, status: str = "in_progress") -> dict:
        return _envelope(self._request, self._id, self._created, status)

    def _head(self) -> bytes:
        self._started = True
        return (self._event("response.created", {"response": self._envelope()})
                + self._event("response.in_progress", {"response": self._envelope()}))

    def _at(self, index: int) -> dict:
        return {"item_id": _item_id(_ID_KINDS[type(self._parts[index])], self._id, index), "output_index": index}

    # --- items --------------------------------------------------------------------------------
    def _add(self, part) -> tuple:
        index = len(self._parts)
        self._parts.append(part)
        self._unclosed.append(index)
        item = _item(part, self._id, index, "in_progress")
        if isinstance(part, Text):
            item["content"] = []
        elif isinstance(part, ToolCall):
            item["arguments"] = ""
        out = self._event("response.output_item.added", {"output_index": index, "item": item})
        if isinstance(part, Text):
            out += self._event("response.content_part.added",
                               {**self._at(index), "content_index": 0, "part": _output_text("")})
        return index, out

    def _open_item(self, part) -> bytes:
        out = self._close_open()
        self._open, added = self._add(part)
        return out + added

    def _close_open(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        return self._close(index)

    def _close_all(self) -> bytes:
        self._open = None
        return b"".join(self._close(index) for index in list(self._unclosed))

    def _close(self, index: int) -> bytes:
        self._unclosed.remove(index)
        part = self._parts[index]
        at = self._at(index)
        out = b""
        if isinstance(part, Text):
            out += self._event("response.output_text.done", {**at, "content_index": 0, "text": part.text,
                                                             "logprobs": []})
            out += self._event("response.content_part.done", {**at, "content_index": 0,
                                                              "part": _output_text(part.text)})
        elif isinstance(part, ToolCall):
            part.arguments = part.arguments or "{}"
            out += self._event("response.function_call_arguments.done",
                               {**at, "name": part.name, "arguments": part.arguments})
        elif part.text:
            summary = {"type": "summary_text", "text": part.text}
            out += self._event("response.reasoning_summary_text.done", {**at, "summary_index": 0, "text": part.text})
            out += self._event("response.reasoning_summary_part.done", {**at, "summary_index": 0, "part": summary})
        item = _item(part, self._id, index, _status(index, len(self._parts), self._stop))
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _open_part(self):
        return self._parts[self._open] if self._open is not None else None

    # --- events -------------------------------------------------------------------------------
    def _text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        out = b"" if isinstance(self._open_part(), Text) else self._open_item(Text(""))
        self._parts[self._open].text += event.text
        return out + self._event("response.output_text.delta", {**self._at(self._open), "content_index": 0,
                                                                "delta": event.text, "logprobs": []})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        if event.text:
            out += b"" if _unsigned(self._open_part()) else self._open_item(Thinking())
            part = self._parts[self._open]
            if not part.text:
                out += self._event("response.reasoning_summary_part.added", {
                    **self._at(self._open), "summary_index": 0, "part": {"type": "summary_text", "text": ""}})
            part.text += event.text
            out += self._event("response.reasoning_summary_text.delta",
                               {**self._at(self._open), "summary_index": 0, "delta": event.text})
        if event.signature:
            out += b"" if _unsigned(self._open_part()) else self._open_item(Thinking())
            self._parts[self._open].signature = event.signature
        return out

    def _tool_start(self, event: ToolCallStart) -> bytes:
        out = self._close_open()
        self._calls[event.index], added = self._add(ToolCall(event.id, event.name, ""))
        return out + added

    def _tool_delta(self, event: ToolCallDelta) -> bytes:
        index = self._calls.get(event.index)
        if index is None or not event.arguments or index not in self._unclosed:
            return b""
        self._parts[index].arguments += event.arguments
        return self._event("response.function_call_arguments.delta", {**self._at(index), "delta": event.arguments})

    def _usage_update(self, event: UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _finish(self, event: Finish) -> bytes:
        self._stop = event.stop_reason
        return self._close_all()

    def _error(self, event: StreamError) -> bytes:
        return self.fail(event.type, event.message)


_ID_KINDS = {Text: "msg", ToolCall: "fc", Thinking: "rs"}
_EVENT_ENCODERS = {
    TextDelta: StreamEncoder._text,
    ThinkingDelta: StreamEncoder._thinking,
    ToolCallStart: StreamEncoder._tool_start,
    ToolCallDelta: StreamEncoder._tool_delta,
    UsageUpdate: StreamEncoder._usage_update,
    Finish: StreamEncoder._finish,
    StreamError: StreamEncoder._error,
}


# --- upstream side: decoding a stream --------------------------------------------------------

class StreamDecoder:
    """Upstream Responses events -> internal events, for chunks split anywhere.

    ``response.completed`` or ``response.incomplete`` gives the usage and the finish;
    ``response.failed``, an ``error`` event or invalid JSON ends decoding with a StreamError.
    """

    __slots__ = ("_sse", "_done", "_calls", "_with_arguments")

    def __init__(self):
        self._sse = SSEParser()
        self._done = False
        self._calls: dict = {}  # upstream output index -> our tool call index
        self._with_arguments: set = set()  # our indexes whose arguments came in deltas

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
                events.extend(self._event(sse.data))
        return events

    def _fail(self, error_type: str, message: str) -> list:
        if self._done:
            return []
        self._done = True
        return [StreamError(error_type, message)]

    def _event(self, data: str) -> list:
        if data == "[DONE]":
            self._done = True
            return []
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            return self._fail("server_error", _INVALID_JSON)
        handler = _STREAM_READERS.get(event.get("type"))
        return handler(self, event) if handler else []

    def _created(self, event: dict) -> list:
        response = event.get("response") or {}
        return [Start(_string(response.get("id")), _string(response.get("model")))]

    def _text(self, event: dict) -> list:
        delta = _string(event.get("delta"))
        return [TextDelta(delta)] if delta else []

    def _thinking(self, event: dict) -> list:
        delta = _string(event.get("delta"))
        return [ThinkingDelta(delta)] if delta else []

    def _summary_part(self, event: dict) -> list:
        # Summary parts are joined with a blank line, as parse_response joins them.
        return [ThinkingDelta("\n\n")] if event.get("summary_index") else []

    def _item_added(self, event: dict) -> list:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []
        index = self._calls[event.get("output_index")] = len(self._calls)
        call_id = _string(item.get("call_id")) or f"call_{index}"
        events = [ToolCallStart(index, call_id, _string(item.get("name")))]
        if item.get("arguments"):
            self._with_arguments.add(index)
            events.append(ToolCallDelta(index, item["arguments"]))
        return events

    def _arguments(self, event: dict) -> list:
        index = self._calls.get(event.get("output_index"))
        delta = _string(event.get("delta"))
        if index is None or not delta:
            return []
        self._with_arguments.add(index)
        return [ToolCallDelta(index, delta)]

    def _item_done(self, event: dict) -> list:
        # A call whose arguments came whole, without deltas.
        index = self._calls.get(event.get("output_index"))
        arguments = _string((event.get("item") or {}).get("arguments"))
        if index is None or index in self._with_arguments or not arguments:
            return []
        self._with_arguments.add(index)
        return [ToolCallDelta(index, arguments)]

    def _completed(self, event: dict) -> list:
        self._done = True
        response = event.get("response") or {}
        stop = _stop_reason(response, bool(self._calls))
        return [UsageUpdate(_parse_usage(response.get("usage"))), Finish(stop)]

    def _failed(self, event: dict) -> list:
        # response.failed carries its error in the response; an error event is the error itself.
        error = (event.get("response") or {}).get("error") or event.get("error") or event
        if not isinstance(error, dict):
            return self._fail("server_error", str(error))
        code = _string(error.get("code")) or "server_error"
        return self._fail(code, _string(error.get("message")) or "upstream reported an error")


_STREAM_READERS = {
    "response.created": StreamDecoder._created,
    "response.output_text.delta": StreamDecoder._text,
    "response.refusal.delta": StreamDecoder._text,
    "response.reasoning_summary_text.delta": StreamDecoder._thinking,
    "response.reasoning_summary_part.added": StreamDecoder._summary_part,
    "response.output_item.added": StreamDecoder._item_added,
    "response.function_call_arguments.delta": StreamDecoder._arguments,
    "response.output_item.done": StreamDecoder._item_done,
    "response.completed": StreamDecoder._completed,
    "response.incomplete": StreamDecoder._completed,
    "response.failed": StreamDecoder._failed,
    "error": StreamDecoder._failed,
}
