"""Gemini generateContent (Generative Language API v1beta), both directions.

The model and streaming come from the URL (``models/{model}:generateContent`` or
``:streamGenerateContent``), so bodies never carry them. Field names are read in camelCase (REST)
or snake_case (the google-genai SDK mixes both); they are always written in camelCase.

Mapping notes
    Roles          user <-> user; model <-> assistant; functionResponse parts <-> tool messages.
    Tool call ids  Gemini's ``id`` when it sends one, else synthesized: ``call_<n>`` over a
                   request's history, ``call_<responseId>_<index>`` in responses. Upstream
                   requests carry no ids: Gemini pairs calls and responses by order and name.
    Signatures     A ``thoughtSignature`` on a thought part stays on its Thinking; one on a text or
                   functionCall part becomes an empty signed Thinking just before that part. Going
                   out, a signed Thinking directly before a Text or ToolCall gives its signature to
                   that part (Gemini 2.5+/3 want it on the functionCall part).
    Stop reasons   MAX_TOKENS -> max_tokens; safety-like reasons -> content_filter; a blocked prompt
                   (no candidates) -> content_filter; anything else -> end_turn, or tool_use when the
                   response holds a function call.
    Usage          prompt = promptTokenCount + toolUsePromptTokenCount;
                   completion = candidatesTokenCount + thoughtsTokenCount (reasoning).
"""

__all__ = [
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error", "retry_delay_seconds",
    "parse_count_tokens_request", "build_count_tokens_response",
    "build_count_tokens_request", "parse_count_tokens_response",
    "parse_embedding_request", "build_embedding_response",
    "build_embedding_request", "parse_embedding_response",
    "build_image_request", "parse_image_response", "image_refusal",
    "build_model_list", "build_model",
]

import base64
import binascii
import mimetypes
import re
import uuid

import orjson

from ..types import (
    BadRequest, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Finish, GeneratedImage, Image,
    ImageRequest, ImageResponse,
    Message, Reasoning, ResponseFormat, Start, StreamError, Text, TextDelta, Thinking, ThinkingDelta, Tool,
    ToolCall, ToolCallDelta, ToolCallStart, ToolChoice, ToolResult, Unsupported, Usage, UsageUpdate,
)
from .sse import MAX_EVENT_BYTES, SSEParser, SSETooLarge, encode_event

# Google documents this value for function calls whose real signature is unknown (history written
# by another model); Gemini 3 refuses a function-call turn without any signature.
SKIP_SIGNATURE = "skip_thought_signature_validator"

EFFORT_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}

GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]

_FILTERED = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "LANGUAGE", "MODEL_ARMOR",
})

_FINISH_REASONS = {
    "end_turn": "STOP", "tool_use": "STOP", "stop_sequence": "STOP", "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY", "error": "OTHER",
}

_GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_TYPE_CODES = {
    "invalid_request": 400, "auth": 401, "unknown_model": 404, "rate_limit": 429,
    "timeout": 504, "network": 502, "server_error": 500,
}

_ERROR_TYPES = {
    "INVALID_ARGUMENT": "invalid_request", "FAILED_PRECONDITION": "invalid_request",
    "OUT_OF_RANGE": "invalid_request", "NOT_FOUND": "invalid_request",
    "UNAUTHENTICATED": "auth", "PERMISSION_DENIED": "auth",
    "RESOURCE_EXHAUSTED": "rate_limit", "DEADLINE_EXCEEDED": "timeout",
}

# What Gemini's ``parameters`` / ``responseSchema`` (an OpenAPI subset) accepts; a schema using
# anything else goes under ``parametersJsonSchema`` / ``responseJsonSchema``.
_OPENAPI_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
})

_UPPER = re.compile(r"([A-Z])")
_STRUCTURE = re.compile(rb'[{}"]')
_STRING_STOP = re.compile(rb'["\\]')
_DATA_URL = re.compile(r"data:([^;,]*);base64,(.*)", re.DOTALL)
_GEMINI_MAJOR = re.compile(r"(?:models/)?gemini-(\d+)")


# --- shared helpers --------------------------------------------------------------------------

def _get(obj: dict, name: str, default=None):
    """A field by its camelCase name or its snake_case twin."""
    value = obj.get(name)
    if value is None:
        value = obj.get(_UPPER.sub(r"_\1", name).lower())
    return default if value is None else value


def _usable(signature: str) -> str:
    """The signature if it is canonical base64, as every Gemini signature is, else "".

    Other providers' tokens (or a mock's) make the google-genai SDK refuse the whole response and
    can only fail upstream, so they are dropped on the way out.
    """
    if set(signature) & set("-_") and set(signature) & set("+/"):
        return ""  # the URL-safe and standard alphabets mixed
    standard = signature.replace("-", "+").replace("_", "/")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        canonical = base64.b64encode(base64.b64decode(padded, validate=True)).decode() == padded
    except (binascii.Error, ValueError):
        canonical = False
    return signature if canonical else ""


def _new_id() -> str:
    return uuid.uuid4().hex


def _json(value) -> str:
    return orjson.dumps(value).decode()


def _object(value, param: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{param} must be an object", param)
    return value


def _list(value, param: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest(f"{param} must be a list", param)
    return value


# --- client side: requests -------------------------------------------------------------------

def parse_request(body: dict, *, model: str = "", stream: bool | None = None) -> ChatRequest:
    """A generateContent body; ``model`` and ``stream`` come from the URL."""
    body = _object(body, "body")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("contents must be a non-empty list", "contents")
    if _get(body, "cachedContent"):
        raise Unsupported("cachedContent is not supported by the gateway", "cachedContent")
    tools, tool_choice = _parse_tools(body)
    request = ChatRequest(
        model=model.removeprefix("models/"), messages=_ContentsParser().parse(contents),
        system=_parse_system(_get(body, "systemInstruction")), tools=tools,
        tool_choice=tool_choice, stream=bool(stream), include_usage=True,
    )
    _apply_generation_config(request, _object(_get(body, "generationConfig"), "generationConfig"))
    return request


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


def _parse_system(instruction) -> list:
    if instruction is None:
        return []
    if isinstance(instruction, str):
        return [Text(instruction)]
    parts = _object(instruction, "systemInstruction").get("parts")
    parts = [parts] if isinstance(parts, dict) else _list(parts, "systemInstruction.parts")
    if not all(isinstance(part, dict) and isinstance(part.get("text"), str) for part in parts):
        raise Unsupported("systemInstruction may hold text parts only", "systemInstruction")
    return [Text(part["text"]) for part in parts]


def _parse_tools(body: dict) -> tuple[list, ToolChoice | None]:
    tools = []
    for index, tool in enumerate(_list(body.get("tools"), "tools")):
        tools.extend(_declarations(_object(tool, f"tools[{index}]"), f"tools[{index}]"))
    config = _object(_get(body, "toolConfig"), "toolConfig")
    calling = _object(_get(config, "functionCallingConfig"), "toolConfig.functionCallingConfig")
    allowed = _list(_get(calling, "allowedFunctionNames"), "toolConfig.functionCallingConfig.allowedFunctionNames")
    if len(allowed) > 1:
        # ANY among several names: offering only those tools has the same effect.
        tools = [tool for tool in tools if tool.name in allowed]
    return tools, _tool_choice(calling, allowed) if calling else None


def _declarations(tool: dict, param: str) -> list:
    tools = []
    for key, value in tool.items():
        if key not in ("functionDeclarations", "function_declarations"):
            raise Unsupported(f"the {key} tool is not supported by the gateway", param)
        for index, declaration in enumerate(_list(value, f"{param}.{key}")):
            tools.append(_declaration_tool(_object(declaration, f"{param}.{key}[{index}]"), f"{param}.{key}[{index}]"))
    return tools


def _declaration_tool(declaration: dict, param: str) -> Tool:
    name = declaration.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("a function declaration needs a name", f"{param}.name")
    schema = _get(declaration, "parametersJsonSchema")
    if schema is None:
        schema = _json_schema(_get(declaration, "parameters", {}))
    return Tool(name, declaration.get("description") or "", schema)


def _tool_choice(calling: dict, allowed: list) -> ToolChoice:
    mode = str(calling.get("mode") or "AUTO").upper()
    if mode == "NONE":
        return ToolChoice("none")
    if mode == "ANY":
        return ToolChoice("tool", allowed[0]) if len(allowed) == 1 else ToolChoice("required")
    if mode in ("AUTO", "VALIDATED", "MODE_UNSPECIFIED"):
        return ToolChoice("auto")
    raise BadRequest(f"unknown functionCallingConfig.mode {mode}", "toolConfig.functionCallingConfig.mode")


def _json_schema(schema):
    """Gemini's OpenAPI-subset Schema as JSON Schema: lower-case types, ``nullable`` as a null type."""
    if not isinstance(schema, dict):
        return schema
    converted = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            converted[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            converted[key] = {name: _json_schema(child) for name, child in value.items()}
        elif key == "anyOf" and isinstance(value, list):
            converted[key] = [_json_schema(child) for child in value]
        elif key == "items":
            converted[key] = _json_schema(value)
        elif key != "nullable":
            converted[key] = value
    if schema.get("nullable") and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
    return converted


def _apply_generation_config(request: ChatRequest, config: dict):
    request.temperature = _number(config, "temperature", float)
    request.top_p = _number(config, "topP", float)
    request.top_k = _number(config, "topK", int)
    request.max_tokens = _count(config, "maxOutputTokens")
    request.seed = _number(config, "seed", int)
    request.n = _count(config, "candidateCount") or 1
    request.presence_penalty = _number(config, "presencePenalty", float)
    request.frequency_penalty = _number(config, "frequencyPenalty", float)
    stop = _get(config, "stopSequences")
    request.stop = [stop] if isinstance(stop, str) else list(_list(stop, "generationConfig.stopSequences"))
    request.response_format = _response_format(config)
    request.reasoning = _reasoning(_object(_get(config, "thinkingConfig"), "generationConfig.thinkingConfig"))
    _refuse_generation_options(config)


def _number(config: dict, name: str, kind: type):
    value = _get(config, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"generationConfig.{name} must be a number", f"generationConfig.{name}")
    return kind(value)  # the SDK sends topK as a float


def _count(config: dict, name: str) -> int | None:
    value = _number(config, name, int)
    if value is not None and value < 1:
        raise BadRequest(f"generationConfig.{name} must be at least 1", f"generationConfig.{name}")
    return value


def _response_format(config: dict) -> ResponseFormat | None:
    mime = _get(config, "responseMimeType", "text/plain")
    if mime == "text/plain":
        return None
    if mime != "application/json":
        raise Unsupported(f"responseMimeType {mime} is not supported", "generationConfig.responseMimeType")
    schema = _get(config, "responseJsonSchema")
    if schema is None and _get(config, "responseSchema") is not None:
        schema = _json_schema(_get(config, "responseSchema"))
    if schema is None:
        return ResponseFormat("json_object")
    # Gemini schemas are anonymous; formats that need a name get a neutral one.
    return ResponseFormat("json_schema", schema, name="response")


def _reasoning(thinking: dict) -> Reasoning | None:
    if not thinking:
        return None
    level = str(_get(thinking, "thinkingLevel", "")).lower()
    budget = _get(thinking, "thinkingBudget")
    return Reasoning(
        effort="" if level == "thinking_level_unspecified" else level,
        budget_tokens=None if budget == -1 else budget,  # -1 is "dynamic": the model's default
        include_thoughts=bool(_get(thinking, "includeThoughts", False)),
    )


def _refuse_generation_options(config: dict):
    param = "generationConfig.responseModalities"
    modalities = {str(modality).upper() for modality in _list(_get(config, "responseModalities"), param)}
    if modalities - {"TEXT"}:
        raise Unsupported("only TEXT responseModalities are supported", param)
    if _get(config, "responseLogprobs"):
        raise Unsupported("responseLogprobs is not supported", "generationConfig.responseLogprobs")


# --- upstream side: requests -----------------------------------------------------------------

def build_request(request: ChatRequest, upstream_model: str) -> dict:
    """A generateContent body; the adapter puts the model (and ``alt=sse``) in the URL."""
    body = {"contents": _contents(request.messages)}
    if _requires_signatures(upstream_model):
        _sign_calls(body["contents"])
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": part.text} for part in request.system]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(tool) for tool in request.tools]}]
        if request.tool_choice:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    return body


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


def _declaration(tool: Tool) -> dict:
    declaration = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    schema = tool.parameters
    if schema and not _empty_object(schema):
        declaration["parameters" if _fits_openapi(schema) else "parametersJsonSchema"] = schema
    return declaration


def _empty_object(schema: dict) -> bool:
    # Gemini rejects an OBJECT without properties; a function without parameters says nothing.
    ignorable = {"type", "properties", "required", "additionalProperties", "$schema", "title", "description"}
    return schema.get("type", "object") == "object" and not schema.get("properties") and set(schema) <= ignorable


def _fits_openapi(schema) -> bool:
    if not isinstance(schema, dict) or not set(schema) <= _OPENAPI_KEYS:
        return False
    properties = schema.get("properties", {})
    if not isinstance(schema.get("type", ""), str) or not isinstance(properties, dict):
        return False
    children = list(properties.values()) + list(schema.get("anyOf", []))
    if "items" in schema:
        children.append(schema["items"])
    return all(_fits_openapi(child) for child in children)


def _calling_config(choice: ToolChoice) -> dict:
    if choice.mode == "tool":
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice.mode]}


def _generation_config(request: ChatRequest) -> dict:
    if request.n > 1:
        raise Unsupported("Gemini upstreams are relayed one candidate at a time: n must be 1", "n")
    config = {
        "temperature": request.temperature, "topP": request.top_p, "topK": request.top_k,
        "maxOutputTokens": request.max_tokens, "seed": request.seed,
        "presencePenalty": request.presence_penalty, "frequencyPenalty": request.frequency_penalty,
    }
    config = {key: value for key, value in config.items() if value is not None}
    if request.stop:
        config["stopSequences"] = list(request.stop)
    config.update(_format_config(request.response_format))
    if request.reasoning:
        config["thinkingConfig"] = _thinking_config(request.reasoning)
    return config


def _format_config(response_format: ResponseFormat | None) -> dict:
    if response_format is None or response_format.type == "text":
        return {}
    config = {"responseMimeType": "application/json"}
    schema = response_format.schema
    if response_format.type == "json_schema" and schema:
        config["responseSchema" if _fits_openapi(schema) else "responseJsonSchema"] = schema
    return config


def _thinking_config(reasoning: Reasoning) -> dict:
    config = {"includeThoughts": reasoning.include_thoughts}
    if reasoning.budget_tokens is not None:
        config["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort:
        if reasoning.effort not in EFFORT_BUDGETS:
            raise Unsupported(f"reasoning effort {reasoning.effort!r} is not supported", "reasoning_effort")
        config["thinkingBudget"] = EFFORT_BUDGETS[reasoning.effort]
    return config


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


# --- streams ---------------------------------------------------------------------------------

class StreamDecoder:
    """Upstream stream chunks (each a GenerateContentResponse) to events.

    By default the body is SSE (``?alt=sse``); ``json_array=True`` reads the plain
    streamGenerateContent body, one JSON array of chunks.
    """

    def __init__(self, *, json_array: bool = False):
        self._splitter = _ArraySplitter() if json_array else None
        self._sse = None if json_array else SSEParser()
        self._id = ""
        self._calls = 0
        self._finished = False

    def feed(self, chunk: bytes) -> list:
        if self._splitter is not None:
            return self._decode(self._splitter.feed(chunk))
        return self._decode([event.data for event in self._sse.feed(chunk)])

    def close(self) -> list:
        if self._splitter is not None:
            return []  # an unfinished object is a cut stream: the missing Finish tells the relay
        return self._decode([event.data for event in self._sse.close()])

    def _decode(self, payloads: list) -> list:
        events = []
        for payload in payloads:
            try:
                chunk = orjson.loads(payload)
            except orjson.JSONDecodeError:
                chunk = None
            if not isinstance(chunk, dict):
                events.append(StreamError("server_error", "the upstream sent a stream chunk that is not a JSON object"))
                continue
            events.extend(self._chunk(chunk))
        return events

    def _chunk(self, chunk: dict) -> list:
        if "error" in chunk:
            return [_stream_error(chunk["error"])]
        events = []
        if not self._id:
            self._id = _get(chunk, "responseId") or _new_id()
            events.append(Start(self._id, _get(chunk, "modelVersion", "")))
        candidates = chunk.get("candidates") or []
        candidate = candidates[0] if candidates else {}
        for part in (candidate.get("content") or {}).get("parts") or []:
            events.extend(self._part(part))
        if _get(chunk, "usageMetadata"):
            events.append(UsageUpdate(_usage(_get(chunk, "usageMetadata"))))
        events.extend(self._finish(_get(candidate, "finishReason"), chunk, candidates))
        return events

    def _part(self, part) -> list:
        if not isinstance(part, dict):
            return []
        signature = _get(part, "thoughtSignature", "")
        call = _get(part, "functionCall")
        if isinstance(call, dict):
            return _signed_events(signature, self._call_events(call))
        text = part.get("text")
        if not isinstance(text, str):
            return []
        if part.get("thought"):
            return [ThinkingDelta(text, signature)] if text or signature else []
        return _signed_events(signature, [TextDelta(text)] if text else [])

    def _call_events(self, call: dict) -> list:
        # Gemini sends each call whole: one start and one delta with all the arguments.
        index = self._calls
        self._calls += 1
        call_id = call.get("id") or f"call_{self._id}_{index}"
        return [ToolCallStart(index, call_id, call.get("name") or ""),
                ToolCallDelta(index, _json(call.get("args") or {}))]

    def _finish(self, finish, chunk: dict, candidates: list) -> list:
        blocked = not candidates and _get(chunk.get("promptFeedback") or {}, "blockReason")
        if self._finished or not (finish or blocked):
            return []
        self._finished = True
        if blocked:
            return [Finish("content_filter")]
        return [Finish(_stop_reason(finish, self._calls > 0))]


def _signed_events(signature: str, events: list) -> list:
    return ([ThinkingDelta(signature=signature)] if signature else []) + events


def _stream_error(error) -> StreamError:
    error = error if isinstance(error, dict) else {"message": str(error)}
    status = error.get("status") or _GOOGLE_STATUSES.get(error.get("code"), "")
    message = str(error.get("message") or status or "upstream error")
    return StreamError(_ERROR_TYPES.get(status, "server_error"), message)


class _ArraySplitter:
    """Cuts the top-level objects out of a JSON array arriving in pieces (``[{...},\\r\\n{...}]``).

    Scans bytes, tracking brace depth and strings with their escapes; UTF-8 never puts these
    ASCII bytes inside a multi-byte character, so a split anywhere is safe.
    """

    __slots__ = ("_buffer", "_pos", "_start", "_depth", "_in_string")

    def __init__(self):
        self._buffer = b""
        self._pos = 0
        self._start = 0
        self._depth = 0
        self._in_string = False

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        objects = []
        while self._step(objects):
            pass
        cut = self._start if self._depth else self._pos
        self._buffer = self._buffer[cut:]
        self._pos -= cut
        self._start = 0 if not self._depth else self._start - cut
        if len(self._buffer) > MAX_EVENT_BYTES:
            raise SSETooLarge("an upstream stream chunk is larger than the gateway accepts")
        return objects

    def _step(self, objects: list) -> bool:
        """Advances past one token of interest; False when the buffer needs more bytes."""
        pattern = _STRING_STOP if self._in_string else _STRUCTURE
        match = pattern.search(self._buffer, self._pos)
        if match is None:
            self._pos = len(self._buffer)
            return False
        token = match.group()
        if token == b"\\":
            if match.end() >= len(self._buffer):
                self._pos = match.start()  # the escaped byte has not arrived yet
                return False
            self._pos = match.end() + 1
        elif token == b'"':
            self._in_string = not self._in_string
            self._pos = match.end()
        else:
            self._pos = match.end()
            self._brace(token, match.start(), objects)
        return True

    def _brace(self, token: bytes, at: int, objects: list):
        if token == b"{":
            if self._depth == 0:
                self._start = at
            self._depth += 1
        elif self._depth:
            self._depth -= 1
            if self._depth == 0:
                objects.append(self._buffer[self._start:self._pos])


class StreamEncoder:
    """Events to Gemini stream chunks: SSE (``alt=sse``) or, with ``sse=False``, one JSON array.

    Tool calls are sent whole, each in one functionCall part once its arguments are complete.
    The last chunk carries finishReason and usageMetadata.
    """

    def __init__(self, request: ChatRequest, response_id: str, created: int, *, sse: bool = True):
        self._model = request.model
        self._id = response_id
        self._sse = sse
        self._opened = False  # the array's "[" is out
        self._closed = False
        self._call: dict | None = None
        self._fragments: list[str] = []
        self._signature = ""  # a signature waiting for the part it belongs to
        self._finish = "STOP"
        self._usage: Usage | None = None

    def encode(self, event) -> bytes:
        if self._closed:
            return b""
        if isinstance(event, TextDelta):
            return self._flush_call() + self._emit([self._signed({"text": event.text})])
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ToolCallStart):
            flushed = self._flush_call()
            self._call = self._signed({"functionCall": {"id": event.id, "name": event.name}})
            return flushed
        if isinstance(event, ToolCallDelta):
            if self._call is not None:
                self._fragments.append(event.arguments)
            return b""
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, Finish):
            self._finish = _FINISH_REASONS[event.stop_reason]
            return self._flush_call()
        elif isinstance(event, StreamError):
            return self.fail(event.type, event.message)
        return b""

    def end(self) -> bytes:
        if self._closed:
            return b""
        flushed = self._flush_call()
        extra = {"finishReason": self._finish}
        usage = {"usageMetadata": _usage_metadata(self._usage)} if self._usage else {}
        last = self._emit([self._signed({"text": ""})], extra, usage)
        self._closed = True
        return flushed + last + (b"" if self._sse else b"]")

    def fail(self, error_type: str, message: str) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        code = _TYPE_CODES.get(error_type, 500)
        data = orjson.dumps({"error": {"code": code, "message": message, "status": _GOOGLE_STATUSES[code]}})
        return self._frame(data) + (b"" if self._sse else b"]")

    def _thinking(self, event: ThinkingDelta) -> bytes:
        flushed = self._flush_call()
        signature = _usable(event.signature)
        if not event.text:
            # A bare signature belongs on the part that follows (a functionCall, usually).
            self._signature = signature or self._signature
            return flushed
        part = self._signed({"text": event.text, "thought": True})
        if signature:
            part["thoughtSignature"] = signature
        return flushed + self._emit([part])

    def _signed(self, part: dict) -> dict:
        if self._signature:
            part["thoughtSignature"] = self._signature
            self._signature = ""
        return part

    def _flush_call(self) -> bytes:
        if self._call is None:
            return b""
        part, self._call = self._call, None
        part["functionCall"]["args"] = _arguments("".join(self._fragments), strict=False)
        self._fragments = []
        return self._emit([part])

    def _emit(self, parts: list, extra: dict | None = None, top: dict | None = None) -> bytes:
        candidate = {"content": {"role": "model", "parts": parts}, **(extra or {}), "index": 0}
        chunk = {"candidates": [candidate], **(top or {}), "modelVersion": self._model, "responseId": self._id}
        return self._frame(orjson.dumps(chunk))

    def _frame(self, data: bytes) -> bytes:
        if self._sse:
            return encode_event(data)
        prefix = b",\r\n" if self._opened else b"["
        self._opened = True
        return prefix + data


# --- errors ----------------------------------------------------------------------------------

def build_error(status: int, error_type: str, message: str, request_id: str, param: str = "") -> dict:
    details = [{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error_type.upper(),
        "domain": "gateway", "metadata": {"request_id": request_id},
    }]
    if param:
        details.append({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": param, "description": message}],
        })
    google_status = _GOOGLE_STATUSES.get(status) or _GOOGLE_STATUSES[_TYPE_CODES.get(error_type, 500)]
    return {"error": {"code": status, "message": message, "status": google_status, "details": details}}


def parse_error(status: int, body: bytes) -> str:
    error = _error_object(body)
    if error and error.get("message"):
        return str(error["message"])
    text = body.decode("utf-8", errors="replace").strip()
    return text[:1000] or f"HTTP {status}"


def retry_delay_seconds(body: bytes) -> float | None:
    """The wait google.rpc.RetryInfo asks for ("12s", "1.5s"), if the error carries one."""
    error = _error_object(body) or {}
    details = error.get("details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return _seconds(detail.get("retryDelay"))
    return None


def _seconds(duration) -> float | None:
    if not isinstance(duration, str) or not duration.endswith("s"):
        return None
    try:
        return float(duration[:-1])
    except ValueError:
        return None


def _error_object(body: bytes) -> dict | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, list) and parsed:
        parsed = parsed[0]  # the JSON-array stream wraps its error too
    error = parsed.get("error") if isinstance(parsed, dict) else None
    return error if isinstance(error, dict) else None


# --- countTokens -----------------------------------------------------------------------------

def parse_count_tokens_request(body: dict, *, model: str = "") -> ChatRequest:
    """A countTokens body: ``contents``, or a whole ``generateContentRequest``."""
    body = _object(body, "body")
    inner = _get(body, "generateContentRequest")
    return parse_request(_object(inner, "generateContentRequest") if inner is not None else body, model=model)


def build_count_tokens_request(request: ChatRequest, upstream_model: str) -> dict:
    body = build_request(request, upstream_model)
    if set(body) == {"contents"}:
        return body
    # Bare contents leave out the system prompt and tools; a full request counts them too.
    return {"generateContentRequest": {"model": f"models/{upstream_model}", **body}}


def build_count_tokens_response(total: int) -> dict:
    return {"totalTokens": total}


def parse_count_tokens_response(body: dict) -> int:
    return _get(body, "totalTokens", 0)


# --- embeddings ------------------------------------------------------------------------------

def parse_embedding_request(body: dict, *, model: str = "", batch: bool = False) -> EmbeddingRequest:
    """embedContent (``batch=False``) or batchEmbedContents; each content is one input."""
    body = _object(body, "body")
    items = body.get("requests") if batch else [body]
    if not isinstance(items, list) or not items:
        raise BadRequest("requests must be a non-empty list", "requests")
    param = "requests[{}]" if batch else "body"
    items = [_object(item, param.format(index)) for index, item in enumerate(items)]
    options = {(_get(item, "taskType", ""), _get(item, "outputDimensionality")) for item in items}
    if len(options) > 1:
        raise Unsupported("all requests of a batch must share taskType and outputDimensionality", "requests")
    task_type, dimensions = options.pop()
    inputs = [_embedding_text(item, param.format(index)) for index, item in enumerate(items)]
    return EmbeddingRequest(model.removeprefix("models/"), inputs, dimensions, task_type)


def _embedding_text(item: dict, param: str) -> str:
    content = item.get("content")
    if not isinstance(content, dict):
        raise BadRequest("content is required", f"{param}.content")
    parts = _list(content.get("parts"), f"{param}.content.parts")
    if not parts or not all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        raise Unsupported("embeddings take text parts only", f"{param}.content.parts")
    return "\n".join(part["text"] for part in parts)


def build_embedding_response(response: EmbeddingResponse, request: EmbeddingRequest, *, batch: bool) -> dict:
    if batch:
        return {"embeddings": [{"values": vector} for vector in response.vectors]}
    return {"embedding": {"values": response.vectors[0] if response.vectors else []}}


def build_embedding_request(request: EmbeddingRequest, upstream_model: str) -> dict:
    """Always a batchEmbedContents body, whatever the client called."""
    options = {}
    if request.task_type:
        options["taskType"] = request.task_type
    if request.dimensions is not None:
        options["outputDimensionality"] = request.dimensions
    return {"requests": [
        {"model": f"models/{upstream_model}", "content": {"parts": [{"text": text}]}, **options}
        for text in request.inputs
    ]}


def parse_embedding_response(body: dict) -> EmbeddingResponse:
    """Either shape; Gemini reports neither the model nor usage for embeddings."""
    embeddings = body.get("embeddings")
    if embeddings is None:
        embeddings = [body["embedding"]] if body.get("embedding") else []
    return EmbeddingResponse("", [list(item.get("values") or []) for item in embeddings])


# --- models ----------------------------------------------------------------------------------

def build_model(name: str) -> dict:
    model_id = name.removeprefix("models/")
    return {
        "name": f"models/{model_id}", "baseModelId": model_id, "displayName": model_id,
        "supportedGenerationMethods": list(GENERATION_METHODS),
    }


def build_model_list(names) -> dict:
    return {"models": [build_model(name) for name in names]}


# --- image generation (Gemini image models answer generateContent with inlineData) ----------

# OpenAI sizes Gemini can draw, as the aspect ratios it takes instead.
_ASPECT_RATIOS = {"1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3", "1792x1024": "16:9",
                  "1024x1792": "9:16", "512x512": "1:1", "256x256": "1:1"}


def build_image_request(request: ImageRequest, upstream_model: str) -> dict:
    """One image per request: Gemini's image models draw one per candidate and take no count."""
    config = {"responseModalities": ["IMAGE"]}
    ratio = _ASPECT_RATIOS.get(request.size)
    if ratio:
        config["imageConfig"] = {"aspectRatio": ratio}
    return {"contents": [{"role": "user", "parts": [{"text": request.prompt}]}], "generationConfig": config}


def parse_image_response(body: dict) -> ImageResponse:
    """Every inlineData part of the first candidate, in order; text parts are not images."""
    candidates = body.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    images = []
    for part in parts:
        inline = _get(part, "inlineData")
        if isinstance(inline, dict) and _get(inline, "data"):
            images.append(GeneratedImage(data=_get(inline, "data"), media_type=_get(inline, "mimeType", "image/png")))
    usage = _usage(_get(body, "usageMetadata", {}))
    return ImageResponse(_get(body, "modelVersion", ""), images, usage)


def image_refusal(body: dict) -> str:
    """Why an answer holds no image: the finish or block reason, else the model's own words."""
    blocked = _get(body.get("promptFeedback") or {}, "blockReason")
    candidate = (body.get("candidates") or [{}])[0]
    texts = [part.get("text", "") for part in (candidate.get("content") or {}).get("parts") or ()]
    return blocked or "".join(texts)[:300] or _get(candidate, "finishReason", "") or "no reason given"
