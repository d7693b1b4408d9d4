"""The garbage collector settings of a long-running bot process.

CPython's cyclic collector runs a young-generation pass every 700 net allocations of
container objects. A poll cycle allocates hundreds of thousands of short-lived snapshots,
events and rows, almost none of them in reference cycles (reference counting frees them),
so most of those passes find nothing and the older-generation passes keep walking the
long-lived objects (modules, caches) again and again.

``apply_bot_gc_settings`` is called once, after start-up, as long-running services do:

- ``gc.freeze()`` moves everything alive after start-up (modules, settings, the runtime's
  objects) to the permanent generation, which collections never walk again;
- the young-generation threshold goes up to ``GEN0_THRESHOLD``, so a collection runs every
  50,000 container allocations instead of every 700. Garbage in cycles is still collected,
  only in larger batches: at most that many young objects wait a little longer.
"""

from __future__ import annotations

import gc

__all__ = ["BOT_GC_THRESHOLDS", "GEN0_THRESHOLD", "apply_bot_gc_settings"]

GEN0_THRESHOLD = 50_000
"""Net container allocations between two young-generation collections (CPython: 700)."""

BOT_GC_THRESHOLDS = (GEN0_THRESHOLD, 20, 20)
"""``gc.set_threshold`` arguments for the bot: older generations collected half as often
(relative to the young one) as CPython's default ``(700, 10, 10)``."""


def apply_bot_gc_settings() -> tuple[int, int, int]:
    """Freeze what start-up left alive and raise the collection thresholds (see the module
    docstring). Returns the thresholds that were in force before."""
    before = gc.get_threshold()
    gc.collect()  # what start-up left as garbage is not worth freezing
    gc.freeze()
    gc.set_threshold(*BOT_GC_THRESHOLDS)
    return before
