"""Gemini embedContent / batchEmbedContents, both directions."""

from providers.types import BadRequest, EmbeddingRequest, EmbeddingResponse, Unsupported

from ._common import _get, _list, _object

__all__ = [
    "parse_embedding_request", "build_embedding_response", "build_embedding_request",
    "parse_embedding_response",
]


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
