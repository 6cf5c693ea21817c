"""Query parameters -> a report Scope (and the log list's extra filters); bad values are a 400.

``start`` and ``end`` are UTC dates, both included (default: the last 7 days, today included).
``provider``, ``account``, ``key`` take ids or names (an account as ``provider/name`` or just its
name), ``model`` a model name; each may list several values separated by commas.
"""

import datetime

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from accounts.models import Account
from gateway.models import ApiKey
from providers.models import Provider
from stats.aggregation import today
from stats.reports import Scope

__all__ = ["range_from", "scope_from", "log_filters", "SCOPE_PARAMETERS", "RANGE_PARAMETERS", "LOG_PARAMETERS"]

DEFAULT_DAYS = 7
MAX_DAYS = 366


def range_from(params) -> tuple:
    """(start, end) from ``start`` and ``end``."""
    end = _date(params, "end") or today()
    start = _date(params, "start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationError({"start": "must not be after end"})
    if (end - start).days >= MAX_DAYS:
        raise ValidationError({"start": f"the range may cover at most {MAX_DAYS} days"})
    return start, end


def scope_from(params) -> Scope:
    return Scope(
        *range_from(params),
        providers=_ids(params, "provider", _providers),
        accounts=_ids(params, "account", _accounts),
        keys=_ids(params, "key", _keys),
        models=_values(params, "model"),
    )


def _date(params, name: str):
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: f"{value!r} is not a date such as 2025-01-31"}) from None


def _values(params, name: str):
    values = [v.strip() for raw in params.getlist(name) for v in raw.split(",") if v.strip()]
    return tuple(values) if values else None


def _ids(params, name: str, lookup):
    values = _values(params, name)
    if values is None:
        return None
    ids = set()
    for value in values:
        found = [int(value)] if value.isdecimal() else lookup(value)
        if not found:
            raise ValidationError({name: f"no {name} is named {value!r}"})
        ids.update(found)
    return tuple(sorted(ids))


def _providers(name: str) -> list:
    return list(Provider.objects.filter(name__iexact=name).values_list("id", flat=True))


def _accounts(name: str) -> list:
    provider, _, account = name.rpartition("/")
    rows = Account.objects.filter(name__iexact=account)
    if provider:
        rows = rows.filter(provider__name__iexact=provider)
    return list(rows.values_list("id", flat=True))


def _keys(name: str) -> list:
    return list(ApiKey.objects.filter(name__iexact=name).values_list("id", flat=True))


def log_filters(params) -> Q:
    """The log list's own filters: ``status`` (a code, ``ok``, ``error``, ``4xx``, ``5xx``), ``error_type``
    and ``request_id``."""
    q = Q()
    status = params.get("status", "").strip().lower()
    if status:
        q &= _status(status)
    if params.get("error_type"):
        q &= Q(error_type=params["error_type"])
    if params.get("request_id"):
        q &= Q(request_id=params["request_id"])
    return q


def _status(value: str) -> Q:
    if value == "ok":
        return Q(status_code__lt=400)
    if value == "error":
        return Q(status_code__gte=400)
    if len(value) == 3 and value[0].isdecimal() and value[1:] == "xx":
        first = int(value[0]) * 100
        return Q(status_code__gte=first, status_code__lt=first + 100)
    if value.isdecimal():
        return Q(status_code=int(value))
    raise ValidationError({"status": "a status code, ok, error, 4xx or 5xx"})


def _parameter(name: str, description: str, type_=str):
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=False, description=description)


RANGE_PARAMETERS = [
    _parameter("start", "first UTC day (default: 6 days before end)", datetime.date),
    _parameter("end", "last UTC day, included (default: today)", datetime.date),
]
SCOPE_PARAMETERS = RANGE_PARAMETERS + [
    _parameter("provider", "provider ids or names, comma-separated"),
    _parameter("account", "account ids, provider/name or names, comma-separated"),
    _parameter("key", "gateway key ids or names, comma-separated"),
    _parameter("model", "model names (upstream, or requested when none went upstream), comma-separated"),
]
LOG_PARAMETERS = SCOPE_PARAMETERS + [
    _parameter("status", "a status code, ok, error, 4xx or 5xx"),
    _parameter("error_type", "the error type, e.g. rate_limit"),
    _parameter("request_id", "one request"),
]
