"""Long CPU-bound loops on the event loop that still let chat commands through.

A poll cycle works through hundreds of parcels in plain Python (enrichment, alert diffs,
encoding rows). Without a pause the event loop runs none of its other tasks meanwhile, so a
``/track`` that arrives then waits for the whole cycle. ``Breather`` is called once per item
and gives way (``asyncio.sleep(0)``: every ready task runs one step) whenever ``every``
seconds passed since it last did — a few microseconds per item, and nothing for short loops.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["SLICE", "Breather"]

SLICE = 0.002
"""The longest stretch of such a loop between two chances for other tasks, in seconds."""


class Breather:
    """Call ``await breather()`` once per item of a long loop (see the module docstring)."""

    __slots__ = ("_every", "_next")

    def __init__(self, every: float | None = None) -> None:
        """``every``: seconds between two chances for other tasks (``SLICE`` when None)."""
        self._every = SLICE if every is None else every
        self._next = time.perf_counter() + self._every

    async def __call__(self) -> None:
        if time.perf_counter() >= self._next:
            await asyncio.sleep(0)
            self._next = time.perf_counter() + self._every
