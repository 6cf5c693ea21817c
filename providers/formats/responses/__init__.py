"""OpenAI's Responses API, both directions: what OpenAI's newer SDKs and agents (Codex) send us, and
what an OpenAI upstream answers when a Responses client's request goes to OpenAI's own Responses API.

Mappings worth knowing:
- ``input`` items become messages: consecutive assistant-side items (reasoning, an assistant message,
  function_call) form one assistant turn, consecutive function_call_output items one tool turn;
  ``instructions`` and system or developer messages become ``request.system``, in order.
- Output items follow the answer's parts in order: each Thinking a reasoning item (its text in the
  summary, the upstream's signature in ``encrypted_content``, so a tool loop that sends its output
  back keeps its thinking signed), consecutive Text parts one message, each ToolCall a
  function_call. Item ids derive from the response id, so a streamed answer and a whole one carry
  the same items; only the last item is ``incomplete`` when the answer was cut.
- The response id is chosen when the request is parsed (``ResponsesRequest.response_id``): the
  conversation is stored under it.
- Built-in tools (web search, file search, computer use, ...) run inside OpenAI's own service and
  are refused, as are item references, files, background responses and conversations.
- Building for an upstream, reasoning is left out of the history (the upstream does not store our
  conversation, and accepts only its own encrypted reasoning); ``store`` is false there.
"""

from providers.formats.openai import build_error, parse_error

from ._common import new_response_id
from .requests import ResponsesRequest, build_request, parse_request
from .responses import build_response, parse_response
from .streams import StreamDecoder, StreamEncoder

__all__ = [
    "ResponsesRequest", "new_response_id", "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
]
