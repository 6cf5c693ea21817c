"""The request log, written off the hot path.

The relay hands each finished call to ``recorder.record`` (an append to a deque, nothing more).
A writer thread turns them into RequestLog rows in batches with ``bulk_create``; a unique request
id makes a retried batch harmless. When the database is down the rows wait in memory and are
written, each once, when it is back.
"""

import atexit
import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import close_old_connections

from stats.pricing import cost_of

__all__ = ["Recorder", "recorder", "entry_from_call"]

log = logging.getLogger(__name__)


def entry_from_call(call) -> dict:
    """The row's values, computed on the hot path only where they are cheap."""
    usage = call.usage
    if usage is None:
        source = "none"
    elif call.usage_partial:
        source = "partial"
    else:
        source = "reported"
    elapsed = time.monotonic() - call.started
    return {
        "request_id": call.request_id,
        "created_at": datetime.now(timezone.utc) - timedelta(seconds=elapsed),
        "api_key_id": call.key.id if call.key else None,
        "provider_id": call.provider_id,
        "account_id": call.account_id,
        "proxy_id": call.proxy_id,
        "endpoint": call.endpoint,
        "client_format": call.client_format,
        "requested_model": call.requested_model[:200],
        "upstream_model": call.upstream_model[:200],
        "stream": call.stream,
        "status_code": call.status,
        "error_type": call.error_type,
        "error_message": call.error_message[:2000],
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cached_tokens": usage.cached_tokens if usage else 0,
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        "usage_source": source,
        "latency_ms": int(elapsed * 1000),
        "ttft_ms": int(call.ttft * 1000) if call.ttft is not None else None,
        "attempts": call.attempts,
        "client_ip": call.client_ip or None,
    }


class Recorder:
    def __init__(self):
        self._pending = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self.written = 0
        self.failures = 0

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def record(self, call):
        self._pending.append(entry_from_call(call))
        self._idle.clear()
        if self._thread is None:
            self._start()
        if len(self._pending) >= settings.GATEWAY["LOG_BATCH_SIZE"]:
            self._wake.set()

    def _start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
                self._thread.start()

    def _run(self):
        while True:
            self._wake.wait(settings.GATEWAY["LOG_FLUSH_SECONDS"])
            self._wake.clear()
            if not self.write_pending():
                time.sleep(min(30, 2 ** min(self.failures, 5)))

    def write_pending(self) -> bool:
        """Write everything pending, a batch at a time; False when the database refused."""
        batch_size = settings.GATEWAY["LOG_BATCH_SIZE"]
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(batch_size, len(self._pending)))]
            try:
                self._insert(batch)
            except Exception:
                self.failures += 1
                self._pending.extendleft(reversed(batch))
                log.warning("request log write failed; %d rows wait for the database", len(self._pending))
                return False
            finally:
                close_old_connections()
            self.failures = 0
            self.written += len(batch)
        self._idle.set()
        return True

    def _insert(self, batch: list):
        from stats.models import RequestLog

        rows = []
        for values in batch:
            row = RequestLog(**values)
            row.cost = cost_of(values)
            rows.append(row)
        RequestLog.objects.bulk_create(rows, ignore_conflicts=True)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is pending now (graceful shutdown, tests); True when nothing is left."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            if not self.write_pending():
                time.sleep(0.2)
        return not self._pending


recorder = Recorder()
atexit.register(recorder.flush)
