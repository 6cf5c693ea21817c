"""Messages API non-stream responses (and count_tokens answers): parsing an upstream's, building a client's."""

import orjson

from providers.types import ChatRequest, ChatResponse, Text, Thinking, ToolCall, Usage

from ._common import STOP_REASONS_IN, STOP_REASONS_OUT
from .messages import _content_block, _dumps, _signed_thoughts, _tool_use_block

__all__ = ["parse_response", "_usage", "build_response", "_usage_out", "_message_id", "build_count_tokens_response"]


# --- responses -----------------------------------------------------------------------------------

def parse_response(body: dict) -> ChatResponse:
    parts = [part for block in body.get("content") or () if (part := _response_part(block)) is not None]
    return ChatResponse(
        id=body.get("id") or "",
        model=body.get("model") or "",
        parts=parts,
        stop_reason=STOP_REASONS_IN.get(body.get("stop_reason"), "end_turn"),
        stop_sequence=body.get("stop_sequence") or "",
        usage=_usage(body.get("usage") or {}),
    )


def _response_part(block: dict):
    # Server tool blocks are skipped: we never offer server tools upstream.
    kind = block.get("type")
    if kind == "text":
        return Text(block.get("text") or "")
    if kind == "thinking":
        return Thinking(block.get("thinking") or "", block.get("signature") or "")
    if kind == "redacted_thinking":
        return Thinking(signature=block.get("data") or "", redacted=True)
    if kind == "tool_use":
        return ToolCall(block.get("id") or "", block.get("name") or "", _dumps(block.get("input") or {}))
    return None


def _usage(raw: dict) -> Usage:
    read = raw.get("cache_read_input_tokens") or 0
    write = raw.get("cache_creation_input_tokens") or 0
    details = raw.get("output_tokens_details") or {}
    return Usage(
        prompt_tokens=(raw.get("input_tokens") or 0) + read + write,
        completion_tokens=raw.get("output_tokens") or 0,
        cached_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=details.get("thinking_tokens") or 0,
    )


def build_response(response: ChatResponse, request: ChatRequest) -> dict:
    content = [block for part in _signed_thoughts(response.parts) if (block := _response_block(part)) is not None]
    return {
        "id": _message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": STOP_REASONS_OUT.get(response.stop_reason, "end_turn"),
        "stop_sequence": response.stop_sequence or None,
        "usage": _usage_out(response.usage),
    }


def _response_block(part) -> dict | None:
    if isinstance(part, ToolCall):
        return _tool_use_block(part, _arguments_or_empty(part.arguments))
    return _content_block(part)


def _arguments_or_empty(text: str) -> dict:
    # A response is past the point of refusing: arguments the model botched become {}.
    try:
        arguments = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return arguments if isinstance(arguments, dict) else {}


def _usage_out(usage: Usage) -> dict:
    return {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _message_id(response_id: str) -> str:
    return response_id if response_id.startswith("msg_") else "msg_" + response_id


# --- token counting and models -------------------------------------------------------------------

def build_count_tokens_response(input_tokens: int) -> dict:
    return {"input_tokens": input_tokens}
