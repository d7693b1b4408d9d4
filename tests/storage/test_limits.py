"""Shared rate limits, on both backends: callers on four connections (as four worker processes
would be) together never get more requests to the server than the limit in any half-open
window, counted where it counts them — even when the server counts some requests later than
others (``ArrivalRecorder(late=…)``), which a limiter counting starts cannot survive."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bots.runtime import TELEGRAM_CHAT_RATE, TELEGRAM_GROUP_RATE, shared_rates, telegram_allowance
from bots.settings import load_settings
from storage.db import Database
from storage.limits import RateSpec, SharedLimits, SharedRate
from tests.arrivals import most_in_window, most_per_key, recording

LATE = 0.5
"""The recorder counts each request up to this long after it came in."""


@contextlib.asynccontextmanager
async def _workers(location: str, count: int) -> AsyncIterator[list[SharedLimits]]:
    """``count`` independent databases handles (pools of their own), one limiter each."""
    async with contextlib.AsyncExitStack() as stack:
        dbs = [await stack.enter_async_context(Database.open(location)) for _ in range(count)]
        workers = [SharedLimits(db.connection) for db in dbs]
        yield workers
        for limits in workers:
            await limits.drain()


async def test_provider_requests_from_four_workers_reach_it_within_its_rate(
    store: Database, store_location: str
) -> None:
    spec = shared_rates(load_settings(seventeen_track_api_key="k"))["17track"]
    assert (spec.rate, spec.period) == (3, 1.0)
    async with recording(LATE) as (recorder, http), _workers(store_location, 4) as workers:

        async def caller(limits: SharedLimits) -> None:
            rate = SharedRate(limits, "17track", spec)
            for _ in range(2):
                async with rate.slot():
                    await http.post("/17track", content=b"[]")

        await asyncio.gather(*(caller(limits) for limits in workers for _ in range(2)))
    arrivals = recorder.times()
    assert len(arrivals) == 16
    assert most_in_window(arrivals, 1.0) <= 3


async def test_telegram_sends_from_four_workers_keep_every_limit_where_they_arrive(
    store: Database, store_location: str
) -> None:
    assert (TELEGRAM_CHAT_RATE.rate, TELEGRAM_CHAT_RATE.period) == (1, 1.0)
    assert (TELEGRAM_GROUP_RATE.rate, TELEGRAM_GROUP_RATE.period) == (20, 60.0)
    # A group's minute scaled down to seconds, so the test sees it bite (same code path).
    group = RateSpec(2, period=1.5)
    chats = [str(100 + n) for n in range(30)]
    async with recording(LATE) as (recorder, http), _workers(store_location, 4) as workers:

        async def sender(limits: SharedLimits, turn: int, lane: int) -> None:
            allowance = telegram_allowance(limits, 30, group=group)
            # Every worker writes to the group and to every chat, from a different one on, in
            # four lanes at once.
            targets = ["-100", *chats[turn * 7 :], *chats[: turn * 7]]
            for chat_id in targets[lane::4]:
                async with allowance(chat_id):
                    await http.post(f"/chat/{chat_id}", content=b"{}")

        await asyncio.gather(
            *(
                sender(limits, turn, lane)
                for turn, limits in enumerate(workers)
                for lane in range(4)
            )
        )
    arrivals = recorder.times()
    assert len(arrivals) == 4 * (1 + 30)
    assert most_in_window(arrivals, 1.0) <= 30
    assert max(most_per_key(recorder.arrivals, 1.0).values()) == 1
    assert most_in_window(recorder.times("chat/-100"), 1.5) <= 2


async def test_a_place_held_by_a_killed_worker_frees_itself(store: Database) -> None:
    spec = RateSpec(1, period=0.1, hold=0.3)
    limits = SharedLimits(store.connection)
    # Taken and never released, as by a process killed mid-request.
    [first] = await limits.acquire(("17track", spec))
    [again] = await limits.acquire(("17track", spec))
    assert again.start - first.start >= spec.hold
    await limits.release([again])
    # Released: it counts for one window from then on.
    [after] = await limits.acquire(("17track", spec))
    assert after.start - again.start >= spec.window


async def test_idle_limits_are_forgotten(store: Database) -> None:
    limits = SharedLimits(store.connection)
    async with limits.hold(("telegram:42", RateSpec(1))):
        pass
    await limits.drain()
    assert await limits.forget_idle(older_than=3600) == 0
    assert await limits.forget_idle(older_than=-10) == 1
