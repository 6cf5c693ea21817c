"""State shared by every gateway process: Redis when REDIS_URL is set, this process's memory otherwise.

The hot path needs a few atomic operations (a counter, reads of a handful of keys, keys that
expire). Both backends offer the same small contract; the embedded one holds per process, which
is what a single-process install needs.
"""

import asyncio
import functools
import time
import weakref

from django.conf import settings

__all__ = ["SharedState", "LocalState", "RedisState", "SyncState", "shared_state", "sync_state", "close_shared_state",
           "prefixed"]


def prefixed(key: str) -> str:
    return settings.GATEWAY["REDIS_PREFIX"] + key


class SharedState:
    """The contract. Values are strings; ``ttl`` is in seconds."""

    async def incr(self, key: str, ttl: float | None = None) -> int:
        raise NotImplementedError

    async def incr_and_get(self, counter: str, keys: list) -> tuple:
        """Increment ``counter`` and read ``keys`` in one round trip: (count, [values])."""
        raise NotImplementedError

    async def get_many(self, keys: list) -> list:
        raise NotImplementedError

    async def set(self, key: str, value: str, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        raise NotImplementedError

    async def delete(self, *keys: str):
        raise NotImplementedError


class LocalState(SharedState):
    def __init__(self):
        self._values: dict = {}

    def _get(self, key: str):
        entry = self._values.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return value

    async def incr(self, key: str, ttl: float | None = None) -> int:
        value = int(self._get(key) or 0) + 1
        old = self._values.get(key)
        expires = old[1] if old and value > 1 else (time.monotonic() + ttl if ttl else None)
        self._values[key] = (str(value), expires)
        return value

    async def incr_and_get(self, counter: str, keys: list) -> tuple:
        return await self.incr(counter), [self._get(k) for k in keys]

    async def get_many(self, keys: list) -> list:
        return [self._get(k) for k in keys]

    async def set(self, key: str, value: str, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        if only_if_absent and self._get(key) is not None:
            return False
        self._values[key] = (value, time.monotonic() + ttl if ttl else None)
        return True

    async def delete(self, *keys: str):
        for key in keys:
            self._values.pop(key, None)


class RedisState(SharedState):
    def __init__(self, url: str):
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

    async def incr(self, key: str, ttl: float | None = None) -> int:
        if ttl is None:
            return await self._redis.incr(key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, max(1, int(ttl)), nx=True)
            value, _ = await pipe.execute()
        return value

    async def incr_and_get(self, counter: str, keys: list) -> tuple:
        if not keys:
            return await self._redis.incr(counter), []
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(counter)
            pipe.mget(keys)
            count, values = await pipe.execute()
        return count, values

    async def get_many(self, keys: list) -> list:
        return await self._redis.mget(keys) if keys else []

    async def set(self, key: str, value: str, ttl: float | None = None, only_if_absent: bool = False) -> bool:
        px = max(1, int(ttl * 1000)) if ttl else None
        return bool(await self._redis.set(key, value, px=px, nx=only_if_absent))

    async def delete(self, *keys: str):
        if keys:
            await self._redis.delete(*keys)

    async def aclose(self):
        await self._redis.aclose()


class SyncState:
    """The same store for callers without an event loop (admin, tasks, the request-log writer)."""

    def get_many(self, keys: list) -> list:
        raise NotImplementedError

    def delete(self, *keys: str):
        raise NotImplementedError

    def add(self, counts: dict, ttl: float):
        """Add each ``{key: n}`` to its counter in one round trip; a new counter expires after ``ttl``."""
        raise NotImplementedError


class LocalSync(SyncState):
    def __init__(self, state: LocalState):
        self._state = state

    def get_many(self, keys: list) -> list:
        return [self._state._get(k) for k in keys]

    def delete(self, *keys: str):
        for key in keys:
            self._state._values.pop(key, None)

    def add(self, counts: dict, ttl: float):
        for key, n in counts.items():
            old = self._state._get(key)
            expires = self._state._values[key][1] if old is not None else time.monotonic() + ttl
            self._state._values[key] = (str(int(old or 0) + n), expires)


class RedisSync(SyncState):
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

    def get_many(self, keys: list) -> list:
        return self._redis.mget(keys) if keys else []

    def delete(self, *keys: str):
        if keys:
            self._redis.delete(*keys)

    def add(self, counts: dict, ttl: float):
        with self._redis.pipeline(transaction=False) as pipe:
            for key, n in counts.items():
                pipe.incrby(key, n)
                pipe.expire(key, max(1, int(ttl)), nx=True)
            pipe.execute()


_states: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedState]" = weakref.WeakKeyDictionary()
_local = LocalState()


def shared_state() -> SharedState:
    """The state for the running event loop (a Redis connection pool cannot cross loops)."""
    if not settings.REDIS_URL:
        return _local
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        state = _states[loop] = RedisState(settings.REDIS_URL)
    return state


async def close_shared_state():
    """Close this event loop's connection to the store (a short-lived loop, in a task or a command)."""
    state = _states.pop(asyncio.get_running_loop(), None)
    if state is not None:
        await state.aclose()


@functools.cache
def _redis_sync(url: str) -> RedisSync:
    return RedisSync(url)  # a thread-safe connection pool, one per process


def sync_state() -> SyncState:
    """The shared store for synchronous code; the embedded one is this process's memory, as above."""
    if not settings.REDIS_URL:
        return LocalSync(_local)
    return _redis_sync(settings.REDIS_URL)
