"""Responses API requests: parsing what a client sends, building what an upstream gets."""

from dataclasses import dataclass, field

from providers.formats.openai import _effort, _float, _get, _joined, _positive, _required_string
from providers.types import (
    BadRequest, ChatRequest, Reasoning, ResponseFormat, Text, Tool, ToolChoice, Unsupported,
)

from ._common import new_response_id
from .items import _Conversation, _build_input, _input_items

__all__ = ["ResponsesRequest", "parse_request", "build_request"]


_TOOL_CHOICE_MODES = ("auto", "none", "required")
_REFUSED_FIELDS = {
    "background": "background responses are not supported by the gateway",
    "conversation": "conversations are not supported by the gateway; continue with previous_response_id",
    "prompt": "stored prompt templates live in OpenAI's own service; send the instructions and input",
}


@dataclass(slots=True)
class ResponsesRequest(ChatRequest):
    """A ChatRequest that remembers what the Responses API needs beyond it: the id it answers under,
    whether to store it, the conversation's input items as sent (earlier turns included, for the
    store), and the request parameters a response object repeats (``echo``)."""

    response_id: str = ""
    store: bool = True
    previous_response_id: str = ""
    items: list = field(default_factory=list)
    echo: dict = field(default_factory=dict)


# --- client side: parsing a request ----------------------------------------------------------

def parse_request(body: dict, *, model: str = "", stream: bool | None = None, history: list = ()) -> ResponsesRequest:
    """A Responses API body -> ResponsesRequest. ``history`` holds the input and output items of the
    response named by ``previous_response_id``, which the caller loaded. Unknown fields are ignored."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = _get(body, "model", str) or model
    if not model:
        raise BadRequest("'model' is required", "model")
    for name, message in _REFUSED_FIELDS.items():
        if body.get(name):
            raise Unsupported(message, name)
    own = _input_items(body.get("input"))
    conversation = _Conversation()
    for item in history:
        conversation.add(item, "previous_response_id")
    for position, item in enumerate(own):
        conversation.add(item, f"input[{position}]")
    if not conversation.messages:
        raise BadRequest("'input' must hold at least one message or tool output", "input")
    instructions = _get(body, "instructions", str) or ""
    request = ResponsesRequest(
        model=model, messages=conversation.messages, response_id=new_response_id(), items=[*history, *own],
        system=([Text(instructions)] if instructions else []) + conversation.system,
    )
    _parse_tools(body, request)
    _parse_options(body, request)
    request.stream = bool(_get(body, "stream", bool)) if stream is None else stream
    request.echo = _echo(body, request)
    return request


def _parse_tools(body: dict, request: ResponsesRequest):
    tools = _get(body, "tools", list) or []
    request.tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
    if body.get("tool_choice") is not None:
        request.tool_choice = _tool_choice(body["tool_choice"])
    request.parallel_tool_calls = _get(body, "parallel_tool_calls", bool)


def _tool(tool, param: str) -> Tool:
    if not isinstance(tool, dict):
        raise BadRequest(f"'{param}' must be an object", param)
    kind = tool.get("type")
    if kind != "function":
        raise Unsupported(f"'{kind}' tools run inside OpenAI's own service and cannot be relayed; "
                          "the gateway relays function tools", f"{param}.type")
    return Tool(
        name=_required_string(tool, "name", f"{param}.name"),
        description=_get(tool, "description", str, f"{param}.description") or "",
        parameters=_get(tool, "parameters", dict, f"{param}.parameters") or {},
    )


def _tool_choice(value) -> ToolChoice:
    if isinstance(value, str) and value in _TOOL_CHOICE_MODES:
        return ToolChoice(value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "function" and isinstance(value.get("name"), str) and value["name"]:
            return ToolChoice("tool", value["name"])
        if kind != "function":
            raise Unsupported(f"a tool_choice of type '{kind}' is not supported by the gateway", "tool_choice.type")
    raise BadRequest("'tool_choice' must be 'auto', 'none', 'required' or a function to call", "tool_choice")


def _parse_options(body: dict, request: ResponsesRequest):
    request.max_tokens = _positive(body, "max_output_tokens")
    request.temperature = _float(body, "temperature")
    request.top_p = _float(body, "top_p")
    request.response_format = _text_format(_get(body, "text", dict))
    request.reasoning = _reasoning(_get(body, "reasoning", dict))
    request.user = _get(body, "user", str) or ""
    request.metadata = _get(body, "metadata", dict) or {}
    request.store = _get(body, "store", bool) is not False
    request.previous_response_id = _get(body, "previous_response_id", str) or ""


def _text_format(text: dict | None) -> ResponseFormat | None:
    spec = _get(text or {}, "format", dict, "text.format")
    if spec is None:
        return None
    kind = spec.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise BadRequest("'text.format.type' must be 'text', 'json_object' or 'json_schema'", "text.format.type")
    schema = _get(spec, "schema", dict, "text.format.schema")
    if schema is None:
        raise BadRequest("'text.format.schema' is required", "text.format.schema")
    return ResponseFormat(
        "json_schema", schema=schema, name=_get(spec, "name", str, "text.format.name") or "",
        strict=bool(_get(spec, "strict", bool, "text.format.strict")),
    )


def _reasoning(value: dict | None) -> Reasoning | None:
    if value is None:
        return None
    effort = _get(value, "effort", str, "reasoning.effort") or ""
    if effort == "none" or not (effort or value.get("summary")):
        return None
    return Reasoning(effort=effort)


def _echo(body: dict, request: ResponsesRequest) -> dict:
    """The request parameters a response object repeats, in OpenAI's defaults where none was sent."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": request.max_tokens,
        "metadata": request.metadata,
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id or None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": request.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": {"format": {"type": "text"}, **text},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "truncation": "disabled",
        "user": request.user or None,
    }


# --- upstream side: building a request -------------------------------------------------------

def build_request(request: ChatRequest, upstream_model: str) -> dict:
    """ChatRequest -> a Responses API body, for an OpenAI upstream. Nothing is stored there: the
    gateway keeps the conversation, so the whole history is sent and ``store`` is false."""
    for name in ("top_k", "seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            raise Unsupported(f"{name} is not supported by OpenAI's Responses API", name)
    if request.stop:
        raise Unsupported("stop sequences are not supported by OpenAI's Responses API", "stop")
    body = {"model": upstream_model, "input": _build_input(request.messages), "store": False}
    if request.system:
        body["instructions"] = _joined(request.system, "\n\n")
    _build_tools(request, body)
    optional = {
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "text": _build_text(request.response_format),
        "reasoning": _build_reasoning(request.reasoning),
        "user": request.user or None,
    }
    body.update((key, value) for key, value in optional.items() if value is not None)
    if request.stream:
        body["stream"] = True
    return body


def _build_tools(request: ChatRequest, body: dict):
    if not request.tools:
        return
    # Not strict: OpenAI's strict mode refuses many schemas other clients write.
    body["tools"] = [{"type": "function", "name": tool.name, "description": tool.description or None,
                      "parameters": tool.parameters or {"type": "object", "properties": {}}, "strict": False}
                     for tool in request.tools]
    choice = request.tool_choice
    if choice is not None:
        body["tool_choice"] = {"type": "function", "name": choice.name} if choice.mode == "tool" else choice.mode
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls


def _build_text(value: ResponseFormat | None) -> dict | None:
    if value is None:
        return None
    if value.type != "json_schema":
        return {"format": {"type": value.type}}
    spec = {"type": "json_schema", "name": value.name or "response", "schema": value.schema or {},
            "strict": value.strict}
    return {"format": spec}


def _build_reasoning(reasoning: Reasoning | None) -> dict | None:
    if reasoning is None:
        return None
    effort = _effort(reasoning)
    built = {"effort": effort} if effort else {}
    if reasoning.include_thoughts:
        built["summary"] = "auto"
    return built
