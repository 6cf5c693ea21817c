"""State shared by every gateway process: Redis when REDIS_URL is set, this process's memory otherwise.

The hot path needs a few atomic operations (a counter, reads of a handful of keys, keys that
expire, counters that grow only within their limits). Both backends offer the same small contract;
the embedded one holds per process, which is what a single-process install needs.

When Redis is set but cannot be reached, ``shared_state()`` and ``sync_state()`` answer from this
process's memory instead (``Fallback``): account rotation, cool-downs and rate limits go on per
process, a warning is logged, and Redis is tried again after ``RETRY_SECONDS``. Callers never see
a Redis connection error.
"""

import asyncio
import functools
import logging
import time
import weakref
from dataclasses import dataclass

from django.conf import settings

from gateway import conf

__all__ = ["SharedState", "LocalState", "RedisState", "SyncState", "Bound", "Change", "Fallback", "SyncFallback",
           "shared_state", "sync_state", "close_shared_state", "prefixed", "RETRY_SECONDS"]

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # how long a process answers from its own memory before it tries Redis again


def prefixed(key: str) -> str:
    return conf.SETTINGS.GATEWAY["REDIS_PREFIX"] + key


@dataclass(frozen=True, slots=True)
class Bound:
    """A counter that grows by ``add`` only if its usage plus ``need`` stays within ``limit``.

    The usage is the counter's value plus ``carry`` times the value of ``previous`` (a sliding
    window's earlier window). A counter created by ``add`` expires after ``ttl`` seconds; with
    ``must_exist`` a missing counter is reported (to be seeded) rather than taken as zero.
    """

    key: str
    need: int
    add: int
    limit: int
    ttl: float = 0.0
    previous: str = ""
    carry: float = 0.0
    must_exist: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """Add ``amount`` (possibly negative) to a counter; ``create=False`` leaves a missing one missing."""

    key: str
    amount: int
    ttl: float = 0.0
    create: bool = True


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000)) if ttl else 0


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

    async def add_within(self, bounds: list) -> tuple:
        """Check every bound, then add to all of them, or to none, atomically: (failed, counts).

        ``failed`` is -1 when all fit, else the index of the first bound that did not; ``counts``
        holds (counter, previous) for each bound checked so far, as they were before any addition;
        the counter is None when a ``must_exist`` one is missing.
        """
        raise NotImplementedError

    async def adjust(self, changes: list):
        """Apply each Change in one round trip (settling what ``add_within`` reserved)."""
        raise NotImplementedError

    @property
    def degraded(self) -> bool:
        """True while a shared backend is unreachable and this process counts on its own."""
        return False


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

    # Both below run with no await inside: atomic on the event loop, as the Lua scripts are in Redis.
    async def add_within(self, bounds: list) -> tuple:
        counts = []
        for index, bound in enumerate(bounds):
            value = self._get(bound.key)
            previous = int(self._get(bound.previous) or 0) if bound.carry else 0
            if value is None and bound.must_exist:
                counts.append((None, previous))
                return index, counts
            counts.append((int(value or 0), previous))
            if int(value or 0) + bound.carry * previous + bound.need > bound.limit:
                return index, counts
        for bound in bounds:
            if bound.add:
                self._add(bound.key, bound.add, bound.ttl)
        return -1, counts

    async def adjust(self, changes: list):
        for change in changes:
            if change.create or self._get(change.key) is not None:
                self._add(change.key, change.amount, change.ttl)

    def _add(self, key: str, amount: int, ttl: float):
        old = self._get(key)
        expires = self._values[key][1] if old is not None else (time.monotonic() + ttl if ttl else None)
        self._values[key] = (str(int(old or 0) + amount), expires)


# KEYS: each bound's counter and its previous window (the counter again when it has none).
# ARGV: six values a bound: need, add, limit, carry, ttl in ms (0: none), must_exist (1/0).
# Returns {failed index (0-based, -1: all added), then the counter ('' when missing) and the
# previous window of each bound checked}.
_ADD_WITHIN = """
local counts = {}
for i = 1, #KEYS / 2 do
  local a = 6 * (i - 1)
  local value = redis.call('GET', KEYS[2 * i - 1])
  local carry = tonumber(ARGV[a + 4])
  local previous = 0
  if carry > 0 then
    previous = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  end
  counts[2 * i] = tostring(previous)
  if not value and ARGV[a + 6] == '1' then
    counts[2 * i - 1] = ''
    return {i - 1, unpack(counts)}
  end
  counts[2 * i - 1] = value or '0'
  if tonumber(value or '0') + carry * previous + tonumber(ARGV[a + 1]) > tonumber(ARGV[a + 3]) then
    return {i - 1, unpack(counts)}
  end
end
for i = 1, #KEYS / 2 do
  local a = 6 * (i - 1)
  if ARGV[a + 2] ~= '0' then
    redis.call('INCRBY', KEYS[2 * i - 1], ARGV[a + 2])
    if ARGV[a + 5] ~= '0' and redis.call('PTTL', KEYS[2 * i - 1]) < 0 then
      redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[a + 5])
    end
  end
end
return {-1, unpack(counts)}
"""

# KEYS: counters. ARGV: three values a counter: amount, ttl in ms (0: none), create (1/0).
_ADJUST = """
for i = 1, #KEYS do
  local a = 3 * (i - 1)
  if ARGV[a + 3] == '1' or redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCRBY', KEYS[i], ARGV[a + 1])
    if ARGV[a + 2] ~= '0' and redis.call('PTTL', KEYS[i]) < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[a + 2])
    end
  end
end
return 0
"""


def _count(text: str):
    return None if text == "" else int(text)


class RedisState(SharedState):
    def __init__(self, url: str):
        import redis.asyncio as redis

        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        self._add_within = self._redis.register_script(_ADD_WITHIN)
        self._adjust = self._redis.register_script(_ADJUST)

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

    async def add_within(self, bounds: list) -> tuple:
        keys, args = [], []
        for b in bounds:
            keys += [b.key, b.previous or b.key]
            args += [b.need, b.add, b.limit, repr(float(b.carry)), _ms(b.ttl), int(b.must_exist)]
        failed, *counts = await self._add_within(keys=keys, args=args)
        return int(failed), [(_count(counts[i]), int(counts[i + 1])) for i in range(0, len(counts), 2)]

    async def adjust(self, changes: list):
        if changes:
            args = [value for c in changes for value in (c.amount, _ms(c.ttl), int(c.create))]
            await self._adjust(keys=[c.key for c in changes], args=args)

    async def aclose(self):
        await self._redis.aclose()


def _unreachable_errors() -> tuple:
    import redis

    return redis.ConnectionError, redis.TimeoutError, OSError


class _Outage:
    """When the shared backend was last found unreachable; shared by a process's async and sync views."""

    def __init__(self):
        self.until = 0.0

    @property
    def now(self) -> bool:
        return time.monotonic() < self.until

    def begin(self, error: Exception):
        if not self.now:
            log.warning("the shared store (Redis) is unreachable (%s); this process counts rate limits, "
                        "rotation and cool-downs on its own and tries Redis again in %.0f s",
                        type(error).__name__, RETRY_SECONDS)
        self.until = time.monotonic() + RETRY_SECONDS


@functools.cache
def _outage(url: str) -> _Outage:
    return _Outage()


class Fallback(SharedState):
    """Redis, or this process's memory while Redis is unreachable (see the module docstring)."""

    def __init__(self, remote: RedisState, local: LocalState, outage: _Outage):
        self.url = remote.url
        self._remote = remote
        self._local = local
        self._outage = outage
        self._errors = _unreachable_errors()

    @property
    def degraded(self) -> bool:
        return self._outage.now

    async def _call(self, name: str, *args, **kwargs):
        if not self._outage.now:
            try:
                return await getattr(self._remote, name)(*args, **kwargs)
            except self._errors as error:
                self._outage.begin(error)
        return await getattr(self._local, name)(*args, **kwargs)

    async def incr(self, key, ttl=None):
        return await self._call("incr", key, ttl)

    async def incr_and_get(self, counter, keys):
        return await self._call("incr_and_get", counter, keys)

    async def get_many(self, keys):
        return await self._call("get_many", keys)

    async def set(self, key, value, ttl=None, only_if_absent=False):
        return await self._call("set", key, value, ttl, only_if_absent)

    async def delete(self, *keys):
        return await self._call("delete", *keys)

    async def add_within(self, bounds):
        return await self._call("add_within", bounds)

    async def adjust(self, changes):
        return await self._call("adjust", changes)

    async def aclose(self):
        await self._remote.aclose()


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


class SyncFallback(SyncState):
    """RedisSync, or this process's memory while Redis is unreachable (as ``Fallback``)."""

    def __init__(self, remote: RedisSync, local: LocalSync, outage: _Outage):
        self._remote = remote
        self._local = local
        self._outage = outage
        self._errors = _unreachable_errors()

    def _call(self, name: str, *args):
        if not self._outage.now:
            try:
                return getattr(self._remote, name)(*args)
            except self._errors as error:
                self._outage.begin(error)
        return getattr(self._local, name)(*args)

    def get_many(self, keys):
        return self._call("get_many", keys)

    def delete(self, *keys):
        return self._call("delete", *keys)

    def add(self, counts, ttl):
        return self._call("add", counts, ttl)


_states: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SharedState]" = weakref.WeakKeyDictionary()
_local = LocalState()


def shared_state() -> SharedState:
    """The state for the running event loop (a Redis connection pool cannot cross loops)."""
    url = conf.SETTINGS.REDIS_URL
    if not url:
        return _local
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None or state.url != url:
        state = _states[loop] = Fallback(RedisState(url), _local, _outage(url))
    return state


async def close_shared_state():
    """Close this event loop's connection to the store (a short-lived loop, in a task or a command)."""
    state = _states.pop(asyncio.get_running_loop(), None)
    if state is not None:
        await state.aclose()


@functools.cache
def _redis_sync(url: str) -> SyncFallback:
    # A thread-safe connection pool, one per process.
    return SyncFallback(RedisSync(url), LocalSync(_local), _outage(url))


def sync_state() -> SyncState:
    """The shared store for synchronous code; the embedded one is this process's memory, as above."""
    if not settings.REDIS_URL:
        return LocalSync(_local)
    return _redis_sync(settings.REDIS_URL)
