"""The Anthropic Messages API (``/v1/messages``), spoken by clients and by upstreams.

Mappings worth knowing:
- A user message's ``tool_result`` blocks become one ``tool`` Message placed before the rest of
  that message; on the way out, tool Messages become user messages again, results first.
- Redacted thinking is kept as ``Thinking(redacted=True)`` with the opaque ``data`` in
  ``signature``. Unsigned thinking (from other providers) is dropped from upstream requests,
  because Anthropic verifies the signature of every thinking block it is sent back. Streams
  drop redacted thinking: ``ThinkingDelta`` has no way to say a block is redacted.
- A signature-only Thinking right after an unsigned one (how Gemini's format carries a signed
  thought) is joined to it, in requests and responses alike.
- Usage: our ``prompt_tokens`` include cache reads and writes; Anthropic's ``input_tokens`` do not.
"""

from dataclasses import dataclass

import orjson

from ..types import (
    BadRequest, ChatRequest, ChatResponse, Event, Finish, Image, Message, Reasoning, ResponseFormat,
    Start, StreamError, Text, TextDelta, Thinking, ThinkingDelta, Tool, ToolCall, ToolCallDelta,
    ToolCallStart, ToolChoice, ToolResult, Unsupported, Usage, UsageUpdate,
)
from .sse import SSEParser, encode_event

__all__ = [
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
    "parse_count_tokens_request", "build_count_tokens_request", "build_count_tokens_response",
    "build_model_list", "build_model",
]

# Anthropic requires max_tokens; OpenAI and Gemini clients may leave it out, so we pick one.
DEFAULT_MAX_TOKENS = 4096
# Anthropic refuses thinking budgets below this.
MIN_THINKING_BUDGET = 1024
EFFORT_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}
MODEL_CREATED_AT = "2024-01-01T00:00:00Z"
ERROR_MESSAGE_LIMIT = 500

STOP_REASONS_IN = {
    "end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
    "tool_use": "tool_use", "pause_turn": "end_turn", "refusal": "content_filter",
    "model_context_window_exceeded": "max_tokens",
}
STOP_REASONS_OUT = {
    "end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence",
    "tool_use": "tool_use", "content_filter": "refusal", "error": "end_turn",
}
TOOL_CHOICES_IN = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
TOOL_CHOICES_OUT = {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}
ERROR_TYPES = {
    "invalid_request": "invalid_request_error", "auth": "authentication_error",
    "unknown_model": "not_found_error", "rate_limit": "rate_limit_error", "timeout": "timeout_error",
    "network": "api_error", "server_error": "api_error",
}
STATUS_ERROR_TYPES = {
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    503: "overloaded_error", 529: "overloaded_error",
}
STREAM_ERROR_TYPES = {"rate_limit_error": "rate_limit"}
# Fields that ask Anthropic to run things server-side; ignoring them would change the answer.
REFUSED_FIELDS = ("mcp_servers", "container")
# What /v1/messages/count_tokens accepts of a Messages request.
COUNT_TOKENS_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")


# --- client side: requests -----------------------------------------------------------------------

def parse_request(body: dict, *, model: str = "", stream: bool | None = None) -> ChatRequest:
    """A Messages request; ``model`` and ``stream``, when given, override the body's."""
    request = _parse_chat(body, model, stream)
    if request.max_tokens is None:
        raise BadRequest("max_tokens is required", "max_tokens")
    return request


def parse_count_tokens_request(body: dict) -> ChatRequest:
    """A ``/v1/messages/count_tokens`` request: a Messages request without ``max_tokens``."""
    return _parse_chat(body, "", None)


def _parse_chat(body, model: str, stream: bool | None) -> ChatRequest:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    for name in REFUSED_FIELDS:
        if body.get(name):
            raise Unsupported(f"{name} is not supported", name)
    output_config = _object(body, "output_config")
    request = ChatRequest(
        model=model or _model(body),
        messages=_parse_messages(body.get("messages")),
        system=_parse_system(body.get("system")),
        tools=_parse_tools(body.get("tools")),
        max_tokens=_integer(body, "max_tokens", 1),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        top_k=_integer(body, "top_k", 0),
        stop=_parse_stop(body.get("stop_sequences")),
        response_format=_parse_output_format(output_config.get("format")),
        reasoning=_parse_thinking(body.get("thinking"), output_config.get("effort")),
        stream=_flag(body, "stream") if stream is None else stream,
        user=_parse_user(_object(body, "metadata")),
    )
    request.tool_choice, request.parallel_tool_calls = _parse_tool_choice(body.get("tool_choice"))
    return request


def _model(body: dict) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model is required and must be a string", "model")
    return model


def _integer(body: dict, key: str, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadRequest(f"{key} must be an integer of at least {minimum}", key)
    return value


def _number(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{key} must be a number", key)
    return float(value)


def _flag(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be a boolean", key)
    return value


def _object(body: dict, key: str) -> dict:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object", key)
    return value


def _string(block: dict, key: str, param: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string", f"{param}.{key}")
    return value


def _parse_system(system) -> list:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [Text(system)]
    if not isinstance(system, list):
        raise BadRequest("system must be a string or a list of text blocks", "system")
    return [Text(_string(block, "text", f"system.{i}")) for i, block in enumerate(_blocks(system, "system"))]


def _parse_stop(stop) -> list:
    if stop is None:
        return []
    if not isinstance(stop, list) or not all(isinstance(item, str) for item in stop):
        raise BadRequest("stop_sequences must be a list of strings", "stop_sequences")
    return stop


def _parse_user(metadata: dict) -> str:
    user = metadata.get("user_id") or ""
    if not isinstance(user, str):
        raise BadRequest("metadata.user_id must be a string", "metadata.user_id")
    return user


def _parse_thinking(thinking, effort) -> Reasoning | None:
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "enabled":
        budget = _integer(thinking, "budget_tokens", 1)
        if budget is None:
            raise BadRequest("thinking.budget_tokens is required", "thinking.budget_tokens")
        return Reasoning(budget_tokens=budget)
    if kind == "adaptive":
        # Adaptive thinking is steered by output_config.effort; without it the model decides.
        return Reasoning(effort=effort or "")
    if kind == "disabled":
        return None
    raise BadRequest("thinking.type must be enabled, adaptive or disabled", "thinking")


def _parse_output_format(output_format) -> ResponseFormat | None:
    if output_format is None:
        return None
    if not isinstance(output_format, dict) or output_format.get("type") != "json_schema":
        raise BadRequest("output_config.format must be a json_schema format", "output_config.format")
    schema = output_format.get("schema")
    if not isinstance(schema, dict):
        raise BadRequest("output_config.format.schema must be an object", "output_config.format.schema")
    return ResponseFormat(type="json_schema", schema=schema)


def _parse_tools(tools) -> list:
    if tools is None:
        return []
    return [_parse_tool(tool, f"tools.{i}") for i, tool in enumerate(_blocks(tools, "tools"))]


def _parse_tool(tool: dict, param: str) -> Tool:
    if tool.get("type") not in (None, "custom"):
        raise Unsupported(f"server tool {tool['type']} is not supported", param)
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise BadRequest("input_schema must be an object", f"{param}.input_schema")
    description = tool.get("description") or ""
    if not isinstance(description, str):
        raise BadRequest("description must be a string", f"{param}.description")
    return Tool(name=_string(tool, "name", param), description=description, parameters=schema)


def _parse_tool_choice(choice) -> tuple[ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    mode = TOOL_CHOICES_IN.get(choice.get("type")) if isinstance(choice, dict) else None
    if mode is None:
        raise BadRequest("tool_choice.type must be auto, any, tool or none", "tool_choice")
    name = _string(choice, "name", "tool_choice") if mode == "tool" else ""
    disable = choice.get("disable_parallel_tool_use")
    return ToolChoice(mode=mode, name=name), None if disable is None else not disable


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


# --- upstream side: requests ---------------------------------------------------------------------

def build_request(request: ChatRequest, upstream_model: str) -> dict:
    _refuse_unsupported(request)
    thinking, max_tokens = _thinking_and_max_tokens(request)
    body = {"model": upstream_model, "max_tokens": max_tokens, "messages": _build_messages(request.messages)}
    system = [part.text for part in request.system if part.text]
    if system:
        body["system"] = system[0] if len(system) == 1 else [{"type": "text", "text": text} for text in system]
    if request.tools:
        body["tools"] = [_build_tool(tool) for tool in request.tools]
    tool_choice = _build_tool_choice(request)
    if tool_choice:
        body["tool_choice"] = tool_choice
    if thinking:
        body["thinking"] = thinking
    if request.response_format and request.response_format.type == "json_schema":
        body["output_config"] = {"format": {"type": "json_schema", "schema": request.response_format.schema}}
    _put_options(body, request)
    body["stream"] = request.stream
    return body


def build_count_tokens_request(request: ChatRequest, upstream_model: str) -> dict:
    """The body for ``/v1/messages/count_tokens``: the Messages body minus generation settings."""
    body = build_request(request, upstream_model)
    return {key: value for key, value in body.items() if key in COUNT_TOKENS_FIELDS}


def _refuse_unsupported(request: ChatRequest) -> None:
    if request.n != 1:
        raise Unsupported("n other than 1 is not supported by Anthropic models", "n")
    for name in ("seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            raise Unsupported(f"{name} is not supported by Anthropic models", name)
    response_format = request.response_format
    if response_format and response_format.type == "json_object":
        raise Unsupported("json_object response_format is not supported by Anthropic models; "
                          "use json_schema", "response_format")
    if response_format and response_format.type == "json_schema" and not response_format.schema:
        raise BadRequest("a json_schema response_format needs a schema", "response_format")


def _thinking_and_max_tokens(request: ChatRequest) -> tuple[dict | None, int]:
    budget = _thinking_budget(request.reasoning)
    max_tokens = DEFAULT_MAX_TOKENS if request.max_tokens is None else request.max_tokens
    if budget is None:
        return None, max_tokens
    if max_tokens <= budget:
        # Anthropic counts thinking inside max_tokens and requires room for an answer after it.
        if request.max_tokens is not None:
            raise Unsupported(f"max_tokens ({max_tokens}) must be greater than the thinking budget "
                              f"({budget}) for Anthropic models", "max_tokens")
        max_tokens = budget + DEFAULT_MAX_TOKENS
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def _thinking_budget(reasoning: Reasoning | None) -> int | None:
    if reasoning is None:
        return None
    if reasoning.budget_tokens is not None:
        # Zero is how Gemini clients turn thinking off; -1 (Gemini's "dynamic") lifts to the floor.
        return max(reasoning.budget_tokens, MIN_THINKING_BUDGET) if reasoning.budget_tokens else None
    if reasoning.effort == "none":
        return None
    budget = EFFORT_BUDGETS.get(reasoning.effort or "medium")
    if budget is None:
        raise Unsupported(f"reasoning effort {reasoning.effort!r} is not supported", "reasoning_effort")
    return budget


def _put_options(body: dict, request: ChatRequest) -> None:
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}


def _build_tool(tool: Tool) -> dict:
    built = {"name": tool.name}
    if tool.description:
        built["description"] = tool.description
    # Anthropic requires a schema; OpenAI lets a tool without parameters omit it.
    built["input_schema"] = tool.parameters or {"type": "object", "properties": {}}
    return built


def _build_tool_choice(request: ChatRequest) -> dict | None:
    # Anthropic refuses a tool_choice without tools.
    if not request.tools or (request.tool_choice is None and request.parallel_tool_calls is not False):
        return None
    choice = request.tool_choice or ToolChoice()
    built = {"type": TOOL_CHOICES_OUT[choice.mode]}
    if choice.mode == "tool":
        built["name"] = choice.name
    if request.parallel_tool_calls is False and choice.mode != "none":
        built["disable_parallel_tool_use"] = True
    return built


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


# --- streams: upstream side ----------------------------------------------------------------------

class StreamDecoder:
    """Anthropic's SSE stream -> internal events. A stream without Finish was cut short."""

    __slots__ = ("_parser", "_usage", "_tools")

    def __init__(self):
        self._parser = SSEParser()
        self._usage: dict = {}  # raw usage fields: message_start's, updated by message_delta's
        self._tools: dict[int, int] = {}  # Anthropic block index -> our tool call index

    def feed(self, chunk: bytes) -> list[Event]:
        return self._decode(self._parser.feed(chunk))

    def close(self) -> list[Event]:
        return self._decode(self._parser.close())

    def _decode(self, sse_events) -> list[Event]:
        events = []
        for sse in sse_events:
            events.extend(self._event(sse.data))
        return events

    def _event(self, data: str) -> list[Event]:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return [StreamError("server_error", "the upstream sent a stream event that is not JSON")]
        if not isinstance(payload, dict):
            return []
        handler = _DECODER_HANDLERS.get(payload.get("type"))
        return handler(self, payload) if handler else []

    def _message_start(self, payload: dict) -> list[Event]:
        message = payload.get("message") or {}
        self._usage = dict(message.get("usage") or {})
        return [Start(message.get("id") or "", message.get("model") or ""), UsageUpdate(_usage(self._usage))]

    def _block_start(self, payload: dict) -> list[Event]:
        block = payload.get("content_block") or {}
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [TextDelta(block["text"])]
        if kind == "thinking" and (block.get("thinking") or block.get("signature")):
            return [ThinkingDelta(block.get("thinking") or "", block.get("signature") or "")]
        if kind == "tool_use":
            return self._tool_start(payload.get("index"), block)
        # Redacted thinking has no event to travel in (see the module notes); server tools are never offered.
        return []

    def _tool_start(self, block_index, block: dict) -> list[Event]:
        index = len(self._tools)
        self._tools[block_index] = index
        events = [ToolCallStart(index, block.get("id") or "", block.get("name") or "")]
        if block.get("input"):
            events.append(ToolCallDelta(index, _dumps(block["input"])))
        return events

    def _block_delta(self, payload: dict) -> list[Event]:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(delta["text"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ThinkingDelta(text=delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [ThinkingDelta(signature=delta["signature"])]
        index = self._tools.get(payload.get("index"))
        if kind == "input_json_delta" and delta.get("partial_json") and index is not None:
            return [ToolCallDelta(index, delta["partial_json"])]
        return []

    def _message_delta(self, payload: dict) -> list[Event]:
        usage = payload.get("usage") or {}
        self._usage.update((key, value) for key, value in usage.items() if value is not None)
        delta = payload.get("delta") or {}
        finish = Finish(STOP_REASONS_IN.get(delta.get("stop_reason"), "end_turn"), delta.get("stop_sequence") or "")
        return [UsageUpdate(_usage(self._usage)), finish]

    def _error(self, payload: dict) -> list[Event]:
        error = payload.get("error") or {}
        kind = STREAM_ERROR_TYPES.get(error.get("type"), "server_error")
        return [StreamError(kind, error.get("message") or "the upstream stream failed")]


_DECODER_HANDLERS = {
    "message_start": StreamDecoder._message_start,
    "content_block_start": StreamDecoder._block_start,
    "content_block_delta": StreamDecoder._block_delta,
    "message_delta": StreamDecoder._message_delta,
    "error": StreamDecoder._error,
}


# --- streams: client side ------------------------------------------------------------------------

@dataclass(slots=True)
class _WaitingTool:
    """A tool call that started while another tool_use block was still receiving arguments."""

    id: str
    name: str
    fragments: list


class StreamEncoder:
    """Internal events -> Anthropic's event grammar.

    Anthropic's blocks are strictly sequential, but OpenAI interleaves the argument deltas of
    parallel tool calls (0, 1, 0, 1). A tool call that starts while the open tool_use block's
    arguments are not yet a complete JSON object therefore waits, its deltas buffered, until the
    open block can close (at the end, or when text or thinking arrives).
    """

    __slots__ = ("_id", "_model", "_started", "_usage", "_finish", "_next_index", "_open",
                 "_open_tool", "_arguments", "_signed", "_waiting")

    def __init__(self, request: ChatRequest, response_id: str, created: int):
        # ``created`` is part of the contract; Anthropic's messages carry no creation time.
        self._id = _message_id(response_id)
        self._model = request.model
        self._started = False
        self._usage = Usage()
        self._finish = Finish("end_turn")
        self._next_index = 0  # the index the next content block gets
        self._open = ""  # the open block's type: "", "text", "thinking" or "tool_use"
        self._open_tool = -1  # our tool call index, when the open block is a tool_use
        self._arguments: list[str] = []  # the open tool_use block's argument fragments
        self._signed = False  # the open thinking block got its signature, so it is complete
        self._waiting: dict[int, _WaitingTool] = {}

    def encode(self, event: Event) -> bytes:
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, Finish):
            self._finish = event
        elif isinstance(event, TextDelta) and event.text:
            return self._start() + self._text(event.text)
        elif isinstance(event, ThinkingDelta) and (event.text or event.signature):
            return self._start() + self._thinking(event)
        elif isinstance(event, ToolCallStart):
            return self._start() + self._tool_start(event)
        elif isinstance(event, ToolCallDelta) and event.arguments:
            return self._tool_delta(event.index, event.arguments)
        return b""

    def end(self) -> bytes:
        finish = self._finish
        delta = {"stop_reason": STOP_REASONS_OUT.get(finish.stop_reason, "end_turn"),
                 "stop_sequence": finish.stop_sequence or None}
        message_delta = {"type": "message_delta", "delta": delta, "usage": _usage_out(self._usage)}
        return (self._start() + self._close_all() + _event("message_delta", message_delta)
                + _event("message_stop", {"type": "message_stop"}))

    def fail(self, error_type: str, message: str) -> bytes:
        # Anthropic ends a failed stream with the error event alone: no block stops, no message_stop.
        error = {"type": ERROR_TYPES.get(error_type, "api_error"), "message": message}
        return _event("error", {"type": "error", "error": error})

    def _start(self) -> bytes:
        # Sent lazily, so an upstream's first usage report (Anthropic's input tokens) is in it.
        if self._started:
            return b""
        self._started = True
        usage = _usage_out(self._usage) | {"output_tokens": 0}
        message = {"id": self._id, "type": "message", "role": "assistant", "model": self._model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": usage}
        return _event("message_start", {"type": "message_start", "message": message}) + _event("ping", {"type": "ping"})

    def _text(self, text: str) -> bytes:
        opened = b"" if self._open == "text" else self._close_all() + self._open_block({"type": "text", "text": ""})
        return opened + self._delta({"type": "text_delta", "text": text})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        # Text after a signature belongs to a new thinking block: a signature ends its block.
        if self._open != "thinking" or (self._signed and event.text):
            out = self._close_all() + self._open_block({"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            self._signed = True
            out += self._delta({"type": "signature_delta", "signature": event.signature})
        return out

    def _tool_start(self, event: ToolCallStart) -> bytes:
        if self._waiting or (self._open == "tool_use" and not _complete_object("".join(self._arguments))):
            self._waiting[event.index] = _WaitingTool(event.id, event.name, [])
            return b""
        return self._close_all() + self._open_tool_block(event.index, event.id, event.name)

    def _tool_delta(self, index: int, arguments: str) -> bytes:
        if self._open == "tool_use" and index == self._open_tool:
            self._arguments.append(arguments)
            return self._delta({"type": "input_json_delta", "partial_json": arguments})
        waiting = self._waiting.get(index)
        if waiting is not None:
            waiting.fragments.append(arguments)
        # A delta for a tool call whose block is closed (or never opened) has nowhere to go.
        return b""

    def _open_tool_block(self, index: int, call_id: str, name: str) -> bytes:
        out = self._open_block({"type": "tool_use", "id": call_id, "name": name, "input": {}})
        self._open_tool = index
        return out

    def _open_block(self, block: dict) -> bytes:
        self._open = block["type"]
        self._next_index += 1
        start = {"type": "content_block_start", "index": self._next_index - 1, "content_block": block}
        return _event("content_block_start", start)

    def _delta(self, delta: dict) -> bytes:
        return _event("content_block_delta", {"type": "content_block_delta", "index": self._next_index - 1, "delta": delta})

    def _close(self) -> bytes:
        if not self._open:
            return b""
        self._open, self._open_tool, self._arguments, self._signed = "", -1, [], False
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._next_index - 1})

    def _close_all(self) -> bytes:
        """Close the open block, then emit every waiting tool call as a complete block."""
        out = self._close()
        waiting, self._waiting = self._waiting, {}
        for index, tool in waiting.items():
            out += self._open_tool_block(index, tool.id, tool.name)
            for fragment in tool.fragments:
                out += self._tool_delta(index, fragment)
            out += self._close()
        return out


def _complete_object(text: str) -> bool:
    # Nothing but whitespace may follow a complete JSON object, so its block can close.
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False


def _event(name: str, data: dict) -> bytes:
    return encode_event(orjson.dumps(data), name)


# --- errors --------------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    """Anthropic's error body; its errors have no ``param``, so the field name is not sent."""
    kind = STATUS_ERROR_TYPES.get(status) or ERROR_TYPES.get(error_type, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


def parse_error(status: int, body: bytes) -> str:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        message = error["message"]
    else:
        message = body.decode("utf-8", errors="replace").strip() or f"HTTP {status}"
    return message[:ERROR_MESSAGE_LIMIT]


# --- token counting and models -------------------------------------------------------------------

def build_count_tokens_response(input_tokens: int) -> dict:
    return {"input_tokens": input_tokens}


def build_model(name: str) -> dict:
    return {"type": "model", "id": name, "display_name": name, "created_at": MODEL_CREATED_AT, "lifecycle": "active"}


def build_model_list(names: list) -> dict:
    return {
        "data": [build_model(name) for name in names],
        "has_more": False,
        "first_id": names[0] if names else None,
        "last_id": names[-1] if names else None,
    }
