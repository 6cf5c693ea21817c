"""The JSON log lines go out through a buffer: a warning at once, the rest within a fraction of a second."""

import logging
import os
import time

import orjson

from gateway.logs import FLUSH_SECONDS, BufferedStreamHandler, JsonFormatter


def read_available(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""


def lines_within(fd: int, seconds: float) -> list:
    deadline, data = time.monotonic() + seconds, b""
    while time.monotonic() < deadline and not data.endswith(b"\n"):
        data += read_available(fd)
        time.sleep(0.01)
    return [orjson.loads(line) for line in data.splitlines()]


def handler_on_a_pipe():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    handler = BufferedStreamHandler(open(write_end, "w", buffering=1 << 16, encoding="utf-8"))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"tests.buffered.{read_end}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, read_end


def test_a_line_waits_in_the_buffer_then_goes_out_within_the_flush_interval():
    logger, read_end = handler_on_a_pipe()
    logger.info("request", extra={"request_id": "req_1"})
    assert read_available(read_end) == b""  # still buffered
    (line,) = lines_within(read_end, FLUSH_SECONDS * 8)
    assert (line["message"], line["request_id"], line["level"]) == ("request", "req_1", "info")


def test_a_warning_goes_out_at_once_with_what_was_buffered_before_it():
    logger, read_end = handler_on_a_pipe()
    logger.info("first")
    logger.warning("then a warning")
    assert [line["message"] for line in lines_within(read_end, FLUSH_SECONDS / 2)] == ["first", "then a warning"]
