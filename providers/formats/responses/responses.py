"""Responses API non-stream responses: building a client's, parsing an upstream's."""

import time

from providers.formats.openai import _string
from providers.types import ChatRequest, ChatResponse, Text, Thinking, ToolCall, Usage

from ._common import _REDACTED, new_response_id

__all__ = [
    "build_response", "_response_id", "_envelope", "_finish", "_unsigned", "_status", "_item_id", "_item",
    "_output_text", "parse_response", "_stop_reason", "_parse_usage",
]


# Stop reasons that leave a response incomplete, and the reason it then gives.
_INCOMPLETE = {"max_tokens": "max_output_tokens", "content_filter": "content_filter"}


# --- client side: building a response --------------------------------------------------------

def build_response(response: ChatResponse, request: ChatRequest) -> dict:
    """ChatResponse -> a ``response`` object named for the model the client asked for."""
    envelope = _envelope(request, _response_id(request, response.id), response.created or int(time.time()))
    return _finish(envelope, _output_parts(response.parts), response.stop_reason, response.usage)


def _response_id(request: ChatRequest, fallback: str) -> str:
    return getattr(request, "response_id", "") or fallback or new_response_id()


def _envelope(request: ChatRequest, response_id: str, created: int, status: str = "in_progress") -> dict:
    echo = getattr(request, "echo", None) or {}
    return {"id": response_id, "object": "response", "created_at": created, "status": status, "error": None,
            "incomplete_details": None, "model": request.model, "output": [], "usage": None, **echo}


def _finish(envelope: dict, parts: list, stop_reason: str, usage: Usage) -> dict:
    incomplete = _INCOMPLETE.get(stop_reason)
    envelope["output"] = [_item(part, envelope["id"], i, _status(i, len(parts), stop_reason))
                          for i, part in enumerate(parts)]
    envelope["status"] = "incomplete" if incomplete else "completed"
    envelope["incomplete_details"] = {"reason": incomplete} if incomplete else None
    envelope["usage"] = _build_usage(usage)
    return envelope


def _output_parts(parts: list) -> list:
    """One part per output item: consecutive Text parts joined, a bare signature joined to the
    unsigned thinking before it (as a stream of their deltas would be), empty parts dropped."""
    joined = []
    for part in parts:
        previous = joined[-1] if joined else None
        if isinstance(part, Text):
            if not part.text:
                continue
            if isinstance(previous, Text):
                joined[-1] = Text(previous.text + part.text)
                continue
        elif isinstance(part, Thinking) and not part.redacted:
            if not part.text and not part.signature:
                continue
            if not part.text and _unsigned(previous):
                joined[-1] = Thinking(previous.text, part.signature)
                continue
        joined.append(part)
    return joined


def _unsigned(part) -> bool:
    return isinstance(part, Thinking) and not part.signature and not part.redacted


def _status(index: int, count: int, stop_reason) -> str:
    return "incomplete" if stop_reason in _INCOMPLETE and index == count - 1 else "completed"


def _item_id(kind: str, response_id: str, index: int) -> str:
    return f"{kind}_{response_id.removeprefix('resp_')}_{index}"


def _item(part, response_id: str, index: int, status: str = "completed") -> dict:
    if isinstance(part, Text):
        return {"id": _item_id("msg", response_id, index), "type": "message", "status": status,
                "role": "assistant", "content": [_output_text(part.text)]}
    if isinstance(part, ToolCall):
        return {"id": _item_id("fc", response_id, index), "type": "function_call", "status": status,
                "call_id": part.id, "name": part.name, "arguments": part.arguments or "{}"}
    return _reasoning_item(part, _item_id("rs", response_id, index))


def _output_text(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _reasoning_item(part: Thinking, item_id: str) -> dict:
    if part.redacted:
        return {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": _REDACTED + part.signature}
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "encrypted_content": part.signature or None}


def _build_usage(usage: Usage) -> dict:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


# --- upstream side: parsing a response -------------------------------------------------------

def parse_response(body: dict) -> ChatResponse:
    """A ``response`` object -> ChatResponse. Items other than reasoning, messages and function
    calls (built-in tools' calls) are not read."""
    parts = []
    for item in body.get("output") or ():
        part = _ITEM_READERS.get(item.get("type"), _skip)(item)
        if part is not None:
            parts.append(part)
    return ChatResponse(
        id=_string(body.get("id")),
        model=_string(body.get("model")),
        parts=parts,
        stop_reason=_stop_reason(body, any(isinstance(part, ToolCall) for part in parts)),
        usage=_parse_usage(body.get("usage")),
        created=int(body.get("created_at") or 0),
    )


def _read_reasoning(item: dict):
    summary = "\n\n".join(_string(entry.get("text")) for entry in item.get("summary") or () if isinstance(entry, dict))
    return Thinking(summary) if summary else None


def _read_message(item: dict):
    texts = [_string(part.get("text")) or _string(part.get("refusal")) for part in item.get("content") or ()
             if isinstance(part, dict)]
    return Text("".join(texts)) if any(texts) else None


def _read_call(item: dict):
    return ToolCall(_string(item.get("call_id")), _string(item.get("name")), _string(item.get("arguments")) or "{}")


def _skip(item: dict):
    return None


_ITEM_READERS = {"reasoning": _read_reasoning, "message": _read_message, "function_call": _read_call}


def _stop_reason(response: dict, has_calls: bool) -> str:
    status = response.get("status")
    if status == "failed":
        return "error"
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "max_tokens"
    return "tool_use" if has_calls else "end_turn"


def _parse_usage(raw) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("input_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("input_tokens") or 0,
        completion_tokens=raw.get("output_tokens") or 0,
        cached_tokens=details.get("cached_tokens") or 0,
        reasoning_tokens=(raw.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )
