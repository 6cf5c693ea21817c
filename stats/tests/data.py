"""The tests' known values and the figures of log rows recomputed in Python."""

import datetime
import uuid
from decimal import Decimal

from stats.aggregation import UTC, day_bounds
from stats.models import RequestLog

# Values that must never appear in an API response.
CANARIES = {
    "oauth_client_secret": "canary-oauth-secret-71c3",
    "api_key": "canary-upstream-key-52ab",
    "refresh_token": "canary-refresh-token-9e04",
    "access_token": "canary-access-token-3fd8",
    "proxy_password": "canary-proxy-password-6a1e",
}
RAW_KEYS = {"ci": "sk-gw-ci-key-0123456789abcdef", "web": "sk-gw-web-key-fedcba9876543210"}


def at(day: datetime.date, hour=0, minute=0, second=0, microsecond=0) -> datetime.datetime:
    return day_bounds(day)[0].replace(hour=hour, minute=minute, second=second, microsecond=microsecond)


def add_log(created_at, **fields) -> RequestLog:
    values = {"request_id": uuid.uuid4().hex, "created_at": created_at, "status_code": 200, **fields}
    return RequestLog.objects.create(**values)


def model_of(row: RequestLog) -> str:
    return row.upstream_model or row.requested_model


def expected(rows) -> dict:
    """The figures of a set of log rows, computed in Python."""
    rows = list(rows)
    ttfts = [r.ttft_ms for r in rows if r.ttft_ms is not None]
    return {
        "requests": len(rows),
        "errors": sum(r.status_code >= 400 for r in rows),
        "prompt_tokens": sum(r.prompt_tokens for r in rows),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "cached_tokens": sum(r.cached_tokens for r in rows),
        "reasoning_tokens": sum(r.reasoning_tokens for r in rows),
        "total_tokens": sum(r.prompt_tokens + r.completion_tokens for r in rows),
        "cost": sum((r.cost or Decimal(0) for r in rows), Decimal(0)),
        "latency_avg_ms": round(sum(r.latency_ms for r in rows) / len(rows), 1) if rows else None,
        "ttft_avg_ms": round(sum(ttfts) / len(ttfts), 1) if ttfts else None,
    }


def as_expected(data: dict) -> dict:
    """An API entry's figures in the shape of ``expected`` (cost back to a Decimal)."""
    figures = {name: data[name] for name in expected([])}
    figures["cost"] = Decimal(str(data["cost"]))
    return figures


def in_days(rows, *days_):
    return [r for r in rows if r.created_at.astimezone(UTC).date() in days_]
