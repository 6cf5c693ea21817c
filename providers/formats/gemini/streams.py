"""streamGenerateContent: decoding an upstream's stream, encoding a client's."""

import re

import orjson

from providers.formats.sse import MAX_EVENT_BYTES, SSEParser, SSETooLarge, encode_event
from providers.types import (
    ChatRequest, Finish, Start, StreamError, TextDelta, ThinkingDelta, ToolCallDelta, ToolCallStart,
    Usage, UsageUpdate,
)

from ._common import _FINISH_REASONS, _GOOGLE_STATUSES, _TYPE_CODES, _get, _json, _new_id, _usable
from .contents import _arguments
from .responses import _stop_reason, _usage, _usage_metadata

__all__ = ["StreamDecoder", "StreamEncoder"]


_ERROR_TYPES = {
    "INVALID_ARGUMENT": "invalid_request", "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request", "NOT_FOUND": "invalid_request",
    "UNAUTHENTICATED": "auth", "PERMISSION_DENIED": "auth",
    "RESOURCE_EXHAUSTED": "rate_limit", "DEADLINE_EXCEEDED": "timeout",
}
_STRUCTURE = re.compile(rb'[{}"]')
_STRING_STOP = re.compile(rb'["\\]')


# --- streams ---------------------------------------------------------------------------------

class StreamDecoder:
    """Upstream stream chunks (each a GenerateContentResponse) to events.

    By default the body is SSE (``?alt=sse``); ``json_array=True`` reads the plain
    streamGenerateContent body, one JSON array of chunks.
    """

    def __init__(self, *, json_array: bool = False):
        self._splitter = _ArraySplitter() if json_array else None
        self._sse = None if json_array else SSEParser()
        self._id = ""
        self._calls = 0
        self._finished = False

    def feed(self, chunk: bytes) -> list:
        if self._splitter is not None:
            return self._decode(self._splitter.feed(chunk))
        return self._decode([event.data for event in self._sse.feed(chunk)])

    def close(self) -> list:
        if self._splitter is not None:
            return []  # an unfinished object is a cut stream: the missing Finish tells the relay
        return self._decode([event.data for event in self._sse.close()])

    def _decode(self, payloads: list) -> list:
        events = []
        for payload in payloads:
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                chunk = None
            if not isinstance(chunk, dict):
                events.append(StreamError("server_error", "the upstream sent a stream chunk that is not a JSON object"))
                continue
            events.extend(self._chunk(chunk))
        return events

    def _chunk(self, chunk: dict) -> list:
        if "error" in chunk:
            return [_stream_error(chunk["error"])]
        events = []
        if not self._id:
            self._id = _get(chunk, "responseId") or _new_id()
            events.append(Start(self._id, _get(chunk, "modelVersion", "")))
        candidates = chunk.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        for part in (candidate.get("content") or {}).get("parts") or []:
            events.extend(self._part(part))
        if _get(chunk, "usageMetadata"):
            events.append(UsageUpdate(_usage(_get(chunk, "usageMetadata"))))
        events.extend(self._finish(_get(candidate, "finishReason"), chunk, candidates))
        return events

    def _part(self, part) -> list:
        if not isinstance(part, dict):
            return []
        signature = _get(part, "thoughtSignature", "")
        call = _get(part, "functionCall")
        if isinstance(call, dict):
            return _signed_events(signature, self._call_events(call))
        text = part.get("text")
        if not isinstance(text, str):
            return []
        if part.get("thought"):
            return [ThinkingDelta(text, signature)] if text or signature else []
        return _signed_events(signature, [TextDelta(text)] if text else [])

    def _call_events(self, call: dict) -> list:
        # Gemini sends each call whole: one start and one delta with all the arguments.
        index = self._calls
        self._calls += 1
        call_id = call.get("id") or f"call_{self._id}_{index}"
        return [ToolCallStart(index, call_id, call.get("name") or ""),
                ToolCallDelta(index, _json(call.get("args") or {}))]

    def _finish(self, finish, chunk: dict, candidates: list) -> list:
        blocked = not candidates and _get(chunk.get("promptFeedback") or {}, "blockReason")
        if self._finished or not (finish or blocked):
            return []
        self._finished = True
        if blocked:
            return [Finish("content_filter")]
        return [Finish(_stop_reason(finish, self._calls > 0))]


def _signed_events(signature: str, events: list) -> list:
    return ([ThinkingDelta(signature=signature)] if signature else []) + events


def _stream_error(error) -> StreamError:
    error = error if isinstance(error, dict) else {"message": str(error)}
    status = error.get("status") or _GOOGLE_STATUSES.get(error.get("code"), "")
    message = str(error.get("message") or status or "upstream error")
    return StreamError(_ERROR_TYPES.get(status, "server_error"), message)


class _ArraySplitter:
    """Cuts the top-level objects out of a JSON array arriving in pieces (``[{...},\\r\\n{...}]``).

    Scans bytes, tracking brace depth and strings with their escapes; UTF-8 never puts these
    ASCII bytes inside a multi-byte character, so a split anywhere is safe.
    """

    __slots__ = ("_buffer", "_pos", "_start", "_depth", "_in_string")

    def __init__(self):
        self._buffer = b""
        self._pos = 0
        self._start = 0
        self._depth = 0
        self._in_string = False

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        objects = []
        while self._step(objects):
            pass
        cut = self._start if self._depth else self._pos
        self._buffer = self._buffer[cut:]
        self._pos -= cut
        self._start = 0 if not self._depth else self._start - cut
        if len(self._buffer) > MAX_EVENT_BYTES:
            raise SSETooLarge("an upstream stream chunk is larger than the gateway accepts")
        return objects

    def _step(self, objects: list) -> bool:
        """Advances past one token of interest; False when the buffer needs more bytes."""
        pattern = _STRING_STOP if self._in_string else _STRUCTURE
        match = pattern.search(self._buffer, self._pos)
        if match is None:
            self._pos = len(self._buffer)
            return False
        token = match.group()
        if token == b"\\":
            if match.end() >= len(self._buffer):
                self._pos = match.start()  # the escaped byte has not arrived yet
                return False
            self._pos = match.end() + 1
        elif token == b'"':
            self._in_string = not self._in_string
            self._pos = match.end()
        else:
            self._pos = match.end()
            self._brace(token, match.start(), objects)
        return True

    def _brace(self, token: bytes, at: int, objects: list):
        if token == b"{":
            if self._depth == 0:
                self._start = at
            self._depth += 1
        elif self._depth:
            self._depth -= 1
            if self._depth == 0:
                objects.append(self._buffer[self._start:self._pos])


class StreamEncoder:
    """Events to Gemini stream chunks: SSE (``alt=sse``) or, with ``sse=False``, one JSON array.

    Tool calls are sent whole, each in one functionCall part once its arguments are complete.
    The last chunk carries finishReason and usageMetadata.
    """

    def __init__(self, request: ChatRequest, response_id: str, created: int, *, sse: bool = True):
        self._model = request.model
        self._id = response_id
        self._sse = sse
        self._opened = False  # the array's "[" is out
        self._closed = False
        self._call: dict | None = None
        self._fragments: list[str] = []
        self._signature = ""  # a signature waiting for the part it belongs to
        self._finish = "STOP"
        self._usage: Usage | None = None

    def encode(self, event) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, TextDelta):
            return self._flush_call() + self._emit([self._signed({"text": event.text})])
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ToolCallStart):
            flushed = self._flush_call()
            self._call = self._signed({"functionCall": {"id": event.id, "name": event.name}})
            return flushed
        if isinstance(event, ToolCallDelta):
            if self._call is not None:
                self._fragments.append(event.arguments)
            return b""
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, Finish):
            self._finish = _FINISH_REASONS[event.stop_reason]
            return self._flush_call()
        elif isinstance(event, StreamError):
            return self.fail(event.type, event.message)
        return b""

    def end(self) -> bytes:
        if self._closed:
            return b""
        flushed = self._flush_call()
        extra = {"finishReason": self._finish}
        usage = {"usageMetadata": _usage_metadata(self._usage)} if self._usage else {}
        last = self._emit([self._signed({"text": ""})], extra, usage)
        self._closed = True
        return flushed + last + (b"" if self._sse else b"]")

    def fail(self, error_type: str, message: str) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        code = _TYPE_CODES.get(error_type, 500)
        data = orjson.dumps({"error": {"code": code, "message": message, "status": _GOOGLE_STATUSES[code]}})
        return self._frame(data) + (b"" if self._sse else b"]")

    def _thinking(self, event: ThinkingDelta) -> bytes:
        flushed = self._flush_call()
        signature = _usable(event.signature)
        if not event.text:
            # A bare signature belongs on the part that follows (a functionCall, usually).
            self._signature = signature or self._signature
            return flushed
        part = self._signed({"text": event.text, "thought": True})
        if signature:
            part["thoughtSignature"] = signature
        return flushed + self._emit([part])

    def _signed(self, part: dict) -> dict:
        if self._signature:
            part["thoughtSignature"] = self._signature
            self._signature = ""
        return part

    def _flush_call(self) -> bytes:
        if self._call is None:
            return b""
        part, self._call = self._call, None
        part["functionCall"]["args"] = _arguments("".join(self._fragments), strict=False)
        self._fragments = []
        return self._emit([part])

    def _emit(self, parts: list, extra: dict | None = None, top: dict | None = None) -> bytes:
        candidate = {"content": {"role": "model", "parts": parts}, **(extra or {}), "index": 0}
        chunk = {"candidates": [candidate], **(top or {}), "modelVersion": self._model, "responseId": self._id}
        return self._frame(orjson.dumps(chunk))

    def _frame(self, data: bytes) -> bytes:
        if self._sse:
            return encode_event(data)
        prefix = b",\r\n" if self._opened else b"["
        self._opened = True
        return prefix + data
