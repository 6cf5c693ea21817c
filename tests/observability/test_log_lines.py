"""The JSON log lines go out through a buffer: a warning at once, the rest within a fraction of a second."""

import logging
import os
import time

import orjson

from gateway.logs import FLUSH_SECONDS, BufferedStreamHandler, JsonFormatter, log_lines


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


def test_log_lines_writes_the_lines_logging_would_write():
    logger, read_end = handler_on_a_pipe()
    fields = {"request_id": "req_2", "status_code": 200, "duration_ms": 1.5, "error_type": None}
    logger.info("request", extra=fields)
    log_lines(logger, logging.INFO, "request", [(time.time(), fields), (time.time(), {**fields, "request_id": "r"})])
    logger.handlers[0].flush()
    through_logging, direct, second = lines_within(read_end, 1)
    assert through_logging.pop("timestamp")[:4] == direct.pop("timestamp")[:4]
    assert direct == through_logging == {"level": "info", "logger": logger.name, "message": "request", **fields}
    assert second["request_id"] == "r"


def test_log_lines_are_stamped_with_the_time_they_were_given(caplog):
    logger, read_end = handler_on_a_pipe()
    then = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z
    log_lines(logger, logging.INFO, "request", [(then, {"request_id": "req_5"})])
    logger.handlers[0].flush()
    assert lines_within(read_end, 1)[0]["timestamp"] == "2023-11-14T22:13:20.250Z"

    other, _ = handler_on_a_pipe()
    other.propagate = True  # through logging: caplog's handler is on the root
    log_lines(other, logging.INFO, "request", [(then, {"request_id": "req_6"})])
    assert [(record.request_id, record.created) for record in caplog.records] == [("req_6", then)]


def test_log_lines_respects_the_level():
    logger, read_end = handler_on_a_pipe()
    logger.setLevel(logging.WARNING)
    log_lines(logger, logging.INFO, "request", [(time.time(), {"request_id": "req_3"})])
    logger.handlers[0].flush()
    assert read_available(read_end) == b""


def test_log_lines_goes_through_logging_when_a_filter_or_another_handler_is_configured(caplog):
    logger, read_end = handler_on_a_pipe()
    logger.addFilter(lambda record: record.request_id != "req_hidden")
    log_lines(logger, logging.INFO, "request", [(time.time(), {"request_id": "req_hidden"})])
    logger.handlers[0].flush()
    assert read_available(read_end) == b""

    other, _ = handler_on_a_pipe()
    other.propagate = True  # caplog's handler on the root: not one of ours
    log_lines(other, logging.INFO, "request", [(time.time(), {"request_id": "req_4"})])
    assert [record.request_id for record in caplog.records] == ["req_4"]
