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

import os
import time
from dataclasses import dataclass, field

import orjson

from providers.formats.openai import (
    _effort, _float, _get, _image, _joined, _positive, _required_string, _string,
    build_error, parse_error,
)
from providers.formats.sse import SSEParser, SSETooLarge
from providers.types import (
    BadRequest, ChatRequest, ChatResponse, Finish, Image, Message, Reasoning, ResponseFormat, Start,
    StreamError, Text, TextDelta, Thinking, ThinkingDelta, Tool, ToolCall, ToolCallDelta, ToolCallStart,
    ToolChoice, ToolResult, Unsupported, Usage, UsageUpdate,
)

__all__ = [
    "ResponsesRequest", "new_response_id", "parse_request", "build_response", "StreamEncoder", "build_error",
    "build_request", "parse_response", "StreamDecoder", "parse_error",
]

_SYSTEM_ROLES = ("system", "developer")
_TOOL_CHOICE_MODES = ("auto", "none", "required")
_TEXT_PARTS = ("input_text", "output_text", "text")
_UNSUPPORTED_PARTS = ("input_file", "input_audio")
_REFUSED_FIELDS = {
    "background": "background responses are not supported by the gateway",
    "conversation": "conversations are not supported by the gateway; continue with previous_response_id",
    "prompt": "stored prompt templates live in OpenAI's own service; send the instructions and input",
}
# Redacted thinking (Anthropic) travels as encrypted content with this prefix.
_REDACTED = "redacted:"
# Stop reasons that leave a response incomplete, and the reason it then gives.
_INCOMPLETE = {"max_tokens": "max_output_tokens", "content_filter": "content_filter"}
# A failed response's error code is one of OpenAI's; the gateway's error types map onto them.
_FAILURE_CODES = {"rate_limit": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}
_INVALID_JSON = "upstream sent invalid JSON in its stream"


def new_response_id() -> str:
    return "resp_" + os.urandom(24).hex()


@dataclass(slots=True)
class ResponsesRequest(ChatRequest):
    """A ChatRequest that remembers what the Responses API needs beyond it: the id it answers under,
    whether to store it, the conversation's input items as sent (earlier turns included, for the
    store), and the request parameters a response object repeats (``echo``)."""

    response_id: str = ""
    store: bool = True
    previous_response_id: str = ""
    items: list = field(default_factory=list)
    echo: dict = field(default_factory=dict)


# --- client side: parsing a request ----------------------------------------------------------

def parse_request(body: dict, *, model: str = "", stream: bool | None = None, history: list = ()) -> ResponsesRequest:
    """A Responses API body -> ResponsesRequest. ``history`` holds the input and output items of the
    response named by ``previous_response_id``, which the caller loaded. Unknown fields are ignored."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    model = _get(body, "model", str) or model
    if not model:
        raise BadRequest("'model' is required", "model")
    for name, message in _REFUSED_FIELDS.items():
        if body.get(name):
            raise Unsupported(message, name)
    own = _input_items(body.get("input"))
    conversation = _Conversation()
    for item in history:
        conversation.add(item, "previous_response_id")
    for position, item in enumerate(own):
        conversation.add(item, f"input[{position}]")
    if not conversation.messages:
        raise BadRequest("'input' must hold at least one message or tool output", "input")
    instructions = _get(body, "instructions", str) or ""
    request = ResponsesRequest(
        model=model, messages=conversation.messages, response_id=new_response_id(), items=[*history, *own],
        system=([Text(instructions)] if instructions else []) + conversation.system,
    )
    _parse_tools(body, request)
    _parse_options(body, request)
    request.stream = bool(_get(body, "stream", bool)) if stream is None else stream
    request.echo = _echo(body, request)
    return request


def _input_items(value) -> list:
    if isinstance(value, str) and value:
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list) and value:
        return value
    raise BadRequest("'input' must be a non-empty string or array of input items", "input")


class _Conversation:
    """Builds internal messages from input items in order, remembering call names for the outputs."""

    def __init__(self):
        self.system: list = []
        self.messages: list = []
        self.call_names: dict = {}  # call id -> function name

    def add(self, item, param: str):
        if not isinstance(item, dict):
            raise BadRequest(f"'{param}' must be an object", param)
        kind = item.get("type") or ("message" if "role" in item else "")
        handler = _ITEM_PARSERS.get(kind)
        if handler is None:
            if not kind:
                raise BadRequest(f"'{param}.type' is required", f"{param}.type")
            if kind == "item_reference":
                raise Unsupported("item references are not supported by the gateway; send the items themselves",
                                  f"{param}.type")
            raise Unsupported(f"'{kind}' input items are not supported by the gateway", f"{param}.type")
        handler(self, item, param)

    def _message(self, item: dict, param: str):
        role = item.get("role")
        content = item.get("content")
        if role in _SYSTEM_ROLES:
            self.system.extend(_content(content, f"{param}.content", images=False))
        elif role == "user":
            self.messages.append(Message("user", _content(content, f"{param}.content", images=True)))
        elif role == "assistant":
            self._assistant().extend(_content(content, f"{param}.content", images=False))
        else:
            raise BadRequest(f"'{param}.role' must be one of user, assistant, system, developer", f"{param}.role")

    def _function_call(self, item: dict, param: str):
        call_id = _required_string(item, "call_id", f"{param}.call_id")
        name = _required_string(item, "name", f"{param}.name")
        arguments = _get(item, "arguments", str, f"{param}.arguments")
        self.call_names[call_id] = name
        self._assistant().append(ToolCall(call_id, name, arguments or "{}"))

    def _function_call_output(self, item: dict, param: str):
        call_id = _required_string(item, "call_id", f"{param}.call_id")
        content = _content(item.get("output"), f"{param}.output", images=True)
        result = ToolResult(call_id, self.call_names.get(call_id, ""), content)
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "tool":
            last.parts.append(result)
        else:
            self.messages.append(Message("tool", [result]))

    def _reasoning(self, item: dict, param: str):
        summary = _get(item, "summary", list, f"{param}.summary") or []
        text = "\n\n".join(_string(entry.get("text")) for entry in summary if isinstance(entry, dict))
        encrypted = _get(item, "encrypted_content", str, f"{param}.encrypted_content") or ""
        if encrypted.startswith(_REDACTED):
            self._assistant().append(Thinking(signature=encrypted[len(_REDACTED):], redacted=True))
        elif text or encrypted:
            self._assistant().append(Thinking(text, encrypted))

    def _assistant(self) -> list:
        last = self.messages[-1] if self.messages else None
        if last is None or last.role != "assistant":
            last = Message("assistant", [])
            self.messages.append(last)
        return last.parts


_ITEM_PARSERS = {
    "message": _Conversation._message,
    "function_call": _Conversation._function_call,
    "function_call_output": _Conversation._function_call_output,
    "reasoning": _Conversation._reasoning,
}


def _content(content, param: str, images: bool) -> list:
    """A string or an array of content parts -> Text (and, where allowed, Image) parts."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [Text(content)]
    if not isinstance(content, list):
        raise BadRequest(f"'{param}' must be a string or an array of content parts", param)
    return [_content_part(part, f"{param}[{i}]", images) for i, part in enumerate(content)]


def _content_part(part, param: str, images: bool):
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS:
        return Text(_get(part, "text", str, f"{param}.text") or "")
    if kind == "refusal":
        return Text(_get(part, "refusal", str, f"{param}.refusal") or "")
    if kind == "input_image" and images:
        return _input_image(part, param)
    if kind in _UNSUPPORTED_PARTS:
        raise Unsupported(f"'{kind}' content is not supported by the gateway", f"{param}.type")
    allowed = "'input_text' or 'input_image'" if images else "'input_text' or 'output_text'"
    raise BadRequest(f"'{param}.type' must be {allowed} here", f"{param}.type")


def _input_image(part: dict, param: str) -> Image:
    url = part.get("image_url")
    if not url and part.get("file_id"):
        raise Unsupported("image file ids refer to OpenAI's file store; send the image as a URL or a data URL",
                          f"{param}.file_id")
    return _image(url, f"{param}.image_url")


def _parse_tools(body: dict, request: ResponsesRequest):
    tools = _get(body, "tools", list) or []
    request.tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
    if body.get("tool_choice") is not None:
        request.tool_choice = _tool_choice(body["tool_choice"])
    request.parallel_tool_calls = _get(body, "parallel_tool_calls", bool)


def _tool(tool, param: str) -> Tool:
    if not isinstance(tool, dict):
        raise BadRequest(f"'{param}' must be an object", param)
    kind = tool.get("type")
    if kind != "function":
        raise Unsupported(f"'{kind}' tools run inside OpenAI's own service and cannot be relayed; "
                          "the gateway relays function tools", f"{param}.type")
    return Tool(
        name=_required_string(tool, "name", f"{param}.name"),
        description=_get(tool, "description", str, f"{param}.description") or "",
        parameters=_get(tool, "parameters", dict, f"{param}.parameters") or {},
    )


def _tool_choice(value) -> ToolChoice:
    if isinstance(value, str) and value in _TOOL_CHOICE_MODES:
        return ToolChoice(value)
    if isinstance(value, dict):
        kind = value.get("type")
        if kind == "function" and isinstance(value.get("name"), str) and value["name"]:
            return ToolChoice("tool", value["name"])
        if kind != "function":
            raise Unsupported(f"a tool_choice of type '{kind}' is not supported by the gateway", "tool_choice.type")
    raise BadRequest("'tool_choice' must be 'auto', 'none', 'required' or a function to call", "tool_choice")


def _parse_options(body: dict, request: ResponsesRequest):
    request.max_tokens = _positive(body, "max_output_tokens")
    request.temperature = _float(body, "temperature")
    request.top_p = _float(body, "top_p")
    request.response_format = _text_format(_get(body, "text", dict))
    request.reasoning = _reasoning(_get(body, "reasoning", dict))
    request.user = _get(body, "user", str) or ""
    request.metadata = _get(body, "metadata", dict) or {}
    request.store = _get(body, "store", bool) is not False
    request.previous_response_id = _get(body, "previous_response_id", str) or ""


def _text_format(text: dict | None) -> ResponseFormat | None:
    spec = _get(text or {}, "format", dict, "text.format")
    if spec is None:
        return None
    kind = spec.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind != "json_schema":
        raise BadRequest("'text.format.type' must be 'text', 'json_object' or 'json_schema'", "text.format.type")
    schema = _get(spec, "schema", dict, "text.format.schema")
    if schema is None:
        raise BadRequest("'text.format.schema' is required", "text.format.schema")
    return ResponseFormat(
        "json_schema", schema=schema, name=_get(spec, "name", str, "text.format.name") or "",
        strict=bool(_get(spec, "strict", bool, "text.format.strict")),
    )


def _reasoning(value: dict | None) -> Reasoning | None:
    if value is None:
        return None
    effort = _get(value, "effort", str, "reasoning.effort") or ""
    if effort == "none" or not (effort or value.get("summary")):
        return None
    return Reasoning(effort=effort)


def _echo(body: dict, request: ResponsesRequest) -> dict:
    """The request parameters a response object repeats, in OpenAI's defaults where none was sent."""
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": request.max_tokens,
        "metadata": request.metadata,
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id or None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": request.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": {"format": {"type": "text"}, **text},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "truncation": "disabled",
        "user": request.user or None,
    }


# --- client side: building a response --------------------------------------------------------

def build_response(response: ChatResponse, request: ChatRequest) -> dict:
    """ChatResponse -> a ``response`` object named for the model the client asked for."""
    envelope = _envelope(request, _response_id(request, response.id), response.created or int(time.time()))
    return _finish(envelope, _output_parts(response.parts), response.stop_reason, response.usage)


def _response_id(request: ChatRequest, fallback: str) -> str:
    return getattr(request, "response_id", "") or fallback or new_response_id()


def _envelope(request: ChatRequest, response_id: str, created: int, status: str = "in_progress") -> dict:
    echo = getattr(request, "echo", None) or {}
    return {"id": response_id, "object": "response", "created_at": created, "status": status, "error": None,
            "incomplete_details": None, "model": request.model, "output": [], "usage": None, **echo}


def _finish(envelope: dict, parts: list, stop_reason: str, usage: Usage) -> dict:
    incomplete = _INCOMPLETE.get(stop_reason)
    envelope["output"] = [_item(part, envelope["id"], i, _status(i, len(parts), stop_reason))
                          for i, part in enumerate(parts)]
    envelope["status"] = "incomplete" if incomplete else "completed"
    envelope["incomplete_details"] = {"reason": incomplete} if incomplete else None
    envelope["usage"] = _build_usage(usage)
    return envelope


def _output_parts(parts: list) -> list:
    """One part per output item: consecutive Text parts joined, a bare signature joined to the
    unsigned thinking before it (as a stream of their deltas would be), empty parts dropped."""
    joined = []
    for part in parts:
        previous = joined[-1] if joined else None
        if isinstance(part, Text):
            if not part.text:
                continue
            if isinstance(previous, Text):
                joined[-1] = Text(previous.text + part.text)
                continue
        elif isinstance(part, Thinking) and not part.redacted:
            if not part.text and not part.signature:
                continue
            if not part.text and _unsigned(previous):
                joined[-1] = Thinking(previous.text, part.signature)
                continue
        joined.append(part)
    return joined


def _unsigned(part) -> bool:
    return isinstance(part, Thinking) and not part.signature and not part.redacted


def _status(index: int, count: int, stop_reason) -> str:
    return "incomplete" if stop_reason in _INCOMPLETE and index == count - 1 else "completed"


def _item_id(kind: str, response_id: str, index: int) -> str:
    return f"{kind}_{response_id.removeprefix('resp_')}_{index}"


def _item(part, response_id: str, index: int, status: str = "completed") -> dict:
    if isinstance(part, Text):
        return {"id": _item_id("msg", response_id, index), "type": "message", "status": status,
                "role": "assistant", "content": [_output_text(part.text)]}
    if isinstance(part, ToolCall):
        return {"id": _item_id("fc", response_id, index), "type": "function_call", "status": status,
                "call_id": part.id, "name": part.name, "arguments": part.arguments or "{}"}
    return _reasoning_item(part, _item_id("rs", response_id, index))


def _output_text(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _reasoning_item(part: Thinking, item_id: str) -> dict:
    if part.redacted:
        return {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": _REDACTED + part.signature}
    summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "encrypted_content": part.signature or None}


def _build_usage(usage: Usage) -> dict:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


# --- client side: encoding a stream ----------------------------------------------------------

class StreamEncoder:
    """Internal events -> the Responses event stream, numbered from 0 by ``sequence_number``.

    A message or reasoning item stays open while its deltas come and closes when another item
    starts; function calls stay open until the answer finishes, so the argument fragments of
    parallel calls may interleave. ``end()`` sends ``response.completed`` (``response.incomplete``
    for a cut answer) holding what ``build_response`` would have built, and hands that object to
    ``on_complete``.
    """

    __slots__ = ("_request", "_id", "_created", "_on_complete", "_seq", "_started", "_parts", "_open",
                 "_unclosed", "_calls", "_usage", "_stop")

    def __init__(self, request: ChatRequest, response_id: str, created: int, on_complete=None):
        self._request = request
        self._id = _response_id(request, response_id)
        self._created = int(created)
        self._on_complete = on_complete
        self._seq = 0
        self._started = False
        self._parts: list = []  # one per output item
        self._open = None  # index of the open message or reasoning item
        self._unclosed: list = []  # indexes of items added and not done, in order
        self._calls: dict = {}  # tool call index -> output index
        self._usage = Usage()
        self._stop = None

    def encode(self, event) -> bytes:
        head = b"" if self._started else self._head()
        handler = _EVENT_ENCODERS.get(type(event))
        return head + handler(self, event) if handler else head

    def end(self) -> bytes:
        out = (b"" if self._started else self._head()) + self._close_all()
        response = _finish(self._envelope(), self._parts, self._stop or "end_turn", self._usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        out += self._event(kind, {"response": response})
        if self._on_complete is not None:
            self._on_complete(response)
        return out

    def fail(self, error_type: str, message: str) -> bytes:
        out = b"" if self._started else self._head()
        response = self._envelope("failed")
        response["output"] = [_item(part, self._id, i, "incomplete") for i, part in enumerate(self._parts)]
        response["error"] = {"code": _FAILURE_CODES.get(error_type, "server_error"), "message": message}
        return out + self._event("response.failed", {"response": response})

    # --- framing ------------------------------------------------------------------------------
    def _event(self, kind: str, payload: dict) -> bytes:
        data = orjson.dumps({"type": kind, **payload, "sequence_number": self._seq})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def _envelope(self, status: str = "in_progress") -> dict:
        return _envelope(self._request, self._id, self._created, status)

    def _head(self) -> bytes:
        self._started = True
        return (self._event("response.created", {"response": self._envelope()})
                + self._event("response.in_progress", {"response": self._envelope()}))

    def _at(self, index: int) -> dict:
        return {"item_id": _item_id(_ID_KINDS[type(self._parts[index])], self._id, index), "output_index": index}

    # --- items --------------------------------------------------------------------------------
    def _add(self, part) -> tuple:
        index = len(self._parts)
        self._parts.append(part)
        self._unclosed.append(index)
        item = _item(part, self._id, index, "in_progress")
        if isinstance(part, Text):
            item["content"] = []
        elif isinstance(part, ToolCall):
            item["arguments"] = ""
        out = self._event("response.output_item.added", {"output_index": index, "item": item})
        if isinstance(part, Text):
            out += self._event("response.content_part.added",
                               {**self._at(index), "content_index": 0, "part": _output_text("")})
        return index, out

    def _open_item(self, part) -> bytes:
        out = self._close_open()
        self._open, added = self._add(part)
        return out + added

    def _close_open(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        return self._close(index)

    def _close_all(self) -> bytes:
        self._open = None
        return b"".join(self._close(index) for index in list(self._unclosed))

    def _close(self, index: int) -> bytes:
        self._unclosed.remove(index)
        part = self._parts[index]
        at = self._at(index)
        out = b""
        if isinstance(part, Text):
            out += self._event("response.output_text.done", {**at, "content_index": 0, "text": part.text,
                                                             "logprobs": []})
            out += self._event("response.content_part.done", {**at, "content_index": 0,
                                                              "part": _output_text(part.text)})
        elif isinstance(part, ToolCall):
            part.arguments = part.arguments or "{}"
            out += self._event("response.function_call_arguments.done",
                               {**at, "name": part.name, "arguments": part.arguments})
        elif part.text:
            summary = {"type": "summary_text", "text": part.text}
            out += self._event("response.reasoning_summary_text.done", {**at, "summary_index": 0, "text": part.text})
            out += self._event("response.reasoning_summary_part.done", {**at, "summary_index": 0, "part": summary})
        item = _item(part, self._id, index, _status(index, len(self._parts), self._stop))
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _open_part(self):
        return self._parts[self._open] if self._open is not None else None

    # --- events -------------------------------------------------------------------------------
    def _text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        out = b"" if isinstance(self._open_part(), Text) else self._open_item(Text(""))
        self._parts[self._open].text += event.text
        return out + self._event("response.output_text.delta", {**self._at(self._open), "content_index": 0,
                                                                "delta": event.text, "logprobs": []})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        if event.text:
            out += b"" if _unsigned(self._open_part()) else self._open_item(Thinking())
            part = self._parts[self._open]
            if not part.text:
                out += self._event("response.reasoning_summary_part.added", {
                    **self._at(self._open), "summary_index": 0, "part": {"type": "summary_text", "text": ""}})
            part.text += event.text
            out += self._event("response.reasoning_summary_text.delta",
                               {**self._at(self._open), "summary_index": 0, "delta": event.text})
        if event.signature:
            out += b"" if _unsigned(self._open_part()) else self._open_item(Thinking())
            self._parts[self._open].signature = event.signature
        return out

    def _tool_start(self, event: ToolCallStart) -> bytes:
        out = self._close_open()
        self._calls[event.index], added = self._add(ToolCall(event.id, event.name, ""))
        return out + added

    def _tool_delta(self, event: ToolCallDelta) -> bytes:
        index = self._calls.get(event.index)
        if index is None or not event.arguments or index not in self._unclosed:
            return b""
        self._parts[index].arguments += event.arguments
        return self._event("response.function_call_arguments.delta", {**self._at(index), "delta": event.arguments})

    def _usage_update(self, event: UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _finish(self, event: Finish) -> bytes:
        self._stop = event.stop_reason
        return self._close_all()

    def _error(self, event: StreamError) -> bytes:
        return self.fail(event.type, event.message)


_ID_KINDS = {Text: "msg", ToolCall: "fc", Thinking: "rs"}
_EVENT_ENCODERS = {
    TextDelta: StreamEncoder._text,
    ThinkingDelta: StreamEncoder._thinking,
    ToolCallStart: StreamEncoder._tool_start,
    ToolCallDelta: StreamEncoder._tool_delta,
    UsageUpdate: StreamEncoder._usage_update,
    Finish: StreamEncoder._finish,
    StreamError: StreamEncoder._error,
}


# --- upstream side: building a request -------------------------------------------------------

def build_request(request: ChatRequest, upstream_model: str) -> dict:
    """ChatRequest -> a Responses API body, for an OpenAI upstream. Nothing is stored there: the
    gateway keeps the conversation, so the whole history is sent and ``store`` is false."""
    for name in ("top_k", "seed", "presence_penalty", "frequency_penalty"):
        if getattr(request, name) is not None:
            raise Unsupported(f"{name} is not supported by OpenAI's Responses API", name)
    if request.stop:
        raise Unsupported("stop sequences are not supported by OpenAI's Responses API", "stop")
    body = {"model": upstream_model, "input": _build_input(request.messages), "store": False}
    if request.system:
        body["instructions"] = _joined(request.system, "\n\n")
    _build_tools(request, body)
    optional = {
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "text": _build_text(request.response_format),
        "reasoning": _build_reasoning(request.reasoning),
        "user": request.user or None,
    }
    body.update((key, value) for key, value in optional.items() if value is not None)
    if request.stream:
        body["stream"] = True
    return body


def _build_input(messages: list) -> list:
    items = []
    for message in messages:
        items.extend(_ITEM_BUILDERS[message.role](message))
    return items


def _build_user(message: Message) -> list:
    return [{"type": "message", "role": "user", "content": [_input_part(part) for part in message.parts]}]


def _input_part(part) -> dict:
    if isinstance(part, Text):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, Image):
        return {"type": "input_image", "image_url": part.url or f"data:{part.media_type};base64,{part.data}"}
    raise Unsupported(f"{type(part).__name__} parts cannot be sent in a user message", "input")


def _build_assistant(message: Message) -> list:
    items, texts = [], []
    for part in message.parts + [None]:
        if isinstance(part, Text):
            texts.append(part.text)
            continue
        if texts:
            content = [{"type": "output_text", "text": "".join(texts)}]
            items.append({"type": "message", "role": "assistant", "content": content})
            texts = []
        if isinstance(part, ToolCall):
            items.append({"type": "function_call", "call_id": part.id, "name": part.name, "arguments": part.arguments})
    return items


def _build_results(message: Message) -> list:
    return [{"type": "function_call_output", "call_id": result.call_id, "output": _result_output(result)}
            for result in message.parts if isinstance(result, ToolResult)]


def _result_output(result: ToolResult):
    if not any(isinstance(part, Image) for part in result.content):
        return _joined(result.content, "\n\n")
    return [_input_part(part) for part in result.content if isinstance(part, (Text, Image))]


_ITEM_BUILDERS = {"user": _build_user, "assistant": _build_assistant, "tool": _build_results}


def _build_tools(request: ChatRequest, body: dict):
    if not request.tools:
        return
    # Not strict: OpenAI's strict mode refuses many schemas other clients write.
    body["tools"] = [{"type": "function", "name": tool.name, "description": tool.description or None,
                      "parameters": tool.parameters or {"type": "object", "properties": {}}, "strict": False}
                     for tool in request.tools]
    choice = request.tool_choice
    if choice is not None:
        body["tool_choice"] = {"type": "function", "name": choice.name} if choice.mode == "tool" else choice.mode
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls


def _build_text(value: ResponseFormat | None) -> dict | None:
    if value is None:
        return None
    if value.type != "json_schema":
        return {"format": {"type": value.type}}
    spec = {"type": "json_schema", "name": value.name or "response", "schema": value.schema or {},
            "strict": value.strict}
    return {"format": spec}


def _build_reasoning(reasoning: Reasoning | None) -> dict | None:
    if reasoning is None:
        return None
    effort = _effort(reasoning)
    built = {"effort": effort} if effort else {}
    if reasoning.include_thoughts:
        built["summary"] = "auto"
    return built


# --- upstream side: parsing a response -------------------------------------------------------

def parse_response(body: dict) -> ChatResponse:
    """A ``response`` object -> ChatResponse. Items other than reasoning, messages and function
    calls (built-in tools' calls) are not read."""
    parts = []
    for item in body.get("output") or ():
        part = _ITEM_READERS.get(item.get("type"), _skip)(item)
        if part is not None:
            parts.append(part)
    return ChatResponse(
        id=_string(body.get("id")),
        model=_string(body.get("model")),
        parts=parts,
        stop_reason=_stop_reason(body, any(isinstance(part, ToolCall) for part in parts)),
        usage=_parse_usage(body.get("usage")),
        created=int(body.get("created_at") or 0),
    )


def _read_reasoning(item: dict):
    summary = "\n\n".join(_string(entry.get("text")) for entry in item.get("summary") or () if isinstance(entry, dict))
    return Thinking(summary) if summary else None


def _read_message(item: dict):
    texts = [_string(part.get("text")) or _string(part.get("refusal")) for part in item.get("content") or ()
             if isinstance(part, dict)]
    return Text("".join(texts)) if any(texts) else None


def _read_call(item: dict):
    return ToolCall(_string(item.get("call_id")), _string(item.get("name")), _string(item.get("arguments")) or "{}")


def _skip(item: dict):
    return None


_ITEM_READERS = {"reasoning": _read_reasoning, "message": _read_message, "function_call": _read_call}


def _stop_reason(response: dict, has_calls: bool) -> str:
    status = response.get("status")
    if status == "failed":
        return "error"
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return "content_filter" if reason == "content_filter" else "max_tokens"
    return "tool_use" if has_calls else "end_turn"


def _parse_usage(raw) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("input_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("input_tokens") or 0,
        completion_tokens=raw.get("output_tokens") or 0,
        cached_tokens=details.get("cached_tokens") or 0,
        reasoning_tokens=(raw.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


# --- upstream side: decoding a stream --------------------------------------------------------

class StreamDecoder:
    """Upstream Responses events -> internal events, for chunks split anywhere.

    ``response.completed`` or ``response.incomplete`` gives the usage and the finish;
    ``response.failed``, an ``error`` event or invalid JSON ends decoding with a StreamError.
    """

    __slots__ = ("_sse", "_done", "_calls", "_with_arguments")

    def __init__(self):
        self._sse = SSEParser()
        self._done = False
        self._calls: dict = {}  # upstream output index -> our tool call index
        self._with_arguments: set = set()  # our indexes whose arguments came in deltas

    def feed(self, chunk: bytes) -> list:
        try:
            return self._decode(self._sse.feed(chunk))
        except SSETooLarge as error:
            return self._fail("server_error", str(error))

    def close(self) -> list:
        return self._decode(self._sse.close())

    def _decode(self, sse_events: list) -> list:
        events = []
        for sse in sse_events:
            if not self._done:
                events.extend(self._event(sse.data))
        return events

    def _fail(self, error_type: str, message: str) -> list:
        if self._done:
            return []
        self._done = True
        return [StreamError(error_type, message)]

    def _event(self, data: str) -> list:
        if data == "[DONE]":
            self._done = True
            return []
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            return self._fail("server_error", _INVALID_JSON)
        handler = _STREAM_READERS.get(event.get("type"))
        return handler(self, event) if handler else []

    def _created(self, event: dict) -> list:
        response = event.get("response") or {}
        return [Start(_string(response.get("id")), _string(response.get("model")))]

    def _text(self, event: dict) -> list:
        delta = _string(event.get("delta"))
        return [TextDelta(delta)] if delta else []

    def _thinking(self, event: dict) -> list:
        delta = _string(event.get("delta"))
        return [ThinkingDelta(delta)] if delta else []

    def _summary_part(self, event: dict) -> list:
        # Summary parts are joined with a blank line, as parse_response joins them.
        return [ThinkingDelta("\n\n")] if event.get("summary_index") else []

    def _item_added(self, event: dict) -> list:
        item = event.get("item") or {}
        if item.get("type") != "function_call":
            return []
        index = self._calls[event.get("output_index")] = len(self._calls)
        call_id = _string(item.get("call_id")) or f"call_{index}"
        events = [ToolCallStart(index, call_id, _string(item.get("name")))]
        if item.get("arguments"):
            self._with_arguments.add(index)
            events.append(ToolCallDelta(index, item["arguments"]))
        return events

    def _arguments(self, event: dict) -> list:
        index = self._calls.get(event.get("output_index"))
        delta = _string(event.get("delta"))
        if index is None or not delta:
            return []
        self._with_arguments.add(index)
        return [ToolCallDelta(index, delta)]

    def _item_done(self, event: dict) -> list:
        # A call whose arguments came whole, without deltas.
        index = self._calls.get(event.get("output_index"))
        arguments = _string((event.get("item") or {}).get("arguments"))
        if index is None or index in self._with_arguments or not arguments:
            return []
        self._with_arguments.add(index)
        return [ToolCallDelta(index, arguments)]

    def _completed(self, event: dict) -> list:
        self._done = True
        response = event.get("response") or {}
        stop = _stop_reason(response, bool(self._calls))
        return [UsageUpdate(_parse_usage(response.get("usage"))), Finish(stop)]

    def _failed(self, event: dict) -> list:
        # response.failed carries its error in the response; an error event is the error itself.
        error = (event.get("response") or {}).get("error") or event.get("error") or event
        if not isinstance(error, dict):
            return self._fail("server_error", str(error))
        code = _string(error.get("code")) or "server_error"
        return self._fail(code, _string(error.get("message")) or "upstream reported an error")


_STREAM_READERS = {
    "response.created": StreamDecoder._created,
    "response.output_text.delta": StreamDecoder._text,
    "response.refusal.delta": StreamDecoder._text,
    "response.reasoning_summary_text.delta": StreamDecoder._thinking,
    "response.reasoning_summary_part.added": StreamDecoder._summary_part,
    "response.output_item.added": StreamDecoder._item_added,
    "response.function_call_arguments.delta": StreamDecoder._arguments,
    "response.output_item.done": StreamDecoder._item_done,
    "response.completed": StreamDecoder._completed,
    "response.incomplete": StreamDecoder._completed,
    "response.failed": StreamDecoder._failed,
    "error": StreamDecoder._failed,
}
