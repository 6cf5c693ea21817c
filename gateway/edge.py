"""The ASGI edge: the relay's endpoints are matched first and served without Django's request
cycle; every other path (admin, API, metrics) goes to Django.
"""

import logging
import re

from gateway import limits
from gateway.endpoints import anthropic, gemini, openai, responses
from gateway.endpoints.common import Context
from gateway.errors import GatewayError
from gateway.health import health
from gateway.http import ClientDisconnected, Exchange, error_headers, head_too_large
from gateway.metrics import in_flight
from gateway.relay import Call, Relay
from gateway.snapshot import holder
from providers.formats import anthropic as anthropic_codec
from providers.formats import gemini as gemini_codec
from providers.formats import openai as openai_codec
from providers.formats import responses as responses_codec
from stats.recording import recorder

__all__ = ["GatewayHTTP", "ROUTES"]

log = logging.getLogger("gateway.requests")

CODECS = {"openai": openai_codec, "anthropic": anthropic_codec, "gemini": gemini_codec,
          "responses": responses_codec}
_PREFIX = r"(?:/openai|/anthropic|/gemini)?"
_GEMINI_MODEL = r"/v1(?:beta)?/models/(?P<model>[^:/][^:]*):(?P<method>[A-Za-z]+)"


def _route(method, pattern, handler, fmt, name):
    return method, re.compile("^" + _PREFIX + pattern + "$"), handler, fmt, name


ROUTES = [
    _route("POST", r"/v1/chat/completions", openai.chat_completions, "openai", "chat.completions"),
    _route("POST", r"/v1/embeddings", openai.embeddings, "openai", "embeddings"),
    _route("POST", r"/v1/images/generations", openai.image_generations, "openai", "images.generations"),
    _route("POST", r"/v1/responses", responses.create, "responses", "responses"),
    _route("GET", r"/v1/responses/(?P<response_id>[^/]+)", responses.retrieve, "responses", "responses.get"),
    _route("DELETE", r"/v1/responses/(?P<response_id>[^/]+)", responses.delete, "responses", "responses.delete"),
    _route("POST", r"/v1/messages", anthropic.messages, "anthropic", "messages"),
    _route("POST", r"/v1/messages/count_tokens", anthropic.count_tokens, "anthropic", "messages.count_tokens"),
    _route("POST", _GEMINI_MODEL, gemini.model_method, "gemini", "gemini.model"),
    _route("GET", r"/v1beta/models", gemini.list_models, "gemini", "models"),
    _route("GET", r"/v1beta/models/(?P<model>[^:]+)", gemini.get_model, "gemini", "models.get"),
    _route("GET", r"/v1/models", None, "auto", "models"),
    _route("GET", r"/v1/models/(?P<model>[^:]+)", None, "auto", "models.get"),
]

_LISTINGS = {
    ("openai", "models"): openai.list_models, ("openai", "models.get"): openai.get_model,
    ("anthropic", "models"): anthropic.list_models, ("anthropic", "models.get"): anthropic.get_model,
    ("gemini", "models"): gemini.list_models, ("gemini", "models.get"): gemini.get_model,
}


def _listing_format(exchange: Exchange) -> str:
    """GET /v1/models is shared by three SDKs: answer in the form of the one that asked."""
    headers = exchange.headers
    if "x-goog-api-key" in headers or "key" in exchange.query or exchange.scope["path"].startswith("/gemini"):
        return "gemini"
    if "anthropic-version" in headers or exchange.scope["path"].startswith("/anthropic"):
        return "anthropic"
    return "openai"


def match(method: str, path: str):
    for route_method, pattern, handler, fmt, name in ROUTES:
        found = pattern.match(path)
        if found and route_method == method:
            return handler, fmt, name, found.groupdict()
    return None


class GatewayHTTP:
    """ASGI app for HTTP: relay endpoints here, the rest to ``django_app``."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.relay = Relay()
        self.active = 0

    async def __call__(self, scope, receive, send):
        oversized = head_too_large(scope)
        if scope["path"] == "/health" and not oversized:
            return await health(Exchange(scope, receive, send))
        found = match(scope["method"], scope["path"])
        if found is None:
            if oversized:
                return await Exchange(scope, receive, send).respond_json(431, {"error": oversized.message})
            return await self.django_app(scope, receive, send)
        handler, fmt, name, params = found
        exchange = Exchange(scope, receive, send)
        if fmt == "auto":
            fmt = _listing_format(exchange)
            handler = _LISTINGS[(fmt, name)]
        call = Call(exchange.request_id, fmt, name, client_ip=exchange.client_ip)
        self.active += 1
        try:
            if oversized:
                raise oversized
            snapshot = await holder.get()
            await handler(Context(exchange, call, snapshot, self.relay, params))
        except ClientDisconnected:
            call.status, call.error_type = 499, "client_disconnected"
        except GatewayError as error:
            call.fail(error)
            await self._answer_error(exchange, fmt, error)
        except Exception:
            log.exception("unexpected error", extra={"request_id": call.request_id})
            error = GatewayError("the gateway failed to handle this request")
            call.fail(error)
            await self._answer_error(exchange, fmt, error)
        finally:
            # The log entry first: nothing after it may keep a request that was answered out of the log.
            # Its metrics and JSON line are reported from it, off the request path (stats.reporting).
            recorder.record(call)
            if call.active_labels is not None:
                in_flight[call.active_labels] -= 1
            try:
                await limits.settle(call)
            finally:
                self.active -= 1

    async def _answer_error(self, exchange: Exchange, fmt: str, error: GatewayError):
        if exchange.started:
            return
        body = CODECS[fmt].build_error(error.status, error.error_type, error.message, exchange.request_id, error.param)
        await exchange.respond_json(error.status, body, error_headers(error))
