"""Long CPU-bound loops on the event loop that still let chat commands through.

A poll cycle works through hundreds of parcels in plain Python (enrichment, alert diffs,
encoding rows). Without a pause the event loop runs none of its other tasks meanwhile, so a
``/track`` that arrives then waits for the whole cycle. ``Breather`` is called once per item
and gives way (``asyncio.sleep(0)``: every ready task runs one step) whenever ``every``
seconds passed since the event loop's thread last gave way through any ``Breather`` — a few
microseconds per item, and nothing for short loops.

The time since the last give-way is kept per thread, not per ``Breather``: one stretch of a
task often runs through several loops, each with a ``Breather`` of its own (a poll asks its
source in calls of 100 parcels, each call a short loop), and only together are they long.

Emptying a big memo frees every entry and everything only it held, milliseconds of work that
``dict.clear`` does in one go: ``let_go`` empties one in slices that give way.

Work that stops everything while it runs, and costs more the longer it was put off, is best
done in small pieces at these moments: ``between_slices`` names a function each ``Breather``
calls once it has given way, counted in the slice that follows (the bot's young-generation
garbage collections, ``bots.gc_settings``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

__all__ = ["RELEASE_SLICE", "SLICE", "Breather", "between_slices", "let_go"]

SLICE = 0.002
"""The longest stretch of such a loop between two chances for other tasks, in seconds."""

RELEASE_SLICE = 256
"""Entries ``let_go`` frees between two chances to give way (about a tenth of a millisecond
for a memo of snapshots or decoded rows)."""


class _Since(threading.local):
    """When a ``Breather`` last gave way on this thread (``perf_counter``)."""

    given = float("-inf")


_since = _Since()

_between: Callable[[], object] | None = None


def between_slices(work: Callable[[], object] | None) -> Callable[[], object] | None:
    """Have every ``Breather`` call ``work`` each time it has given way, before its loop goes
    on (None: nothing); returns what was there before. ``work`` runs on the event loop's
    thread and must be short and must not raise."""
    global _between
    before, _between = _between, work
    return before


class Breather:
    """Call ``await breather()`` once per item of a long loop (see the module docstring)."""

    __slots__ = ("_every",)

    def __init__(self, every: float | None = None) -> None:
        """``every``: seconds between two chances for other tasks (``SLICE`` when None)."""
        self._every = SLICE if every is None else every

    async def __call__(self) -> None:
        since = _since
        if perf_counter() - since.given >= self._every:
            await asyncio.sleep(0)
            since.given = perf_counter()
            work = _between
            if work is not None:
                work()


async def let_go(memo: dict[Any, Any], breathe: Breather | None = None) -> None:
    """Empty ``memo``, ``RELEASE_SLICE`` entries at a time, giving way (``breathe``, else a
    ``Breather`` of its own) between slices. Entries added meanwhile go too."""
    breathe = breathe or Breather()
    while memo:
        await breathe()
        for _ in range(min(RELEASE_SLICE, len(memo))):
            memo.popitem()
