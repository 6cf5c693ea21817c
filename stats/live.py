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

from redis.exceptions import RedisError

from gateway.shared import prefixed, sync_state

__all__ = ["count_usage", "today", "METRICS"]

log = logging.getLogger(__name__)

METRICS = ("requests", "errors", "tokens", "cost_micro_usd")
_TTL = 2 * 86400.0


def _key(kind: str, owner_id: int, metric: str, day: date) -> str:
    return prefixed(f"stats:{kind}:{owner_id}:{metric}:{day.isoformat()}")


def count_usage(rows: list):
    # Summed per (key, account, day) first, in plain lists: a batch holds hundreds of rows for a handful of
    # keys and accounts, and building the store's key strings (or tuples of figures) per row cost more than
    # the rest of the batch's bookkeeping.
    sums = {}
    for row in rows:
        created = row["created_at"]
        day = (created if created.tzinfo is timezone.utc else created.astimezone(timezone.utc)).date()
        group = (row.get("api_key_id"), row.get("account_id"), day)
        total = sums.get(group)
        if total is None:
            total = sums[group] = [0, 0, 0, 0]  # in the order of METRICS
        total[0] += 1
        if row["status_code"] >= 400:
            total[1] += 1
        total[2] += row["prompt_tokens"] + row["completion_tokens"]
        cost = row.get("cost")
        if cost:
            total[3] += int(cost * 1_000_000)
    counts = {}
    for (key_id, account_id, day), total in sums.items():
        for kind, owner in (("key", key_id), ("account", account_id)):
            if owner:
                for metric, value in zip(METRICS, total):
                    if value:
                        name = _key(kind, owner, metric, day)
                        counts[name] = counts.get(name, 0) + value
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
