"""The Gemini API: generateContent and its stream, token counting, embeddings, models."""

from gateway import limits
from gateway.endpoints import common
from gateway.endpoints.common import Context, admit, authorize, decode, relay_chat
from gateway.errors import NotFound
from providers.formats import gemini as codec

FORMAT = "gemini"


def _model(ctx: Context) -> str:
    name = ctx.params["model"]
    return name[len("models/"):] if name.startswith("models/") else name


async def generate_content(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    await relay_chat(ctx, codec, decode(codec.parse_request, body, model=_model(ctx), stream=False), body=body)


async def stream_generate_content(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    request = decode(codec.parse_request, body, model=_model(ctx), stream=True)
    sse = ctx.exchange.query.get("alt") == "sse"
    # The JSON-array form is re-encoded; SSE, which upstreams are asked for, can be relayed as it comes.
    await relay_chat(ctx, codec, request, body=body if sse else None,
                     content_type=b"text/event-stream" if sse else b"application/json", encoder_options={"sse": sse})


async def count_tokens(ctx: Context):
    authorize(ctx)
    body = await ctx.exchange.json()
    await common.count_tokens(ctx, codec, decode(codec.parse_count_tokens_request, body, model=_model(ctx)))


async def _embed(ctx: Context, batch: bool):
    authorize(ctx)
    request = decode(codec.parse_embedding_request, await ctx.exchange.json(), model=_model(ctx), batch=batch)
    await admit(ctx, request.model, lambda: limits.embedding_estimate(request))
    response = await ctx.relay.embed(ctx.snapshot, ctx.call, request)
    await ctx.exchange.respond_json(200, codec.build_embedding_response(response, request, batch=batch))


async def embed_content(ctx: Context):
    await _embed(ctx, batch=False)


async def batch_embed_contents(ctx: Context):
    await _embed(ctx, batch=True)


METHODS = {
    "generateContent": generate_content,
    "streamGenerateContent": stream_generate_content,
    "countTokens": count_tokens,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
}


async def model_method(ctx: Context):
    handler = METHODS.get(ctx.params["method"])
    if handler is None:
        raise NotFound(f"unknown method ':{ctx.params['method']}'")
    await handler(ctx)


async def list_models(ctx: Context):
    await common.list_models(ctx, codec)


async def get_model(ctx: Context):
    await common.get_model(ctx, codec, _model(ctx))
