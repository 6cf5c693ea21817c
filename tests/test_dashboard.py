"""The dashboard: the staff-only page, the live tail's WebSocket (the real ASGI stack with Channels'
communicator) and the log writer publishing each written batch to it."""

import asyncio
import logging
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.db import OperationalError
from django.test import Client

from gateway.asgi import application
from stats import recording, tail
from stats.recording import Recorder
from stats.spool import Spool

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")


def entry(request_id: str, **values) -> dict:
    return {
        "request_id": request_id, "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "api_key_id": None, "provider_id": None, "account_id": None, "proxy_id": None, "endpoint": "chat.completions",
        "client_format": "openai", "requested_model": "gpt-4o", "upstream_model": "gpt-4o-2024", "stream": True,
        "status_code": 200, "error_type": "", "error_message": "", "prompt_tokens": 12, "completion_tokens": 34,
        "cached_tokens": 0, "reasoning_tokens": 0, "usage_source": "reported", "latency_ms": 250, "ttft_ms": 80,
        "attempts": 1, "client_ip": "127.0.0.1", "cost": Decimal("0.00012"), **values,
    }


def session_cookie(**user_fields) -> bytes:
    client = Client()
    client.force_login(User.objects.create_user(f"u-{uuid.uuid4().hex[:8]}", **user_fields))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def tail_socket(*headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/requests/", headers=[ORIGIN, *headers])


async def receive_row(socket, request_id: str) -> dict:
    """The tail's row for one request (others' runs may share a Redis channel layer: skip theirs)."""
    while True:
        message = await socket.receive_json_from(timeout=5)
        for row in message["rows"]:
            if row["request_id"] == request_id:
                return row


def test_the_dashboard_is_for_staff(client):
    response = client.get("/admin/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/dashboard/")


def test_it_shows_the_page_with_the_chosen_range(client):
    client.force_login(User.objects.create_user("op", is_staff=True))
    response = client.get("/admin/dashboard/?start=2026-01-01&end=2026-01-31")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="2026-01-01"' in page and 'value="2026-01-31"' in page
    assert "stats/dashboard.js" in page and 'data-summary="/api/v1/stats/summary"' in page


def test_the_admin_index_links_to_it(client):
    client.force_login(User.objects.create_user("op", is_staff=True))
    assert 'href="/admin/dashboard/"' in client.get("/admin/").content.decode()


async def test_the_tail_accepts_staff_and_delivers_a_published_batch():
    socket = tail_socket((b"cookie", await sync_to_async(session_cookie)(is_staff=True)))
    connected, _ = await socket.connect()
    assert connected
    request_id = f"req-tail-{uuid.uuid4().hex}"
    await sync_to_async(tail.publish)([entry(request_id)])
    row = await receive_row(socket, request_id)
    assert row == {
        "time": "2026-01-02T03:04:05+00:00", "request_id": request_id, "format": "openai",
        "endpoint": "chat.completions", "model": "gpt-4o-2024", "provider": None, "key": None, "stream": True,
        "status": 200, "error_type": "", "latency_ms": 250, "ttft_ms": 80, "prompt_tokens": 12,
        "completion_tokens": 34, "cost": 0.00012,
    }
    await socket.disconnect()


@pytest.mark.parametrize("user", [None, {"is_staff": False}, {"is_staff": True, "is_active": False}],
                         ids=["anonymous", "not-staff", "inactive"])
async def test_the_tail_refuses_anyone_but_staff(user):
    headers = [(b"cookie", await sync_to_async(session_cookie)(**user))] if user else []
    connected, _ = await tail_socket(*headers).connect()
    assert not connected


async def test_the_tail_refuses_a_foreign_origin():
    if "*" in settings.ALLOWED_HOSTS:
        pytest.skip("ALLOWED_HOSTS allows any host (the embedded default)")
    cookie = await sync_to_async(session_cookie)(is_staff=True)
    socket = WebsocketCommunicator(application, "/ws/requests/",
                                   headers=[(b"origin", b"http://evil.example"), (b"cookie", cookie)])
    connected, _ = await socket.connect()
    assert not connected


@pytest.fixture
def writer(tmp_path, monkeypatch):
    rec = Recorder()
    rec._spool = Spool(tmp_path / "spool")
    published = []
    monkeypatch.setattr(recording, "publish", published.append)
    return rec, published


def test_the_log_writer_publishes_each_written_batch_once(writer):
    rec, published = writer
    rec._pending.extend([entry("req-1"), entry("req-2")])
    assert rec.write_pending()
    assert [[values["request_id"] for values in batch] for batch in published] == [["req-1", "req-2"]]


def test_the_log_writer_publishes_nothing_it_could_not_write(writer, monkeypatch):
    rec, published = writer
    monkeypatch.setattr(recording, "insert_rows", lambda batch: (_ for _ in ()).throw(OperationalError("down")))
    rec._pending.append(entry("req-1"))
    assert not rec.write_pending()
    assert published == []


class BrokenLayer:
    def __init__(self, failure):
        self.failure = failure

    async def group_send(self, group, message):
        if self.failure == "hang":
            await asyncio.sleep(60)
        raise ConnectionError("channel layer down")


@pytest.mark.parametrize("failure", ["error", "hang"])
def test_a_channel_layer_that_is_down_never_stops_the_writer(failure, monkeypatch, caplog):
    monkeypatch.setattr(tail, "get_channel_layer", lambda: BrokenLayer(failure))
    monkeypatch.setattr(tail, "SEND_TIMEOUT", 0.1)
    with caplog.at_level(logging.WARNING, logger="stats.tail"):
        tail.publish([entry("req-1")])
    assert "live tail not published (1 rows)" in caplog.text


def test_a_message_holds_the_newest_rows_of_a_big_batch():
    rows = tail.rows_of([entry(f"req-{n}") for n in range(tail.MAX_ROWS + 5)])
    assert len(rows) == tail.MAX_ROWS and rows[-1]["request_id"] == f"req-{tail.MAX_ROWS + 4}"
