"""Live counters of the day per account and per gateway key, in the shared store.

Keys (UTC day, expiring after two days)::

    stats:account:{id}:{requests|errors|tokens|cost_micro_usd}:{YYYY-MM-DD}
    stats:key:{id}:{requests|errors|tokens|cost_micro_usd}:{YYYY-MM-DD}

Fed by the request-log writer with each written batch (off the hot path), in one round trip; cost is
kept in millionths of a dollar because the store's counters are integers. The database's
DailyUsage stays the record; these answer "how is today going" without a query.
"""

import logging
from datetime import date, datetime, timezone
from operator import add

from redis.exceptions import RedisError

from gateway.shared import prefixed, sync_state

__all__ = ["count_usage", "today", "METRICS"]

log = logging.getLogger(__name__)

METRICS = ("requests", "errors", "tokens", "cost_micro_usd")
_TTL = 2 * 86400.0
_OWNERS = (("account", "account_id"), ("key", "api_key_id"))


def _key(kind: str, owner_id: int, metric: str, day: date) -> str:
    return prefixed(f"stats:{kind}:{owner_id}:{metric}:{day.isoformat()}")


def _figures(row: dict) -> tuple:
    """The row's part of each of METRICS, in that order."""
    cost = row.get("cost")
    return (1, 1 if row["status_code"] >= 400 else 0, row["prompt_tokens"] + row["completion_tokens"],
            int(cost * 1_000_000) if cost else 0)


def count_usage(rows: list):
    # Summed per owner and day first: a batch holds hundreds of rows for a handful of keys and accounts,
    # and building the store's key strings per row cost more than the rest of the batch's bookkeeping.
    sums = {}
    for row in rows:
        day = row["created_at"].astimezone(timezone.utc).date()
        figures = _figures(row)
        for kind, field in _OWNERS:
            owner = row.get(field)
            if owner:
                total = sums.get((kind, owner, day))
                sums[(kind, owner, day)] = figures if total is None else tuple(map(add, total, figures))
    counts = {_key(kind, owner, metric, day): value
              for (kind, owner, day), total in sums.items()
              for metric, value in zip(METRICS, total) if value}
    if not counts:
        return
    try:
        sync_state().add(counts, _TTL)
    except RedisError as exc:
        log.warning("live usage counters not updated: %s", type(exc).__name__)


def today(kind: str, owner_id: int) -> dict:
    """metric -> today's count for one account ("account") or gateway key ("key")."""
    day = datetime.now(timezone.utc).date()
    values = sync_state().get_many([_key(kind, owner_id, metric, day) for metric in METRICS])
    return {metric: int(value or 0) for metric, value in zip(METRICS, values)}
