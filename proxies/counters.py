"""Per-proxy request and error counts of the day, in the shared store, rolled into ProxyDailyStats.

Keys (UTC day, expiring after two days so yesterday can still be rolled after midnight)::

    stats:proxy:{id}:requests:{YYYY-MM-DD}
    stats:proxy:{id}:errors:{YYYY-MM-DD}

``count_rows`` is fed the request-log rows as they are written (off the hot path, by the writer
thread) and adds them up in one round trip; ``roll`` copies the counters into the database.
"""

import logging
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from redis.exceptions import RedisError

from gateway.shared import prefixed, sync_state

__all__ = ["count_rows", "figures", "roll", "counter_keys", "COUNTER_TTL"]

log = logging.getLogger(__name__)

COUNTER_TTL = 2 * 86400.0
_ERROR_TYPES = ("network", "timeout")


def counter_keys(proxy_id: int, day: date) -> tuple:
    """(requests key, errors key) of one proxy and day."""
    stem = f"stats:proxy:{proxy_id}"
    return prefixed(f"{stem}:requests:{day.isoformat()}"), prefixed(f"{stem}:errors:{day.isoformat()}")


def _is_error(row: dict) -> bool:
    return row["status_code"] >= 500 or row["error_type"] in _ERROR_TYPES


def _day(created_at) -> date:
    when = created_at if isinstance(created_at, datetime) else datetime.fromisoformat(created_at)
    return when.astimezone(timezone.utc).date()


def count_rows(rows: list):
    """Count finished requests (dicts with proxy_id, created_at, status_code, error_type) per proxy.
    Best effort: with the store away the counts are lost, never the caller's work."""
    counts = Counter()
    for row in rows:
        if not row.get("proxy_id"):
            continue
        requests, errors = counter_keys(row["proxy_id"], _day(row["created_at"]))
        counts[requests] += 1
        if _is_error(row):
            counts[errors] += 1
    if not counts:
        return
    try:
        sync_state().add(counts, COUNTER_TTL)
    except RedisError as exc:
        log.warning("proxy counters not updated: %s", type(exc).__name__)


def _today() -> date:
    return datetime.now(timezone.utc).date()


def figures(proxy_ids: list, day: date | None = None) -> dict:
    """proxy id -> (requests, errors) counted so far on ``day`` (today); None where nothing was counted."""
    day = day or _today()
    keys = [key for proxy_id in proxy_ids for key in counter_keys(proxy_id, day)]
    values = sync_state().get_many(keys)
    found = {}
    for index, proxy_id in enumerate(proxy_ids):
        requests, errors = values[2 * index], values[2 * index + 1]
        found[proxy_id] = None if requests is None and errors is None else (int(requests or 0), int(errors or 0))
    return found


def roll(day: date | None = None) -> int:
    """Copy the counters of ``day`` and the day before into ProxyDailyStats; returns the rows written."""
    from proxies.models import ProxyDailyStats, ProxyServer

    day = day or _today()
    proxy_ids = list(ProxyServer.objects.values_list("id", flat=True))
    written = 0
    for when in (day - timedelta(days=1), day):
        for proxy_id, counted in figures(proxy_ids, when).items():
            if counted is None:
                continue  # nothing counted (or the store was emptied): keep what the table has
            ProxyDailyStats.objects.update_or_create(
                proxy_id=proxy_id, date=when, defaults={"requests": counted[0], "errors": counted[1]})
            written += 1
    return written
