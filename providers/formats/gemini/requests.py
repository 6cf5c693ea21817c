"""generateContent requests: parsing what a client sends, building what an upstream gets."""

from providers.types import BadRequest, ChatRequest, Text, Unsupported

from ._common import _get, _list, _object
from .contents import _ContentsParser, _contents, _requires_signatures, _sign_calls
from .generation import _apply_generation_config, _generation_config
from .tools import _calling_config, _declaration, _parse_tools

__all__ = ["parse_request", "build_request"]


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
