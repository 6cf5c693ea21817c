"""OpenAI embeddings, both directions."""

import base64
import struct
from dataclasses import dataclass

from providers.types import BadRequest, EmbeddingRequest, EmbeddingResponse, Unsupported, Usage

from ._common import _get, _positive, _required_string

__all__ = ["OpenAIEmbeddingRequest", "parse_embedding_request", "build_embedding_response", "build_embedding_request", "parse_embedding_response"]


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
