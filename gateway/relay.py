"""The hot path: from a decoded request to an upstream answer, with failover before the first byte.

Everything here reads the in-memory snapshot; nothing touches the database. The outcome of each
call is left on its ``Call`` for the request log, which is written elsewhere.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from accounts.selection import Rotation, candidates
from gateway.errors import GatewayError, InvalidRequest, NetworkError, NoAccount, UpstreamError
from gateway.snapshot import KeyConf, Snapshot
from providers.adapters.base import Upstream
from providers.registry import adapter_for
from providers.routing import plan_route
from providers.types import ChatRequest, ChatResponse, EmbeddingRequest, Finish, StreamError, Usage, UsageUpdate

__all__ = ["Call", "Relay", "MAX_ATTEMPTS"]

MAX_ATTEMPTS = 4
_RETRYABLE = {"rate_limit", "auth", "server_error", "timeout", "network"}


@dataclass(slots=True)
class Call:
    """One client request as the relay saw it; the request log is built from this."""

    request_id: str
    client_format: str
    endpoint: str
    started: float = field(default_factory=time.monotonic)
    key: KeyConf | None = None
    requested_model: str = ""
    upstream_model: str = ""
    provider_id: int | None = None
    account_id: int | None = None
    proxy_id: int | None = None
    stream: bool = False
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    usage: Usage | None = None
    usage_partial: bool = False
    ttft: float | None = None
    attempts: int = 0
    client_ip: str = ""

    def fail(self, error: GatewayError):
        self.status = error.status
        self.error_type = error.error_type
        self.error_message = error.message


def _retryable(error: GatewayError) -> bool:
    return isinstance(error, (UpstreamError, NoAccount)) or error.error_type in _RETRYABLE


class Relay:
    def __init__(self):
        self.rotation = Rotation()

    def attempts(self, snapshot: Snapshot, call: Call, model: str):
        """Yield (adapter, Upstream) pairs in failover order, within the retry budget."""
        tried = 0
        for target in plan_route(snapshot, model):
            adapter = adapter_for(target.provider.type).adapter
            accounts = candidates(snapshot, target.provider.id, target.model)
            if not accounts and not adapter.needs_account:
                if tried < MAX_ATTEMPTS:
                    tried += 1
                    yield adapter, Upstream(target.provider, None, target.model)
                continue
            used = set()
            while tried < MAX_ATTEMPTS:
                account = self.rotation.pick(accounts, target.provider.name, target.model, used)
                if account is None:
                    break
                used.add(account.id)
                tried += 1
                yield adapter, Upstream(target.provider, account, target.model,
                                        credential=account.access_token or account.api_key)

    def _begin(self, call: Call, up: Upstream):
        call.attempts += 1
        call.provider_id = up.provider.id
        call.account_id = up.account.id if up.account else None
        call.proxy_id = up.account.proxy_id if up.account else None
        call.upstream_model = up.model

    async def complete(self, snapshot: Snapshot, call: Call, request: ChatRequest) -> ChatResponse:
        last_error = None
        for adapter, up in self.attempts(snapshot, call, request.model):
            self._begin(call, up)
            try:
                response = await adapter.complete(up, request)
            except GatewayError as error:
                if not _retryable(error):
                    raise
                last_error = error
                continue
            call.usage = response.usage
            return response
        raise last_error or NoAccount(f"no account can serve '{request.model}' right now")

    async def open_stream(self, snapshot: Snapshot, call: Call, request: ChatRequest) -> AsyncIterator:
        """Connect, with failover, until an upstream produced its first event; then the stream."""
        last_error = None
        for adapter, up in self.attempts(snapshot, call, request.model):
            self._begin(call, up)
            events = adapter.stream(up, request)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                first = None
            except GatewayError as error:
                await events.aclose()
                if not _retryable(error):
                    raise
                last_error = error
                continue
            call.ttft = time.monotonic() - call.started
            return self._follow(call, first, events)
        raise last_error or NoAccount(f"no account can serve '{request.model}' right now")

    async def _follow(self, call: Call, first, events) -> AsyncIterator:
        call.usage_partial = True
        finished = False
        pending = [first] if first is not None else []
        try:
            while True:
                if pending:
                    event = pending.pop()
                else:
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                if isinstance(event, UsageUpdate):
                    call.usage = event.usage
                elif isinstance(event, Finish):
                    finished = True
                elif isinstance(event, StreamError):
                    raise UpstreamError(f"the upstream failed mid-stream: {event.message}", error_type=event.type)
                yield event
        finally:
            await events.aclose()
        if not finished:
            # A stream that stops without saying why was cut: never end it as a success.
            raise NetworkError("the upstream stream ended before the answer was complete")
        call.usage_partial = False

    async def embed(self, snapshot: Snapshot, call: Call, request: EmbeddingRequest):
        last_error = None
        for adapter, up in self.attempts(snapshot, call, request.model):
            if not adapter.supports_embeddings:
                last_error = InvalidRequest(f"the provider of '{request.model}' does not serve embeddings")
                continue
            self._begin(call, up)
            try:
                response = await adapter.embed(up, request)
            except GatewayError as error:
                if not _retryable(error):
                    raise
                last_error = error
                continue
            call.usage = response.usage
            return response
        raise last_error or NoAccount(f"no account can serve '{request.model}' right now")

    async def count_tokens(self, snapshot: Snapshot, call: Call, request: ChatRequest) -> int | None:
        for adapter, up in self.attempts(snapshot, call, request.model):
            self._begin(call, up)
            try:
                return await adapter.count_tokens(up, request)
            except GatewayError as error:
                if not _retryable(error):
                    raise
        return None
