"""Gemini generationConfig: sampling, output format and thinking, both directions."""

from providers.types import BadRequest, ChatRequest, Reasoning, ResponseFormat, Unsupported

from ._common import _get, _list, _object
from .tools import _fits_openapi, _json_schema

__all__ = ["_apply_generation_config", "_generation_config"]


EFFORT_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}


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
