"""How much memory the per-parcel caches may hold, in bytes.

A poll keeps a few things per parcel between cycles (the stored snapshot, what was last
written, the last arrival window, decoded subscriptions). Counted in entries, those caches
grew with every parcel ever polled until their limits (about 1 GiB together). Here each has a
byte budget, sized so that a bot polling ``ACTIVE_PARCELS`` parcels a day keeps its whole
working set (or, for the big snapshots, a stable part of it) in about 120 MiB, whatever the
number of parcels stored. Sizes are estimates measured with ``tracemalloc`` on sandbox
parcels (``benchmarks/memory_per_parcel.py`` prints the process's resident memory).
"""

from __future__ import annotations

from core.models import Shipment

__all__ = [
    "ACTIVE_PARCELS",
    "ETA_MEMO_BYTES",
    "MIB",
    "READ_CACHE_BYTES",
    "SANDBOX_MEMO_BYTES",
    "SUBSCRIPTION_MEMO_BYTES",
    "WRITE_MEMO_BYTES",
    "entries",
    "snapshot_bytes",
]

MIB = 1 << 20

ACTIVE_PARCELS = 100_000
"""The working set the budgets are sized for: parcels polled in a day."""

READ_CACHE_BYTES = 32 * MIB
"""Stored snapshots with their histories (``storage.shipments``); holds part of the active
set, and keeps what it holds when the set is larger."""

WRITE_MEMO_BYTES = 24 * MIB
"""What was last written per parcel (``storage.shipments``): the whole active set."""

SUBSCRIPTION_MEMO_BYTES = 8 * MIB
"""Decoded subscription rows (``storage.subscriptions``)."""

ETA_MEMO_BYTES = 24 * MIB
"""The last arrival window per parcel (``core.eta.provider``): the whole active set."""

SANDBOX_MEMO_BYTES = 32 * MIB
"""The sandbox carrier's recent answers (``core.providers.sandbox``; demo and benchmarks)."""

_SNAPSHOT_BYTES = 600
_EVENT_BYTES = 400


def snapshot_bytes(shipment: Shipment) -> int:
    """About how much a snapshot read from the database occupies, history included."""
    return _SNAPSHOT_BYTES + _EVENT_BYTES * len(shipment.events)


def entries(budget: int, entry_bytes: int) -> int:
    """How many entries of about ``entry_bytes`` fit in ``budget`` bytes (at least one)."""
    return max(1, budget // entry_bytes)
