"""The OpenAI API: chat completions, embeddings, image generation, models."""

from gateway import limits
from gateway.endpoints import common
from gateway.endpoints.common import Context, admit, authorize, decode, relay_chat
from gateway.http import run_until_disconnect
from providers.formats import openai as codec

FORMAT = "openai"


async def chat_completions(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    await relay_chat(ctx, codec, decode(codec.parse_request, body), body=body)


async def embeddings(ctx: Context):
    authorize(ctx)
    request = decode(codec.parse_embedding_request, await ctx.exchange.json())
    await admit(ctx, request.model, lambda: limits.embedding_estimate(request))
    response = await ctx.relay.embed(ctx.snapshot, ctx.call, request)
    await ctx.exchange.respond_json(200, codec.build_embedding_response(response, request))


async def image_generations(ctx: Context):
    authorize(ctx)
    request = decode(codec.parse_image_request, await ctx.exchange.json())
    await admit(ctx, request.model, lambda: limits.image_estimate(request))
    response = await run_until_disconnect(ctx.exchange, ctx.relay.generate_images(ctx.snapshot, ctx.call, request))
    await ctx.exchange.respond_json(200, codec.build_image_response(response, request))


async def list_models(ctx: Context):
    await common.list_models(ctx, codec)


async def get_model(ctx: Context):
    await common.get_model(ctx, codec, ctx.params["model"])
