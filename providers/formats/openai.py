"""OpenAI Chat Completions, both directions: what most SDKs send us and most upstreams answer.

Mappings worth knowing:
- system and developer messages, wherever they sit in the history, become ``request.system``;
  building, the system Text parts are joined with blank lines into one leading system message,
  because several hosts' chat templates refuse more than one.
- Text parts of one assistant turn (and of one response) are joined without a separator, exactly
  as a stream of their deltas would be.
- Chat Completions tool messages carry text only, so images in tool results are sent in a user
  message right after the tool messages.
- Upstream tool-call indexes are replaced by our own, counted from 0 in order of first appearance.
"""

import base64
import struct
import time
from dataclasses import dataclass

import orjson

from providers.formats.sse import SSEParser, SSETooLarge
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Finish, GeneratedImage, Image,
    ImageRequest, ImageResponse,
    Message, Reasoning, ResponseFormat, Start, StreamError, Text, TextDelta, Thinking,
    ThinkingDelta, Tool, ToolCall, ToolCallDelta, ToolCallStart, ToolChoice, ToolResult,
    Unsupported, Usage, UsageUpdate,
)

__all__ = [
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
    "OpenAIEmbeddingRequest", "parse_embedding_request", "build_embedding_response",
    "build_embedding_request", "parse_embedding_response", "build_model_list", "build_model",
    "parse_image_request", "build_image_response", "build_image_request", "parse_image_response",
]

_NUMBER = (int, float)
_KIND_NAMES = {
    str: "a string", int: "an integer", _NUMBER: "a number", bool: "a boolean",
    dict: "an object", list: "an array",
}
_SYSTEM_ROLES = ("system", "developer")
_UNSUPPORTED_PARTS = ("input_audio", "file")
_TOOL_CHOICE_MODES = ("auto", "none", "required")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")

_STOP_REASONS = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "content_filter",
}
_FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "content_filter": "content_filter", "error": "stop",
}
_INVALID_JSON = "upstream sent invalid JSON in its stream"


# --- validation helpers ----------------------------------------------------------------------

def _get(body: dict, key: str, kind, param: str = ""):
    """``body[key]`` when present and of ``kind``; None when absent; BadRequest otherwise."""
    value = body.get(key)
    if value is None:
        return None
    # bool is an int to isinstance, but true is never a valid max_tokens.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        param = param or key
        raise BadRequest(f"'{param}' must be {_KIND_NAMES[kind]}", param)
    return value


def _positive(body: dict, key: str):
    value = _get(body, key, int)
    if value is not None and value < 1:
        raise BadRequest(f"'{key}' must be at least 1", key)
    return value


def _float(body: dict, key: str):
    value = _get(body, key, _NUMBER)
    return None if value is None else float(value)


def _required_string(body: dict, key: str, param: str) -> str:
    value = _get(body, key, str, param)
    if not value:
        raise BadRequest(f"'{param}' is required", param)
    return value


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


def _parse_tools(body: dict, request: ChatRequest):
    tools = _get(body, "tools", list) or []
    request.tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
    functions = _get(body, "functions", list) or []
    request.tools += [_function(f, f"functions[{i}]") for i, f in enumerate(functions)]
    if "tool_choice" in body:
        request.tool_choice = _tool_choice(body["tool_choice"], "tool_choice")
    elif "function_call" in body:
        request.tool_choice = _tool_choice(body["function_call"], "function_call")
    request.parallel_tool_calls = _get(body, "parallel_tool_calls", bool)


def _tool(tool, param: str) -> Tool:
    if not isinstance(tool, dict):
        raise BadRequest(f"'{param}' must be an object", param)
    if tool.get("type") != "function":
        raise Unsupported(f"'{param}.type' must be 'function'", f"{param}.type")
    function = _get(tool, "function", dict, f"{param}.function")
    return _function(function or {}, f"{param}.function")


def _function(function, param: str) -> Tool:
    if not isinstance(function, dict):
        raise BadRequest(f"'{param}' must be an object", param)
    return Tool(
        name=_required_string(function, "name", f"{param}.name"),
        description=_get(function, "description", str, f"{param}.description") or "",
        parameters=_get(function, "parameters", dict, f"{param}.parameters") or {},
    )


def _tool_choice(value, param: str) -> ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str) and value in _TOOL_CHOICE_MODES:
        return ToolChoice(value)
    if isinstance(value, dict):
        if value.get("type", "function") != "function":
            raise Unsupported(f"'{param}.type' must be 'function'", f"{param}.type")
        # {"type": "function", "function": {"name"}}, or the legacy function_call {"name"}
        function = value.get("function", value)
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name:
            return ToolChoice("tool", name)
    raise BadRequest(
        f"'{param}' must be 'auto', 'none', 'required' or a function to call", param
    )


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


def _response_format(value: dict | None) -> ResponseFormat | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind not in _RESPONSE_FORMATS:
        raise BadRequest(
            "'response_format.type' must be 'text', 'json_object' or 'json_schema'",
            "response_format.type",
        )
    if kind != "json_schema":
        return ResponseFormat(kind)
    spec = _get(value, "json_schema", dict, "response_format.json_schema")
    if spec is None:
        raise BadRequest("'response_format.json_schema' is required", "response_format.json_schema")
    return ResponseFormat(
        "json_schema",
        schema=_get(spec, "schema", dict, "response_format.json_schema.schema"),
        name=_get(spec, "name", str, "response_format.json_schema.name") or "",
        strict=bool(_get(spec, "strict", bool, "response_format.json_schema.strict")),
    )


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


def _joined(parts: list, separator: str = "") -> str:
    return separator.join(part.text for part in parts if isinstance(part, Text))


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


def _build_tools(request: ChatRequest, body: dict):
    # OpenAI refuses tool_choice and parallel_tool_calls in a request without tools.
    if not request.tools:
        return
    body["tools"] = [_build_tool(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _build_tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls


def _build_tool(tool: Tool) -> dict:
    function = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters:
        function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _build_tool_choice(choice: ToolChoice):
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _build_response_format(value: ResponseFormat | None) -> dict | None:
    if value is None:
        return None
    if value.type != "json_schema":
        return {"type": value.type}
    # OpenAI requires a name; clients of other formats seldom give one.
    spec = {"name": value.name or "response", "schema": value.schema or {}, "strict": value.strict}
    return {"type": "json_schema", "json_schema": spec}


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


def _string(value) -> str:
    return value if isinstance(value, str) else ""


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


# --- upstream side: decoding a stream --------------------------------------------------------

class StreamDecoder:
    """Upstream ``chat.completion.chunk`` events -> internal events, for chunks split anywhere.

    An error event, invalid JSON or ``[DONE]`` ends decoding; later bytes are ignored.
    """

    __slots__ = ("_sse", "_started", "_done", "_calls", "_last_call")

    def __init__(self):
        self._sse = SSEParser()
        self._started = False
        self._done = False
        self._calls: dict = {}  # upstream index (or id, for hosts without one) -> our index
        self._last_call = None

    def feed(self, chunk: bytes) -> list:
        try:
            return self._decode(self._sse.feed(chunk))
        except SSETooLarge as error:
            return self._fail("server_error", str(error))

    def close(self) -> list:
        return self._decode(self._sse.close())

    def _decode(self, sse_events: list) -> list:
        events = []
        for sse in sse_events:
            if not self._done:
                self._event(sse.data, events)
        return events

    def _fail(self, error_type: str, message: str) -> list:
        if self._done:
            return []
        self._done = True
        return [StreamError(error_type, message)]

    def _event(self, data: str, events: list):
        if data == "[DONE]":
            self._done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = None
        if not isinstance(chunk, dict):
            events.extend(self._fail("server_error", _INVALID_JSON))
        elif "error" in chunk:
            events.extend(self._fail(*_error_fields(chunk["error"])))
        else:
            self._chunk(chunk, events)

    def _chunk(self, chunk: dict, events: list):
        if not self._started:
            self._started = True
            events.append(Start(chunk.get("id") or "", chunk.get("model") or ""))
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) == 0:
                self._choice(choice, events)
        usage = chunk.get("usage")
        if usage:
            events.append(UsageUpdate(_parse_usage(usage)))

    def _choice(self, choice: dict, events: list):
        delta = choice.get("delta") or {}
        thinking = _reasoning_text(delta)
        if thinking:
            events.append(ThinkingDelta(thinking))
        text = _string(delta.get("content")) or _string(delta.get("refusal"))
        if text:
            events.append(TextDelta(text))
        for entry in delta.get("tool_calls") or ():
            self._tool_call(entry, events)
        if choice.get("finish_reason"):
            events.append(Finish(_stop_reason(choice["finish_reason"], bool(self._calls))))

    def _tool_call(self, entry: dict, events: list):
        function = entry.get("function") or {}
        key = entry.get("index", entry.get("id"))
        key = self._last_call if key is None else key
        index = self._calls.get(key)
        if index is None:
            index = self._calls[key] = len(self._calls)
            call_id = entry.get("id") or f"call_{index}"
            events.append(ToolCallStart(index, call_id, function.get("name") or ""))
        self._last_call = key
        arguments = function.get("arguments")
        if arguments:
            events.append(ToolCallDelta(index, arguments))


def _error_fields(error) -> tuple[str, str]:
    if isinstance(error, dict):
        error_type = _string(error.get("type")) or _string(error.get("code")) or "server_error"
        return error_type, _string(error.get("message")) or "upstream reported an error"
    return "server_error", str(error)


# --- client side: encoding a stream ----------------------------------------------------------

class StreamEncoder:
    """Internal events -> ``chat.completion.chunk`` SSE bytes.

    Every chunk shares its id, created and model, so their JSON is encoded once here and each
    event only serializes its own payload.
    """

    __slots__ = ("_prefix", "_include_usage", "_started", "_usage")

    def __init__(self, request: ChatRequest, response_id: str, created: int):
        self._prefix = b"".join((
            b'data: {"id":', orjson.dumps(response_id),
            b',"object":"chat.completion.chunk","created":', str(int(created)).encode(),
            b',"model":', orjson.dumps(request.model), b',"choices":',
        ))
        self._include_usage = request.include_usage
        self._started = False
        self._usage = None

    def encode(self, event) -> bytes:
        kind = type(event)
        if kind is UsageUpdate:
            self._usage = event.usage  # sent once, at the end, when the client asked for it
            return b""
        if kind is StreamError:
            return self.fail(event.type, event.message)
        head = b"" if self._started else self._role_chunk()
        if kind is Start:
            return head
        return head + _CHUNK_ENCODERS[kind](self, event)

    def end(self) -> bytes:
        if not self._include_usage:
            return b"data: [DONE]\n\n"
        usage = orjson.dumps(_build_usage(self._usage or Usage()))
        return self._prefix + b'[],"usage":' + usage + b"}\n\ndata: [DONE]\n\n"

    def fail(self, error_type: str, message: str) -> bytes:
        error = {"message": message, "type": error_type, "param": None, "code": error_type}
        return b"data: " + orjson.dumps({"error": error}) + b"\n\n"

    def _role_chunk(self) -> bytes:
        self._started = True
        return self._delta(b'{"role":"assistant","content":""}')

    def _delta(self, delta: bytes, finish_reason: bytes = b"null") -> bytes:
        return b"".join((
            self._prefix, b'[{"index":0,"delta":', delta,
            b',"logprobs":null,"finish_reason":', finish_reason, b"}]}\n\n",
        ))

    def _text(self, event: TextDelta) -> bytes:
        return self._delta(b'{"content":' + orjson.dumps(event.text) + b"}") if event.text else b""

    def _thinking(self, event: ThinkingDelta) -> bytes:
        # A signature-only delta has nothing to show: Chat Completions has no field for it.
        if not event.text:
            return b""
        return self._delta(b'{"reasoning_content":' + orjson.dumps(event.text) + b"}")

    def _tool_start(self, event: ToolCallStart) -> bytes:
        call = {"index": event.index, "id": event.id, "type": "function",
                "function": {"name": event.name, "arguments": ""}}
        return self._delta(b'{"tool_calls":[' + orjson.dumps(call) + b"]}")

    def _tool_delta(self, event: ToolCallDelta) -> bytes:
        if not event.arguments:
            return b""
        call = {"index": event.index, "function": {"arguments": event.arguments}}
        return self._delta(b'{"tool_calls":[' + orjson.dumps(call) + b"]}")

    def _finish(self, event: Finish) -> bytes:
        reason = _FINISH_REASONS[event.stop_reason].encode()
        return self._delta(b"{}", b'"' + reason + b'"')


_CHUNK_ENCODERS = {
    TextDelta: StreamEncoder._text,
    ThinkingDelta: StreamEncoder._thinking,
    ToolCallStart: StreamEncoder._tool_start,
    ToolCallDelta: StreamEncoder._tool_delta,
    Finish: StreamEncoder._finish,
}


# --- errors ----------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    """The gateway's error body in OpenAI's shape; the status travels in the HTTP response."""
    error = {
        "message": message, "type": error_type, "code": error_type,
        "param": param or None, "request_id": request_id,
    }
    return {"error": error}


def parse_error(status: int, body: bytes) -> str:
    """The upstream's error message, from its JSON when it has one, else its text (500 chars)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    # Gemini's OpenAI-compatible endpoint wraps its error in a one-element array.
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]
    message = _json_error_message(parsed) if isinstance(parsed, dict) else ""
    if not message:
        message = body.decode("utf-8", errors="replace").strip()
    return message[:500] or f"upstream answered HTTP {status} with an empty body"


def _json_error_message(parsed: dict) -> str:
    error = parsed.get("error")
    if isinstance(error, dict):
        return _string(error.get("message"))
    return _string(error) or _string(parsed.get("message"))


# --- embeddings ------------------------------------------------------------------------------

@dataclass(slots=True)
class OpenAIEmbeddingRequest(EmbeddingRequest):
    """An EmbeddingRequest that remembers the encoding the client asked for: the official
    Python and Node SDKs ask for base64 unless told otherwise."""

    encoding_format: str = "float"


def parse_embedding_request(body: dict) -> OpenAIEmbeddingRequest:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = _required_string(body, "model", "model")
    encoding = _get(body, "encoding_format", str) or "float"
    if encoding not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    return OpenAIEmbeddingRequest(
        model=model,
        inputs=_embedding_inputs(body.get("input")),
        dimensions=_positive(body, "dimensions"),
        encoding_format=encoding,
    )


def _embedding_inputs(value) -> list:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, list) and value and all(isinstance(item, (int, list)) for item in value):
        raise Unsupported("token-array inputs are not supported; send text", "input")
    raise BadRequest("'input' must be a string or a non-empty array of strings", "input")


def build_embedding_response(response: EmbeddingResponse, request: EmbeddingRequest) -> dict:
    encode = _base64_floats if getattr(request, "encoding_format", "float") == "base64" else list
    data = [
        {"object": "embedding", "index": index, "embedding": encode(vector)}
        for index, vector in enumerate(response.vectors)
    ]
    usage = {"prompt_tokens": response.usage.prompt_tokens,
             "total_tokens": response.usage.prompt_tokens}
    return {"object": "list", "data": data, "model": request.model, "usage": usage}


def _base64_floats(vector: list) -> str:
    # What OpenAI sends for base64: the vector as little-endian float32.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def build_embedding_request(request: EmbeddingRequest, upstream_model: str) -> dict:
    body = {"model": upstream_model, "input": request.inputs, "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return body


def parse_embedding_response(body: dict) -> EmbeddingResponse:
    data = sorted(body.get("data") or (), key=lambda item: item.get("index", 0))
    usage = body.get("usage") or {}
    return EmbeddingResponse(
        model=body.get("model") or "",
        vectors=[item.get("embedding") or [] for item in data],
        usage=Usage(prompt_tokens=usage.get("prompt_tokens") or 0),
    )


# --- model listing ---------------------------------------------------------------------------

def build_model_list(names: list, owned_by: dict | None = None) -> dict:
    """``owned_by`` maps a name to its owner; names it lacks are owned by "gateway"."""
    owners = owned_by or {}
    data = [build_model(name, owners.get(name, "gateway")) for name in names]
    return {"object": "list", "data": data}


def build_model(name: str, owned_by: str = "gateway") -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": owned_by}


# --- image generation ------------------------------------------------------------------------

_IMAGE_OPTIONS = ("size", "quality", "style", "output_format", "background", "user")
_IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def parse_image_request(body: dict) -> ImageRequest:
    """An images/generations body -> ImageRequest; options other than these are not relayed."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("stream"):
        raise Unsupported("streamed image generation is not supported by the gateway", "stream")
    request = ImageRequest(model=_required_string(body, "model", "model"),
                           prompt=_required_string(body, "prompt", "prompt"), n=_positive(body, "n") or 1)
    for name in _IMAGE_OPTIONS:
        setattr(request, name, _get(body, name, str) or "")
    request.response_format = _get(body, "response_format", str) or ""
    if request.response_format not in ("", "url", "b64_json"):
        raise BadRequest("'response_format' must be 'url' or 'b64_json'", "response_format")
    return request


def build_image_request(request: ImageRequest, upstream_model: str) -> dict:
    body = {"model": upstream_model, "prompt": request.prompt}
    if request.n != 1:
        body["n"] = request.n
    for name in (*_IMAGE_OPTIONS, "response_format"):
        if getattr(request, name):
            body[name] = getattr(request, name)
    return body


def parse_image_response(body: dict) -> ImageResponse:
    media_type = _IMAGE_TYPES.get(_string(body.get("output_format")), "image/png")
    images = [GeneratedImage(data=_string(item.get("b64_json")), media_type=media_type, url=_string(item.get("url")),
                             revised_prompt=_string(item.get("revised_prompt")))
              for item in body.get("data") or () if isinstance(item, dict)]
    usage = body.get("usage") or {}
    tokens = Usage(prompt_tokens=usage.get("input_tokens") or 0, completion_tokens=usage.get("output_tokens") or 0)
    return ImageResponse("", images, tokens, created=body.get("created") or 0)


def build_image_response(response: ImageResponse, request: ImageRequest) -> dict:
    """Images as the client asked (b64_json or url); an image the upstream only hosts stays a URL,
    and one it sent inline, asked for as a URL, becomes a data URL."""
    data = [_image_datum(image, request.response_format) for image in response.images]
    body = {"created": response.created or int(time.time()), "data": data}
    if response.usage.total_tokens:
        body["usage"] = {"input_tokens": response.usage.prompt_tokens,
                         "output_tokens": response.usage.completion_tokens,
                         "total_tokens": response.usage.total_tokens}
    return body


def _image_datum(image: GeneratedImage, response_format: str) -> dict:
    if image.data and response_format == "url":
        datum = {"url": f"data:{image.media_type};base64,{image.data}"}
    elif image.data:
        datum = {"b64_json": image.data}
    else:
        datum = {"url": image.url}
    if image.revised_prompt:
        datum["revised_prompt"] = image.revised_prompt
    return datum
