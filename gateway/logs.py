"""JSON log lines: one object per record, with the request id when there is one."""

import logging
import os
import sys
import threading
import time

import orjson

__all__ = ["JsonFormatter", "BufferedStreamHandler"]

FLUSH_SECONDS = 0.25

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    _stamp = (-1, "")  # (a second, its date and time): many lines a second, formatted once

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        stamp = self._stamp
        if stamp[0] != second:
            stamp = self._stamp = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        entry = {
            "timestamp": f"{stamp[1]}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class BufferedStreamHandler(logging.StreamHandler):
    """Lines to standard error through a buffer: at thousands of requests a second a line per system
    call cost the relay a few percent. A warning or worse is written at once; the rest within
    FLUSH_SECONDS (a daemon thread), and at exit (logging's shutdown flushes every handler)."""

    def __init__(self, stream=None):
        if stream is None:
            stream = open(os.dup(sys.stderr.fileno()), "w", buffering=1 << 16, encoding="utf-8",
                          errors="backslashreplace")
        super().__init__(stream)
        self._start_flusher()
        os.register_at_fork(after_in_child=self._start_flusher)  # a forked worker has no threads

    def _start_flusher(self):
        threading.Thread(target=self._flush_now_and_then, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord):
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_now_and_then(self):
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()
