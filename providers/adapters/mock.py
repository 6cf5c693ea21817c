"""The built-in mock: answers deterministically without any network, so the gateway can be tried
and tested with no upstream keys.

- A request with tools (and tool_choice not "none") whose last message is not a tool result gets
  a call to the first (or the chosen) tool, with arguments filled from its schema.
- Otherwise the answer echoes the last user text: ``Mock answer to: <text>``.
- A request with reasoning settings gets a short thinking part first.
- An image request gets ``n`` copies of one tiny PNG (1x1 pixel).
Usage counts whitespace-separated words, so tests can predict it.
"""

import hashlib
import math
import time
import uuid

import orjson

from providers.adapters.base import Adapter, Upstream
from providers.types import (
    ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Finish, GeneratedImage, ImageRequest,
    ImageResponse, Start, Text, TextDelta,
    Thinking, ThinkingDelta, ToolCall, ToolCallDelta, ToolCallStart, ToolResult, Usage, UsageUpdate,
)

EMBEDDING_SIZE = 16
TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
_SAMPLE = {"string": "sample", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}


def _text_of(parts) -> str:
    out = []
    for part in parts:
        if isinstance(part, Text):
            out.append(part.text)
        elif isinstance(part, ToolResult):
            out.append(_text_of(part.content))
    return " ".join(out)


def _words(text: str) -> int:
    return len(text.split())


def _prompt_tokens(request: ChatRequest) -> int:
    return max(1, _words(_text_of(request.system)) + sum(_words(_text_of(m.parts)) for m in request.messages))


def _arguments_for(schema: dict) -> dict:
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    return {name: _SAMPLE.get((properties.get(name) or {}).get("type"), "sample") for name in required}


def _chosen_tool(request: ChatRequest):
    choice = request.tool_choice
    if not request.tools or (choice and choice.mode == "none"):
        return None
    if request.messages and request.messages[-1].role == "tool":
        return None
    if choice and choice.mode == "tool":
        return next((t for t in request.tools if t.name == choice.name), request.tools[0])
    return request.tools[0]


def _answer(request: ChatRequest) -> ChatResponse:
    parts = []
    if request.reasoning:
        parts.append(Thinking("The mock thinks briefly.", signature="mock-signature"))
    tool = _chosen_tool(request)
    if tool is not None:
        call_id = "call_" + hashlib.sha1(tool.name.encode()).hexdigest()[:12]
        parts.append(ToolCall(call_id, tool.name, orjson.dumps(_arguments_for(tool.parameters)).decode()))
        stop = "tool_use"
    else:
        last = request.messages[-1] if request.messages else None
        said = _text_of(last.parts) if last else ""
        text = f"Mock answer to: {said}".strip()
        if request.max_tokens is not None and _words(text) > request.max_tokens:
            text, stop = " ".join(text.split()[: max(request.max_tokens, 0)]), "max_tokens"
        else:
            stop = "end_turn"
        parts.append(Text(text))
    completion = sum(_words(p.text) if isinstance(p, (Text, Thinking)) else 4 for p in parts)
    reasoning = sum(_words(p.text) for p in parts if isinstance(p, Thinking))
    usage = Usage(_prompt_tokens(request), completion, reasoning_tokens=reasoning)
    return ChatResponse("mock-" + uuid.uuid4().hex[:24], request.model, parts, stop, usage=usage,
                        created=int(time.time()))


def _events(response: ChatResponse):
    yield Start(response.id, response.model)
    tool_index = 0
    for part in response.parts:
        if isinstance(part, Thinking):
            yield ThinkingDelta(part.text)
            yield ThinkingDelta(signature=part.signature)
        elif isinstance(part, Text):
            words = part.text.split(" ")
            for i, word in enumerate(words):
                yield TextDelta(word if i == 0 else " " + word)
        elif isinstance(part, ToolCall):
            yield ToolCallStart(tool_index, part.id, part.name)
            half = len(part.arguments) // 2
            yield ToolCallDelta(tool_index, part.arguments[:half])
            yield ToolCallDelta(tool_index, part.arguments[half:])
            tool_index += 1
    yield UsageUpdate(response.usage)
    yield Finish(response.stop_reason)


def _vector(text: str) -> list:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b / 255.0 - 0.5 for b in digest[:EMBEDDING_SIZE]]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


class MockAdapter(Adapter):
    format = None
    needs_account = False
    supports_embeddings = True
    supports_images = True

    async def complete(self, up: Upstream, request: ChatRequest) -> ChatResponse:
        return _answer(request)

    async def stream(self, up: Upstream, request: ChatRequest):
        for event in _events(_answer(request)):
            yield event

    async def embed(self, up: Upstream, request: EmbeddingRequest) -> EmbeddingResponse:
        tokens = sum(_words(text) for text in request.inputs)
        return EmbeddingResponse(request.model, [_vector(t) for t in request.inputs], Usage(tokens, 0))

    async def count_tokens(self, up: Upstream, request: ChatRequest) -> int | None:
        return _prompt_tokens(request)

    async def generate_images(self, up: Upstream, request: ImageRequest) -> ImageResponse:
        images = [GeneratedImage(TINY_PNG, revised_prompt=request.prompt) for _ in range(request.n)]
        return ImageResponse(request.model, images, Usage(_words(request.prompt), 0), created=int(time.time()))


adapter = MockAdapter()
