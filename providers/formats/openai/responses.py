"""Chat Completions non-stream responses: parsing an upstream's, building a client's."""

import time

from providers.types import ChatRequest, ChatResponse, Text, Thinking, ToolCall, Usage

from ._common import _joined, _string
from .requests import _build_call

__all__ = ["_FINISH_REASONS", "parse_response", "_reasoning_text", "_stop_reason", "_parse_usage", "build_response", "_build_usage"]


_STOP_REASONS = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "content_filter",
}
_FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "content_filter": "content_filter", "error": "stop",
}


# --- upstream side: parsing a response -------------------------------------------------------

def parse_response(body: dict) -> ChatResponse:
    """A chat.completion body -> ChatResponse; only the first choice is read."""
    choice = (body.get("choices") or [{}])[0]
    parts = _response_parts(choice.get("message") or {})
    return ChatResponse(
        id=body.get("id") or "",
        model=body.get("model") or "",
        parts=parts,
        stop_reason=_stop_reason(choice.get("finish_reason"), _has_calls(parts)),
        usage=_parse_usage(body.get("usage")),
        created=body.get("created") or 0,
    )


def _response_parts(message: dict) -> list:
    parts = []
    thinking = _reasoning_text(message)
    if thinking:
        parts.append(Thinking(thinking))
    text = _string(message.get("content")) or _string(message.get("refusal"))
    if text:
        parts.append(Text(text))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        parts.append(ToolCall(call.get("id") or "", function.get("name") or "",
                              function.get("arguments") or "{}"))
    return parts


def _reasoning_text(message: dict) -> str:
    # DeepSeek, GLM and Qwen write reasoning_content; OpenRouter and newer vLLM write reasoning.
    return _string(message.get("reasoning_content")) or _string(message.get("reasoning"))


def _has_calls(parts: list) -> bool:
    return any(isinstance(part, ToolCall) for part in parts)


def _stop_reason(finish_reason, has_calls: bool) -> str:
    reason = _STOP_REASONS.get(finish_reason, "end_turn")
    # Some hosts finish a tool-calling turn with "stop"; the calls are what the client acts on.
    return "tool_use" if has_calls and reason == "end_turn" else reason


def _parse_usage(raw) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens_details") or {}
    completion = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("prompt_tokens") or 0,
        completion_tokens=raw.get("completion_tokens") or 0,
        # DeepSeek reports its cache hits at the top level.
        cached_tokens=prompt.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
    )


# --- client side: building a response --------------------------------------------------------

def build_response(response: ChatResponse, request: ChatRequest) -> dict:
    """ChatResponse -> a chat.completion body named for the model the client asked for."""
    choice = {
        "index": 0,
        "message": _response_message(response.parts),
        "logprobs": None,
        "finish_reason": _FINISH_REASONS[response.stop_reason],
    }
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created or int(time.time()),
        "model": request.model,
        "choices": [choice],
        "usage": _build_usage(response.usage),
    }


def _response_message(parts: list) -> dict:
    text = _joined(parts)
    calls = [_build_call(part) for part in parts if isinstance(part, ToolCall)]
    message = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    thinking = "".join(p.text for p in parts if isinstance(p, Thinking) and not p.redacted)
    if thinking:
        message["reasoning_content"] = thinking
    return message


def _build_usage(usage: Usage) -> dict:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
