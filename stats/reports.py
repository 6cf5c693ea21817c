"""The numbers the stats API shows, as plain functions of a Scope (a UTC date range and filters).

Totals per day, per model, provider, account or key come from DailyUsage for the days already rolled
up (every day before today that ``aggregate_day`` has seen) and from the request log for the rest,
today always included: the two are added, never counted twice. The summary (percentiles need the
rows) and everything about proxies, logs and unpriced models read the request log.
"""

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate

from accounts.models import Account
from gateway.models import ApiKey
from providers.models import ModelPrice, Provider
from proxies.models import ProxyServer
from stats.aggregation import MODEL, UTC, day_bounds, today, usage_totals
from stats.models import DailyUsage, RequestLog
from stats.pricing import price_for

__all__ = ["Scope", "GROUPS", "logs", "rolled_days", "summary", "percentile", "daily", "grouped", "totals", "unpriced"]

SUMS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cost",
        "latency_ms_sum", "latency_count", "ttft_ms_sum", "ttft_count")
CENT_MILLIONTHS = Decimal("0.00000001")


@dataclass(frozen=True)
class Scope:
    start: datetime.date
    end: datetime.date  # inclusive
    providers: tuple | None = None  # ids; None: all
    accounts: tuple | None = None
    keys: tuple | None = None
    models: tuple | None = None  # names: upstream_model, or requested_model when that is empty

    @property
    def days(self) -> list:
        return [self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


# What a report can group by, and the column it groups (MODEL's name on the log side).
GROUPS = {
    "model": "model",
    "provider": "provider_id",
    "account": "account_id",
    "key": "api_key_id",
    "proxy": "proxy_id",
}


def _dimensions(scope: Scope, model_q) -> Q:
    q = Q()
    if scope.providers is not None:
        q &= Q(provider_id__in=scope.providers)
    if scope.accounts is not None:
        q &= Q(account_id__in=scope.accounts)
    if scope.keys is not None:
        q &= Q(api_key_id__in=scope.keys)
    if scope.models is not None:
        q &= model_q(scope.models)
    return q


def _log_models(models) -> Q:
    return Q(upstream_model__in=models) | Q(upstream_model="", requested_model__in=models)


def _days_q(days) -> Q:
    """created_at within any of the days, one range per run of consecutive days."""
    q = Q(pk__in=[])
    runs = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1][1] = day + datetime.timedelta(days=1)
        else:
            runs.append([day, day + datetime.timedelta(days=1)])
    for first, after in runs:
        q |= Q(created_at__gte=day_bounds(first)[0], created_at__lt=day_bounds(after)[0])
    return q


def logs(scope: Scope):
    """The scope's request log rows."""
    start, end = day_bounds(scope.start)[0], day_bounds(scope.end)[1]
    return RequestLog.objects.filter(created_at__gte=start, created_at__lt=end).filter(_dimensions(scope, _log_models))


def rolled_days(scope: Scope) -> set:
    """The scope's days that DailyUsage holds, today excepted (it is still being written)."""
    last = min(scope.end, today() - datetime.timedelta(days=1))
    found = DailyUsage.objects.filter(date__gte=scope.start, date__lte=last)
    return set(found.values_list("date", flat=True).distinct().order_by())


def _rollup_sums() -> dict:
    return {name: Sum(name) for name in SUMS}


def _sources(scope: Scope, log_key, usage_key, rolled=None) -> list:
    """Grouped sums from both sources: [(group value, sums)], a group possibly twice.

    A key is (name, expression or None); None as the key: one total.
    """
    rolled = rolled_days(scope) if rolled is None else rolled
    live = [day for day in scope.days if day not in rolled]
    parts = []
    if live:
        rows = RequestLog.objects.filter(_days_q(live)).filter(_dimensions(scope, _log_models))
        parts.append((rows, log_key, usage_totals()))
    if rolled:
        rows = DailyUsage.objects.filter(date__in=rolled).filter(_dimensions(scope, lambda m: Q(model__in=m)))
        parts.append((rows, usage_key, _rollup_sums()))
    found = []
    for rows, key, sums in parts:
        if key is None:
            found.append((None, rows.aggregate(**sums)))
            continue
        name, expression = key
        if expression is not None:
            rows = rows.annotate(**{name: expression})
        for row in rows.values(name).annotate(**sums).order_by():
            found.append((row.pop(name), row))
    return found


def _merge(found) -> dict:
    merged = {}
    for group, sums in found:
        into = merged.setdefault(group, dict.fromkeys(SUMS, 0))
        for name in SUMS:
            into[name] += sums[name] or 0
    return merged


def _figures(sums: dict) -> dict:
    """The public numbers of a set of sums."""
    return {
        "requests": sums["requests"],
        "errors": sums["errors"],
        "prompt_tokens": sums["prompt_tokens"],
        "completion_tokens": sums["completion_tokens"],
        "cached_tokens": sums["cached_tokens"],
        "reasoning_tokens": sums["reasoning_tokens"],
        "total_tokens": sums["prompt_tokens"] + sums["completion_tokens"],
        "cost": Decimal(sums["cost"] or 0).quantize(CENT_MILLIONTHS),
        "latency_avg_ms": _average(sums["latency_ms_sum"], sums["latency_count"]),
        "ttft_avg_ms": _average(sums["ttft_ms_sum"], sums["ttft_count"]),
    }


def _average(total, count):
    return round(total / count, 1) if count else None


def totals(scope: Scope) -> dict:
    merged = _merge(_sources(scope, None, None))
    return _figures(merged.get(None, dict.fromkeys(SUMS, 0)))


def daily(scope: Scope) -> list:
    """One entry per day of the scope, zeros included, oldest first."""
    rolled = rolled_days(scope)
    merged = _merge(_sources(scope, ("date", TruncDate("created_at", tzinfo=UTC)), ("date", None), rolled))
    empty = dict.fromkeys(SUMS, 0)
    return [
        {"date": day, "source": "rollup" if day in rolled else "log", **_figures(merged.get(day, empty))}
        for day in scope.days
    ]


def grouped(scope: Scope, by: str) -> list:
    """Totals per model, provider, account, key or proxy; most requests first."""
    column = GROUPS[by]
    if by == "proxy":  # DailyUsage has no proxy: the log only
        found = [(row.pop(column), row) for row in logs(scope).values(column).annotate(**usage_totals()).order_by()]
    else:
        found = _sources(scope, (column, MODEL if by == "model" else None), (column, None))
    merged = _merge(found)
    if by == "model":
        rows = [{"model": model, **_figures(sums)} for model, sums in merged.items()]
        return sorted(rows, key=lambda row: (-row["requests"], row["model"]))
    names = LABELS[by]([pk for pk in merged if pk is not None])
    rows = [{"id": pk, "name": names.get(pk), **_figures(sums)} for pk, sums in merged.items()]
    return sorted(rows, key=lambda row: (-row["requests"], row["name"] or ""))


def _account_names(ids) -> dict:
    return {pk: str(row) for pk, row in Account.objects.select_related("provider").in_bulk(ids).items()}


def _names_of(model):
    return lambda ids: {pk: row.name for pk, row in model.objects.in_bulk(ids).items()}


# A deleted row's id still groups its log rows; its name is then null.
LABELS = {
    "provider": _names_of(Provider),
    "account": _account_names,
    "key": _names_of(ApiKey),
    "proxy": _names_of(ProxyServer),
}


def percentile(rows, column: str, share: float, count: int):
    """The nearest-rank percentile, picked by the database (ORDER BY ... OFFSET) rather than in Python."""
    if not count:
        return None
    index = max(math.ceil(share * count) - 1, 0)
    return rows.order_by(column).values_list(column, flat=True)[index]


def summary(scope: Scope) -> dict:
    rows = logs(scope)
    sums = rows.aggregate(**usage_totals())
    figures = _figures({name: sums[name] or 0 for name in SUMS})
    requests = figures["requests"]
    figures["success_rate"] = round((requests - figures["errors"]) / requests, 4) if requests else None
    figures["latency_p50_ms"] = percentile(rows, "latency_ms", 0.50, requests)
    figures["latency_p95_ms"] = percentile(rows, "latency_ms", 0.95, requests)
    return figures


def unpriced(scope: Scope) -> list:
    """Upstream models in the scope's log whose rows have no cost, with whether a price exists now."""
    prices = list(ModelPrice.objects.order_by("-valid_from"))
    now = datetime.datetime.now(UTC)
    found = (
        logs(scope).filter(cost__isnull=True).exclude(upstream_model="")
        .values("upstream_model")
        .annotate(requests=Count("id"), prompt_tokens=Sum("prompt_tokens"),
                  completion_tokens=Sum("completion_tokens"), first_seen=Min("created_at"),
                  last_seen=Max("created_at"))
        .order_by("-requests", "upstream_model")
    )
    result = []
    for row in found:
        model = row.pop("upstream_model")
        result.append({"model": model, **row, "priced_now": price_for(prices, model, now) is not None})
    return result
