"""Messages API requests: parsing what a client sends, building what an upstream gets."""

from providers.types import (
    BadRequest, ChatRequest, Reasoning, ResponseFormat, Text, Tool, ToolChoice, Unsupported,
)

from ._common import _flag, _integer, _number, _object, _string
from .messages import _blocks, _build_messages, _parse_messages

__all__ = ["parse_request", "parse_count_tokens_request", "build_request", "build_count_tokens_request"]


# Anthropic requires max_tokens; OpenAI and Gemini clients may leave it out, so we pick one.
DEFAULT_MAX_TOKENS = 4096
# Anthropic refuses thinking budgets below this.
MIN_THINKING_BUDGET = 1024
EFFORT_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 32768, "max": 32768}
TOOL_CHOICES_IN = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
TOOL_CHOICES_OUT = {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}
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
