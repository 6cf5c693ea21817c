"""What the scripted fake upstream answers: one small value object, ``Reply``, built by named constructors."""

__all__ = ["Reply", "ToolCall", "Usage"]

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Usage:
    """Token counts with OpenAI semantics: ``prompt`` includes ``cached`` and ``cache_write``;
    ``completion`` includes ``reasoning``. Each protocol reports them in its own way: Anthropic
    ``input_tokens`` = prompt - cached - cache_write; Gemini ``candidatesTokenCount`` =
    completion - reasoning, and ``thoughtsTokenCount`` = reasoning."""

    prompt: int = 10
    completion: int = 5
    cached: int = 0
    reasoning: int = 0
    cache_write: int = 0


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods and adjust it with ``with_(...)``.

    ``kind`` is "message", "status", "hang", "raw" or "cut". A "message" whose ``content`` is None
    answers ``"echo: <last user text>"``. In a stream, ``delay`` seconds pass before each event,
    and ``stall`` seconds of silence follow the first ``stall_after`` events (for a reply that is not
    streamed, the stall follows the headers).
    """

    kind: str = "message"
    content: str | None = None
    reasoning: str = ""
    calls: tuple[ToolCall, ...] = ()
    finish: str = "stop"
    usage: Usage = field(default_factory=Usage)
    code: int = 200
    body: dict | None = None
    message: str = ""
    retry_delay: str | None = None
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"
    chunks: tuple[bytes, ...] = ()
    seconds: float = 0.0
    stall: float = 0.0
    stall_after: int = 1
    cut_after: int = 0
    delay: float = 0.0

    @classmethod
    def text(cls, text=None, usage=(10, 5), finish="stop"):
        """``finish`` is "stop", "length", "tool" or "content_filter"; ``usage`` a Usage or a tuple of its fields."""
        return cls(content=text, usage=_usage(usage), finish=finish)

    @classmethod
    def tool_call(cls, name, arguments, *more, text="", usage=(10, 5)):
        """One tool call, or parallel calls: ``tool_call("a", {...}, ("b", {...}), ...)``."""
        pairs = [(name, arguments), *more]
        calls = tuple(ToolCall(call_name, dict(args)) for call_name, args in pairs)
        return cls(content=text, calls=calls, finish="tool", usage=_usage(usage))

    @classmethod
    def thinking(cls, text, answer=None, usage=(10, 5, 0, 3)):
        """Reasoning first (Anthropic thinking block, Gemini thought part, OpenAI reasoning_content)."""
        return cls(content=answer, reasoning=text, usage=_usage(usage))

    @classmethod
    def status(cls, code, body=None, headers=None, message="", retry_delay=None):
        """An error in the protocol's own shape. ``retry_delay`` (e.g. "12s") adds a Google RetryInfo;
        ``body`` (a dict) replaces the whole error body."""
        headers = dict(headers or {})
        return cls(kind="status", code=code, body=body, headers=headers, message=message,
                   retry_delay=retry_delay)

    @classmethod
    def hang(cls, seconds):
        """Accept the request and send nothing at all for ``seconds``."""
        return cls(kind="hang", seconds=seconds)

    @classmethod
    def hang_after_first_chunk(cls, seconds, reply=None):
        return replace(reply or cls.text(), stall=seconds, stall_after=1)

    @classmethod
    def cut_mid_stream(cls, after=2, reply=None):
        """Send ``after`` stream events (half the body when not streaming), then drop the connection."""
        return replace(reply or cls.text(), kind="cut", cut_after=after)

    @classmethod
    def raw(cls, data, content_type="application/json", status=200):
        """Exactly these bytes; a list of byte strings is written and flushed piece by piece."""
        chunks = (data,) if isinstance(data, bytes) else tuple(data)
        return cls(kind="raw", chunks=chunks, content_type=content_type, code=status)

    def with_(self, **changes):
        return replace(self, **changes)


def _usage(value) -> Usage:
    return value if isinstance(value, Usage) else Usage(*value)
