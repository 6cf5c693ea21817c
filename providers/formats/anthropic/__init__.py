"""The Anthropic Messages API (``/v1/messages``), spoken by clients and by upstreams.

Mappings worth knowing:
- A user message's ``tool_result`` blocks become one ``tool`` Message placed before the rest of
  that message; on the way out, tool Messages become user messages again, results first.
- Redacted thinking is kept as ``Thinking(redacted=True)`` with the opaque ``data`` in
  ``signature``. Unsigned thinking (from other providers) is dropped from upstream requests,
  because Anthropic verifies the signature of every thinking block it is sent back. Streams
  drop redacted thinking: ``ThinkingDelta`` has no way to say a block is redacted.
- A signature-only Thinking right after an unsigned one (how Gemini's format carries a signed
  thought) is joined to it, in requests and responses alike.
- Usage: our ``prompt_tokens`` include cache reads and writes; Anthropic's ``input_tokens`` do not.
"""

from .errors import build_error, parse_error
from .forwarding import forward_request, hides_usage, response_usage
from .model_list import build_model, build_model_list
from .requests import build_count_tokens_request, build_request, parse_count_tokens_request, parse_request
from .responses import build_count_tokens_response, build_response, parse_response
from .streams import StreamDecoder, StreamEncoder

__all__ = [
    "forward_request", "hides_usage", "response_usage",
    "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
    "parse_count_tokens_request", "build_count_tokens_request", "build_count_tokens_response",
    "build_model_list", "build_model",
]
