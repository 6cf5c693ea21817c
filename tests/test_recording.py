"""The request log writer: batches, exactly once, survives a database outage, isolates a poison row."""

from datetime import datetime, timezone

import pytest
from django.db import DataError, OperationalError
from django.test import override_settings

from stats import recording
from stats.models import RequestLog
from stats.recording import Recorder, insert_rows, statement_sizes
from stats.spool import Spool

pytestmark = pytest.mark.django_db(transaction=True)


def entry(n: int) -> dict:
    return {
        "request_id": f"req-{n}", "created_at": datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=timezone.utc),
        "api_key_id": None, "provider_id": None, "account_id": None, "proxy_id": None, "endpoint": "chat",
        "client_format": "openai", "requested_model": "m", "upstream_model": "m", "stream": n % 2 == 0,
        "status_code": 200, "error_type": "", "error_message": "", "prompt_tokens": n, "completion_tokens": 2,
        "cached_tokens": 0, "reasoning_tokens": 0, "usage_source": "reported", "latency_ms": 5, "ttft_ms": None,
        "attempts": 1, "client_ip": "127.0.0.1", "elapsed": 0.005, "ended": 1767323045.255,
    }


@pytest.fixture
def writer(tmp_path):
    rec = Recorder()
    rec._spool = Spool(tmp_path / "spool")
    return rec


def test_it_writes_each_request_id_once(writer):
    insert_rows([entry(1), entry(2)])
    writer._pending.extend([entry(1), entry(2), entry(3)])
    assert writer.write_pending()
    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == ["req-1", "req-2", "req-3"]
    row = RequestLog.objects.get(request_id="req-2")
    assert row.stream is True and row.created_at == entry(2)["created_at"] and row.client_ip == "127.0.0.1"


@override_settings(GATEWAY={**recording.settings.GATEWAY, "LOG_MAX_PENDING": 10, "LOG_BATCH_SIZE": 4})
def test_it_keeps_rows_through_an_outage_and_writes_them_once_when_it_ends(writer, monkeypatch):
    real_insert = recording.insert_rows

    def database_down(batch):
        raise OperationalError("database is down")

    monkeypatch.setattr(recording, "insert_rows", database_down)
    writer._pending.extend(entry(n) for n in range(25))
    assert not writer.write_pending()
    assert writer.backlog == 10  # memory stays bounded
    assert len(writer.spool.waiting()) == 1  # the rest is on disk
    monkeypatch.setattr(recording, "insert_rows", real_insert)
    assert writer.write_pending()
    assert RequestLog.objects.count() == 25
    assert writer.spool.waiting() == []


def test_it_spills_what_it_cannot_write_at_shutdown(writer, monkeypatch):
    monkeypatch.setattr(recording, "insert_rows", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    writer._pending.extend(entry(n) for n in range(3))
    assert writer.flush(timeout=0.3) is False
    assert writer.backlog == 0
    assert [len(Spool.read(p)) for p in writer.spool.waiting()] == [3]


def test_a_poison_row_does_not_block_the_others(writer, monkeypatch):
    real_insert = recording.insert_rows

    def refuses_row_3(batch):
        if any(values["request_id"] == "req-3" for values in batch):
            raise DataError("value out of range")
        real_insert(batch)

    monkeypatch.setattr(recording, "insert_rows", refuses_row_3)
    writer._pending.extend(entry(n) for n in range(6))
    assert writer.write_pending()
    assert RequestLog.objects.count() == 5
    assert (writer.spool.directory / "poison.jsonl").exists()


def test_the_writer_thread_survives_an_unexpected_error(writer, monkeypatch):
    calls = []

    def broken_then_fine(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("not a database error")
        recording.insert_rows.__wrapped__(batch)

    real_insert = recording.insert_rows
    broken_then_fine.__wrapped__ = real_insert
    monkeypatch.setattr(recording, "insert_rows", broken_then_fine)
    writer._pending.extend(entry(n) for n in range(3))
    writer._start()
    writer._wake.set()
    deadline = recording.time.monotonic() + 5
    while RequestLog.objects.count() < 3 and recording.time.monotonic() < deadline:
        writer._wake.set()
        recording.threading.Event().wait(0.01)
    assert RequestLog.objects.count() == 3


def test_it_reports_each_entry_once_whether_or_not_the_database_takes_it(writer, monkeypatch):
    reported = []
    monkeypatch.setattr(recording, "report", lambda entries: reported.extend(e["request_id"] for e in entries))
    real_insert = recording.insert_rows
    monkeypatch.setattr(recording, "insert_rows", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    writer._fresh.extend(entry(n) for n in range(3))
    assert not writer.write_pending()
    assert reported == ["req-0", "req-1", "req-2"] and writer.backlog == 3  # reported; the rows wait
    writer._fresh.append(entry(3))
    monkeypatch.setattr(recording, "insert_rows", real_insert)
    assert writer.write_pending()
    assert reported == ["req-0", "req-1", "req-2", "req-3"]
    assert RequestLog.objects.count() == 4


def test_a_failed_report_costs_no_row(writer, monkeypatch):
    monkeypatch.setattr(recording, "report", lambda entries: 1 / 0)
    writer._fresh.extend(entry(n) for n in range(2))
    assert writer.write_pending()
    assert RequestLog.objects.count() == 2


def test_batches_of_any_length_use_a_few_statement_sizes_where_statements_are_kept():
    sizes = set()
    for count in range(1, 1201):
        chunks = list(statement_sizes(count, 500, prepared=True))
        assert sum(chunks) == count and all(rows <= 500 for rows in chunks)
        sizes.update(chunks)
    assert sizes == {500, 256, 128, 64, 32, 16, 8, 4, 2, 1}
    assert list(statement_sizes(1100, 500, prepared=False)) == [500, 500, 100]


def test_a_batch_split_into_statements_writes_every_row_once(writer):
    writer._pending.extend(entry(n) for n in range(300))  # 256 + 32 + 8 + 4
    assert writer.write_pending()
    assert RequestLog.objects.count() == 300


def test_any_text_is_stored_as_it_was_given():
    tricky = "it's \"quoted\" \\ back\\slash %s %(x)s ; DROP TABLE x; -- naïve 日本 🙂\n\ttab"
    row = {**entry(1), "error_message": tricky, "requested_model": "m'; --", "status_code": 502,
           "stream": True, "ttft_ms": None, "client_ip": None}
    insert_rows([row])
    stored = RequestLog.objects.get(request_id="req-1")
    assert (stored.error_message, stored.requested_model) == (tricky, "m'; --")
    assert (stored.status_code, stored.stream, stored.ttft_ms, stored.client_ip) == (502, True, None, None)
    assert stored.created_at == row["created_at"]
