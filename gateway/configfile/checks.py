"""Value checks for config entries: each takes what YAML gave and returns what the model stores.

Values written in YAML must have the right type; values that came from ``${VAR}`` are text and are
parsed for the field (``timeout: ${TIMEOUT:-600}`` is a number).
"""

import datetime
import ipaddress
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from gateway.configfile.source import Expanded

__all__ = [
    "Invalid", "text", "number", "integer", "boolean", "decimal", "moment", "names", "labels", "networks",
    "choice", "optional",
]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class Invalid(ValueError):
    """The message completes "'<key>' ...": e.g. "must be a number"."""


def text(value) -> str:
    if isinstance(value, str):
        return str(value)
    raise Invalid(f"must be a string, not {_kind(value)}")


def number(value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, Expanded):
        try:
            return float(value)
        except ValueError:
            pass
    raise Invalid(f"must be a number, not {_kind(value)}")


def integer(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Expanded) and value.strip().lstrip("-").isdecimal():
        return int(value)
    raise Invalid(f"must be a whole number, not {_kind(value)}")


def boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Expanded) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Invalid(f"must be true or false, not {_kind(value)}")


def decimal(value) -> Decimal:
    if isinstance(value, (int, float, Expanded)) and not isinstance(value, bool):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            pass
        else:
            if result.is_finite():
                return result
    raise Invalid(f"must be a number, not {_kind(value)}")


def moment(value) -> datetime.datetime:
    """A date or a date and time; without a zone it is UTC."""
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            try:
                value = datetime.date.fromisoformat(value.strip())
            except ValueError:
                raise Invalid(f"must be a date or time such as 2025-01-31T00:00:00Z, not {value!r}") from None
        else:
            value = parsed
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
    raise Invalid(f"must be a date or time, not {_kind(value)}")


def names(value) -> list:
    """A list of strings, such as model globs."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [str(item) for item in value]
    raise Invalid("must be a list of strings")


def labels(value) -> dict:
    """Tags: a mapping of names to plain values."""
    plain = (str, int, float, bool, type(None))
    if isinstance(value, dict) and all(isinstance(item, plain) for item in value.values()):
        return {str(key): (str(item) if isinstance(item, str) else item) for key, item in value.items()}
    raise Invalid("must be a mapping of names to plain values")


def networks(value) -> list:
    """A list of addresses or CIDR blocks."""
    result = names(value)
    for item in result:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise Invalid(f"has {item!r}, which is not an address or a CIDR block") from None
    return result


def choice(options):
    def check(value):
        if isinstance(value, str) and value in options:
            return str(value)
        raise Invalid(f"must be one of {', '.join(options)}, not {value!r}")

    return check


def optional(check):
    def check_or_none(value):
        return None if value is None else check(value)

    return check_or_none


def _kind(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return repr(value)
