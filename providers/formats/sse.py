"""Incremental server-sent-events parsing, safe for events split at any byte."""

__all__ = ["SSEEvent", "SSEParser", "encode_event", "event_data", "CONTENT", "USAGE_ONLY"]

from dataclasses import dataclass

MAX_EVENT_BYTES = 8 * 1024 * 1024
# What a same-format stream reader says of an event: it holds content (text, thinking, a call, the end:
# what resets a stream's idle clock); it holds usage and nothing else.
CONTENT, USAGE_ONLY = 1, 2


class SSETooLarge(ValueError):
    pass


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str


class SSEParser:
    """``feed(bytes) -> [SSEEvent]`` then ``close() -> [SSEEvent]``.

    Works on bytes and decodes whole lines only, so a multi-byte UTF-8 character split across
    chunks is never broken. Comments (keep-alives) are skipped; an event larger than
    MAX_EVENT_BYTES raises SSETooLarge rather than growing without bound.
    """

    __slots__ = ("_buffer", "_event", "_data", "_size")

    def __init__(self):
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        events = []
        start = 0
        while True:
            end = _line_end(buffer, start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            event = self._line(line)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        if len(self._buffer) + self._size > MAX_EVENT_BYTES:
            raise SSETooLarge("an upstream stream event is larger than the gateway accepts")
        return events

    def close(self) -> list[SSEEvent]:
        events = []
        if self._buffer:
            event = self._line(self._buffer.rstrip(b"\r"))
            self._buffer = b""
            if event is not None:
                events.append(event)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: bytes):
        if not line:
            return self._dispatch()
        if line[:1] == b":":
            return None
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            text = value.decode("utf-8", errors="replace")
            self._data.append(text)
            self._size += len(value)
        elif name == b"event":
            self._event = value.decode("utf-8", errors="replace")
        return None

    def _dispatch(self):
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(self._event, "\n".join(self._data))
        self._event = ""
        self._data = []
        self._size = 0
        return event


def _line_end(buffer: bytes, start: int) -> int:
    # A line ends at \n; a lone \r also ends one, but only when something follows it.
    newline = buffer.find(b"\n", start)
    carriage = buffer.find(b"\r", start, newline if newline >= 0 else len(buffer))
    if carriage >= 0 and carriage + 1 < len(buffer) and buffer[carriage + 1:carriage + 2] != b"\n":
        return carriage
    return newline


def event_data(event: bytes) -> list:
    """The data of one complete event (ending in a blank line): ``[bytes]``, or ``[]`` for a comment.
    The usual event is a single ``data: `` line and is sliced out; any other shape is parsed."""
    if event.startswith(b"data: ") and event.find(b"\n") == len(event) - 2 and event.endswith(b"\n\n"):
        return [event[6:-2]]
    parser = SSEParser()
    return [sse.data.encode() for sse in parser.feed(event) + parser.close()]


def encode_event(data: bytes, event: str = "") -> bytes:
    if event:
        return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"
