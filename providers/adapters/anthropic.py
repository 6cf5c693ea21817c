"""Anthropic: the Messages API, authenticated with x-api-key and a pinned anthropic-version."""

from providers.adapters.base import HttpAdapter, Upstream
from providers.formats import anthropic as codec
from providers.types import ChatRequest

API_VERSION = "2023-06-01"


class AnthropicAdapter(HttpAdapter):
    format = "anthropic"
    codec = codec

    def base(self, up: Upstream) -> str:
        return up.provider.base_url or "https://api.anthropic.com"

    def chat_url(self, up: Upstream, stream: bool) -> str:
        return self.base(up) + "/v1/messages"

    def headers(self, up: Upstream) -> dict:
        return {"x-api-key": up.credential, "anthropic-version": API_VERSION}

    async def count_tokens(self, up: Upstream, request: ChatRequest) -> int | None:
        body = codec.build_count_tokens_request(request, up.model)
        data = await self.post_json(up, self.base(up) + "/v1/messages/count_tokens", body)
        return int(data.get("input_tokens", 0))


adapter = AnthropicAdapter()
