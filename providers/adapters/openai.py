"""OpenAI: Chat Completions and embeddings at base_url (which includes /v1)."""

from providers.adapters.base import HttpAdapter, Upstream
from providers.formats import openai as codec
from providers.types import EmbeddingRequest, EmbeddingResponse


class OpenAIAdapter(HttpAdapter):
    format = "openai"
    codec = codec
    supports_embeddings = True
    default_base_url = "https://api.openai.com/v1"

    def base(self, up: Upstream) -> str:
        return up.provider.base_url or self.default_base_url

    def chat_url(self, up: Upstream, stream: bool) -> str:
        return self.base(up) + "/chat/completions"

    async def embed(self, up: Upstream, request: EmbeddingRequest) -> EmbeddingResponse:
        body = codec.build_embedding_request(request, up.model)
        return codec.parse_embedding_response(await self.post_json(up, self.base(up) + "/embeddings", body))


adapter = OpenAIAdapter()
