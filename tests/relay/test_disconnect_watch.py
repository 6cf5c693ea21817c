"""run_until_disconnect: quick work never starts a watcher; slow work is cancelled when the client leaves."""

import asyncio
import time

import pytest

from gateway.http import WATCH_AFTER_SECONDS, ClientDisconnected, run_until_disconnect


class Client:
    def __init__(self, gone: bool):
        self.gone = gone
        self.receives = 0

    async def receive(self):
        self.receives += 1
        if self.gone:
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()


class Exchange:
    def __init__(self, client: Client):
        self.receive = client.receive


async def answer(seconds: float, value="answer"):
    await asyncio.sleep(seconds)
    return value


async def test_quick_work_is_answered_without_watching_the_client():
    client = Client(gone=True)
    assert await run_until_disconnect(Exchange(client), answer(0)) == "answer"
    await asyncio.sleep(WATCH_AFTER_SECONDS * 2)
    assert client.receives == 0


async def test_slow_work_is_cancelled_soon_after_the_client_left():
    client, started = Client(gone=True), time.monotonic()
    with pytest.raises(ClientDisconnected):
        await run_until_disconnect(Exchange(client), answer(30))
    assert client.receives == 1
    assert time.monotonic() - started < 5


async def test_slow_work_with_the_client_still_there_is_answered_and_the_watcher_stops():
    client = Client(gone=False)
    assert await run_until_disconnect(Exchange(client), answer(WATCH_AFTER_SECONDS * 3)) == "answer"
    assert client.receives == 1
    await asyncio.sleep(0.01)
    assert asyncio.all_tasks() == {asyncio.current_task()}
