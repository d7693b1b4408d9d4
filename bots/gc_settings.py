"""The garbage collector settings of a long-running bot process.

CPython's cyclic collector runs a young-generation pass every 700 net allocations of
container objects, and now and then an older-generation pass over everything that survived
earlier ones. A polling bot keeps hundreds of thousands of snapshots, events and arrival
windows in its caches (``core.budgets``), almost none of them in reference cycles (reference
counting frees them), so the older passes walk that whole set again and again for nothing,
with the event loop stopped: at 100,000 polled parcels a middle-generation pass took
35–190 ms and a full one up to 440 ms, and a ``/track`` that arrived meanwhile waited as
long (``benchmarks/track_during_poll.py``).

``apply_bot_gc_settings`` is called once, after start-up, as long-running services do:

- ``gc.freeze()`` moves everything alive after start-up (modules, settings, the runtime's
  objects) to the permanent generation, which collections never walk again (with the few
  cycles start-up left as garbage: the daily revisit frees them);
- the young-generation threshold becomes ``GEN0_THRESHOLD`` (2,000 container allocations
  instead of 700: fewer passes). The count is allocations *net* of deallocations, and a
  poll frees as many old snapshots as it makes new ones, so a pass finds several times the
  threshold in young objects: at 10,000 a pass during a 100,000-parcel poll took 3-12 ms of
  CPU with the event loop stopped, longer than the slices the poll gives way in
  (``core.cooperative``). At 2,000 the longest pass measured 1.5 ms of CPU during a
  20,000-parcel poll and 5.5 ms during a 100,000-parcel one, and the passes add up to no
  more collector time (``benchmarks/loop_stalls.py`` shows both);
- ``freeze_survivors`` is registered: what survives a young pass is frozen too, so every
  pass walks only what was allocated since the one before, and no pass ever walks the
  caches. Garbage in cycles is still collected when it dies young, as nearly all does;
- a young pass also runs each time a long loop gives way (``collect_young``, through
  ``core.cooperative.between_slices``). The threshold counts allocations net of
  deallocations, and a poll frees about as many frozen objects (cache entries it replaces)
  as it makes, so between two passes the young objects grew to several times the threshold:
  passes of up to 7.6-10.4 ms of CPU during a 100,000-parcel poll. Collected at every slice,
  they are what one slice (``core.cooperative.SLICE``) allocated, and the pass counts in it:
  the longest took 3.0 ms of CPU, and the passes added up to a quarter less collector time
  (``benchmarks/loop_stalls.py``).

The price: an object that survived a pass and later becomes garbage *inside a reference
cycle* is not freed by the collector (garbage outside cycles, cache entries included, is
freed by reference counting as always). ``revisit_frozen``, run once a day by the scheduler,
unfreezes everything and runs one full collection, so such garbage lives at most a day.
"""

from __future__ import annotations

import gc

from core import cooperative

__all__ = [
    "BOT_GC_THRESHOLDS",
    "GEN0_THRESHOLD",
    "REVISIT_EVERY_SECONDS",
    "apply_bot_gc_settings",
    "collect_young",
    "freeze_survivors",
    "revisit_frozen",
]

GEN0_THRESHOLD = 2_000
"""Net container allocations between two young-generation collections (CPython: 700)."""

BOT_GC_THRESHOLDS = (GEN0_THRESHOLD, 10, 10)
"""``gc.set_threshold`` arguments for the bot. Survivors of a young pass are frozen
(``freeze_survivors``), so the older generations stay empty and their thresholds matter
little; CPython's own."""

REVISIT_EVERY_SECONDS = 24 * 3600
"""How often the scheduler runs ``revisit_frozen``."""


def freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """A ``gc.callbacks`` entry: after each collection, freeze what survived it."""
    del info  # every generation alike
    if phase == "stop":
        gc.freeze()


def collect_young() -> None:
    """A young-generation pass (``core.cooperative.between_slices``)."""
    gc.collect(0)


def apply_bot_gc_settings() -> tuple[int, int, int]:
    """Freeze what start-up left alive, set the thresholds, freeze the survivors of every
    later collection and collect young objects whenever a long loop gives way (see the module
    docstring). Returns the thresholds that were in force before."""
    before = gc.get_threshold()
    # No collection first: a console start leaves about 40 unreachable objects among 42,000,
    # and a full pass to find them took 20-30 ms of a 0.4 s start; frozen, they are freed by
    # the first ``revisit_frozen``.
    gc.freeze()
    gc.set_threshold(*BOT_GC_THRESHOLDS)
    if freeze_survivors not in gc.callbacks:
        gc.callbacks.append(freeze_survivors)
    cooperative.between_slices(collect_young)
    return before


def revisit_frozen() -> int:
    """Unfreeze everything, collect it all once and freeze what is alive again; return how
    many unreachable objects were found. One full pass over every object of the process (about
    a second at 100,000 polled parcels), so it runs rarely (``REVISIT_EVERY_SECONDS``)."""
    gc.unfreeze()
    found = gc.collect()  # the callback freezes the survivors when it is done
    gc.freeze()  # also when the callback is not registered
    return found
