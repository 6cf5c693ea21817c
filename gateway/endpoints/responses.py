"""OpenAI's Responses API: a response created through the relay (to any provider, streamed or not),
and the stored ones read or deleted by id. A stored response is visible only to the key that made it."""

from gateway.conversations import Kept, store
from gateway.endpoints.common import Context, authorize, decode, relay_chat
from gateway.errors import InvalidRequest, NotFound
from providers.formats import responses as codec

FORMAT = "responses"


async def create(ctx: Context):
    key = authorize(ctx)
    body = await ctx.exchange.json()
    history = await _history(body.get("previous_response_id"), key.id)
    request = decode(codec.parse_request, body, history=history)
    await relay_chat(ctx, _Storing(request, key.id) if request.store else codec, request)


async def _history(previous, key_id: int) -> list:
    """The items of the conversation ``previous_response_id`` names, to continue it."""
    if previous is None:
        return []
    if not isinstance(previous, str) or not previous:
        raise InvalidRequest("'previous_response_id' must be a response id", param="previous_response_id")
    kept = await store.find(previous, key_id)
    if kept is None:
        raise InvalidRequest(f"Previous response with id '{previous}' not found.", param="previous_response_id")
    return kept.items


class _Storing:
    """The codec as relay_chat drives it, handing each finished response to the store as it goes out."""

    build_error = staticmethod(codec.build_error)

    def __init__(self, request: codec.ResponsesRequest, key_id: int):
        self.request = request
        self.key_id = key_id

    def build_response(self, response, request) -> dict:
        body = codec.build_response(response, request)
        self.keep(body)
        return body

    def StreamEncoder(self, request, response_id: str, created: int):  # noqa: N802 - a codec's class to relay_chat
        return codec.StreamEncoder(request, response_id, created, on_complete=self.keep)

    def keep(self, response: dict):
        store.keep(Kept(response["id"], self.key_id, self.request.model, self.request.items, response))


async def retrieve(ctx: Context):
    key = authorize(ctx)
    if ctx.exchange.query.get("stream") == "true":
        raise InvalidRequest("a stored response cannot be replayed as a stream", param="stream")
    kept = await store.find(ctx.params["response_id"], key.id)
    if kept is None:
        raise _not_found(ctx)
    await ctx.exchange.respond_json(200, kept.response)


async def delete(ctx: Context):
    key = authorize(ctx)
    response_id = ctx.params["response_id"]
    if not await store.delete(response_id, key.id):
        raise _not_found(ctx)
    await ctx.exchange.respond_json(200, {"id": response_id, "object": "response.deleted", "deleted": True})


def _not_found(ctx: Context) -> NotFound:
    return NotFound(f"No response found with id '{ctx.params['response_id']}'.", param="response_id")
