"""gateway.deadlines: coarse deadlines fire after their time (at most a tick late), never once cancelled."""

import asyncio

import pytest

from gateway import deadlines
from gateway.deadlines import TICK, at, within


def _wheel():
    return deadlines._wheels[asyncio.get_running_loop()]


async def test_a_deadline_fires_after_its_time_and_at_most_a_tick_late():
    loop = asyncio.get_running_loop()
    fired = []
    start = loop.time()
    at(start + 0.12, lambda: fired.append(loop.time() - start))
    await asyncio.sleep(0.1)
    assert fired == []
    await asyncio.sleep(0.12 + 2 * TICK - 0.1)
    assert len(fired) == 1 and 0.12 <= fired[0] <= 0.12 + 2 * TICK


async def test_a_cancelled_deadline_never_fires_and_the_wheel_stops_ticking():
    loop = asyncio.get_running_loop()
    fired = []
    deadline = at(loop.time() + TICK, lambda: fired.append(1))
    deadline.cancel()
    deadline.cancel()  # twice is harmless
    await asyncio.sleep(3 * TICK)
    assert fired == []
    assert _wheel().buckets == {} and _wheel().timer is None


async def test_a_deadline_in_the_past_fires_on_the_next_tick():
    loop = asyncio.get_running_loop()
    fired = []
    at(loop.time() - 10, lambda: fired.append(1))
    await asyncio.sleep(2 * TICK)
    assert fired == [1]


async def test_a_callback_may_cancel_another_deadline_due_in_the_same_tick():
    loop = asyncio.get_running_loop()
    fired = []
    when = loop.time() + TICK
    later = None

    def first():
        fired.append("first")
        later.cancel()

    at(when, first)
    later = at(when, lambda: fired.append("second"))
    await asyncio.sleep(3 * TICK)
    assert fired == ["first"]


async def test_a_failing_callback_does_not_stop_the_others(caplog):
    loop = asyncio.get_running_loop()
    fired = []
    when = loop.time() + TICK
    at(when, lambda: 1 / 0)
    at(when, lambda: fired.append(1))
    await asyncio.sleep(3 * TICK)
    assert fired == [1]


async def test_within_raises_timeout_error_when_the_block_runs_too_long():
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(TimeoutError):
        async with within(0.1):
            await asyncio.sleep(5)
    assert 0.1 <= loop.time() - start <= 0.1 + 2 * TICK


async def test_within_lets_a_quick_block_finish_and_leaves_nothing_due():
    async with within(0.1):
        await asyncio.sleep(0)
    await asyncio.sleep(0.1 + 2 * TICK)  # the deadline, had it stayed, would have cancelled this sleep
    assert _wheel().buckets == {}


async def test_within_none_waits_for_ever():
    async with within(None):
        await asyncio.sleep(TICK)


async def test_within_passes_on_a_cancellation_that_is_not_its_own():
    async def guarded():
        async with within(10):
            await asyncio.sleep(10)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_within_keeps_an_error_raised_inside_the_block():
    with pytest.raises(KeyError):
        async with within(10):
            raise KeyError("inside")


async def test_a_deadline_set_after_a_long_idle_spell_fires_on_time():
    loop = asyncio.get_running_loop()
    at(loop.time(), lambda: None)
    await asyncio.sleep(3 * TICK)
    wheel = _wheel()
    assert wheel.timer is None
    wheel.done -= 100_000  # as if the loop had been idle for ~80 minutes since the last tick
    fired = []
    start = loop.time()
    at(start + TICK, lambda: fired.append(loop.time() - start))
    assert wheel.done >= int(start / TICK) - 1  # the ticks that passed unwatched are skipped, not walked
    await asyncio.sleep(3 * TICK)
    assert len(fired) == 1 and TICK <= fired[0] <= 3 * TICK
