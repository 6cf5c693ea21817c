"""Per-key limits: requests and tokens per minute, and a budget in USD per period, in the shared store.

Admission, before the upstream call, is one ``add_within`` on the shared store (one round trip: a
Lua script on Redis) and nothing at all for a key without limits. Every bound is checked, then all
are counted, or none:

- requests per minute: a sliding window estimated from two one-minute counters, this minute's
  count plus the last minute's weighted by the share of it the sliding minute still covers (a
  steady client gets exactly its rate; a burst at a minute's edge cannot double it). A request
  that fits is counted at once.
- tokens per minute: the same window. Admission checks that the key has tokens left; the call's
  tokens, as the upstream reported them, are added when it ends (``settle``).
- budget: one counter per key and period (total, UTC day, UTC month) in micro-dollars: the settled
  spend plus what calls under way have reserved. A call reserves its worst case (its prompt
  estimated with providers/tokens.py at the input price, plus max_tokens, or DEFAULT_OUTPUT_TOKENS,
  at the output price; the dearest target of its route) and is refused when spend, reservations
  and its own reservation would pass the budget, so concurrent calls can never together overspend
  it. ``settle`` then replaces the reservation with the real cost, or releases it when the call
  failed. A key with a budget may only use priced models. A missing counter (a new period, Redis
  restarted) is seeded once from the database's spend for the period (SET NX, so one seed wins).

A refusal is RateLimited: 429 in the client's own format, with Retry-After. With no Redis the
counters are this process's own, which the README says. While REDIS_URL is set but unreachable
each process counts on its own (gateway/shared.py) and re-reads budgets from the database every
DEGRADED_SEED_SECONDS, so the requests keep flowing and a budget's overshoot stays bounded.
"""

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from gateway.errors import PermissionDenied, RateLimited
from gateway.shared import Bound, Change, prefixed, shared_state
from gateway.snapshot import KeyConf, Snapshot
from providers.routing import plan_route
from providers.tokens import count_text, estimate_prompt_tokens
from stats.pricing import MILLION, cost_of, price_for

__all__ = ["Grant", "Estimate", "admit", "settle", "chat_estimate", "embedding_estimate", "image_estimate",
           "window_wait", "spent_in_period", "WINDOW", "DEFAULT_OUTPUT_TOKENS"]

WINDOW = 60.0
WINDOW_TTL = 2 * WINDOW + 5  # a minute's counter is read during the next one too
DEFAULT_OUTPUT_TOKENS = 4096  # reserved for a request that sets no max_tokens
TOTAL_TTL = 86400.0  # a total budget's counter is re-read from the database once a day
DEGRADED_SEED_SECONDS = 10.0
PERIOD_MARGIN = 300.0  # a period's counter outlives it, for calls that settle after it ended


@dataclass(frozen=True, slots=True)
class Estimate:
    """The most a call may cost, in the units prices are given in."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    images: int = 0


@dataclass(frozen=True, slots=True)
class Grant:
    """What admission counted, for ``settle``."""

    key_id: int
    tokens: bool  # the key has a tpm: count the call's tokens
    budget_key: str = ""
    reserved: int = 0  # micro-dollars


def chat_estimate(request) -> Estimate:
    return Estimate(estimate_prompt_tokens(request), request.max_tokens or DEFAULT_OUTPUT_TOKENS)


def embedding_estimate(request) -> Estimate:
    return Estimate(sum(count_text(text) for text in request.inputs if isinstance(text, str)))


def image_estimate(request) -> Estimate:
    return Estimate(count_text(request.prompt), images=request.n)


def _micros(usd: Decimal) -> int:
    return math.ceil(usd * MILLION)


def _window(kind: str, key_id: int, now: float) -> tuple:
    """(this minute's counter, the last minute's, the share of the last minute still in the window)."""
    minute = int(now // WINDOW)
    carry = 1.0 - (now % WINDOW) / WINDOW
    return prefixed(f"limit:{kind}:{key_id}:{minute}"), prefixed(f"limit:{kind}:{key_id}:{minute - 1}"), carry


def window_wait(now: float, current: int, previous: int, need: int, limit: int) -> float:
    """Seconds until ``need`` more fits under ``limit`` in the sliding window, if nothing else is counted."""
    elapsed = now % WINDOW
    room = limit - need
    if current > room:  # this minute alone is over: wait for it to be the previous one and fade enough
        fade = 1.0 - room / current if current else 1.0
        return WINDOW - elapsed + WINDOW * max(fade, 0.0)
    if not previous:
        return 1.0
    # The last minute fades out of the window; by this minute's end it is gone altogether.
    fades = WINDOW * (1.0 - (room - current) / previous) - elapsed
    return max(min(fades, WINDOW - elapsed), 1.0)


def _period(period: str, now: datetime) -> tuple:
    """(counter tag, seconds the counter lives, first day) of the budget period holding ``now`` (UTC)."""
    if period == "daily":
        end = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
        return now.strftime("d%Y%m%d"), (end - now).total_seconds(), now.date()
    if period == "monthly":
        first = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
        end = (first + timedelta(days=32)).replace(day=1)
        return now.strftime("m%Y%m"), (end - now).total_seconds(), first.date()
    return "total", TOTAL_TTL, None


def _reservation(snapshot: Snapshot, model: str, estimate: Estimate, now: datetime) -> int:
    """The dearest cost of ``estimate`` along the model's fallback chain, in micro-dollars."""
    dearest = Decimal(0)
    for target in plan_route(snapshot, model):
        price = price_for(snapshot.prices, target.model, now)
        if price is None:
            raise PermissionDenied(f"the model '{model}' has no price, and this gateway key has a budget: "
                                   "it may only use priced models", param="model")
        cost = (estimate.prompt_tokens * price.input_per_million
                + estimate.output_tokens * price.output_per_million) / MILLION
        if estimate.images and price.per_image is not None:
            cost += estimate.images * price.per_image
        dearest = max(dearest, cost)
    return _micros(dearest)


async def admit(snapshot: Snapshot, call, model: str, estimate=None):
    """Count the call against its key's limits, or raise RateLimited; ``estimate()`` -> Estimate is
    called only for a key with a budget (no estimate: the call costs nothing, as counting tokens)."""
    key: KeyConf = call.key
    if key is None or (key.rpm is None and key.tpm is None and key.budget_usd is None):
        return
    now = time.time()
    bounds = []
    if key.rpm is not None:
        current, previous, carry = _window("r", key.id, now)
        bounds.append(Bound(current, 1, 1, key.rpm, WINDOW_TTL, previous, carry))
    if key.tpm is not None:
        current, previous, carry = _window("t", key.id, now)
        bounds.append(Bound(current, 1, 0, key.tpm, WINDOW_TTL, previous, carry))
    grant = Grant(key.id, key.tpm is not None)
    if key.budget_usd is not None:
        at = datetime.fromtimestamp(now, timezone.utc)
        tag, _, _ = _period(key.budget_period, at)
        reserved = _reservation(snapshot, model, estimate(), at) if estimate is not None else 0
        grant = Grant(key.id, grant.tokens, prefixed(f"limit:b:{key.id}:{tag}"), reserved)
        bounds.append(Bound(grant.budget_key, max(reserved, 1), reserved, _micros(key.budget_usd), must_exist=True))
    state = shared_state()
    failed, counts = await state.add_within(bounds)
    if failed >= 0 and counts[failed][0] is None:  # the budget's counter is missing: seed it, then try again
        await _seeds.seed(state, key, grant.budget_key)
        failed, counts = await state.add_within(bounds)
    if failed >= 0:
        raise _refusal(key, bounds[failed], counts[failed], now)
    call.grant = grant


class _Seeds:
    """One seed at a time per counter in this process: the requests that find it missing together
    wait for the same query."""

    def __init__(self):
        self._running: dict = {}

    async def seed(self, state, key: KeyConf, counter: str):
        task = self._running.get(counter)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = self._running[counter] = asyncio.ensure_future(_seed(state, key, counter))
            task.add_done_callback(lambda _: self._running.pop(counter, None))
        await asyncio.shield(task)


_seeds = _Seeds()


async def _seed(state, key: KeyConf, counter: str):
    at = datetime.now(timezone.utc)
    _, ttl, _ = _period(key.budget_period, at)
    spent = await sync_to_async(_spent_in_thread, thread_sensitive=False)(key.id, key.budget_period)
    if state.degraded:
        ttl = min(ttl, DEGRADED_SEED_SECONDS)
    await state.set(counter, str(_micros(spent)), ttl + PERIOD_MARGIN * (not state.degraded), only_if_absent=True)


def spent_in_period(key_id: int, period: str) -> Decimal:
    """What the key spent in the current period, from the request log and the daily roll-ups."""
    from gateway.models import ApiKey
    from stats import reports
    from stats.aggregation import today

    _, _, first = _period(period, datetime.now(timezone.utc))
    if first is None:
        created = ApiKey.objects.filter(id=key_id).values_list("created_at", flat=True).first()
        first = created.astimezone(timezone.utc).date() if created else today()
    return reports.totals(reports.Scope(first, today(), keys=(key_id,)))["cost"]


def _spent_in_thread(key_id: int, period: str) -> Decimal:
    try:
        return spent_in_period(key_id, period)
    finally:
        close_old_connections()


def _refusal(key: KeyConf, bound: Bound, counts: tuple, now: float) -> RateLimited:
    if bound.must_exist:
        _, seconds, _ = _period(key.budget_period, datetime.fromtimestamp(now, timezone.utc))
        period = {"daily": " today", "monthly": " this month"}.get(key.budget_period, "")
        return RateLimited(f"this gateway key's budget of ${key.budget_usd:f} is spent{period}",
                           retry_after=seconds if key.budget_period in ("daily", "monthly") else None)
    what = "requests" if bound.add else "tokens"
    current, previous = counts
    return RateLimited(f"this gateway key's limit of {bound.limit} {what} per minute is reached",
                       retry_after=window_wait(now, current or 0, previous, bound.need, bound.limit))


async def settle(call):
    """Count the tokens the call used and turn its reservation into its real cost."""
    grant = call.grant
    if grant is None:
        return
    call.grant = None
    usage = call.usage
    changes = []
    if grant.tokens and usage is not None and usage.total_tokens:
        current, _, _ = _window("t", grant.key_id, time.time())
        changes.append(Change(current, usage.total_tokens, WINDOW_TTL))
    if grant.budget_key:
        spent = _micros(_cost(call)) if usage is not None or call.images else 0
        if spent != grant.reserved:
            changes.append(Change(grant.budget_key, spent - grant.reserved, create=False))
    if changes:
        await shared_state().adjust(changes)


def _cost(call) -> Decimal:
    usage = call.usage
    cost = cost_of({
        "upstream_model": call.upstream_model, "created_at": datetime.now(timezone.utc),
        "prompt_tokens": usage.prompt_tokens if usage else 0, "cached_tokens": usage.cached_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0, "images": call.images,
    })
    return cost or Decimal(0)
