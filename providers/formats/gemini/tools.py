"""Gemini function declarations, schemas and tool config, both directions."""

from providers.types import BadRequest, Tool, ToolChoice, Unsupported

from ._common import _get, _list, _object

__all__ = ["_parse_tools", "_json_schema", "_declaration", "_fits_openapi", "_calling_config"]


# What Gemini's ``parameters`` / ``responseSchema`` (an OpenAPI subset) accepts; a schema using
# anything else goes under ``parametersJsonSchema`` / ``responseJsonSchema``.
_OPENAPI_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
})


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
