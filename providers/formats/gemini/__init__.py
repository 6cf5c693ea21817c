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

from .contents import SKIP_SIGNATURE
from .count_tokens import (
    build_count_tokens_request, build_count_tokens_response, parse_count_tokens_request,
    parse_count_tokens_response,
)
from .embeddings import (
    build_embedding_request, build_embedding_response, parse_embedding_request, parse_embedding_response,
)
from .errors import build_error, parse_error, retry_delay_seconds
from .forwarding import forward_request, hides_usage, response_usage
from .images import build_image_request, image_refusal, parse_image_response
from .model_list import build_model, build_model_list
from .requests import build_request, parse_request
from .responses import build_response, parse_response
from .streams import StreamDecoder, StreamEncoder

__all__ = [
    "forward_request", "hides_usage", "response_usage",
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error", "retry_delay_seconds",
    "parse_count_tokens_request", "build_count_tokens_response",
    "build_count_tokens_request", "parse_count_tokens_response",
    "parse_embedding_request", "build_embedding_response",
    "build_embedding_request", "parse_embedding_response",
    "build_image_request", "parse_image_response", "image_refusal",
    "build_model_list", "build_model",
]
