"""Stored Responses API conversations: written off the hot path, found by id for the key that made them.

``store.keep`` is called as a response goes out: the row is written in a worker thread (``later``
retries a busy database) and, until it is, this process answers for it from memory, so a client that
continues at once finds it. What waits in memory is bounded: past MAX_UNSAVED (the database is away)
the oldest are forgotten. Finding a stored response is a single primary-key query.
"""

import asyncio
import datetime
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from accounts.state import later, retry_busy
from gateway.models import StoredResponse

__all__ = ["Kept", "ResponseStore", "store", "purge_old_responses"]

PURGE_BATCH = 1000
MAX_UNSAVED = 10_000


@dataclass(frozen=True, slots=True)
class Kept:
    """One stored response: ``input`` is every input item of its conversation, earlier turns included."""

    id: str
    key_id: int
    model: str
    input: list
    response: dict

    @property
    def items(self) -> list:
        """The conversation to continue: its input items, then this response's output."""
        return [*self.input, *(self.response.get("output") or [])]


class ResponseStore:
    def __init__(self):
        self._unsaved: dict = {}  # id -> Kept, until its row is written
        self._deleted: set = set()  # ids deleted before their writer was done with them
        self._lock = threading.Lock()  # the writer threads take entries out as the event loop puts them in

    @property
    def pending(self) -> int:
        return len(self._unsaved)

    def keep(self, kept: Kept):
        with self._lock:
            self._unsaved[kept.id] = kept
            if len(self._unsaved) > MAX_UNSAVED:
                del self._unsaved[next(iter(self._unsaved))]
        later(self._save, kept)

    async def find(self, response_id: str, key_id: int) -> Kept | None:
        if response_id in self._deleted:
            return None
        kept = self._unsaved.get(response_id)
        if kept is None:
            kept = await _in_thread(_load, response_id, key_id)
        return kept if kept is not None and kept.key_id == key_id else None

    async def delete(self, response_id: str, key_id: int) -> bool:
        kept = self._unsaved.get(response_id)
        unsaved = kept is not None and kept.key_id == key_id
        if unsaved:
            with self._lock:
                self._unsaved.pop(response_id, None)
                self._deleted.add(response_id)  # until its writer removed the row it may be writing
        return await _in_thread(_delete, response_id, key_id) or unsaved

    def _save(self, kept: Kept):
        """Write the row; it leaves memory once written. One deleted before or while it was written is
        removed again. Safe to run again after a failure (``later`` retries)."""
        if kept.id in self._unsaved:
            StoredResponse.objects.create(id=kept.id, api_key_id=kept.key_id, model=kept.model[:200],
                                          input=kept.input, response=kept.response)
            if self._take(kept.id) is not None:
                return
        if kept.id in self._deleted:
            _delete(kept.id, kept.key_id)
            self._deleted.discard(kept.id)

    def _take(self, response_id: str) -> Kept | None:
        with self._lock:
            return self._unsaved.pop(response_id, None)


def _load(response_id: str, key_id: int) -> Kept | None:
    row = StoredResponse.objects.filter(id=response_id, api_key_id=key_id).first()
    return None if row is None else Kept(row.id, row.api_key_id, row.model, row.input, row.response)


def _delete(response_id: str, key_id: int) -> bool:
    return StoredResponse.objects.filter(id=response_id, api_key_id=key_id).delete()[0] > 0


async def _in_thread(func, *args):
    return await asyncio.to_thread(retry_busy, func, *args)


def purge_old_responses(days: int | None = None, batch: int = PURGE_BATCH) -> int:
    """Deletes stored responses older than ``days`` (the retention setting), a batch at a time."""
    days = settings.GATEWAY["RESPONSE_RETENTION_DAYS"] if days is None else days
    if days < 1:
        raise ValueError("the stored response retention must be at least one day")
    old = StoredResponse.objects.filter(created_at__lt=timezone.now() - datetime.timedelta(days=days)).order_by()
    deleted = 0
    while True:
        # MySQL cannot DELETE ... IN (SELECT ... LIMIT n): the ids are read first.
        ids = list(old.values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        deleted += StoredResponse.objects.filter(id__in=ids).delete()[0]


store = ResponseStore()
