"""Gemini contents (turns and their parts), both directions."""

import mimetypes
import re

import orjson

from providers.types import BadRequest, Image, Message, Text, Thinking, ToolCall, ToolResult, Unsupported

from ._common import _get, _json, _list, _object, _usable

__all__ = [
    "SKIP_SIGNATURE", "_ContentsParser", "_model_parts", "_contents", "_model_wire_parts", "_arguments",
    "_requires_signatures", "_sign_calls",
]


# Google documents this value for function calls whose real signature is unknown (history written
# by another model); Gemini 3 refuses a function-call turn without any signature.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.DOTALL)
_GEMINI_MAJOR = re.compile(r"(?:models/)?gemini-(\d+)")


class _ContentsParser:
    """Contents to messages, giving every function call an id and every response its call's."""

    def __init__(self):
        self._calls = 0
        self._pending: dict[str, list[str]] = {}  # call ids not yet answered, by function name
        self._messages: list[Message] = []

    def parse(self, contents: list) -> list:
        for index, content in enumerate(contents):
            param = f"contents[{index}]"
            content = _object(content, param)
            parts = _list(content.get("parts"), f"{param}.parts")
            role = content.get("role") or "user"
            if role == "model":
                self._model(parts, f"{param}.parts")
            elif role in ("user", "function"):
                self._user(parts, f"{param}.parts")
            else:
                raise BadRequest(f"{param}.role must be user or model", f"{param}.role")
        return self._messages

    def _model(self, parts: list, param: str):
        parsed = _model_parts(parts, param)
        for call in parsed:
            if isinstance(call, ToolCall):
                call.id = call.id or self._next_id()
                self._pending.setdefault(call.name, []).append(call.id)
        self._append("assistant", parsed)

    def _user(self, parts: list, param: str):
        for index, part in enumerate(parts):
            part = _object(part, f"{param}[{index}]")
            response = _get(part, "functionResponse")
            if response is not None:
                self._append("tool", [self._result(response, f"{param}[{index}]")])
            else:
                self._append("user", _user_part(part, f"{param}[{index}]"))

    def _append(self, role: str, parts: list):
        # Consecutive parts of one role share a message; a content mixing text and function
        # responses becomes a tool message and a user message, in order.
        if not parts:
            return
        if self._messages and self._messages[-1].role == role and role != "assistant":
            self._messages[-1].parts.extend(parts)
        else:
            self._messages.append(Message(role, parts))

    def _result(self, response, param: str) -> ToolResult:
        response = _object(response, f"{param}.functionResponse")
        name = response.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest("functionResponse.name is required", f"{param}.functionResponse.name")
        content, is_error = _result_content(response.get("response"))
        images = [_inline_image(_get(p, "inlineData", {})) for p in _list(response.get("parts"), param)
                  if isinstance(p, dict) and _get(p, "inlineData")]
        return ToolResult(self._call_id(name, response.get("id")), name, content + images, is_error)

    def _call_id(self, name: str, given) -> str:
        pending = self._pending.get(name, [])
        if given:
            if given in pending:
                pending.remove(given)
            return given
        return pending.pop(0) if pending else self._next_id()

    def _next_id(self) -> str:
        self._calls += 1
        return f"call_{self._calls - 1}"


def _model_parts(parts: list, param: str) -> list:
    parsed = []
    for index, part in enumerate(parts):
        parsed.extend(_model_part(_object(part, f"{param}[{index}]"), f"{param}[{index}]"))
    return parsed


def _model_part(part: dict, param: str) -> list:
    signature = _get(part, "thoughtSignature", "")
    call = _get(part, "functionCall")
    if call is not None:
        return _signed(signature, _tool_call(_object(call, f"{param}.functionCall"), param))
    text = part.get("text")
    if not isinstance(text, str):
        raise Unsupported(f"{param}: model turns may hold text, thought and functionCall parts only", param)
    if part.get("thought"):
        return [Thinking(text, signature)]
    return _signed(signature, Text(text) if text else None)


def _signed(signature: str, part) -> list:
    # The internal types have no signature on Text or ToolCall: it travels as an empty Thinking
    # just before the part, where the builders below look for it.
    parsed = [Thinking(signature=signature)] if signature else []
    return parsed + ([part] if part is not None else [])


def _tool_call(call: dict, param: str) -> ToolCall:
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("functionCall.name is required", f"{param}.functionCall.name")
    args = _object(call.get("args"), f"{param}.functionCall.args")
    return ToolCall(call.get("id") or "", name, _json(args))


def _user_part(part: dict, param: str) -> list:
    text = part.get("text")
    if isinstance(text, str):
        return [Text(text)] if text and not part.get("thought") else []
    inline = _get(part, "inlineData")
    if inline is not None:
        return [_inline_image(_object(inline, f"{param}.inlineData"))]
    file = _get(part, "fileData")
    if file is not None:
        file = _object(file, f"{param}.fileData")
        return [Image(media_type=_get(file, "mimeType", ""), url=_get(file, "fileUri", ""))]
    raise Unsupported(f"{param}: user turns may hold text, inlineData, fileData and functionResponse parts only", param)


def _inline_image(inline: dict) -> Image:
    return Image(media_type=_get(inline, "mimeType", ""), data=inline.get("data", ""))


def _result_content(payload) -> tuple[list, bool]:
    # {"result": "..."} and {"output": "..."} are how clients wrap a plain string; Gemini's docs
    # name "error" for a failed call.
    if isinstance(payload, dict) and len(payload) == 1:
        (key, value), = payload.items()
        if isinstance(value, str) and key in ("result", "output", "error"):
            return [Text(value)], key == "error"
    return [Text(_json({} if payload is None else payload))], False


def _contents(messages: list) -> list:
    names = {part.id: part.name for message in messages if message.role == "assistant"
             for part in message.parts if isinstance(part, ToolCall)}
    contents = []
    for index, message in enumerate(messages):
        role = "model" if message.role == "assistant" else "user"
        parts = _message_parts(message, names, f"messages[{index}]")
        # Gemini wants all responses to one turn's calls in one content: merge neighbours.
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        elif parts:
            contents.append({"role": role, "parts": parts})
    return contents


def _message_parts(message: Message, names: dict, param: str) -> list:
    if message.role == "assistant":
        return _model_wire_parts(message.parts, client=False)
    parts = []
    for part in message.parts:
        if isinstance(part, ToolResult):
            parts.extend(_result_parts(part, names, param))
        elif isinstance(part, Text):
            parts.append({"text": part.text})
        elif isinstance(part, Image):
            parts.append(_image_part(part))
        else:
            raise Unsupported(f"{param}: a {type(part).__name__} part cannot be sent in a {message.role} turn", param)
    return parts


def _model_wire_parts(parts: list, *, client: bool) -> list:
    """Assistant parts as Gemini parts. Toward a client, calls keep their ids and bad arguments
    become ``{}``; toward Gemini, ids are dropped and bad arguments are the caller's error."""
    wire = []
    carried = ""
    for index, part in enumerate(parts):
        if isinstance(part, Thinking):
            following = parts[index + 1] if index + 1 < len(parts) else None
            carried = _add_thought(wire, part, following)
            continue
        item = _text_or_call(part, client)
        if carried:
            item["thoughtSignature"] = carried
        elif item.get("text") == "":
            continue
        carried = ""
        wire.append(item)
    return wire


def _add_thought(wire: list, thinking: Thinking, following) -> str:
    """Appends the thought, returning the signature the following part must carry."""
    if thinking.redacted:
        return ""  # another provider's encrypted reasoning: nothing Gemini can read
    signature = _usable(thinking.signature)
    carry = bool(signature) and isinstance(following, (Text, ToolCall))
    if thinking.text:
        part = {"text": thinking.text, "thought": True}
        if signature and not carry:
            part["thoughtSignature"] = signature
        wire.append(part)
    elif signature and not carry:
        _sign_last(wire, signature)
    return signature if carry else ""


def _sign_last(wire: list, signature: str):
    # A trailing signature (streams send it on a final empty part) belongs to the answer before it.
    for part in reversed(wire):
        if not part.get("thought") and "thoughtSignature" not in part:
            part["thoughtSignature"] = signature
            return


def _text_or_call(part, client: bool) -> dict:
    if isinstance(part, Text):
        return {"text": part.text}
    if not isinstance(part, ToolCall):
        raise Unsupported(f"a {type(part).__name__} part cannot be sent in a model turn", "messages")
    call = {"name": part.name, "args": _arguments(part.arguments, strict=not client)}
    if client:
        call = {"id": part.id, **call}
    return {"functionCall": call}


def _arguments(arguments: str, *, strict: bool) -> dict:
    try:
        args = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        args = None
    if isinstance(args, dict):
        return args
    if strict:
        raise BadRequest("tool call arguments must be a JSON object", "messages")
    return {}


def _result_parts(result: ToolResult, names: dict, param: str) -> list:
    name = result.name or names.get(result.call_id)
    if not name:
        raise BadRequest(f"tool result {result.call_id!r} answers no earlier tool call", param)
    text = "\n".join(part.text for part in result.content if isinstance(part, Text))
    response = {"functionResponse": {"name": name, "response": _result_payload(text, result.is_error)}}
    # Images ride beside the response: every Gemini model reads them there.
    return [response] + [_image_part(part) for part in result.content if isinstance(part, Image)]


def _result_payload(text: str, is_error: bool) -> dict:
    if is_error:
        return {"error": text}
    if text.lstrip().startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"result": text}


def _image_part(image: Image) -> dict:
    if image.data:
        return {"inlineData": {"mimeType": image.media_type or "image/jpeg", "data": image.data}}
    match = _DATA_URL.fullmatch(image.url)
    if match:
        return {"inlineData": {"mimeType": match[1] or "image/jpeg", "data": match[2]}}
    if image.url.startswith("data:"):
        raise BadRequest("data URLs must be base64", "messages")
    media_type = image.media_type or mimetypes.guess_type(image.url)[0] or "image/jpeg"
    return {"fileData": {"mimeType": media_type, "fileUri": image.url}}


def _requires_signatures(upstream_model: str) -> bool:
    match = _GEMINI_MAJOR.match(upstream_model)
    return bool(match) and int(match[1]) >= 3


def _sign_calls(contents: list):
    for content in contents:
        calls = [part for part in content["parts"] if "functionCall" in part]
        if content["role"] == "model" and calls and "thoughtSignature" not in calls[0]:
            calls[0]["thoughtSignature"] = SKIP_SIGNATURE
