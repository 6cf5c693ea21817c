"""How long an upstream asks us to wait, from the headers of its answer.

``Retry-After`` first (seconds or an HTTP date), then ``retry-after-ms``, then the rate-limit
reset headers: OpenAI's durations (``x-ratelimit-reset-requests: 6m0s``), Anthropic's timestamps
(``anthropic-ratelimit-requests-reset: 2025-01-02T03:04:05Z``) and the plain ``x-ratelimit-reset``
(seconds, or an epoch time). Of several reset headers the latest wins: every limit must be clear.
"""

import re
import time
from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["retry_after"]

_RESET_HEADERS = (
    "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "x-ratelimit-reset",
    "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset",
)
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")
_EPOCH_AFTER = 1_000_000_000.0  # a number this large is a time, not a number of seconds


def retry_after(headers) -> float | None:
    """Seconds to wait, or None when the answer gives no hint."""
    value = _seconds(headers.get("retry-after"))
    if value is not None:
        return value
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    resets = [s for s in (_seconds(headers.get(name)) for name in _RESET_HEADERS) if s is not None]
    return max(resets) if resets else None


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    number = _number(value)
    if number is not None:
        return max(number - time.time(), 0.0) if number > _EPOCH_AFTER else number
    return _duration(value) if value[0].isdigit() and not value[:4].isdigit() else _date(value)


def _number(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _duration(value: str) -> float | None:
    found = _DURATION.match(value)
    if not found or not any(found.groups()):
        return None
    hours, minutes, seconds, millis = (float(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def _date(value: str) -> float | None:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)
