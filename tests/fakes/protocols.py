"""Per-protocol response builders for the fake upstream, and ``ROUTES``, the table of what it serves.

An endpoint turns a resolved ``Turn`` into the wire body (``body``) or the framed stream events
(``frames``, a list of bytes, one write each) of its protocol, and says how its protocol rejects a
request (``reject``) and shapes an error (``error``). The server in ``upstream.py`` does the rest.
"""

__all__ = ["ROUTES", "Turn", "Endpoint"]

import base64
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from http import HTTPStatus

from .replies import Reply

CREATED = 1_700_000_000
TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass(frozen=True)
class Turn:
    """A reply resolved against its request: the text to send, the model, a per-route sequence number."""

    reply: Reply
    text: str
    model: str
    seq: int


def dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse(data, event=None, end="\n\n") -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {dumps(data)}{end}".encode()


def words(text: str) -> list[str]:
    """Small, token-like stream pieces: "echo: hi there" -> ["echo:", " hi", " there"]."""
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) if text.strip() else ([text] if text else [])


def fragments(text: str, size=8) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def vector(text: str, dimensions=8) -> list[float]:
    """A deterministic embedding: equal inputs give equal vectors."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dimensions)]


def signature(seq: int) -> str:
    return base64.b64encode(f"fake-signature-{seq}".encode()).decode()


def last_user_text(messages, role="user", key="content") -> str:
    """The text of the last ``role`` message; content is a string or a list of text parts."""
    for message in reversed(messages or []):
        if not isinstance(message, dict) or message.get("role", role) != role:
            continue
        content = message.get(key)
        if isinstance(content, str):
            return content
        texts = [part.get("text", "") for part in content or [] if isinstance(part, dict)]
        if any(texts):
            return "".join(texts)
    return ""


class Endpoint:
    """A route's protocol. Subclasses override what their route supports."""

    def reject(self, req):
        """``(status, body)`` when the request would be refused before any reply, else None."""
        if req.credential is None:
            return 401, self.error(401, "no credential was sent")
        return None

    def is_stream(self, req) -> bool:
        return False

    def stream_type(self, req) -> str:
        return "text/event-stream"

    def model(self, req) -> str:
        return req.json.get("model", "fake-model") if isinstance(req.json, dict) else "fake-model"

    def user_text(self, req) -> str:
        return ""

    def body(self, turn, req) -> dict:
        raise NotImplementedError

    def frames(self, turn, req) -> list[bytes]:
        raise NotImplementedError

    def error(self, code, message="", retry_delay=None) -> dict:
        raise NotImplementedError


def phrase(code) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return f"status {code}"


# --- OpenAI and OpenAI-compatible (GLM) ------------------------------------------------------

OPENAI_FINISH = {"stop": "stop", "length": "length", "tool": "tool_calls", "content_filter": "content_filter"}


class OpenAIEndpoint(Endpoint):
    def error(self, code, message="", retry_delay=None):
        kind = "server_error" if code >= 500 else "requests" if code == 429 else "invalid_request_error"
        codes = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
        message = message or f"fake upstream: {phrase(code)}"
        return {"error": {"message": message, "type": kind, "param": None, "code": codes.get(code)}}


def openai_usage(usage):
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


class ChatCompletions(OpenAIEndpoint):
    def is_stream(self, req):
        return bool(req.json.get("stream"))

    def user_text(self, req):
        return last_user_text(req.json.get("messages"))

    def body(self, turn, req):
        reply = turn.reply
        message = {"role": "assistant", "content": turn.text or (None if reply.calls else "")}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [
                {"id": f"call_fake{turn.seq}_{i}", "type": "function",
                 "function": {"name": call.name, "arguments": dumps(call.arguments)}}
                for i, call in enumerate(reply.calls)
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": OPENAI_FINISH[reply.finish]}
        return {**self._head(turn, "chat.completion"), "choices": [choice], "usage": openai_usage(reply.usage)}

    def frames(self, turn, req):
        reply = turn.reply
        with_usage = bool((req.json.get("stream_options") or {}).get("include_usage"))
        head = self._head(turn, "chat.completion.chunk") | ({"usage": None} if with_usage else {})

        def chunk(delta, finish=None):
            return sse({**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

        out = [chunk({"role": "assistant", "content": ""})]
        out += [chunk({"reasoning_content": piece}) for piece in words(reply.reasoning)]
        out += [chunk({"content": piece}) for piece in words(turn.text)]
        for i, call in enumerate(reply.calls):
            start = {"index": i, "id": f"call_fake{turn.seq}_{i}", "type": "function",
                     "function": {"name": call.name, "arguments": ""}}
            out.append(chunk({"tool_calls": [start]}))
            out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                    for part in fragments(dumps(call.arguments))]
        out.append(chunk({}, OPENAI_FINISH[reply.finish]))
        if with_usage:
            out.append(sse({**head, "choices": [], "usage": openai_usage(reply.usage)}))
        return out + [b"data: [DONE]\n\n"]

    def _head(self, turn, kind):
        return {"id": f"chatcmpl-fake{turn.seq}", "object": kind, "created": CREATED, "model": turn.model,
                "system_fingerprint": "fp_fake"}


class Embeddings(OpenAIEndpoint):
    def body(self, turn, req):
        inputs = req.json.get("input", "")
        if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        size = req.json.get("dimensions", 8)
        data = [{"object": "embedding", "index": i, "embedding": self._encode(vector(str(item), size), req)}
                for i, item in enumerate(inputs)]
        usage = {"prompt_tokens": turn.reply.usage.prompt, "total_tokens": turn.reply.usage.prompt}
        return {"object": "list", "data": data, "model": turn.model, "usage": usage}

    def _encode(self, values, req):
        if req.json.get("encoding_format") != "base64":
            return values
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


class Models(OpenAIEndpoint):
    names = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")

    def body(self, turn, req):
        data = [{"id": name, "object": "model", "created": CREATED, "owned_by": "fake"} for name in self.names]
        return {"object": "list", "data": data}


class Responses(OpenAIEndpoint):
    """The Responses API; a stream sends the whole event grammar, numbered by ``sequence_number``."""

    def is_stream(self, req):
        return bool(req.json.get("stream"))

    def user_text(self, req):
        items = req.json.get("input")
        return items if isinstance(items, str) else last_user_text(items)

    def body(self, turn, req):
        reply, usage = turn.reply, turn.reply.usage
        output = []
        if reply.reasoning:
            summary = [{"type": "summary_text", "text": reply.reasoning}]
            output.append({"type": "reasoning", "id": f"rs_fake{turn.seq}", "summary": summary})
        if turn.text:
            content = [{"type": "output_text", "text": turn.text, "annotations": []}]
            output.append({"type": "message", "id": f"msg_fake{turn.seq}", "status": "completed",
                           "role": "assistant", "content": content})
        output += [{"type": "function_call", "id": f"fc_fake{turn.seq}_{i}", "call_id": f"call_fake{turn.seq}_{i}",
                    "name": call.name, "arguments": dumps(call.arguments), "status": "completed"}
                   for i, call in enumerate(reply.calls)]
        incomplete = reply.finish == "length"
        return {
            "id": f"resp_fake{turn.seq}", "object": "response", "created_at": CREATED, "model": turn.model,
            "status": "incomplete" if incomplete else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "output": output,
            "usage": {"input_tokens": usage.prompt, "output_tokens": usage.completion,
                      "total_tokens": usage.prompt + usage.completion,
                      "input_tokens_details": {"cached_tokens": usage.cached},
                      "output_tokens_details": {"reasoning_tokens": usage.reasoning}},
        }


    def frames(self, turn, req):
        response = self.body(turn, req)
        numbers = iter(range(1_000_000))

        def event(kind, **fields):
            return sse({"type": kind, **fields, "sequence_number": next(numbers)}, kind)

        shell = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
        out = [event("response.created", response=shell), event("response.in_progress", response=shell)]
        for index, item in enumerate(response["output"]):
            out += self._item_frames(event, index, item)
            out.append(event("response.output_item.done", output_index=index, item=item))
        final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return out + [event(final, response=response)]

    def _item_frames(self, event, index, item):
        at = {"item_id": item["id"], "output_index": index}
        if item["type"] == "reasoning":
            summary = item["summary"][0]
            return [event("response.output_item.added", output_index=index, item={**item, "summary": []}),
                    event("response.reasoning_summary_part.added", **at, summary_index=0,
                          part={"type": "summary_text", "text": ""}),
                    *[event("response.reasoning_summary_text.delta", **at, summary_index=0, delta=piece)
                      for piece in words(summary["text"])],
                    event("response.reasoning_summary_text.done", **at, summary_index=0, text=summary["text"]),
                    event("response.reasoning_summary_part.done", **at, summary_index=0, part=summary)]
        if item["type"] == "message":
            part = item["content"][0]
            return [event("response.output_item.added", output_index=index,
                          item={**item, "status": "in_progress", "content": []}),
                    event("response.content_part.added", **at, content_index=0, part={**part, "text": ""}),
                    *[event("response.output_text.delta", **at, content_index=0, delta=piece, logprobs=[])
                      for piece in words(part["text"])],
                    event("response.output_text.done", **at, content_index=0, text=part["text"], logprobs=[]),
                    event("response.content_part.done", **at, content_index=0, part=part)]
        return [event("response.output_item.added", output_index=index,
                      item={**item, "status": "in_progress", "arguments": ""}),
                *[event("response.function_call_arguments.delta", **at, delta=piece)
                  for piece in fragments(item["arguments"])],
                event("response.function_call_arguments.done", **at, arguments=item["arguments"])]


class Images(OpenAIEndpoint):
    """b64_json unless the request asks for URLs, which then point at a made-up image host."""

    def body(self, turn, req):
        count = int(req.json.get("n", 1))
        if req.json.get("response_format") == "url":
            return {"created": CREATED, "data": [{"url": f"https://images.fake/{turn.seq}-{i}.png"}
                                                 for i in range(count)]}
        return {"created": CREATED, "data": [{"b64_json": TINY_PNG}] * count}


# --- Anthropic --------------------------------------------------------------------------------

ANTHROPIC_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool": "tool_use", "content_filter": "refusal"}
ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                    500: "api_error", 529: "overloaded_error"}


class AnthropicEndpoint(Endpoint):
    def reject(self, req):
        if "x-api-key" not in req.headers and "authorization" not in req.headers:
            return 401, self.error(401, "x-api-key header is required")
        if "anthropic-version" not in req.headers:
            return 400, self.error(400, "anthropic-version: header is required")
        return None

    def error(self, code, message="", retry_delay=None):
        kind = ANTHROPIC_ERRORS.get(code, "api_error" if code >= 500 else "invalid_request_error")
        message = message or f"fake upstream: {phrase(code)}"
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}


class Messages(AnthropicEndpoint):
    def is_stream(self, req):
        return bool(req.json.get("stream"))

    def user_text(self, req):
        return last_user_text(req.json.get("messages"))

    def body(self, turn, req):
        content = [start | whole for start, _, whole in self._blocks(turn)]
        usage = self._usage(turn.reply.usage) | {"output_tokens": turn.reply.usage.completion}
        return self._message(turn, content, ANTHROPIC_FINISH[turn.reply.finish], usage)

    def frames(self, turn, req):
        message = self._message(turn, [], None, self._usage(turn.reply.usage) | {"output_tokens": 1})
        out = [sse({"type": "message_start", "message": message}, "message_start"),
               sse({"type": "ping"}, "ping")]
        for index, (start, deltas, _) in enumerate(self._blocks(turn)):
            out.append(sse({"type": "content_block_start", "index": index, "content_block": start},
                           "content_block_start"))
            out += [sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
                    for delta in deltas]
            out.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        delta = {"stop_reason": ANTHROPIC_FINISH[turn.reply.finish], "stop_sequence": None}
        usage = {"output_tokens": turn.reply.usage.completion}
        out.append(sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta"))
        return out + [sse({"type": "message_stop"}, "message_stop")]

    def _message(self, turn, content, stop_reason, usage):
        return {"id": f"msg_fake{turn.seq}", "type": "message", "role": "assistant", "model": turn.model,
                "content": content, "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}

    def _usage(self, usage):
        return {"input_tokens": usage.prompt - usage.cached - usage.cache_write,
                "cache_creation_input_tokens": usage.cache_write, "cache_read_input_tokens": usage.cached}

    def _blocks(self, turn):
        """``(content_block_start, deltas, what the whole block adds)`` for each block, in order."""
        reply, blocks = turn.reply, []
        if reply.reasoning:
            signed = signature(turn.seq)
            deltas = [{"type": "thinking_delta", "thinking": p} for p in words(reply.reasoning)]
            blocks.append(({"type": "thinking", "thinking": "", "signature": ""},
                           deltas + [{"type": "signature_delta", "signature": signed}],
                           {"thinking": reply.reasoning, "signature": signed}))
        if turn.text or not reply.calls:
            deltas = [{"type": "text_delta", "text": p} for p in words(turn.text)]
            blocks.append(({"type": "text", "text": ""}, deltas, {"text": turn.text}))
        for i, call in enumerate(reply.calls):
            start = {"type": "tool_use", "id": f"toolu_fake{turn.seq}_{i}", "name": call.name, "input": {}}
            parts = [""] + fragments(dumps(call.arguments))
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in parts]
            blocks.append((start, deltas, {"input": call.arguments}))
        return blocks


class CountTokens(AnthropicEndpoint):
    def body(self, turn, req):
        return {"input_tokens": turn.reply.usage.prompt}
# --- Google: the Gemini API and Antigravity (Cloud Code Assist) ------------------------------

GOOGLE_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool": "STOP", "content_filter": "SAFETY"}
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
                 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class GoogleEndpoint(Endpoint):
    def reject(self, req):
        if req.credential is None:
            return 403, self.error(403, "Method doesn't allow unregistered callers. Please use an API key.")
        return None

    def model(self, req):
        return req.path.rsplit("/", 1)[-1].split(":")[0]

    def error(self, code, message="", retry_delay=None):
        error = {"code": code, "message": message or f"fake upstream: {phrase(code)}",
                 "status": GOOGLE_STATUS.get(code, "UNKNOWN")}
        if retry_delay:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
        return {"error": error}


class GenerateContent(GoogleEndpoint):
    """generateContent and streamGenerateContent: SSE with ?alt=sse, else a JSON array written piecewise."""

    def is_stream(self, req):
        return ":streamGenerateContent" in req.path

    def stream_type(self, req):
        return "text/event-stream" if req.query.get("alt") == "sse" else "application/json; charset=UTF-8"

    def inner(self, req) -> dict:
        return req.json

    def wrap(self, turn, response) -> dict:
        return response

    def user_text(self, req):
        return last_user_text(self.inner(req).get("contents"), key="parts")

    def body(self, turn, req):
        if "IMAGE" in (self.inner(req).get("generationConfig") or {}).get("responseModalities", ()):
            # An image model: a line of text, then the picture inline.
            parts = [{"text": turn.text}, {"inlineData": {"mimeType": "image/png", "data": TINY_PNG}}]
            return self.wrap(turn, self._response(turn, parts, final=True))
        return self.wrap(turn, self._response(turn, self._parts(turn, lambda t: [t] if t else []), final=True))

    def frames(self, turn, req):
        parts = self._parts(turn, words)
        chunks = [self.wrap(turn, self._response(turn, [part], final=i == len(parts) - 1))
                  for i, part in enumerate(parts)]
        if req.query.get("alt") == "sse":
            return [sse(chunk, end="\r\n\r\n") for chunk in chunks]
        return [("[" if i == 0 else ",\r\n").encode() + dumps(chunk).encode() for i, chunk in enumerate(chunks)] + [b"]"]

    def _parts(self, turn, split):
        reply = turn.reply
        thoughts = [{"text": piece, "thought": True} for piece in split(reply.reasoning)]
        parts = [{"text": piece} for piece in split(turn.text)]
        parts += [{"functionCall": {"name": call.name, "args": call.arguments}} for call in reply.calls]
        parts = parts or [{"text": ""}]
        if thoughts:
            parts[0] = parts[0] | {"thoughtSignature": signature(turn.seq)}
        return thoughts + parts

    def _response(self, turn, parts, final):
        usage = turn.reply.usage
        candidate = {"content": {"parts": parts, "role": "model"}, "index": 0}
        metadata = {"promptTokenCount": usage.prompt, "totalTokenCount": usage.prompt}
        if final:
            candidate["finishReason"] = GOOGLE_FINISH[turn.reply.finish]
            metadata = {"promptTokenCount": usage.prompt, "candidatesTokenCount": usage.completion - usage.reasoning,
                        "totalTokenCount": usage.prompt + usage.completion}
            metadata |= {"cachedContentTokenCount": usage.cached} if usage.cached else {}
            metadata |= {"thoughtsTokenCount": usage.reasoning} if usage.reasoning else {}
        return {"candidates": [candidate], "usageMetadata": metadata, "modelVersion": turn.model,
                "responseId": f"resp-fake{turn.seq}"}


class GeminiCountTokens(GoogleEndpoint):
    def body(self, turn, req):
        return {"totalTokens": turn.reply.usage.prompt}


def content_text(content) -> str:
    return "".join(part.get("text", "") for part in (content or {}).get("parts", []))


class EmbedContent(GoogleEndpoint):
    def body(self, turn, req):
        size = req.json.get("outputDimensionality", 8)
        return {"embedding": {"values": vector(content_text(req.json.get("content")), size)}}


class BatchEmbedContents(GoogleEndpoint):
    def body(self, turn, req):
        return {"embeddings": [{"values": vector(content_text(item.get("content")), item.get("outputDimensionality", 8))}
                               for item in req.json.get("requests", [])]}


class GeminiModels(GoogleEndpoint):
    names = ("gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004")

    def body(self, turn, req):
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        return {"models": [{"name": f"models/{name}", "displayName": name, "inputTokenLimit": 1048576,
                            "outputTokenLimit": 65536, "supportedGenerationMethods": methods}
                           for name in self.names]}


class CodeAssist:
    """Antigravity speaks Gemini inside an envelope, with an OAuth bearer token."""

    def reject(self, req):
        if not req.headers.get("authorization", "").startswith("Bearer "):
            return 401, self.error(401, "Request is missing required authentication credential.")
        return None

    def model(self, req):
        return req.json.get("model", "fake-model")


class CodeAssistGenerate(CodeAssist, GenerateContent):
    def inner(self, req):
        return req.json.get("request") or {}

    def wrap(self, turn, response):
        return {"response": response, "traceId": f"trace-fake{turn.seq}"}


class LoadCodeAssist(CodeAssist, GoogleEndpoint):
    def body(self, turn, req):
        tier = {"id": "standard-tier", "name": "Gemini Code Assist"}
        return {"cloudaicompanionProject": "fake-project-123", "currentTier": tier, "allowedTiers": [tier]}


# --- Google OAuth token endpoint, and everything else ---------------------------------------

class OAuthToken(Endpoint):
    def reject(self, req):
        form = req.form or {}
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        if form.get("refresh_token") in (None, "", "revoked"):
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        return None

    def body(self, turn, req):
        return {"access_token": f"ya29.fake-{turn.seq}", "expires_in": 3599, "token_type": "Bearer"}

    def error(self, code, message="", retry_delay=None):
        kind = {400: "invalid_request", 401: "invalid_client"}.get(code, "server_error")
        return {"error": kind, "error_description": message or phrase(code)}


class NoRoute(Endpoint):
    """Anything else: recorded, then refused, so a test can see where the gateway went."""

    def reject(self, req):
        message = f"the fake upstream has no route {req.method} {req.path}"
        return 404, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


MODEL = "{model:[^/:]+}"
ROUTES = [
    ("POST", "/v1/chat/completions", ChatCompletions()),
    ("POST", "/v1/embeddings", Embeddings()),
    ("GET", "/v1/models", Models()),
    ("POST", "/v1/responses", Responses()),
    ("POST", "/v1/images/generations", Images()),
    ("POST", "/api/paas/v4/chat/completions", ChatCompletions()),
    ("POST", "/api/paas/v4/embeddings", Embeddings()),
    ("POST", "/v1/messages", Messages()),
    ("POST", "/v1/messages/count_tokens", CountTokens()),
    *[("POST", f"/{version}/models/{MODEL}:{action}", endpoint)
      for version in ("v1beta", "v1")  # the Gemini API serves both; GET /v1/models stays OpenAI's
      for action, endpoint in [("generateContent", GenerateContent()), ("streamGenerateContent", GenerateContent()),
                               ("countTokens", GeminiCountTokens()), ("embedContent", EmbedContent()),
                               ("batchEmbedContents", BatchEmbedContents())]],
    ("GET", "/v1beta/models", GeminiModels()),
    ("POST", "/v1internal:generateContent", CodeAssistGenerate()),
    ("POST", "/v1internal:streamGenerateContent", CodeAssistGenerate()),
    ("POST", "/v1internal:loadCodeAssist", LoadCodeAssist()),
    ("POST", "/oauth/token", OAuthToken()),
    ("*", "/{tail:.*}", NoRoute()),
]
