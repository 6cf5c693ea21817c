"""State shared by every gateway process: Redis when REDIS_URL is set, this process's memory otherwise.

The hot path needs a few atomic operations (a counter, reads of a handful of keys, keys that
expire). Both backends offer the same small contract; the embedded one holds per process, which
is what a single-process install needs.
"""

import asyncio
import time
import weakref

from django.conf import settings

__all__ = ["SharedState", "LocalState", "RedisState", "shared_state", "prefixed"]


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
