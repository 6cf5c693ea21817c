"""The upstream account pool: weighted round-robin shared by every process, stickiness, cooldowns.

State lives in the shared store (Redis in production) under these keys:
    account:rr:{provider}:{model}      the rotation counter (INCR)
    account:cooldown:{account_id}      present while the account cools down; value = until (epoch s)
    account:fails:{account_id}         consecutive transient failures, expiring
    account:sticky:{provider}:{hash}   the account a session stays on
One round trip per pick reads the counter and every candidate's state together. ``classify`` says
what a failure means for the account; an account found failed is also saved as such (off the
hot path) so that every snapshot leaves it out until a probe or an operator restores it.
"""

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache

from accounts.models import Health
from accounts.oauth import NeedsReauth
from accounts.state import later, save_failure
from gateway.errors import GatewayError, NoAccount, RateLimited, UpstreamError
from gateway.shared import prefixed, shared_state
from gateway.snapshot import AccountConf

__all__ = ["AccountPool", "Choice", "Verdict", "classify", "state_keys", "MAX_COOLDOWN", "FAILURES_BEFORE_COOLDOWN"]

MAX_COOLDOWN = 600.0
DEFAULT_RATE_LIMIT_COOLDOWN = 30.0
TRANSIENT_COOLDOWN = 30.0
FAILURES_BEFORE_COOLDOWN = 3
FAILURE_WINDOW = 60.0
STICKY_TTL = 3600.0
# A failed account is out of every snapshot once its new health is saved; until then (a second or
# two, longer if the database is down) this key keeps every process off it.
FAILED_HOLD = 600.0
# Answers that say the credential itself is no good, whatever status carries them.
REFUSED_KEY = ("api key not valid", "invalid api key", "incorrect api key", "invalid x-api-key",
               "exceeded your current quota")


@dataclass(frozen=True, slots=True)
class Choice:
    account: AccountConf
    troubled: bool  # it failed recently: a success must clear its failure count


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a failed attempt says about the account: ``cool`` seconds, ``failed`` for good, or nothing."""

    cool: float = 0.0
    failed: bool = False
    transient: bool = False
    health: str = Health.FAILED  # what a ``failed`` account becomes

    @property
    def blames_account(self) -> bool:
        """The account (or its upstream) is at fault, so another account may well succeed."""
        return bool(self.cool or self.failed or self.transient)


def classify(error: GatewayError) -> Verdict:
    if isinstance(error, NeedsReauth):
        return Verdict(failed=True, health=Health.NEEDS_REAUTH)
    if not isinstance(error, UpstreamError):
        # Timeouts and network errors: transient, counted until they repeat.
        return Verdict(failed=error.error_type == "auth", transient=error.error_type in ("timeout", "network"))
    status = error.upstream_status
    if status in (401, 402, 403) or any(text in error.message.lower() for text in REFUSED_KEY):
        return Verdict(failed=True)
    if status == 429:
        return Verdict(cool=min(error.retry_after or DEFAULT_RATE_LIMIT_COOLDOWN, MAX_COOLDOWN))
    if status == 0 and error.error_type == "auth":
        return Verdict(failed=True)  # e.g. an OAuth account whose provider has no token URL
    if status >= 500 or status == 0:
        return Verdict(transient=True)
    return Verdict()  # the request's own fault: no penalty to the account


def _key(*parts) -> str:
    return prefixed(_joined(parts))


@lru_cache(maxsize=4096)
def _joined(parts: tuple) -> str:
    # The same few names (an account's keys, a route's counter) on every request: joined once.
    return ":".join(str(p) for p in parts)


@lru_cache(maxsize=4096)
def _pool_keys(prefix: str, account_ids: tuple) -> tuple:
    """The cool-down keys of a pool's accounts, then their failure-count keys: the same few pools on
    every request, so their keys are made once."""
    return (*(prefix + _joined(("account:cooldown", i)) for i in account_ids),
            *(prefix + _joined(("account:fails", i)) for i in account_ids))


def state_keys(account_id: int) -> tuple:
    """(cooldown key, failure-count key) of one account."""
    return _key("account:cooldown", account_id), _key("account:fails", account_id)


def session_hash(session: str) -> str:
    return hashlib.sha1(session.encode()).hexdigest()[:16]


class AccountPool:
    """Picks accounts and records how they fared. One instance per process."""

    async def pick(self, accounts: list, provider: str, model: str, exclude: set, session: str = "") -> "Choice":
        """The next account to try; raises RateLimited when all cool down, NoAccount when none is usable."""
        pool = [a for a in accounts if a.id not in exclude]
        if not pool:
            raise NoAccount(f"no usable account for '{model}' on {provider}")
        keys = list(_pool_keys(prefixed(""), tuple(a.id for a in pool)))
        sticky_key = _key("account:sticky", provider, session_hash(session)) if session else None
        if sticky_key:
            keys.append(sticky_key)
        turn, values = await shared_state().incr_and_get(_key("account:rr", provider, model), keys)
        now = time.time()
        size = len(pool)
        cooling = {a.id: float(v) for a, v in zip(pool, values[:size]) if v is not None and float(v) > now}
        troubled = {a.id for a, v in zip(pool, values[size:2 * size]) if v is not None}
        ready = [a for a in pool if a.id not in cooling]
        if not ready:
            soonest = min(cooling.values()) - now
            raise RateLimited(f"every account for '{model}' is cooling down", retry_after=max(soonest, 1.0))
        chosen = None
        if sticky_key:
            chosen = next((a for a in ready if str(a.id) == values[-1]), None)
        if chosen is None:
            chosen = _weighted(ready, turn)
            if sticky_key:
                await shared_state().set(sticky_key, str(chosen.id), STICKY_TTL)
        return Choice(chosen, chosen.id in troubled)

    async def report_failure(self, account: AccountConf, error: GatewayError) -> Verdict:
        verdict = classify(error)
        state = shared_state()
        if verdict.cool:
            await state.set(_key("account:cooldown", account.id), str(time.time() + verdict.cool), verdict.cool)
        elif verdict.failed:
            await state.set(_key("account:cooldown", account.id), str(time.time() + FAILED_HOLD), FAILED_HOLD)
            later(save_failure, account.id, verdict.health, error.message)
        elif verdict.transient:
            fails = await state.incr(_key("account:fails", account.id), FAILURE_WINDOW)
            if fails >= FAILURES_BEFORE_COOLDOWN:
                await state.set(_key("account:cooldown", account.id), str(time.time() + TRANSIENT_COOLDOWN),
                                TRANSIENT_COOLDOWN)
        return verdict

    async def report_success(self, account: AccountConf, had_trouble: bool):
        if had_trouble:
            await shared_state().delete(_key("account:fails", account.id), _key("account:cooldown", account.id))

    async def clear(self, account_id: int):
        await shared_state().delete(*state_keys(account_id))


def _weighted(accounts: list, turn: int) -> AccountConf:
    total = sum(a.weight for a in accounts)
    slot = turn % total
    for account in accounts:
        slot -= account.weight
        if slot < 0:
            return account
    return accounts[-1]
