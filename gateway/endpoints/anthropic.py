"""The Anthropic API: messages, token counting, models."""

from gateway.endpoints import common
from gateway.endpoints.common import Context, authorize, decode, relay_chat
from providers.formats import anthropic as codec

FORMAT = "anthropic"


async def messages(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    await relay_chat(ctx, codec, decode(codec.parse_request, body), body=body)


async def count_tokens(ctx: Context):
    authorize(ctx)
    await common.count_tokens(ctx, codec, decode(codec.parse_count_tokens_request, await ctx.exchange.json()))


async def list_models(ctx: Context):
    await common.list_models(ctx, codec)


async def get_model(ctx: Context):
    await common.get_model(ctx, codec, ctx.params["model"])
