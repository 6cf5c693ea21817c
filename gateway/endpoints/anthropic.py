"""The Anthropic API: messages, token counting, models."""

from gateway import limits
from gateway.auth import check_model
from gateway.endpoints.common import Context, authorize, decode, relay_chat, visible_models
from gateway.errors import NotFound
from providers.formats import anthropic as codec
from providers.tokens import estimate_prompt_tokens

FORMAT = "anthropic"


async def messages(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    await relay_chat(ctx, codec, decode(codec.parse_request, body))


async def count_tokens(ctx: Context):
    authorize(ctx)
    request = decode(codec.parse_count_tokens_request, await ctx.exchange.json())
    ctx.call.requested_model = request.model
    check_model(ctx.call.key, request.model)
    await limits.admit(ctx.snapshot, ctx.call, request.model)
    counted = await ctx.relay.count_tokens(ctx.snapshot, ctx.call, request)
    total = counted if counted is not None else estimate_prompt_tokens(request)
    await ctx.exchange.respond_json(200, codec.build_count_tokens_response(total))


async def list_models(ctx: Context):
    authorize(ctx)
    await ctx.exchange.respond_json(200, codec.build_model_list(visible_models(ctx)))


async def get_model(ctx: Context):
    authorize(ctx)
    name = ctx.params["model"]
    if name not in visible_models(ctx):
        raise NotFound(f"the model '{name}' does not exist", param="model")
    await ctx.exchange.respond_json(200, codec.build_model(name))
