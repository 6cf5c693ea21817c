"""Responses API input items (messages, function calls and their outputs), both directions."""

from providers.formats.openai import _get, _image, _joined, _required_string, _string
from providers.types import BadRequest, Image, Message, Text, Thinking, ToolCall, ToolResult, Unsupported

from ._common import _REDACTED

__all__ = ["_input_items", "_Conversation", "_build_input"]


_SYSTEM_ROLES = ("system", "developer")
_TEXT_PARTS = ("input_text", "output_text", "text")
_UNSUPPORTED_PARTS = ("input_file", "input_audio")


def _input_items(value) -> list:
    if isinstance(value, str) and value:
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list) and value:
        return value
    raise BadRequest("'input' must be a non-empty string or array of input items", "input")


class _Conversation:
    """Builds internal messages from input items in order, remembering call names for the outputs."""

    def __init__(self):
        self.system: list = []
        self.messages: list = []
        self.call_names: dict = {}  # call id -> function name

    def add(self, item, param: str):
        if not isinstance(item, dict):
            raise BadRequest(f"'{param}' must be an object", param)
        kind = item.get("type") or ("message" if "role" in item else "")
        handler = _ITEM_PARSERS.get(kind)
        if handler is None:
            if not kind:
                raise BadRequest(f"'{param}.type' is required", f"{param}.type")
            if kind == "item_reference":
                raise Unsupported("item references are not supported by the gateway; send the items themselves",
                                  f"{param}.type")
            raise Unsupported(f"'{kind}' input items are not supported by the gateway", f"{param}.type")
        handler(self, item, param)

    def _message(self, item: dict, param: str):
        role = item.get("role")
        content = item.get("content")
        if role in _SYSTEM_ROLES:
            self.system.extend(_content(content, f"{param}.content", images=False))
        elif role == "user":
            self.messages.append(Message("user", _content(content, f"{param}.content", images=True)))
        elif role == "assistant":
            self._assistant().extend(_content(content, f"{param}.content", images=False))
        else:
            raise BadRequest(f"'{param}.role' must be one of user, assistant, system, developer", f"{param}.role")

    def _function_call(self, item: dict, param: str):
        call_id = _required_string(item, "call_id", f"{param}.call_id")
        name = _required_string(item, "name", f"{param}.name")
        arguments = _get(item, "arguments", str, f"{param}.arguments")
        self.call_names[call_id] = name
        self._assistant().append(ToolCall(call_id, name, arguments or "{}"))

    def _function_call_output(self, item: dict, param: str):
        call_id = _required_string(item, "call_id", f"{param}.call_id")
        content = _content(item.get("output"), f"{param}.output", images=True)
        result = ToolResult(call_id, self.call_names.get(call_id, ""), content)
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "tool":
            last.parts.append(result)
        else:
            self.messages.append(Message("tool", [result]))

    def _reasoning(self, item: dict, param: str):
        summary = _get(item, "summary", list, f"{param}.summary") or []
        text = "\n\n".join(_string(entry.get("text")) for entry in summary if isinstance(entry, dict))
        encrypted = _get(item, "encrypted_content", str, f"{param}.encrypted_content") or ""
        if encrypted.startswith(_REDACTED):
            self._assistant().append(Thinking(signature=encrypted[len(_REDACTED):], redacted=True))
        elif text or encrypted:
            self._assistant().append(Thinking(text, encrypted))

    def _assistant(self) -> list:
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "assistant":
            last = Message("assistant", [])
            self.messages.append(last)
        return last.parts


_ITEM_PARSERS = {
    "message": _Conversation._message,
    "function_call": _Conversation._function_call,
    "function_call_output": _Conversation._function_call_output,
    "reasoning": _Conversation._reasoning,
}


def _content(content, param: str, images: bool) -> list:
    """A string or an array of content parts -> Text (and, where allowed, Image) parts."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [Text(content)]
    if not isinstance(content, list):
        raise BadRequest(f"'{param}' must be a string or an array of content parts", param)
    return [_content_part(part, f"{param}[{i}]", images) for i, part in enumerate(content)]


def _content_part(part, param: str, images: bool):
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS:
        return Text(_get(part, "text", str, f"{param}.text") or "")
    if kind == "refusal":
        return Text(_get(part, "refusal", str, f"{param}.refusal") or "")
    if kind == "input_image" and images:
        return _input_image(part, param)
    if kind in _UNSUPPORTED_PARTS:
        raise Unsupported(f"'{kind}' content is not supported by the gateway", f"{param}.type")
    allowed = "'input_text' or 'input_image'" if images else "'input_text' or 'output_text'"
    raise BadRequest(f"'{param}.type' must be {allowed} here", f"{param}.type")


def _input_image(part: dict, param: str) -> Image:
    url = part.get("image_url")
    if not url and part.get("file_id"):
        raise Unsupported("image file ids refer to OpenAI's file store; send the image as a URL or a data URL",
                          f"{param}.file_id")
    return _image(url, f"{param}.image_url")


def _build_input(messages: list) -> list:
    items = []
    for message in messages:
        items.extend(_ITEM_BUILDERS[message.role](message))
    return items


def _build_user(message: Message) -> list:
    return [{"type": "message", "role": "user", "content": [_input_part(part) for part in message.parts]}]


def _input_part(part) -> dict:
    if isinstance(part, Text):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, Image):
        return {"type": "input_image", "image_url": part.url or f"data:{part.media_type};base64,{part.data}"}
    raise Unsupported(f"{type(part).__name__} parts cannot be sent in a user message", "input")


def _build_assistant(message: Message) -> list:
    items, texts = [], []
    for part in message.parts + [None]:
        if isinstance(part, Text):
            texts.append(part.text)
            continue
        if texts:
            content = [{"type": "output_text", "text": "".join(texts)}]
            items.append({"type": "message", "role": "assistant", "content": content})
            texts = []
        if isinstance(part, ToolCall):
            items.append({"type": "function_call", "call_id": part.id, "name": part.name, "arguments": part.arguments})
    return items


def _build_results(message: Message) -> list:
    return [{"type": "function_call_output", "call_id": result.call_id, "output": _result_output(result)}
            for result in message.parts if isinstance(result, ToolResult)]


def _result_output(result: ToolResult):
    if not any(isinstance(part, Image) for part in result.content):
        return _joined(result.content, "\n\n")
    return [_input_part(part) for part in result.content if isinstance(part, (Text, Image))]


_ITEM_BUILDERS = {"user": _build_user, "assistant": _build_assistant, "tool": _build_results}
