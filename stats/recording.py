"""The request log, written off the hot path.

The relay hands each finished call to ``recorder.record`` (an entry appended to a deque, nothing more).
A writer thread reports the entries (metrics, the JSON log lines: stats.reporting), then turns them
into RequestLog rows in batches: the INSERT that ``bulk_create`` would issue, worked out once and
carrying many rows a statement (far cheaper per row, which matters when the writer shares a core with
the relay); a unique request id makes a retried batch harmless. When the database is down the rows
wait in memory and are written, each once, when it is back; the reports go on meanwhile.
"""

import atexit
import logging
import sqlite3
import threading
import time
from collections import deque
from datetime import datetime, timezone
from functools import lru_cache, partial
from itertools import chain
from typing import NamedTuple

from django.conf import settings
from django.db import (DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, close_old_connections,
                       connections, transaction)
from django.db.models.constants import OnConflict

from gateway import conf
from gateway.metrics import LOG_BACKLOG, LOG_DROPPED, LOG_SPILLED, publish_in_flight
from proxies.counters import count_rows
from stats.live import count_usage
from stats.pricing import cost_of
from stats.reporting import report
from stats.spool import Spool
from stats.tail import publish

__all__ = ["Recorder", "recorder", "entry_from_call", "insert_rows"]

log = logging.getLogger(__name__)


def entry_from_call(call) -> dict:
    """The row's values, computed on the hot path only where they are cheap."""
    usage = call.usage
    if usage is None:
        source = "none"
    elif call.usage_estimated:
        source = "estimated"
    elif call.usage_partial:
        source = "partial"
    else:
        source = "reported"
    elapsed = time.monotonic() - call.started
    ended = time.time()
    return {
        "request_id": call.request_id,
        "created_at": datetime.fromtimestamp(ended - elapsed, timezone.utc),
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
        "images": call.images or None,
        # not columns: for the report (stats.reporting)
        "elapsed": elapsed,
        "ended": ended,
    }


@lru_cache(maxsize=4)
def _insert_plan(alias: str):
    """What bulk_create(ignore_conflicts=True) would work out for every batch, once: the columns, a
    converter per column, and how many rows one statement may carry on this database."""
    from stats.models import RequestLog

    conn = connections[alias]
    ops = conn.ops
    fields = [f for f in RequestLog._meta.concrete_fields if not f.primary_key]
    converters = []
    for index, field in enumerate(fields):
        kind = field.get_internal_type()
        if kind == "DateTimeField":
            converters.append((index, _datetime_adapter(conn)))
        elif kind == "DecimalField":
            converters.append((index, partial(ops.adapt_decimalfield_value, max_digits=field.max_digits,
                                              decimal_places=field.decimal_places)))
        elif kind == "GenericIPAddressField":
            converters.append((index, ops.adapt_ipaddressfield_value))
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    table = ops.quote_name(RequestLog._meta.db_table)
    return _InsertPlan(
        head=f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {table} ({columns})",
        suffix=ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None) or "",
        rows_per_statement=max(1, min(MAX_ROWS_PER_STATEMENT, _rows_allowed(conn, fields))),
        names=[f.attname for f in fields],
        converters=converters,
        placeholder="?" if conn.Database.paramstyle == "qmark" else "%s",
        prepared=conn.vendor == "sqlite",
    )


def _datetime_adapter(conn):
    """The backend's adapter; on SQLite and MySQL, for a UTC value kept in UTC (every created_at), the
    same text without the adapter's settings lookups and conversions per value."""
    adapt = conn.ops.adapt_datetimefield_value
    if conn.vendor not in ("sqlite", "mysql") or conn.timezone is not timezone.utc:
        return adapt

    def adapt_utc(value):
        # "YYYY-MM-DD HH:MM:SS[.ffffff]", as the adapter writes it: the ISO text less its "+00:00"
        return value.isoformat(" ")[:-6] if value.tzinfo is timezone.utc else adapt(value)

    return adapt_utc


def _rows_allowed(conn, fields: list) -> int:
    """Rows one statement may carry. Django assumes SQLite's old default of 999 variables (37 rows of
    the log's); the library in use says its own limit (32,766 since SQLite 3.32)."""
    if conn.vendor == "sqlite":
        conn.ensure_connection()
        return conn.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(fields)
    return conn.ops.bulk_batch_size(fields, [None] * MAX_ROWS_PER_STATEMENT)


class _InsertPlan(NamedTuple):
    head: str  # INSERT ... INTO table (columns)
    suffix: str  # what makes a stored request id a no-op
    rows_per_statement: int
    names: list
    converters: list  # (column index, converter) for the columns the database needs adapted
    placeholder: str  # the driver's own: its cursor gets the statement as it is
    prepared: bool  # the driver prepares each distinct statement and keeps it (sqlite3: the last 128)


MAX_ROWS_PER_STATEMENT = 500


def statement_sizes(count: int, most: int, prepared: bool):
    """How many rows each INSERT of a batch of ``count`` carries. Where the driver prepares and keeps
    each distinct statement, only a few sizes are used (``most``, then powers of two): with one size per
    batch length, sqlite3's cache held up to 128 statements of hundreds of rows (a batch's length is
    whatever came in a flush interval): 95 MiB more memory, and 45 % more CPU a row re-preparing them."""
    while count > 0:
        rows = most if count >= most or not prepared else 1 << (count.bit_length() - 1)
        rows = min(rows, count)
        yield rows
        count -= rows


@lru_cache(maxsize=16)
def _insert_sql(alias: str, rows: int) -> str:
    plan = _insert_plan(alias)
    row = "(" + ", ".join([plan.placeholder] * len(plan.names)) + ")"
    return f"{plan.head} VALUES {', '.join([row] * rows)} {plan.suffix}".strip()


def insert_rows(batch: list):
    """Insert log entries; a request id already stored is skipped, so a retried batch is harmless.

    Many rows to a statement: SQLite lets other threads run while it executes each statement, and a
    statement per row made the writer and the event loop trade the interpreter lock hundreds of times a
    batch, which cost the relay more than the writing itself. The statements go to the driver's cursor:
    Django's rewrites the placeholders of each one on SQLite (a regex over 13,000 of them a batch)."""
    plan = _insert_plan(DEFAULT_DB_ALIAS)
    params = []
    for values in batch:
        if "cost" not in values:  # not reported (the report failed; a spool of an older version)
            values["cost"] = cost_of(values)
        row = list(map(values.get, plan.names))
        for index, convert in plan.converters:
            if row[index] is not None:
                row[index] = convert(row[index])
        params.append(row)
    connection = connections[DEFAULT_DB_ALIAS]
    with transaction.atomic(), connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            start = 0
            for rows in statement_sizes(len(params), plan.rows_per_statement, plan.prepared):
                chunk = params[start:start + rows]
                cursor.execute(_insert_sql(DEFAULT_DB_ALIAS, rows), list(chain.from_iterable(chunk)))
                start += rows
        finally:
            cursor.close()


class Recorder:
    """Buffers log entries in memory and writes them from one thread; see the module docstring.

    Memory is bounded: past MAX_PENDING rows (the database is away) the oldest are spilled to disk
    and replayed when it returns. A hard crash loses what is in memory: at most LOG_FLUSH_SECONDS of
    traffic while the database is up, at most MAX_PENDING rows while it is down.
    """

    def __init__(self):
        self._fresh = deque()  # recorded, not yet reported
        self._reporting = threading.Lock()
        self._pending = deque()  # reported, waiting to be written
        self._wake = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # held while a batch is out of _pending and not yet written
        self._spool = None
        self.written = 0
        self.failures = 0

    @property
    def spool(self) -> Spool:
        if self._spool is None:
            self._spool = Spool()
        return self._spool

    @property
    def backlog(self) -> int:
        return len(self._fresh) + len(self._pending)

    def record(self, call):
        self._fresh.append(entry_from_call(call))
        if self._thread is None:
            self._start()
        if len(self._fresh) >= conf.SETTINGS.GATEWAY["LOG_BATCH_SIZE"]:
            self._wake.set()

    def report_fresh(self):
        """Report the entries recorded since the last call; they then wait to be written. The gauge of
        requests in flight is published with them."""
        with self._reporting:  # one reporter at a time keeps the entries in order
            publish_in_flight()
            entries = [self._fresh.popleft() for _ in range(len(self._fresh))]
            if not entries:
                return
            try:
                report(entries)
            except Exception:  # metrics and log lines must never cost the rows
                log.exception("request report failed")
            finally:
                self._pending.extend(entries)

    def _start(self):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-log-writer", daemon=True)
                self._thread.start()

    def _run(self):
        retry_at = 0.0  # while the database is away, rows wait until then; reports go on every turn
        while True:
            self._wake.wait(settings.GATEWAY["LOG_FLUSH_SECONDS"])
            self._wake.clear()
            self.report_fresh()
            if time.monotonic() < retry_at:
                continue
            try:
                written = self.write_pending()
            except Exception:  # the thread is the log's only writer: it must outlive any one bad batch
                log.exception("request log writer failed; retrying")
                written = False
            retry_at = 0.0 if written else time.monotonic() + min(30, 0.5 * 2 ** min(self.failures, 6))

    def write_pending(self) -> bool:
        """Write everything pending, a batch at a time; False when the database is unreachable."""
        self.report_fresh()
        with self._writing:
            batch_size = settings.GATEWAY["LOG_BATCH_SIZE"]
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(batch_size, len(self._pending)))]
                try:
                    written = self._write(batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))  # whatever went wrong, the rows stay
                    raise
                if not written:
                    self._pending.extendleft(reversed(batch))
                    self._spill_excess()
                    return False
            LOG_BACKLOG.set(0)
            return self._replay_spool()

    def _write(self, batch: list) -> bool:
        try:
            insert_rows(batch)
        except (OperationalError, InterfaceError):
            self.failures += 1
            close_old_connections()
            if self.failures == 1 or self.failures % 20 == 0:
                log.warning("request log write failed; %d rows wait for the database", len(self._pending) + len(batch))
            return False
        except DatabaseError:
            self._isolate(batch)
        else:
            self.written += len(batch)
            count_rows(batch)
            count_usage(batch)
            publish(batch)
        self.failures = 0
        return True

    def _isolate(self, batch: list):
        """One bad row must not hold back the others: write them one by one, set the bad ones aside."""
        for values in batch:
            try:
                insert_rows([values])
            except (OperationalError, InterfaceError):
                raise
            except DatabaseError:
                log.error("request log row %s refused by the database; kept in the spool's poison file",
                          values.get("request_id"))
                self.spool.quarantine([values])
                LOG_DROPPED.inc()
            else:
                self.written += 1

    def _spill_excess(self):
        excess = len(self._pending) - settings.GATEWAY["LOG_MAX_PENDING"]
        if excess > 0:
            rows = [self._pending.popleft() for _ in range(excess)]
            self.spool.append(rows)
            LOG_SPILLED.inc(len(rows))
        LOG_BACKLOG.set(len(self._pending))

    def _replay_spool(self) -> bool:
        for path in self.spool.waiting():
            claimed = self.spool.claim(path)
            if claimed is None:
                continue
            rows = Spool.read(claimed)
            batch_size = settings.GATEWAY["LOG_BATCH_SIZE"]
            for start in range(0, len(rows), batch_size):
                if not self._write(rows[start:start + batch_size]):
                    self.spool.append(rows[start:])
                    claimed.unlink()
                    return False
            claimed.unlink()
        return True

    def spill_all(self):
        """Put everything still in memory on disk (shutdown while the database is away)."""
        self.report_fresh()
        rows = [self._pending.popleft() for _ in range(len(self._pending))]
        if rows:
            self.spool.append(rows)
            LOG_SPILLED.inc(len(rows))

    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is pending (graceful shutdown, tests); what cannot be written goes to the spool."""
        deadline = time.monotonic() + timeout
        while (self._fresh or self._pending) and time.monotonic() < deadline:
            if not self.write_pending():
                time.sleep(0.2)
        # A batch the writer thread took may still be on its way: written is when the lock comes back.
        if self._writing.acquire(timeout=max(deadline - time.monotonic(), 0.01)):
            self._writing.release()
        if self._pending:
            self.spill_all()
            return False
        return True


recorder = Recorder()
atexit.register(recorder.flush)
