"""The relay's internal types: every wire format is decoded into these and encoded from them.

A codec never passes a raw dict to another codec; what a format can say that these cannot hold is
either mapped onto them or refused with ``Unsupported`` (a 400 in the caller's format).
"""

from dataclasses import dataclass, field
from typing import Literal, Union

__all__ = [
    "Text", "Image", "Thinking", "ToolCall", "ToolResult", "Part", "Message", "Tool", "ToolChoice",
    "ResponseFormat", "Reasoning", "ChatRequest", "Usage", "ChatResponse", "StopReason",
    "Start", "TextDelta", "ThinkingDelta", "ToolCallStart", "ToolCallDelta", "UsageUpdate", "Finish",
    "StreamError", "Event", "EmbeddingRequest", "EmbeddingResponse", "ImageRequest", "GeneratedImage",
    "ImageResponse", "Unsupported", "BadRequest", "MALFORMED",
]

# What reading an upstream's answer of the wrong shape raises (a list for an object, a string for a list...).
MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)


class BadRequest(ValueError):
    """The client's request is malformed; ``param`` names the offending field when known."""

    def __init__(self, message: str, param: str = ""):
        super().__init__(message)
        self.message = message
        self.param = param


class Unsupported(BadRequest):
    """The request asks for something the target format cannot express."""


# --- content parts ---------------------------------------------------------------------------

@dataclass(slots=True)
class Text:
    text: str


@dataclass(slots=True)
class Image:
    """Either inline base64 ``data`` with its ``media_type``, or a ``url``."""

    media_type: str = ""
    data: str = ""
    url: str = ""


@dataclass(slots=True)
class Thinking:
    text: str = ""
    signature: str = ""
    redacted: bool = False


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str = "{}"  # JSON text, as the model wrote it


@dataclass(slots=True)
class ToolResult:
    call_id: str
    name: str = ""
    content: list = field(default_factory=list)  # Text and Image parts
    is_error: bool = False


Part = Union[Text, Image, Thinking, ToolCall, ToolResult]


@dataclass(slots=True)
class Message:
    """``user`` (Text, Image), ``assistant`` (Text, Thinking, ToolCall) or ``tool`` (ToolResult)."""

    role: Literal["user", "assistant", "tool"]
    parts: list


# --- requests --------------------------------------------------------------------------------

@dataclass(slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=dict)  # JSON schema


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str = ""  # when mode == "tool"


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict | None = None
    name: str = ""
    strict: bool = False


@dataclass(slots=True)
class Reasoning:
    effort: str = ""  # low | medium | high, when the client spoke in efforts
    budget_tokens: int | None = None  # when the client spoke in tokens
    include_thoughts: bool = True


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list
    system: list = field(default_factory=list)  # Text parts (system and developer prompts, in order)
    tools: list = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    n: int = 1
    stream: bool = False
    include_usage: bool = False  # the client asked for usage in its stream
    user: str = ""  # end-user or session id, when the client sent one
    metadata: dict = field(default_factory=dict)


# --- responses -------------------------------------------------------------------------------

StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "content_filter", "error"]


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0  # all input tokens, cached ones included
    completion_tokens: int = 0  # all output tokens, reasoning included
    cached_tokens: int = 0  # input tokens read from the upstream's prompt cache
    cache_write_tokens: int = 0  # input tokens written to it (Anthropic)
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    parts: list  # Text, Thinking, ToolCall
    stop_reason: StopReason = "end_turn"
    stop_sequence: str = ""
    usage: Usage = field(default_factory=Usage)
    created: int = 0


# --- stream events ---------------------------------------------------------------------------

@dataclass(slots=True)
class Start:
    id: str = ""
    model: str = ""


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str = ""
    signature: str = ""


@dataclass(slots=True)
class ToolCallStart:
    index: int  # position among this response's tool calls, from 0
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str  # a fragment of the JSON text


@dataclass(slots=True)
class UsageUpdate:
    usage: Usage  # cumulative: a later update replaces an earlier one


@dataclass(slots=True)
class Finish:
    stop_reason: StopReason
    stop_sequence: str = ""


@dataclass(slots=True)
class StreamError:
    """The upstream reported an error inside its stream."""

    type: str
    message: str


Event = Union[Start, TextDelta, ThinkingDelta, ToolCallStart, ToolCallDelta, UsageUpdate, Finish, StreamError]


# --- embeddings ------------------------------------------------------------------------------

@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: list  # strings
    dimensions: int | None = None
    task_type: str = ""  # Gemini's hint, kept when both sides are Gemini


@dataclass(slots=True)
class EmbeddingResponse:
    model: str
    vectors: list  # lists of floats, one per input, in order
    usage: Usage = field(default_factory=Usage)


# --- image generation ------------------------------------------------------------------------

@dataclass(slots=True)
class ImageRequest:
    """Empty strings are options the client left to the upstream's defaults."""

    model: str
    prompt: str
    n: int = 1
    size: str = ""  # WIDTHxHEIGHT, or "auto"
    quality: str = ""
    style: str = ""
    response_format: str = ""  # b64_json | url
    output_format: str = ""  # png | jpeg | webp
    background: str = ""
    user: str = ""


@dataclass(slots=True)
class GeneratedImage:
    """Inline base64 ``data`` with its ``media_type``, or a ``url`` the upstream hosts."""

    data: str = ""
    media_type: str = "image/png"
    url: str = ""
    revised_prompt: str = ""


@dataclass(slots=True)
class ImageResponse:
    model: str
    images: list  # GeneratedImage, in order
    usage: Usage = field(default_factory=Usage)
    created: int = 0
