"""What a finished request reports besides its log row: its cost, the relay's metrics (the cost among
them) and its JSON log line.

The request log's writer thread calls ``report`` with the entries recorded since its last turn (every
LOG_FLUSH_SECONDS, and before this process answers a /metrics scrape): none of it runs on the request
path, a batch shares the work of its label sets and handler lookups, and it runs whether the database
takes the rows or not.
"""

import logging

from gateway.logs import log_lines
from gateway.metrics import observe_requests
from gateway.snapshot import holder
from stats.pricing import cost_of

__all__ = ["report"]

log = logging.getLogger("gateway.requests")


def _provider_names() -> dict:
    snapshot = holder.current
    return {pid: provider.name for pid, provider in snapshot.providers.items()} if snapshot else {}


def report(entries: list):
    names = _provider_names()
    for entry in entries:
        entry["cost"] = cost_of(entry)  # a column too: priced once, while the prices are those of its time
    observe_requests(entries, names)
    if log.isEnabledFor(logging.INFO):
        log_lines(log, logging.INFO, "request", [(entry["ended"], _line(entry, names)) for entry in entries])


def _line(entry: dict, names: dict) -> dict:
    return {
        "request_id": entry["request_id"], "format": entry["client_format"], "endpoint": entry["endpoint"],
        "model": entry["requested_model"], "upstream_model": entry["upstream_model"],
        "provider": names.get(entry["provider_id"], "-"), "account_id": entry["account_id"],
        "status_code": entry["status_code"], "error_type": entry["error_type"], "streaming": entry["stream"],
        "attempts": entry["attempts"], "duration_ms": round(entry["elapsed"] * 1000, 2),
        "prompt_tokens": entry["prompt_tokens"], "completion_tokens": entry["completion_tokens"],
    }
