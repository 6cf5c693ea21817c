"""The same-format stream relay: an upstream's SSE bytes go to a client of the same format as they
come, cut only at event boundaries, while a reader of the format reads them on the way for what
the gateway needs (usage, the end, errors, what was produced). Nothing is re-encoded.
"""

from providers.formats.sse import CONTENT, MAX_EVENT_BYTES, USAGE_ONLY, SSETooLarge
from providers.tokens import count_text
from providers.types import Finish, Start, StreamError, TextDelta, ThinkingDelta, ToolCallDelta, UsageUpdate

from gateway.errors import UpstreamError

__all__ = ["Piece", "ByteStream", "DecodedReader", "Produced", "stream_failure"]

# An SSE event ends at a blank line, whichever line ending the upstream uses.
_ENDINGS = (b"\r\n\r\n", b"\n\n", b"\r\r")
_STREAM_ERROR_STATUSES = {"rate_limit": 429, "invalid_request": 400}
_BOOKKEEPING = (Start, UsageUpdate)


def stream_failure(event: StreamError) -> UpstreamError:
    """An error the upstream reported inside its stream, as if it had answered with a status."""
    status = _STREAM_ERROR_STATUSES.get(event.type, 0)
    return UpstreamError(f"the upstream's stream failed: {event.message}", status=status or 502,
                         error_type=event.type, upstream_status=status)


def _has_boundary(data, start: int) -> bool:
    # _ENDINGS spelled out: the usual ending first, and no generator made for each chunk
    return data.find(b"\n\n", start) >= 0 or data.find(b"\r\n\r\n", start) >= 0 or data.find(b"\r\r", start) >= 0


def _events(data: bytes) -> list:
    """(event, end) for the complete events of ``data``, in order. Found with ``find``: a pattern
    searched again from every position of an incomplete tail would cost the square of its length."""
    if b"\r" not in data:  # the usual stream: one ending to look for
        found, start = [], 0
        end = data.find(b"\n\n")
        while end >= 0:
            end += 2
            found.append((data[start:end], end))
            start = end
            end = data.find(b"\n\n", start)
        return found
    found, start = [], 0
    while True:
        end = -1
        for ending in _ENDINGS:
            at = data.find(ending, start)
            if at >= 0 and (end < 0 or at + len(ending) < end):
                end = at + len(ending)
        if end < 0:
            return found
        found.append((data[start:end], end))
        start = end


class Produced:
    """What a stream gave the client, for a token estimate when the upstream reports none. Memory is
    bounded: past SAMPLE characters only the count grows, and the estimate scales the sample's.

    A reader may hand over an event's raw data instead of its text (``add_unread``): most streams end
    with the upstream's own usage, and then nothing needs reading; the estimate reads them if asked."""

    SAMPLE = 64 * 1024
    __slots__ = ("parts", "sampled", "chars", "_unread", "_unread_sampled", "_unread_bytes", "_read")

    def __init__(self):
        self.parts, self.sampled, self.chars = [], 0, 0
        self._unread, self._unread_sampled, self._unread_bytes, self._read = [], 0, 0, None

    def add(self, text: str):
        self.chars += len(text)
        if self.sampled < self.SAMPLE:
            self.parts.append(text)
            self.sampled += len(text)

    def add_unread(self, data: bytes, read):
        """An event's raw data, and ``read``, which gives its text, for later."""
        self._read = read
        self._unread_bytes += len(data)
        if self._unread_sampled < self.SAMPLE:
            self._unread.append(data)
            self._unread_sampled += len(data)

    def tokens(self) -> int:
        tokens = 0
        if self.chars:
            counted = count_text("".join(self.parts))
            tokens = counted if self.sampled >= self.chars else round(counted * self.chars / self.sampled)
        if self._unread:
            counted = count_text("".join(map(self._read, self._unread)))
            tokens += round(counted * self._unread_bytes / self._unread_sampled)
        return tokens


class Piece:
    """Bytes for the client, and whether they hold content (what resets a stream's idle clock)."""

    __slots__ = ("data", "content")

    def __init__(self, data: bytes, content: bool):
        self.data = data
        self.content = content


class DecodedReader:
    """Reads a stream's events with its format's full decoder (the typed events the translating path
    uses): works for any format; a format may bring a cheaper reader of its own."""

    __slots__ = ("_decoder",)

    def __init__(self, decoder):
        self._decoder = decoder

    def read(self, event: bytes, into: "ByteStream") -> int:
        """CONTENT and/or USAGE_ONLY, from one complete event; what it says goes ``into`` the stream."""
        events = self._decoder.feed(event)
        if events and all(type(item) is UsageUpdate for item in events):
            self._note(events, into)
            return USAGE_ONLY
        return CONTENT if self._note(events, into) else 0

    def close(self, into: "ByteStream"):
        self._note(self._decoder.close(), into)

    @staticmethod
    def _note(events: list, into: "ByteStream") -> bool:
        content = False
        for event in events:
            kind = type(event)
            if kind is UsageUpdate:
                into.usage = event.usage
            elif kind is StreamError:
                into.fail(event)
            elif kind not in _BOOKKEEPING:
                content = True
                if kind is TextDelta or kind is ThinkingDelta:
                    into.produced.add(event.text)
                elif kind is ToolCallDelta:
                    into.produced.add(event.arguments)
                elif kind is Finish:
                    into.finished = True
        return content


class ByteStream:
    """``pieces()`` relays ``chunks`` (the upstream's raw body) event by event, each read by ``reader``
    (a DecodedReader, or a format's own) for the usage, the end, errors and the produced text.

    ``hide_usage`` keeps usage-only events from the client (an OpenAI client that did not ask for
    stream usage, while the gateway asked the upstream for it). An error event is raised as an
    UpstreamError, never relayed: before content the relay can still fail over, after it the client
    gets the error in its format from the gateway, with the upstream's credentials kept out.
    """

    __slots__ = ("_chunks", "_reader", "_hide_usage", "_failure", "usage", "finished", "produced")

    def __init__(self, chunks, reader, hide_usage: bool):
        self._chunks = chunks
        self._reader = reader
        self._hide_usage = hide_usage
        self._failure = None
        self.usage = None
        self.finished = False
        self.produced = Produced()

    def fail(self, event: StreamError):
        self._failure = self._failure or stream_failure(event)

    async def pieces(self):
        pending = bytearray()  # grows in place: an event that arrives in many chunks is copied once
        async for chunk in self._chunks:
            if pending:
                # Only the new bytes (and the three before them) can complete an event.
                start = max(len(pending) - 3, 0)
                pending += chunk
                if not _has_boundary(pending, start):
                    if len(pending) > MAX_EVENT_BYTES:
                        raise SSETooLarge("an upstream stream event is larger than the gateway accepts")
                    continue
                data = bytes(pending)
            elif _has_boundary(chunk, 0):
                data = chunk  # the usual case: whole events, read without a copy
            else:
                pending += chunk
                continue
            piece, rest = self._read(data)
            pending[:] = rest
            if piece is not None:
                yield piece
            if self._failure:
                raise self._failure
        if pending:
            piece, _ = self._read(bytes(pending) + b"\n\n")
            if piece is not None:
                yield piece
        self._reader.close(self)
        if self._failure:
            raise self._failure

    def _read(self, data: bytes):
        """The complete events at the start of ``data`` as one piece, and the incomplete rest."""
        kept, content, end, whole = [], False, 0, True
        for event, end in _events(data):
            seen = self._reader.read(event, self)
            if self._failure:
                whole = False
                break
            if seen & USAGE_ONLY and self._hide_usage:
                whole = False
                continue
            content = content or bool(seen & CONTENT)
            kept.append(event)
        if not kept:
            return None, data[end:]
        return Piece(data[:end] if whole else b"".join(kept), content), data[end:]
