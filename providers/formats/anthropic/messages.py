"""Messages API conversation turns and content blocks, both directions."""

import orjson

from providers.types import BadRequest, Image, Message, Text, Thinking, ToolCall, ToolResult, Unsupported

from ._common import _string

__all__ = ["_parse_messages", "_blocks", "_build_messages", "_signed_thoughts", "_content_block", "_tool_use_block", "_dumps"]


# --- client side: messages -----------------------------------------------------------------------

def _parse_messages(messages) -> list:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", "messages")
    names: dict[str, str] = {}  # tool_use id -> tool name, for the results that answer it
    parsed = []
    for i, message in enumerate(messages):
        parsed.extend(_parse_message(message, f"messages.{i}", names))
    return parsed


def _parse_message(message, param: str, names: dict) -> list:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("user", "assistant"):
        raise BadRequest("role must be user or assistant", f"{param}.role")
    content = message.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = _blocks(content, f"{param}.content")
    if role == "assistant":
        return [Message("assistant", [_assistant_part(b, f"{param}.content.{j}", names) for j, b in enumerate(blocks)])]
    return _user_messages(blocks, f"{param}.content", names)


def _blocks(blocks, param: str) -> list:
    if not isinstance(blocks, list) or not all(isinstance(block, dict) for block in blocks):
        raise BadRequest(f"{param} must be a string or a list of objects", param)
    return blocks


def _assistant_part(block: dict, param: str, names: dict):
    kind = block.get("type")
    if kind == "text":
        return Text(_string(block, "text", param))
    if kind == "tool_use":
        call = ToolCall(_string(block, "id", param), _string(block, "name", param), _dumps(block.get("input") or {}))
        names[call.id] = call.name
        return call
    if kind == "thinking":
        return Thinking(_string(block, "thinking", param), block.get("signature") or "")
    if kind == "redacted_thinking":
        return Thinking(signature=_string(block, "data", param), redacted=True)
    raise Unsupported(f"{kind} content blocks are not supported in assistant messages", param)


def _user_messages(blocks: list, param: str, names: dict) -> list:
    results, parts = [], []
    for j, block in enumerate(blocks):
        if block.get("type") == "tool_result":
            results.append(_tool_result(block, f"{param}.{j}", names))
        else:
            parts.append(_user_part(block, f"{param}.{j}"))
    messages = [Message("tool", results)] if results else []
    if parts or not results:
        messages.append(Message("user", parts))
    return messages


def _user_part(block: dict, param: str):
    kind = block.get("type")
    if kind == "text":
        return Text(_string(block, "text", param))
    if kind == "image":
        return _image(block.get("source"), f"{param}.source")
    raise Unsupported(f"{kind} content blocks are not supported", param)


def _image(source, param: str) -> Image:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64":
        return Image(media_type=_string(source, "media_type", param), data=_string(source, "data", param))
    if kind == "url":
        return Image(url=_string(source, "url", param))
    raise Unsupported(f"{kind} image sources are not supported", param)


def _tool_result(block: dict, param: str, names: dict) -> ToolResult:
    call_id = _string(block, "tool_use_id", param)
    content = block.get("content")
    if content is None or content == "":
        parts = []
    elif isinstance(content, str):
        parts = [Text(content)]
    else:
        parts = [_user_part(item, f"{param}.content.{k}") for k, item in enumerate(_blocks(content, f"{param}.content"))]
    return ToolResult(call_id, names.get(call_id, ""), parts, block.get("is_error") is True)


def _build_messages(messages: list) -> list:
    built = []
    for message in messages:
        blocks = [block for part in _signed_thoughts(message.parts) if (block := _request_block(part)) is not None]
        role = "assistant" if message.role == "assistant" else "user"
        if not blocks:
            continue  # Anthropic refuses empty turns
        if built and built[-1]["role"] == role:
            _merge(built[-1]["content"], blocks)
        else:
            built.append({"role": role, "content": blocks})
    return built


def _merge(content: list, blocks: list) -> None:
    # Consecutive turns of one role become one; Anthropic wants tool results before other content.
    content.extend(blocks)
    content.sort(key=lambda block: block["type"] != "tool_result")


def _signed_thoughts(parts: list) -> list:
    """Parts with each lone signature joined to the unsigned thought just before it.

    Gemini's format signs the part after a thought, so a thought that went through a Gemini client
    (or came from Gemini) arrives as an unsigned Thinking and then a signature-only one; Anthropic
    signs the thinking block itself, as the stream encoder does.
    """
    joined = []
    for part in parts:
        previous = joined[-1] if joined else None
        if _bare_signature(part) and isinstance(previous, Thinking) and previous.text and not previous.signature:
            joined[-1] = Thinking(previous.text, part.signature)
        else:
            joined.append(part)
    return joined


def _bare_signature(part) -> bool:
    return isinstance(part, Thinking) and not part.text and not part.redacted and bool(part.signature)


def _request_block(part) -> dict | None:
    if isinstance(part, Thinking) and not part.signature:
        return None
    if isinstance(part, ToolCall):
        return _tool_use_block(part, _arguments(part.arguments))
    if isinstance(part, ToolResult):
        return _tool_result_block(part)
    if isinstance(part, Image):
        return _image_block(part)
    return _content_block(part)


def _content_block(part) -> dict | None:
    """A Text or Thinking part as a content block; empty text has none (Anthropic refuses it)."""
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.signature}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _tool_use_block(call: ToolCall, arguments: dict) -> dict:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _image_block(image: Image) -> dict:
    if image.url:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}


def _tool_result_block(result: ToolResult) -> dict:
    block = {"type": "tool_result", "tool_use_id": result.call_id}
    content = [built for part in result.content if (built := _result_part(part)) is not None]
    if content:
        block["content"] = content
    if result.is_error:
        block["is_error"] = True
    return block


def _result_part(part) -> dict | None:
    return _image_block(part) if isinstance(part, Image) else _content_block(part)


def _arguments(text: str) -> dict:
    if not text.strip():
        return {}
    try:
        arguments = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadRequest("tool call arguments are not valid JSON", "messages") from None
    if not isinstance(arguments, dict):
        raise BadRequest("tool call arguments must be a JSON object", "messages")
    return arguments


def _dumps(value) -> str:
    return orjson.dumps(value).decode()
