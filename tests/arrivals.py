"""Where rate limits are judged: when requests reach the server.

``most_in_window`` counts the most arrivals in any half-open window ``[t, t + window)``, the
way an API counts "N requests per second". ``ArrivalRecorder`` is a loopback HTTP server that
records when each request reached it, keyed by its path; with ``late`` it counts each request
a seeded random 0 to ``late`` seconds after it came in (before answering it), the way a
server whose front queues requests, or a slow hop on the way, shifts one request's arrival
against the next. Used by the rate-limit tests and ``benchmarks/workers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import httpx
from aiohttp import web

from tests.loopback import start_loopback

__all__ = ["ArrivalRecorder", "most_in_window", "most_per_key", "recording"]


def most_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most events in any half-open window ``[t, t + window)``."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def most_per_key(events: Iterable[tuple[str, float]], window: float = 1.0) -> dict[str, int]:
    """``most_in_window`` of each key's events."""
    by_key: dict[str, list[float]] = defaultdict(list)
    for key, at in events:
        by_key[key].append(at)
    return {key: most_in_window(times, window) for key, times in by_key.items()}


@dataclass
class ArrivalRecorder:
    """Answers every request ``{"ok": true}``; ``arrivals`` holds (path, monotonic time)."""

    late: float = 0.0
    seed: int = 7
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def start(self) -> str:
        """Serve on a free loopback port; return the base URL."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner, url = await start_loopback(app)
        return url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.late:
            await asyncio.sleep(self._random.uniform(0, self.late))
        self.arrivals.append((request.match_info["path"], time.monotonic()))
        return web.Response(body=b'{"ok":true}', headers={"Content-Type": "application/json"})

    def times(self, prefix: str = "") -> list[float]:
        """Arrival times of the requests whose path starts with ``prefix``."""
        return [at for path, at in self.arrivals if path.startswith(prefix)]


@contextlib.asynccontextmanager
async def recording(late: float) -> AsyncIterator[tuple[ArrivalRecorder, httpx.AsyncClient]]:
    """A running ``ArrivalRecorder(late=late)`` and an HTTP client whose base URL is it."""
    recorder = ArrivalRecorder(late=late)
    base = await recorder.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield recorder, http
    finally:
        await recorder.close()
