"""The hot path: from a decoded request to an upstream answer, with failover before the first byte.

Everything here reads the in-memory snapshot; nothing touches the database. The outcome of each
call is left on its ``Call`` for the request log, which is written elsewhere.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from accounts.oauth import OAuthTokens
from accounts.pool import AccountPool, classify
from accounts.selection import candidates
from gateway import deadlines
from gateway.bytestream import ByteStream, Piece, Produced, stream_failure
from gateway.errors import (
    GatewayError, InvalidRequest, NetworkError, NoAccount, RateLimited, UpstreamError, UpstreamTimeout,
)
from gateway.metrics import in_flight
from gateway.snapshot import KeyConf, Snapshot
from providers.adapters.base import Forwarded, Upstream
from providers.formats.sse import SSETooLarge
from providers.registry import adapter_for
from providers.routing import plan_route
from providers.tokens import estimate_prompt_tokens
from providers.types import (
    ChatRequest, ChatResponse, EmbeddingRequest, Finish, ImageRequest, ImageResponse, Start, StreamError, Usage,
    UsageUpdate,
)
from providers.types import MALFORMED, BadRequest, TextDelta, ThinkingDelta, ToolCallDelta

__all__ = ["Call", "Relay", "MAX_ATTEMPTS"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4


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
    usage_estimated: bool = False  # the upstream reported no usage: counted from what was streamed
    ttft: float | None = None
    attempts: int = 0
    client_ip: str = ""
    session: str = ""  # keeps a conversation on one account (upstream prompt caches)
    images: int = 0  # images generated, priced per image
    grant: object = None  # what gateway.limits counted against the key, settled when the call ends
    active_labels: tuple | None = None  # the proxy_active_requests series this call counts in
    forwarded: bool = False  # answered on the same-format fast path: the upstream's own bytes

    def fail(self, error: GatewayError):
        self.status = error.status
        self.error_type = error.error_type
        self.error_message = error.message


def _unreadable(error: Exception) -> UpstreamError:
    """An answer the codec could not read is the upstream's failure (a 502 that may fail over), never a 500."""
    log.warning("unreadable upstream answer: %s: %s", type(error).__name__, error)
    if isinstance(error, SSETooLarge):
        return UpstreamError(str(error), status=502)
    return UpstreamError(f"the upstream's answer could not be read ({type(error).__name__})", status=502)


def _is_content(item) -> bool:
    """Whether a stream item (a typed event, or a same-format Piece) is content, not bookkeeping."""
    if type(item) is Piece:
        return item.content
    return not isinstance(item, (Start, UsageUpdate))


async def _opening(events) -> list:
    """The stream's events up to its first content (text, thinking, a tool call or the end).

    An upstream may accept a stream and fail at once inside it (Anthropic's overloaded_error); until
    content arrives nothing has reached the client, so such a failure, or a stream that ends
    there, is raised here where the next account or provider can still take over.
    """
    opening = []
    async for event in events:
        if isinstance(event, StreamError):
            raise stream_failure(event)
        opening.append(event)
        if _is_content(event):
            return opening
    raise NetworkError("the upstream stream ended before any content")


class _Paced:
    """A stream's events under its timeouts: the first content within the provider's ``timeout``,
    then content at most ``idle_timeout`` apart. Keep-alives (SSE comments, Anthropic's ping) decode
    to no event and bookkeeping events (Start, UsageUpdate) carry no content, so neither resets the
    clock; a long stream that keeps producing is never cut.

    One coarse deadline per stream (gateway.deadlines), not a timeout per event: content moves the
    time it is due, and the deadline, when it comes before that, sets itself for the new time (it is
    set again at once only when the time comes closer: the first content, when the idle timeout is
    shorter than the first). It cancels the consuming task only while that task waits here for the
    upstream.
    """

    __slots__ = ("_events", "_idle", "_first", "_due", "_loop", "_started", "_timer", "_timer_at",
                 "_waiting", "_expired", "_back")

    def __init__(self, events, up: Upstream):
        self._events = events
        self._first, self._idle = up.provider.timeout, up.provider.idle_timeout
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time() + self._first
        self._started = False
        self._timer = None
        self._timer_at = 0.0
        self._waiting = None  # the task waiting for the next event
        self._expired = False
        self._back = []  # events read ahead and handed back, the next ones out

    def __aiter__(self):
        return self

    def put_back(self, events: list):
        """Events already read (the stream's opening) are the next ones out again."""
        self._back = events[::-1]

    async def __anext__(self):
        if self._back:
            return self._back.pop()
        if self._timer is None:
            self._arm()
        self._waiting = asyncio.current_task(self._loop)
        try:
            event = await self._events.__anext__()
        except asyncio.CancelledError:
            if not self._expired:
                raise
            self._expired = False
            self._waiting.uncancel()
            raise self._timeout() from None
        except BadRequest:
            raise
        except MALFORMED as error:
            raise _unreadable(error) from None
        finally:
            self._waiting = None
        if _is_content(event):
            self._started = True
            self._due = self._loop.time() + self._idle
            if self._timer is not None and self._timer_at > self._due:
                self._timer.cancel()
                self._timer = None
        return event

    def _arm(self):
        self._timer_at = self._due
        self._timer = deadlines.at(self._due, self._expire)

    def _expire(self):
        self._timer = None
        if self._loop.time() < self._due:  # content came since the deadline was set
            self._arm()
        elif self._waiting is not None:
            self._expired = True
            self._waiting.cancel()
        # Otherwise the consumer is busy elsewhere (writing to the client): the next wait sets the
        # deadline again, for a time already past, and the timeout comes then.

    def _timeout(self) -> UpstreamTimeout:
        if self._started:
            return UpstreamTimeout(f"the upstream sent no content for {self._idle:g}s in the middle of a stream")
        return UpstreamTimeout(f"the upstream sent no content within {self._first:g}s")

    async def aclose(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._events.aclose()


def _bill(call: Call, request: ChatRequest, produced: Produced, finished: bool):
    """Usage for a stream that was cut (partial) or whose upstream reported none (estimated)."""
    usage = call.usage
    if usage is None:
        call.usage = Usage(estimate_prompt_tokens(request), produced.tokens())
        call.usage_estimated = True
    elif not finished:
        estimate = produced.tokens()
        if estimate > usage.completion_tokens:
            call.usage = Usage(usage.prompt_tokens, estimate, usage.cached_tokens, usage.cache_write_tokens,
                               usage.reasoning_tokens)


def _retryable(error: GatewayError) -> bool:
    """Another account may succeed where this one failed; a request at fault fails the same everywhere."""
    return isinstance(error, NoAccount) or classify(error).blames_account


def _answer(last_error, waits: list, model: str) -> GatewayError:
    """What the client gets when every attempt failed: while accounts only cool down, a 429 that
    says when the soonest comes back."""
    if waits and (last_error is None or isinstance(last_error, (NoAccount, RateLimited)) or last_error.status == 429):
        return RateLimited(f"every account for '{model}' is rate limited", retry_after=max(min(waits), 1.0))
    return last_error or NoAccount(f"no account can serve '{model}' right now")


class Relay:
    """Runs each call against its route's providers and accounts until one answers."""

    def __init__(self):
        self.pool = AccountPool()
        self.tokens = OAuthTokens()

    def _begin(self, call: Call, up: Upstream):
        if call.active_labels is None:
            call.active_labels = (call.client_format, up.provider.name)
            in_flight[call.active_labels] += 1
        call.attempts += 1
        call.provider_id = up.provider.id
        call.account_id = up.account.id if up.account else None
        call.proxy_id = up.account.proxy_id if up.account else None
        call.upstream_model = up.model

    async def _run(self, snapshot: Snapshot, call: Call, model: str, attempt, serves=None):
        """Try ``attempt(adapter, upstream)`` along the fallback chain, within the retry budget."""
        failure = unavailable = None  # what the last attempt raised; why no account could be picked
        waits = []  # seconds until a rate-limited account is back
        tried = 0
        for target in plan_route(snapshot, model):
            adapter = adapter_for(target.provider.type).adapter
            if serves is not None and not serves(adapter):
                unavailable = InvalidRequest(f"the provider of '{model}' does not serve this endpoint")
                continue
            accounts = candidates(snapshot, target.provider.id, target.model)
            if not accounts and not adapter.needs_account:
                accounts = [None]
            used = set()
            while tried < MAX_ATTEMPTS:
                try:
                    choice = await self._choose(accounts, target, used, call.session)
                except (NoAccount, RateLimited) as error:
                    if error.retry_after:
                        waits.append(error.retry_after)
                    unavailable = error
                    break
                tried += 1
                up = Upstream(target.provider, choice.account if choice else None, target.model)
                self._begin(call, up)
                try:
                    result = await self._read(adapter, up, attempt)
                except GatewayError as error:
                    if not _retryable(error):
                        raise
                    if up.account is not None:
                        verdict = await self.pool.report_failure(up.account, error)
                        if verdict.cool:
                            waits.append(verdict.cool)
                    failure = error
                    if up.account is None:
                        break
                    continue
                if choice is not None:
                    await self.pool.report_success(choice.account, choice.troubled)
                return result
        raise _answer(failure or unavailable, waits, model)

    async def _choose(self, accounts: list, target, used: set, session: str):
        if accounts == [None]:
            if used:
                raise NoAccount("the provider was tried")
            used.add(None)
            return None
        choice = await self.pool.pick(accounts, target.provider.name, target.model, used, session)
        used.add(choice.account.id)
        return choice

    async def _read(self, adapter, up: Upstream, attempt):
        try:
            return await self._attempt(adapter, up, attempt)
        except BadRequest:  # the request's own fault, found while building the upstream's body
            raise
        except MALFORMED as error:
            raise _unreadable(error) from None

    async def _attempt(self, adapter, up: Upstream, attempt):
        account = up.account
        if account is None:
            return await attempt(adapter, up)
        if not account.refresh_token:
            up.credential = account.api_key or account.access_token
            return await attempt(adapter, up)
        up.credential = await self.tokens.token_for(up.provider, account)
        try:
            return await attempt(adapter, up)
        except UpstreamError as error:
            if error.upstream_status != 401:
                raise
        # The upstream refused a token we thought valid: refresh once and retry once.
        up.credential = await self.tokens.token_for(up.provider, account, rejected=up.credential)
        return await attempt(adapter, up)

    async def complete(self, snapshot: Snapshot, call: Call, request: ChatRequest,
                       body: dict | None = None) -> ChatResponse | Forwarded:
        """The answer; a Forwarded one (the upstream's bytes) when ``body``, the client's own, could go
        to the upstream as it is."""
        async def attempt(adapter, up):
            call.forwarded = body is not None and adapter.forwards(call.client_format)
            if call.forwarded:
                return await adapter.forward(up, body)
            return await adapter.complete(up, request)

        response = await self._run(snapshot, call, request.model, attempt)
        call.usage = response.usage
        return response

    async def open_stream(self, snapshot: Snapshot, call: Call, request: ChatRequest,
                          body: dict | None = None) -> AsyncIterator:
        """Connect, with failover, until an upstream produced its first content; then the stream:
        typed events, or the upstream's own bytes when ``body`` could go to it as it is."""
        async def attempt(adapter, up):
            call.forwarded = body is not None and adapter.forwards(call.client_format)
            source = adapter.forward_stream(up, body) if call.forwarded else None
            events = _Paced(source.pieces() if source else adapter.stream(up, request), up)
            try:
                return await _opening(events), events, source
            except BaseException:
                await events.aclose()
                raise

        opening, events, source = await self._run(snapshot, call, request.model, attempt)
        call.ttft = time.monotonic() - call.started
        events.put_back(opening)
        if source is not None:
            return self._relay_bytes(call, request, events, source)
        return self._follow(call, request, events)

    async def _relay_bytes(self, call: Call, request: ChatRequest, events: _Paced,
                           source: ByteStream) -> AsyncIterator:
        call.usage_partial = True
        try:
            async for piece in events:
                yield piece.data
        finally:
            await events.aclose()
            call.usage = source.usage
            if not source.finished or call.usage is None:
                _bill(call, request, source.produced, source.finished)
        if not source.finished:
            raise NetworkError("the upstream stream ended before the answer was complete")
        call.usage_partial = False

    async def _follow(self, call: Call, request: ChatRequest, events: _Paced) -> AsyncIterator:
        call.usage_partial = True
        finished = False
        produced = Produced()
        try:
            async for event in events:
                if isinstance(event, (TextDelta, ThinkingDelta)):
                    produced.add(event.text)
                elif isinstance(event, ToolCallDelta):
                    produced.add(event.arguments)
                elif isinstance(event, UsageUpdate):
                    call.usage = event.usage
                elif isinstance(event, Finish):
                    finished = True
                elif isinstance(event, StreamError):
                    raise stream_failure(event)
                yield event
        finally:
            # Also when the client left (the stream is closed or cancelled here): bill what was produced.
            await events.aclose()
            if not finished or call.usage is None:
                _bill(call, request, produced, finished)
        if not finished:
            # A stream that stops without saying why was cut: never end it as a success.
            raise NetworkError("the upstream stream ended before the answer was complete")
        call.usage_partial = False

    async def embed(self, snapshot: Snapshot, call: Call, request: EmbeddingRequest):
        async def attempt(adapter, up):
            return await adapter.embed(up, request)

        response = await self._run(snapshot, call, request.model, attempt, serves=lambda a: a.supports_embeddings)
        call.usage = response.usage
        return response

    async def generate_images(self, snapshot: Snapshot, call: Call, request: ImageRequest) -> ImageResponse:
        async def attempt(adapter, up):
            return await adapter.generate_images(up, request)

        response = await self._run(snapshot, call, request.model, attempt, serves=lambda a: a.supports_images)
        call.usage = response.usage
        call.images = len(response.images)
        return response

    async def count_tokens(self, snapshot: Snapshot, call: Call, request: ChatRequest) -> int | None:
        async def attempt(adapter, up):
            return await adapter.count_tokens(up, request)

        try:
            return await self._run(snapshot, call, request.model, attempt)
        except (NoAccount, RateLimited, UpstreamError):
            return None  # the caller estimates instead
