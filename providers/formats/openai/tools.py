"""Chat Completions tools, tool choice and response formats, both directions."""

from providers.types import BadRequest, ChatRequest, ResponseFormat, Tool, ToolChoice, Unsupported

from ._common import _get, _required_string

__all__ = ["_parse_tools", "_response_format", "_build_tools", "_build_response_format"]


_TOOL_CHOICE_MODES = ("auto", "none", "required")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


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
