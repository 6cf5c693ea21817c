"""OpenAI Chat Completions, both directions: what most SDKs send us and most upstreams answer.

Mappings worth knowing:
- system and developer messages, wherever they sit in the history, become ``request.system``;
  building, the system Text parts are joined with blank lines into one leading system message,
  because several hosts' chat templates refuse more than one.
- Text parts of one assistant turn (and of one response) are joined without a separator, exactly
  as a stream of their deltas would be.
- Chat Completions tool messages carry text only, so images in tool results are sent in a user
  message right after the tool messages.
- Upstream tool-call indexes are replaced by our own, counted from 0 in order of first appearance.
"""

from ._common import _float, _get, _joined, _positive, _required_string, _string
from .embeddings import (
    OpenAIEmbeddingRequest, build_embedding_request, build_embedding_response, parse_embedding_request,
    parse_embedding_response,
)
from .errors import build_error, parse_error
from .forwarding import ChunkReader, forward_request, hides_usage, response_usage
from .images import build_image_request, build_image_response, parse_image_request, parse_image_response
from .model_list import build_model, build_model_list
from .requests import _effort, _image, build_request, parse_request
from .responses import build_response, parse_response
from .streams import StreamDecoder, StreamEncoder

__all__ = [
    "forward_request", "hides_usage", "response_usage", "ChunkReader",
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
    "OpenAIEmbeddingRequest", "parse_embedding_request", "build_embedding_response",
    "build_embedding_request", "parse_embedding_response", "build_model_list", "build_model",
    "parse_image_request", "build_image_response", "build_image_request", "parse_image_response",
]
