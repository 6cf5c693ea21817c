"""OpenAI: Chat Completions, the Responses API, embeddings and images at base_url (which includes /v1).

A Responses client's request goes to OpenAI's own Responses API (``responses_api``); every other
request, and every request to the OpenAI-compatible hosts built on this adapter, to Chat Completions.
"""

from providers.adapters.base import HttpAdapter, Upstream
from providers.formats import openai as codec
from providers.formats import responses
from providers.types import ChatRequest, EmbeddingRequest, EmbeddingResponse, ImageRequest, ImageResponse


class OpenAIAdapter(HttpAdapter):
    format = "openai"
    codec = codec
    supports_embeddings = True
    supports_images = True
    responses_api = True
    default_base_url = "https://api.openai.com/v1"

    def base(self, up: Upstream) -> str:
        return up.provider.base_url or self.default_base_url

    def chat_url(self, up: Upstream, stream: bool) -> str:
        return self.base(up) + "/chat/completions"

    def stream_reader(self):
        return codec.ChunkReader()

    def speaks_responses(self, request: ChatRequest) -> bool:
        return self.responses_api and isinstance(request, responses.ResponsesRequest)

    async def complete(self, up: Upstream, request: ChatRequest):
        if self.speaks_responses(request):
            return await self.responses(up, request)
        return await super().complete(up, request)

    def stream(self, up: Upstream, request: ChatRequest):
        # Not a generator itself: it hands over the one that speaks the request's API.
        if self.speaks_responses(request):
            return self.responses_stream(up, request)
        return super().stream(up, request)

    async def responses(self, up: Upstream, request: ChatRequest):
        data = await self.post_json(up, self.base(up) + "/responses", responses.build_request(request, up.model))
        return responses.parse_response(data)

    async def responses_stream(self, up: Upstream, request: ChatRequest):
        body = responses.build_request(request, up.model)
        decoder = responses.StreamDecoder()
        async for chunk in self.post_stream(up, self.base(up) + "/responses", body):
            for event in decoder.feed(chunk):
                yield event
        for event in decoder.close():
            yield event

    async def embed(self, up: Upstream, request: EmbeddingRequest) -> EmbeddingResponse:
        body = codec.build_embedding_request(request, up.model)
        return codec.parse_embedding_response(await self.post_json(up, self.base(up) + "/embeddings", body))

    async def generate_images(self, up: Upstream, request: ImageRequest) -> ImageResponse:
        body = codec.build_image_request(request, up.model)
        return codec.parse_image_response(await self.post_json(up, self.base(up) + "/images/generations", body))


adapter = OpenAIAdapter()
