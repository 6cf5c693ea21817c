"""The request log's writer on its own: CPU per row as the table grows.

The writer shares the server's core (and its interpreter lock) with the relay, so its cost per row is part
of every request's. This hands log entries shaped like the relay's to the writer's work on a batch (their
report: cost, metrics and JSON log lines, here to /dev/null; then the insert, the live counters and the live
tail) against a fresh database (SQLite in a temporary GATEWAY_DATA_DIR unless DATABASE_URL says otherwise)
and prints the CPU per row every STEP rows.

Usage: .venv/bin/python bench/log_writer.py [ROWS] [STEP]      (200000 25000)
"""
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
os.environ.setdefault("GATEWAY_DATA_DIR", tempfile.mkdtemp(prefix="log-writer-"))

import django  # noqa: E402  (after the environment it reads)

django.setup()

from datetime import datetime, timezone  # noqa: E402

from django.core.management import call_command  # noqa: E402

from gateway.http import request_id_from  # noqa: E402
from gateway.logs import BufferedStreamHandler  # noqa: E402
from stats.recording import recorder  # noqa: E402

BATCH = 500


def entries(count: int) -> list:
    return [{
        "request_id": request_id_from({}), "created_at": datetime.now(timezone.utc), "api_key_id": 1,
        "provider_id": 1, "account_id": 1 + i % 3, "proxy_id": None, "endpoint": "chat.completions",
        "client_format": "openai", "requested_model": "gpt-bench", "upstream_model": "gpt-bench", "stream": True,
        "status_code": 200, "error_type": "", "error_message": "", "prompt_tokens": 12, "completion_tokens": 9,
        "cached_tokens": 0, "reasoning_tokens": 0, "usage_source": "reported", "latency_ms": 5, "ttft_ms": 3,
        "attempts": 1, "client_ip": "127.0.0.1", "images": None, "elapsed": 0.0051, "ended": time.time(),
    } for i in range(count)]


def main(rows: int = 200_000, step: int = 25_000):
    call_command("migrate", verbosity=0)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BufferedStreamHandler):
            handler.setStream(open(os.devnull, "w"))
    print(f"database: {django.db.connection.vendor}; {BATCH} rows a batch")
    written, cpu = 0, 0.0
    while written < rows:
        batch = entries(BATCH)
        started = time.process_time()
        recorder._fresh.extend(batch)
        recorder.report_fresh()
        assert recorder._write([recorder._pending.popleft() for _ in range(len(batch))])
        cpu += time.process_time() - started
        written += BATCH
        if written % step == 0:
            print(f"{written:>9,} rows: {cpu / step * 1e6:6.1f} µs CPU a row", flush=True)
            cpu = 0.0


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
