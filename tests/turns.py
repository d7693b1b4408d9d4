"""Counting the event loop's turns, to show that long work gives way to other tasks."""

from __future__ import annotations

import asyncio

import pytest

__all__ = ["SteppedClock", "Turns"]


class Turns:
    """A task that counts its turns on the event loop while it runs (``with``)."""

    def __init__(self) -> None:
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    def __enter__(self) -> Turns:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class SteppedClock:
    """``core.cooperative``'s clock, moved only by the test (``install``), so a test tells how
    long each piece of work takes instead of timing it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SteppedClock:
        from core import cooperative

        monkeypatch.setattr(cooperative, "perf_counter", self)
        # Earlier tests on this thread gave way at times of the real clock.
        monkeypatch.setattr(cooperative._since, "given", float("-inf"))
        return self
