"""What every client API does the same way: authenticate, relay a chat, stream it, answer errors."""

import logging
import time

from gateway import limits
from gateway.auth import authenticate, check_address, check_model, presented_key
from gateway.errors import GatewayError, InvalidRequest, NotFound
from gateway.http import Exchange, run_until_disconnect
from gateway.relay import Call, Relay
from gateway.snapshot import Snapshot
from providers.tokens import estimate_prompt_tokens
from providers.types import BadRequest, ChatRequest

__all__ = [
    "Context", "authorize", "admit", "decode", "relay_chat", "count_tokens", "list_models", "get_model",
    "visible_models",
]

log = logging.getLogger(__name__)


class Context:
    """What a handler needs: the exchange, its Call record, the snapshot and the relay."""

    __slots__ = ("exchange", "call", "snapshot", "relay", "params")

    def __init__(self, exchange: Exchange, call: Call, snapshot: Snapshot, relay: Relay, params: dict):
        self.exchange = exchange
        self.call = call
        self.snapshot = snapshot
        self.relay = relay
        self.params = params


def authorize(ctx: Context):
    raw, _ = presented_key(ctx.exchange.headers, ctx.exchange.query)
    key = ctx.call.key = authenticate(ctx.snapshot, raw)
    check_address(key, ctx.exchange.client_ip)
    return key


def bad_request(error: BadRequest) -> InvalidRequest:
    return InvalidRequest(error.message, param=error.param)


def decode(parse, *args, **kwargs):
    """Run a codec's parser, turning its BadRequest into the gateway's InvalidRequest."""
    try:
        return parse(*args, **kwargs)
    except BadRequest as error:
        raise bad_request(error) from None


async def admit(ctx: Context, model: str, estimate=None):
    """Record the model, check the key may use it, and count the request against the key's limits."""
    ctx.call.requested_model = model
    check_model(ctx.call.key, model)
    await limits.admit(ctx.snapshot, ctx.call, model, estimate)


async def count_tokens(ctx: Context, codec, request: ChatRequest):
    """The upstream's own count when it has one, the gateway's estimate otherwise."""
    await admit(ctx, request.model)
    counted = await ctx.relay.count_tokens(ctx.snapshot, ctx.call, request)
    total = counted if counted is not None else estimate_prompt_tokens(request)
    await ctx.exchange.respond_json(200, codec.build_count_tokens_response(total))


async def list_models(ctx: Context, codec):
    authorize(ctx)
    await ctx.exchange.respond_json(200, codec.build_model_list(visible_models(ctx)))


async def get_model(ctx: Context, codec, name: str):
    authorize(ctx)
    if name not in visible_models(ctx):
        raise NotFound(f"the model '{name}' does not exist", param="model")
    await ctx.exchange.respond_json(200, codec.build_model(name))


def visible_models(ctx: Context) -> list:
    key = ctx.call.key
    return [name for name in ctx.snapshot.public_models() if key is None or key.allows_model(name)]


async def relay_chat(ctx: Context, codec, request: ChatRequest, *, body: dict | None = None,
                     content_type: bytes = b"text/event-stream", encoder_options: dict | None = None):
    """Relay a chat. ``body`` is the client's own: given, an upstream of the client's format gets it as
    it is, and the client gets the upstream's bytes (the same-format fast path)."""
    call = ctx.call
    call.requested_model = request.model
    call.stream = request.stream
    call.session = ctx.exchange.headers.get("x-session-id") or request.user
    check_model(call.key, request.model)
    if request.n != 1:
        raise InvalidRequest("the gateway returns one choice per request; send n=1", param="n")
    await limits.admit(ctx.snapshot, call, request.model, lambda: limits.chat_estimate(request))
    if request.stream:
        stream = _stream(ctx, codec, request, body, content_type, encoder_options or {})
        await run_until_disconnect(ctx.exchange, stream)
        return
    answer = ctx.relay.complete(ctx.snapshot, call, request, body)
    response = await run_until_disconnect(ctx.exchange, _translate(answer))
    if call.forwarded:
        await ctx.exchange.respond(200, response.body)
    else:
        await ctx.exchange.respond_json(200, codec.build_response(response, request))


async def _translate(work):
    try:
        return await work
    except BadRequest as error:
        raise bad_request(error) from None


async def _stream(ctx: Context, codec, request: ChatRequest, body: dict | None, content_type: bytes,
                  options: dict):
    call, exchange = ctx.call, ctx.exchange
    events = await _translate(ctx.relay.open_stream(ctx.snapshot, call, request, body))

    def new_encoder():
        return codec.StreamEncoder(request, call.request_id, int(time.time()), **options)

    # On the fast path the upstream's bytes are the stream: an encoder is made only to report a failure.
    encoder = None if call.forwarded else new_encoder()
    await exchange.start_stream(content_type)
    try:
        if encoder is None:
            async for chunk in events:
                await exchange.write(chunk)
        else:
            async for event in events:
                await exchange.write(encoder.encode(event))
    except GatewayError as error:
        call.fail(error)
        encoder = encoder if encoder is not None else new_encoder()
        await exchange.end_stream(encoder.fail(error.error_type, error.message))
        return
    finally:
        await events.aclose()
    await exchange.end_stream(b"" if encoder is None else encoder.end())
