"""Chat Completions requests: parsing what a client sends, building what an upstream gets."""

from providers.types import (
    BadRequest, ChatRequest, Image, Message, Reasoning, Text, ToolCall, ToolResult, Unsupported,
)

from ._common import _float, _get, _joined, _positive, _required_string
from .tools import _build_response_format, _build_tools, _parse_tools, _response_format

__all__ = ["parse_request", "_image", "build_request", "_build_call", "_effort"]


_SYSTEM_ROLES = ("system", "developer")
_UNSUPPORTED_PARTS = ("input_audio", "file")


# --- client side: parsing a request ----------------------------------------------------------

def parse_request(body: dict, *, model: str = "", stream: bool | None = None) -> ChatRequest:
    """A Chat Completions body -> ChatRequest. Unknown fields are ignored."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = _get(body, "model", str) or model
    if not model:
        raise BadRequest("'model' is required", "model")
    system, messages = _parse_messages(body.get("messages"))
    request = ChatRequest(model=model, messages=messages, system=system)
    _parse_tools(body, request)
    _parse_sampling(body, request)
    _parse_output(body, request)
    _parse_stream(body, request, stream)
    return request


def _parse_messages(raw) -> tuple[list, list]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    history = _History()
    for position, message in enumerate(raw):
        history.add(message, f"messages[{position}]")
    return history.system, history.messages


class _History:
    """Builds internal messages in order, remembering tool call names for the results."""

    def __init__(self):
        self.system: list = []
        self.messages: list = []
        self.call_names: dict = {}  # tool call id -> function name
        self.legacy_calls: dict = {}  # function name -> id we made up for its latest call

    def add(self, message, param: str):
        if not isinstance(message, dict):
            raise BadRequest(f"'{param}' must be an object", param)
        role = message.get("role")
        if role in _SYSTEM_ROLES:
            self.system.extend(_content(message.get("content"), f"{param}.content"))
        elif role == "user":
            parts = _content(message.get("content"), f"{param}.content", images=True)
            self.messages.append(Message("user", parts))
        elif role == "assistant":
            self._assistant(message, param)
        elif role in ("tool", "function"):
            self._tool_result(message, param)
        else:
            raise BadRequest(
                f"'{param}.role' must be one of system, developer, user, assistant, tool",
                f"{param}.role",
            )

    def _assistant(self, message: dict, param: str):
        parts = _content(message.get("content"), f"{param}.content")
        calls = _get(message, "tool_calls", list, f"{param}.tool_calls") or []
        for position, call in enumerate(calls):
            parts.append(self._tool_call(call, f"{param}.tool_calls[{position}]"))
        legacy = _get(message, "function_call", dict, f"{param}.function_call")
        if legacy is not None:
            parts.append(self._legacy_call(legacy, f"{param}.function_call"))
        self.messages.append(Message("assistant", parts))

    def _tool_call(self, call, param: str) -> ToolCall:
        if not isinstance(call, dict):
            raise BadRequest(f"'{param}' must be an object", param)
        if call.get("type", "function") != "function":
            raise Unsupported(f"'{param}.type' must be 'function'", f"{param}.type")
        call_id = _required_string(call, "id", f"{param}.id")
        function = _get(call, "function", dict, f"{param}.function") or {}
        name = _required_string(function, "name", f"{param}.function.name")
        arguments = _get(function, "arguments", str, f"{param}.function.arguments")
        self.call_names[call_id] = name
        # Some hosts write "" for a call without arguments; other formats need JSON text.
        return ToolCall(call_id, name, arguments or "{}")

    def _legacy_call(self, function: dict, param: str) -> ToolCall:
        # The deprecated function_call has no id; the function message answering it names it.
        call_id = f"call_legacy_{len(self.call_names)}"
        self.legacy_calls[_required_string(function, "name", f"{param}.name")] = call_id
        return self._tool_call({"id": call_id, "function": function}, param)

    def _tool_result(self, message: dict, param: str):
        if message["role"] == "function":
            name = _required_string(message, "name", f"{param}.name")
            call_id = self.legacy_calls.get(name, name)
        else:
            call_id = _required_string(message, "tool_call_id", f"{param}.tool_call_id")
        content = _content(message.get("content"), f"{param}.content")
        result = ToolResult(call_id, self.call_names.get(call_id, ""), content)
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "tool":
            last.parts.append(result)
        else:
            self.messages.append(Message("tool", [result]))


def _content(content, param: str, images: bool = False) -> list:
    """A string or an array of content parts -> Text (and, where allowed, Image) parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Text(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"'{param}' must be a string or an array of content parts", param)
    return [_content_part(part, f"{param}[{i}]", images) for i, part in enumerate(content)]


def _content_part(part, param: str, images: bool):
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        text = _get(part, "text", str, f"{param}.text")
        return Text(text or "")
    if kind == "image_url" and images:
        return _image(part.get("image_url"), f"{param}.image_url")
    if kind in _UNSUPPORTED_PARTS:
        raise Unsupported(f"'{kind}' content is not supported by the gateway", f"{param}.type")
    allowed = "'text' or 'image_url'" if images else "'text'"
    raise BadRequest(f"'{param}.type' must be {allowed} in this message", f"{param}.type")


def _image(value, param: str) -> Image:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise BadRequest(f"'{param}.url' must be a non-empty string", f"{param}.url")
    if not url.startswith("data:"):
        return Image(url=url)
    header, comma, data = url[5:].partition(",")
    media_type = header.split(";", 1)[0]
    if not comma or not media_type or not header.endswith(";base64"):
        raise BadRequest("image data URLs must read data:<media type>;base64,<data>", f"{param}.url")
    return Image(media_type=media_type, data=data)


def _parse_sampling(body: dict, request: ChatRequest):
    request.temperature = _float(body, "temperature")
    request.top_p = _float(body, "top_p")
    request.presence_penalty = _float(body, "presence_penalty")
    request.frequency_penalty = _float(body, "frequency_penalty")
    request.seed = _get(body, "seed", int)
    request.stop = _stop(body.get("stop"))


def _stop(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise BadRequest("'stop' must be a string or an array of strings", "stop")


def _parse_output(body: dict, request: ChatRequest):
    request.max_tokens = _positive(body, "max_completion_tokens") or _positive(body, "max_tokens")
    request.n = _positive(body, "n") or 1
    request.response_format = _response_format(_get(body, "response_format", dict))
    effort = _get(body, "reasoning_effort", str)
    request.reasoning = Reasoning(effort=effort) if effort else None
    request.user = _get(body, "user", str) or ""
    request.metadata = _get(body, "metadata", dict) or {}


def _parse_stream(body: dict, request: ChatRequest, stream: bool | None):
    request.stream = bool(_get(body, "stream", bool)) if stream is None else stream
    options = _get(body, "stream_options", dict) or {}
    include = _get(options, "include_usage", bool, "stream_options.include_usage")
    request.include_usage = bool(include)


# --- upstream side: building a request -------------------------------------------------------

def build_request(request: ChatRequest, upstream_model: str) -> dict:
    """ChatRequest -> a Chat Completions body. ``max_tokens`` (not ``max_completion_tokens``)
    because OpenAI-compatible hosts widely accept only it; metadata stays with the gateway."""
    if request.top_k is not None:
        raise Unsupported("top_k is not supported by this model's provider", "top_k")
    body = {"model": upstream_model, "messages": _build_messages(request)}
    _build_tools(request, body)
    optional = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop or None,
        "seed": request.seed,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "n": request.n if request.n != 1 else None,
        "response_format": _build_response_format(request.response_format),
        "reasoning_effort": _effort(request.reasoning),
        "user": request.user or None,
    }
    body.update((key, value) for key, value in optional.items() if value is not None)
    if request.stream:
        # The gateway meters every stream, whatever the client asked.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _build_messages(request: ChatRequest) -> list:
    messages = []
    if request.system:
        messages.append({"role": "system", "content": _joined(request.system, "\n\n")})
    for message in request.messages:
        messages.extend(_MESSAGE_BUILDERS[message.role](message))
    return messages


def _build_user(message: Message) -> list:
    parts = message.parts
    if not parts:
        return [{"role": "user", "content": ""}]
    if len(parts) == 1 and isinstance(parts[0], Text):
        return [{"role": "user", "content": parts[0].text}]
    return [{"role": "user", "content": [_build_part(part) for part in parts]}]


def _build_part(part) -> dict:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        url = part.url or f"data:{part.media_type};base64,{part.data}"
        return {"type": "image_url", "image_url": {"url": url}}
    raise Unsupported(f"{type(part).__name__} parts cannot be sent in a user message", "messages")


def _build_assistant(message: Message) -> list:
    # Thinking parts are dropped: Chat Completions has no field to send them back in.
    text = _joined(message.parts)
    calls = [_build_call(part) for part in message.parts if isinstance(part, ToolCall)]
    built = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        built["tool_calls"] = calls
    return [built]


def _build_call(call: ToolCall) -> dict:
    function = {"name": call.name, "arguments": call.arguments}
    return {"id": call.id, "type": "function", "function": function}


def _build_tool_results(message: Message) -> list:
    results = [part for part in message.parts if isinstance(part, ToolResult)]
    built = [_build_result(result) for result in results]
    images = [part for result in results for part in result.content if isinstance(part, Image)]
    if images:
        built.append({"role": "user", "content": [_build_part(image) for image in images]})
    return built


def _build_result(result: ToolResult) -> dict:
    content = _joined(result.content, "\n\n")
    return {"role": "tool", "tool_call_id": result.call_id, "content": content}


_MESSAGE_BUILDERS = {"user": _build_user, "assistant": _build_assistant, "tool": _build_tool_results}


def _effort(reasoning: Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if reasoning.effort:
        return reasoning.effort
    if reasoning.budget_tokens is None:
        return None
    if reasoning.budget_tokens <= 2048:
        return "low"
    return "medium" if reasoning.budget_tokens <= 8192 else "high"
