"""Gemini: the Generative Language API (v1beta), authenticated with x-goog-api-key."""

import asyncio
from urllib.parse import quote

from gateway.errors import InvalidRequest
from providers.adapters.base import HttpAdapter, Upstream
from providers.formats import gemini as codec
from providers.types import ChatRequest, EmbeddingRequest, EmbeddingResponse, ImageRequest, ImageResponse, Usage


class GeminiAdapter(HttpAdapter):
    format = "gemini"
    codec = codec
    supports_embeddings = True
    supports_images = True

    def model_url(self, up: Upstream, method: str) -> str:
        base = up.provider.base_url or "https://generativelanguage.googleapis.com"
        return f"{base}/v1beta/models/{quote(up.model, safe='')}:{method}"

    def chat_url(self, up: Upstream, stream: bool) -> str:
        return self.model_url(up, "streamGenerateContent?alt=sse" if stream else "generateContent")

    def headers(self, up: Upstream) -> dict:
        return {"x-goog-api-key": up.credential}

    def retry_after(self, response, body: bytes) -> float | None:
        return codec.retry_delay_seconds(body) or super().retry_after(response, body)

    async def embed(self, up: Upstream, request: EmbeddingRequest) -> EmbeddingResponse:
        body = codec.build_embedding_request(request, up.model)
        return codec.parse_embedding_response(await self.post_json(up, self.model_url(up, "batchEmbedContents"), body))

    async def count_tokens(self, up: Upstream, request: ChatRequest) -> int | None:
        body = codec.build_count_tokens_request(request, up.model)
        data = await self.post_json(up, self.model_url(up, "countTokens"), body)
        return int(data.get("totalTokens", 0))

    async def generate_images(self, up: Upstream, request: ImageRequest) -> ImageResponse:
        """Image models answer generateContent with inline images, one per request: n are asked at once."""
        url = self.chat_url(up, False)
        bodies = [self.wrap(codec.build_image_request(request, up.model), up) for _ in range(request.n)]
        answers = await asyncio.gather(*(self.post_json(up, url, body) for body in bodies))
        images, usage = [], Usage()
        for answer in map(self.unwrap, answers):
            drawn = codec.parse_image_response(answer)
            if not drawn.images:
                raise InvalidRequest(f"the model answered without an image: {codec.image_refusal(answer)}")
            images += drawn.images
            usage.prompt_tokens += drawn.usage.prompt_tokens
            usage.completion_tokens += drawn.usage.completion_tokens
        return ImageResponse(up.model, images, usage)


adapter = GeminiAdapter()
