"""The request log rolled up: DailyUsage and ProxyDailyStats per UTC day, and the log's retention.

Days are UTC days: a row belongs to the day its ``created_at`` falls in, whatever TIME_ZONE says.
Every roll-up recomputes a whole day from the log, so running it again changes nothing.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Case, CharField, Count, F, Q, Sum, When

from proxies.models import ProxyDailyStats, ProxyServer
from stats.models import DailyUsage, RequestLog

__all__ = ["day_bounds", "logs_of_day", "usage_totals", "aggregate_day", "roll_proxy_stats",
           "roll_up", "purge_cutoff", "purge_old_logs", "today"]

UTC = datetime.timezone.utc
PURGE_BATCH = 5000

# The model a row is counted under: what went upstream, or what was asked for when nothing did.
MODEL = Case(When(upstream_model="", then=F("requested_model")), default=F("upstream_model"),
             output_field=CharField())


def today() -> datetime.date:
    return datetime.datetime.now(UTC).date()


def day_bounds(day: datetime.date) -> tuple:
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + datetime.timedelta(days=1)


def logs_of_day(day: datetime.date):
    start, end = day_bounds(day)
    return RequestLog.objects.filter(created_at__gte=start, created_at__lt=end)


def usage_totals() -> dict:
    """The DailyUsage sums as aggregate expressions over RequestLog rows."""
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status_code__gte=400)),
        "prompt_tokens": Sum("prompt_tokens"),
        "completion_tokens": Sum("completion_tokens"),
        "cached_tokens": Sum("cached_tokens"),
        "reasoning_tokens": Sum("reasoning_tokens"),
        "cost": Sum("cost"),
        "latency_ms_sum": Sum("latency_ms"),
        "latency_count": Count("latency_ms"),
        "ttft_ms_sum": Sum("ttft_ms"),
        "ttft_count": Count("ttft_ms"),
    }


def _usage_row(day, group: dict) -> DailyUsage:
    # A SUM over only NULLs (cost of unpriced models, ttft of non-streams) is NULL: stored as 0.
    sums = {name: group.pop(name) or 0 for name in usage_totals()}
    return DailyUsage(date=day, **group, **sums)


def aggregate_day(day: datetime.date) -> int:
    """Rebuilds the day's DailyUsage rows from the log in one GROUP BY; returns how many rows it wrote.

    A day with no log rows at all keeps the rows it has: its log has been purged, and the roll-up is
    all that is left of it.
    """
    groups = list(
        logs_of_day(day).annotate(model=MODEL)
        .values("provider_id", "account_id", "api_key_id", "model")
        .annotate(**usage_totals())
        .order_by()
    )
    if not groups:
        return 0
    with transaction.atomic():
        DailyUsage.objects.filter(date=day).delete()
        DailyUsage.objects.bulk_create([_usage_row(day, group) for group in groups])
    return len(groups)


def roll_proxy_stats(day: datetime.date) -> int:
    """Sets each proxy's requests and errors for the day from the log; returns how many proxies it set.

    Proxies deleted since are skipped. A later source (live counters) should write through the same
    upsert so that the two never add up twice.
    """
    existing = ProxyServer.objects.values("id")
    groups = (
        logs_of_day(day).filter(proxy_id__in=existing)
        .values("proxy_id")
        .annotate(requests=Count("id"), errors=Count("id", filter=Q(status_code__gte=400)))
        .order_by()
    )
    count = 0
    with transaction.atomic():
        for group in groups:
            ProxyDailyStats.objects.update_or_create(
                proxy_id=group["proxy_id"], date=day,
                defaults={"requests": group["requests"], "errors": group["errors"]},
            )
            count += 1
    return count


def roll_up(day: datetime.date) -> dict:
    """Everything rolled up for a day: what the scheduled tasks and ``aggregate_stats`` run."""
    return {"date": day.isoformat(), "usage_rows": aggregate_day(day), "proxies": roll_proxy_stats(day)}


def purge_cutoff(days: int) -> datetime.datetime:
    """The start of the UTC day ``days`` days ago: a day's log is kept or purged whole."""
    return day_bounds(today() - datetime.timedelta(days=days))[0]


def purge_old_logs(days: int | None = None, batch: int = PURGE_BATCH) -> int:
    """Deletes log rows from before ``purge_cutoff(days)``, a batch at a time; returns how many."""
    if days is None:
        days = settings.GATEWAY["LOG_RETENTION_DAYS"]
    if days < 1:
        raise ValueError("the log retention must be at least one day")
    old = RequestLog.objects.filter(created_at__lt=purge_cutoff(days)).order_by()
    deleted = 0
    while True:
        # MySQL cannot DELETE ... IN (SELECT ... LIMIT n): the ids are read first.
        ids = list(old.values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += RequestLog.objects.filter(id__in=ids).delete()[0]
