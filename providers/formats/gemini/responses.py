"""generateContent non-stream responses: parsing an upstream's, building a client's."""

from providers.types import ChatRequest, ChatResponse, ToolCall, Usage

from ._common import _FINISH_REASONS, _get, _new_id
from .contents import _model_parts, _model_wire_parts

__all__ = ["parse_response", "_stop_reason", "_usage", "build_response", "_usage_metadata"]


_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "LANGUAGE", "MODEL_ARMOR",
})


# --- responses -------------------------------------------------------------------------------

def parse_response(body: dict) -> ChatResponse:
    response_id = _get(body, "responseId") or _new_id()
    model = _get(body, "modelVersion", "")
    usage = _usage(_get(body, "usageMetadata", {}))
    candidates = body.get("candidates") or []
    if not candidates:
        # A blocked prompt gets promptFeedback.blockReason and no candidate at all.
        blocked = _get(body.get("promptFeedback") or {}, "blockReason")
        return ChatResponse(response_id, model, [], "content_filter" if blocked else "end_turn", usage=usage)
    content = candidates[0].get("content") or {}
    parts = _model_parts([part for part in content.get("parts") or [] if _readable(part)], "parts")
    calls = [part for part in parts if isinstance(part, ToolCall)]
    for index, call in enumerate(calls):
        call.id = call.id or f"call_{response_id}_{index}"
    reason = _stop_reason(_get(candidates[0], "finishReason", ""), bool(calls))
    return ChatResponse(response_id, model, parts, reason, usage=usage)


def _readable(part) -> bool:
    # Responses may hold parts the internal types cannot (executableCode, generated images).
    return isinstance(part, dict) and (isinstance(part.get("text"), str) or _get(part, "functionCall") is not None)


def _stop_reason(finish: str, has_calls: bool) -> str:
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in _FILTERED:
        return "content_filter"
    return "tool_use" if has_calls else "end_turn"


def _usage(meta: dict) -> Usage:
    thoughts = _get(meta, "thoughtsTokenCount", 0)
    return Usage(
        prompt_tokens=_get(meta, "promptTokenCount", 0) + _get(meta, "toolUsePromptTokenCount", 0),
        completion_tokens=_get(meta, "candidatesTokenCount", 0) + thoughts,
        cached_tokens=_get(meta, "cachedContentTokenCount", 0),
        reasoning_tokens=thoughts,
    )


def build_response(response: ChatResponse, request: ChatRequest) -> dict:
    candidate = {
        "content": {"role": "model", "parts": _model_wire_parts(response.parts, client=True)},
        "finishReason": _FINISH_REASONS[response.stop_reason],
        "index": 0,
    }
    return {
        "candidates": [candidate], "usageMetadata": _usage_metadata(response.usage),
        "modelVersion": request.model, "responseId": response.id,
    }


def _usage_metadata(usage: Usage) -> dict:
    meta = {
        "promptTokenCount": usage.prompt_tokens,
        "candidatesTokenCount": usage.completion_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        meta["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens:
        meta["cachedContentTokenCount"] = usage.cached_tokens
    return meta
