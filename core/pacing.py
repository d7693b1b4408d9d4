"""A rate limit that holds where it is counted: at the server, however long requests travel.

An API that allows ``rate`` requests a second counts them when they reach it. A limiter that
counts them when they *start* (a token or leaky bucket such as ``aiolimiter.AsyncLimiter``)
keeps the starts apart, but not the arrivals: a request held up on the way (a busy event
loop, a full connection pool, a slow network hop, a server that gets round to counting it
late) reaches the server together with the ones started after it, and a one-second window
there holds more than ``rate``. No margin fixes that for every delay.

``SlidingWindow`` instead lets a request hold its place from when it starts until ``period``
after it *finished* (its answer came back). The server saw request ``i`` before it answered
it, and request ``i + rate`` starts only ``period`` after that answer, so the two reached the
server more than ``period`` apart whatever happened on the way: no half-open window of
``period`` there ever holds more than ``rate``. The price is the round trip: each place is
busy for ``period`` plus one round trip, so the most it lets through is
``rate * period / (period + round trip)`` (on loopback, within a few per cent of the limit;
at 0.3 s round trips, 77 %). ``storage.limits`` keeps the same rule across processes.

Written here because no maintained limiter counts a request until it finished: they all
count at the start, which is the promise that breaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

__all__ = ["Place", "SlidingWindow"]


class Place:
    """One request's place: it counts until ``until`` (infinity while the request runs)."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = math.inf


class SlidingWindow:
    """At most ``rate`` requests reach the server in any ``period`` seconds (see the module
    docstring), started at least ``spacing`` seconds apart so a backlog leaves evenly.

    ``async with window.slot(): await send()`` — the request must be made inside the block
    and be finished (its answer read) when the block is left. Waiters are served first come,
    first served. One event loop only.
    """

    def __init__(self, rate: int, period: float = 1.0, *, spacing: float = 0.0) -> None:
        if rate < 1 or period <= 0:
            raise ValueError("a sliding window needs rate >= 1 and period > 0")
        self.rate = rate
        self.period = period
        self.spacing = spacing
        self._places: list[Place] = []
        self._next_start = -math.inf
        self._lock = asyncio.Lock()
        self._freed = asyncio.Event()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place, run the block (the request), count it until ``period`` after."""
        place = await self.take()
        try:
            yield
        finally:
            self.release(place)

    def release(self, place: Place) -> None:
        """The request holding ``place`` finished (or never started): count it ``period``
        more, then free it."""
        place.until = asyncio.get_running_loop().time() + self.period
        self._freed.set()

    async def take(self) -> Place:
        """Wait for a place and take it; ``release`` it once the request finished (``slot``
        does both around a block)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                self._places = [p for p in self._places if p.until > now]
                if len(self._places) < self.rate and now >= self._next_start:
                    place = Place()
                    self._places.append(place)
                    # A start less than one spacing late is made up by the next one instead
                    # of lowering the rate; after a pause the pace starts again from now.
                    late = now - self._next_start < self.spacing
                    self._next_start = (self._next_start if late else now) + self.spacing
                    return place
                if len(self._places) < self.rate:
                    wait = self._next_start - now
                else:
                    # inf while every place is taken by a running request: its end wakes us.
                    wait = min(p.until for p in self._places) - now
                self._freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._freed.wait(), None if math.isinf(wait) else wait)
