"""One process's rate limit, judged where the server counts: requests that reach it late
never make a one-second window there hold more than the limit."""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from core.pacing import SlidingWindow
from core.providers.seventeen_track import make_limiter
from tests.arrivals import most_in_window, recording

LATE = 0.5


async def test_requests_reach_the_server_within_the_rate_however_late_it_counts() -> None:
    window = make_limiter(rate=3.0)
    async with recording(LATE) as (recorder, http):

        async def caller() -> None:
            for _ in range(2):
                async with window.slot():
                    await http.post("/17track")

        await asyncio.gather(*(caller() for _ in range(6)))
    assert len(recorder.arrivals) == 12
    assert most_in_window(recorder.times(), 1.0) <= 3


async def test_a_limiter_counting_starts_lets_late_requests_bunch_up() -> None:
    # What the sliding window replaces: a leaky bucket one deep, spaced 2 % over the rate.
    # Its starts keep the limit, the arrivals do not.
    bucket = AsyncLimiter(1, 1 / 3 * 1.02)
    async with recording(LATE) as (recorder, http):

        async def caller() -> None:
            for _ in range(2):
                await bucket.acquire()
                await http.post("/17track")

        await asyncio.gather(*(caller() for _ in range(6)))
    assert most_in_window(recorder.times(), 1.0) > 3


async def test_spacing_and_places() -> None:
    window = SlidingWindow(2, 0.2, spacing=0.05)
    loop = asyncio.get_running_loop()
    starts: list[float] = []
    ends: list[float] = []

    async def call() -> None:
        async with window.slot():
            starts.append(loop.time())
            await asyncio.sleep(0.1)
            ends.append(loop.time())

    await asyncio.gather(*(call() for _ in range(3)))
    starts.sort()
    assert starts[1] - starts[0] >= 0.05 * 0.99
    # The third waits for the first to finish and then a whole period.
    assert starts[2] >= min(ends) + 0.2 * 0.99
