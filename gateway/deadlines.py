"""Coarse deadlines for the hot path: one ticking timer per event loop instead of a timer per wait.

On uvloop a timer costs 2 µs to set and cancel (a libuv timer made, started, stopped and freed) and
``asyncio.timeout`` 4 µs, and a relayed request set four of them that almost never fire. Here a
deadline is an entry in the bucket of its tick: setting and clearing one is a dict insert and a
delete, and while any deadline is set a single timer fires the due buckets every TICK. A deadline
fires up to TICK late, never early: right for timeouts counted in seconds.
"""

import asyncio
import math
import weakref

__all__ = ["TICK", "Deadline", "at", "within"]

TICK = 0.05

_wheels: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Wheel]" = weakref.WeakKeyDictionary()
_last: list = [None, None]  # (loop, wheel) of the latest lookup: a server has one loop


class Deadline:
    """A callback due at a time on the loop's clock; ``cancel`` it when what it guards is over."""

    __slots__ = ("callback", "_bucket", "_number", "_wheel")

    def __init__(self, callback, bucket: dict, number: int, wheel: "_Wheel"):
        self.callback = callback
        self._bucket = bucket
        self._number = number
        self._wheel = wheel

    def cancel(self):
        bucket = self._bucket
        if bucket is not None:
            self._bucket = None
            del bucket[self]
            if not bucket:
                self._wheel.buckets.pop(self._number, None)


class _Wheel:
    __slots__ = ("loop", "buckets", "done", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.buckets = {}  # tick number -> {Deadline: None}, the deadlines due by its end
        self.done = math.floor(loop.time() / TICK)  # ticks up to this one have fired
        self.timer = None

    def add(self, when: float, callback) -> Deadline:
        idle = self.timer is None
        if idle:  # nothing is due (the timer runs while anything is): skip the ticks that passed unwatched
            self.done = max(self.done, math.floor(self.loop.time() / TICK))
        number = max(math.ceil(when / TICK), self.done + 1)
        bucket = self.buckets.get(number)
        if bucket is None:
            bucket = self.buckets[number] = {}
        deadline = Deadline(callback, bucket, number, self)
        bucket[deadline] = None
        if idle:
            self.timer = self.loop.call_at((self.done + 1) * TICK, self._tick)
        return deadline

    def _tick(self):
        now = math.floor(self.loop.time() / TICK)
        buckets = self.buckets
        while self.done < now:
            self.done += 1
            bucket = buckets.pop(self.done, None)
            if bucket:
                self._fire(bucket)
        self.timer = self.loop.call_at((self.done + 1) * TICK, self._tick) if buckets else None

    def _fire(self, bucket: dict):
        for deadline in list(bucket):
            if deadline._bucket is not bucket:  # cancelled by an earlier callback of this tick
                continue
            deadline._bucket = None
            try:
                deadline.callback()
            except Exception as error:  # one callback's failure must not stop the others
                self.loop.call_exception_handler({"message": "deadline callback failed", "exception": error})


def _wheel() -> _Wheel:
    loop = asyncio.get_running_loop()
    if _last[0] is loop:
        return _last[1]
    wheel = _wheels.get(loop)
    if wheel is None:
        wheel = _wheels[loop] = _Wheel(loop)
    _last[0], _last[1] = loop, wheel
    return wheel


def at(when: float, callback) -> Deadline:
    """Call ``callback`` (no arguments) once the running loop's ``time()`` passes ``when``."""
    return _wheel().add(when, callback)


class within:
    """``asyncio.timeout(seconds)`` on a coarse deadline: the block is cancelled when the time is up
    and ``TimeoutError`` raised from it; None waits for ever."""

    __slots__ = ("_seconds", "_task", "_cancelling", "_deadline", "_expired")

    def __init__(self, seconds: float | None):
        self._seconds = seconds
        self._deadline = None
        self._expired = False

    async def __aenter__(self):
        if self._seconds is not None:
            wheel = _wheel()
            task = self._task = asyncio.current_task(wheel.loop)
            self._cancelling = task.cancelling()
            self._deadline = wheel.add(wheel.loop.time() + self._seconds, self._expire)
        return self

    async def __aexit__(self, kind, error, traceback):
        if self._deadline is not None:
            self._deadline.cancel()
        if self._expired and self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise TimeoutError from error
        return None

    def _expire(self):
        self._expired = True
        self._task.cancel()
