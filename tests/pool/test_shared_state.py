"""One contract for the shared store, run against each backend (in-process, and Redis when set)."""

import asyncio
import uuid

import pytest
from django.conf import settings

from gateway.shared import LocalState, LocalSync, RedisState, RedisSync
from tests.support.redis_keys import forget


class StateContract:
    """The cases; a subclass says how to make the backend (async and sync views of one store)."""

    def make(self):
        raise NotImplementedError

    @pytest.fixture
    def store(self):
        state, sync = self.make()
        prefix = f"pooltest-contract-{uuid.uuid4().hex[:8]}:"
        yield state, sync, lambda name: prefix + name
        forget(prefix)

    def run(self, state, coroutine_function):
        async def main():
            try:
                return await coroutine_function()
            finally:
                if isinstance(state, RedisState):
                    await state.aclose()
        return asyncio.run(main())

    def test_it_counts_and_reads_in_one_call(self, store):
        state, _, key = store

        async def work():
            await state.set(key("a"), "1")
            first = await state.incr_and_get(key("rr"), [key("a"), key("missing")])
            second = await state.incr_and_get(key("rr"), [])
            return first, second

        assert self.run(state, work) == ((1, ["1", None]), (2, []))

    def test_a_counter_expires_from_its_first_increment(self, store):
        state, _, key = store

        async def work():
            await state.incr(key("fails"), 1)
            await asyncio.sleep(0.5)
            counted = await state.incr(key("fails"), 1)  # does not extend the first one's life
            await asyncio.sleep(0.7)
            return counted, await state.get_many([key("fails")])

        assert self.run(state, work) == (2, [None])

    def test_only_if_absent_sets_once(self, store):
        state, _, key = store

        async def work():
            results = [await state.set(key("lock"), "1", 5, only_if_absent=True) for _ in range(2)]
            await state.delete(key("lock"))
            results.append(await state.set(key("lock"), "2", 5, only_if_absent=True))
            return results

        assert self.run(state, work) == [True, False, True]

    def test_a_value_expires(self, store):
        state, _, key = store

        async def work():
            await state.set(key("cool"), "x", 0.1)
            await asyncio.sleep(0.15)
            return await state.get_many([key("cool")])

        assert self.run(state, work) == [None]

    def test_the_sync_view_adds_reads_and_deletes(self, store):
        state, sync, key = store
        sync.add({key("n"): 2, key("m"): 1}, 60)
        sync.add({key("n"): 3}, 60)
        assert sync.get_many([key("n"), key("m"), key("none")]) == ["5", "1", None]
        sync.delete(key("n"))
        assert sync.get_many([key("n")]) == [None]

    def test_the_sync_view_sees_what_the_hot_path_wrote(self, store):
        state, sync, key = store

        async def work():
            await state.set(key("cool"), "123", 60)

        self.run(state, work)
        assert sync.get_many([key("cool")]) == ["123"]


class TestLocalState(StateContract):
    def make(self):
        state = LocalState()
        return state, LocalSync(state)


@pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL is not set")
class TestRedisState(StateContract):
    def make(self):
        return RedisState(settings.REDIS_URL), RedisSync(settings.REDIS_URL)
