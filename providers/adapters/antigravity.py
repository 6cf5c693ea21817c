"""Antigravity (Google Cloud Code): Gemini's generateContent inside an envelope, with OAuth accounts.

Requests go to ``{base_url}/v1internal:generateContent`` (or ``:streamGenerateContent?alt=sse``)
as ``{"model", "project", "userAgent", "requestType", "requestId", "request": <Gemini body>}``;
answers come back as ``{"response": <Gemini response>, "traceId"}``, each stream event too.
An account without a project id gets one from ``v1internal:loadCodeAssist`` on its first request;
it is kept in the shared store at once and saved on the account off the request path.
"""

import dataclasses
import uuid

import orjson

from accounts.state import later, save_project
from gateway.errors import UpstreamError
from gateway.shared import prefixed, shared_state
from providers.adapters.gemini import GeminiAdapter
from providers.adapters.base import Upstream
from providers.formats import gemini as codec
from providers.types import ChatRequest

PROJECT_TTL = 86400.0


class _UnwrappingDecoder:
    """Gemini's stream decoder, fed the inner ``response`` of each enveloped SSE event."""

    def __init__(self):
        from providers.formats.sse import SSEParser

        self._sse = SSEParser()
        self._inner = codec.StreamDecoder()

    def feed(self, chunk: bytes) -> list:
        return self._decode(self._sse.feed(chunk))

    def close(self) -> list:
        return self._decode(self._sse.close()) + self._inner.close()

    def _decode(self, events) -> list:
        out = []
        for event in events:
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                data = None
            inner = data.get("response", data) if isinstance(data, dict) else data
            payload = orjson.dumps(inner) if inner is not None else event.data.encode()
            out.extend(self._inner.feed(b"data: " + payload + b"\n\n"))
        return out


class AntigravityAdapter(GeminiAdapter):
    supports_embeddings = False
    forwards_bodies = False  # every body travels in the Cloud Code envelope

    def base(self, up: Upstream) -> str:
        return up.provider.base_url or "https://cloudcode-pa.googleapis.com"

    def chat_url(self, up: Upstream, stream: bool) -> str:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base(up)}/v1internal:{method}"

    def headers(self, up: Upstream) -> dict:
        return {"authorization": f"Bearer {up.credential}", "user-agent": "antigravity"}

    def wrap(self, body: dict, up: Upstream) -> dict:
        project = up.account.project_id if up.account else ""
        return {
            "model": up.model,
            "project": project,
            "userAgent": "antigravity",
            "requestType": "agent",
            "requestId": f"agent-{uuid.uuid4()}",
            "request": body,
        }

    async def complete(self, up: Upstream, request: ChatRequest):
        await self.ensure_project(up)
        return await super().complete(up, request)

    async def stream(self, up: Upstream, request: ChatRequest):
        await self.ensure_project(up)
        async for event in super().stream(up, request):
            yield event

    async def generate_images(self, up: Upstream, request):
        await self.ensure_project(up)
        return await super().generate_images(up, request)

    async def ensure_project(self, up: Upstream):
        """Give an account without a project id the one Cloud Code assigned to it."""
        if up.account is None or up.account.project_id:
            return
        key = prefixed(f"account:project:{up.account.id}")
        project = (await shared_state().get_many([key]))[0]
        if not project:
            project = await self.discover_project(up)
            await shared_state().set(key, project, PROJECT_TTL)
            later(save_project, up.account.id, project)
        up.account = dataclasses.replace(up.account, project_id=project)

    async def discover_project(self, up: Upstream) -> str:
        body = {"metadata": {"ideType": "ANTIGRAVITY"}}
        data = await self.post_json(up, f"{self.base(up)}/v1internal:loadCodeAssist", body)
        project = data.get("cloudaicompanionProject")
        if isinstance(project, dict):
            project = project.get("id")
        if not project or not isinstance(project, str):
            raise UpstreamError(f"account {up.account.name} has no Cloud Code project; sign it in to Antigravity once",
                                error_type="auth")
        return project

    def unwrap(self, body: dict) -> dict:
        inner = body.get("response")
        return inner if isinstance(inner, dict) else body

    def stream_decoder(self):
        return _UnwrappingDecoder()

    async def count_tokens(self, up: Upstream, request: ChatRequest) -> int | None:
        return None


adapter = AntigravityAdapter()
