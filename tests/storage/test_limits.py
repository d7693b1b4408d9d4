"""Shared rate limits, on both backends: callers on two connections (as two processes would
be) together never start more than the limit in any window."""

from __future__ import annotations

import asyncio
import time

from storage.db import Database
from storage.limits import RateSpec, SharedLimits, SharedRate

SPEC = RateSpec(5, period=0.4, margin=0.05, pace=0.95)


def _most_in_any_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    most, first = 0, 0
    for last, at in enumerate(starts):
        while at - starts[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def test_callers_on_two_connections_stay_under_one_limit_together(
    store: Database, store_location: str
) -> None:
    # The starts as the limiter recorded them, on the database's clock: what it promises is
    # about those (the delay from there to a request's arrival is what ``margin`` is for).
    starts: list[float] = []
    async with Database.open(store_location) as other:
        limits = [SharedLimits(db.connection) for db in (store, other, store, other)]

        async def caller(shared: SharedLimits, calls: int) -> None:
            for _ in range(calls):
                starts.append(await shared.acquire("17track", SPEC))

        await asyncio.gather(*(caller(shared, 6) for shared in limits))
    assert len(starts) == 24
    assert _most_in_any_window(starts, SPEC.window) <= SPEC.rate
    # Evenly paced a little under the limit: 24 starts take at least 23 spacings.
    assert max(starts) - min(starts) >= 23 * SPEC.spacing * 0.99
    # Another name is another limit: it does not wait for this one's slots.
    other_name = SharedRate(SharedLimits(store.connection), "telegram", SPEC)
    before = time.monotonic()
    await other_name.acquire()
    assert time.monotonic() - before < SPEC.period


async def test_idle_limits_are_forgotten(store: Database) -> None:
    limits = SharedLimits(store.connection)
    await limits.acquire("telegram:42", RateSpec(1))
    assert await limits.forget_idle(older_than=3600) == 0
    assert await limits.forget_idle(older_than=-10) == 1
