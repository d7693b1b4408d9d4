"""A poll cycle lets other tasks (chat commands) run between slices of its per-parcel work.

Counted by interleavings, never timed: with ``core.cooperative.SLICE`` at zero every slice
is one item, so a task that counts its own turns must have run between any two items of each
loop that gives way."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import storage.codec
import storage.subscriptions
from core import cooperative
from core.models import (
    Shipment,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingNumber,
)
from core.providers.sandbox import SandboxProvider
from core.refresh import Refresher
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat
from tests.turns import Turns

PARCELS = 12


class Watched:
    """The turns ``turns`` had counted at each call of the per-parcel steps watched."""

    def __init__(self) -> None:
        self.turns = Turns()
        self.pairs: list[int] = []
        self.decode: list[int] = []


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Watched:
    """Watches ``Refresher._pairs`` (one alerting parcel's per-chat alerts) and the decoding
    of one subscriber row (``storage.subscriptions``)."""
    found = Watched()
    pairs = Refresher._pairs
    decode = storage.codec.subscription_from_row

    def watched_pairs(self: Refresher, *args: Any, **kwargs: Any) -> Any:
        found.pairs.append(found.turns.count)
        return pairs(self, *args, **kwargs)

    def watched_decode(row: Any) -> Any:
        found.decode.append(found.turns.count)
        return decode(row)

    monkeypatch.setattr(Refresher, "_pairs", watched_pairs)
    monkeypatch.setattr(storage.subscriptions, "subscription_from_row", watched_decode)
    return found


def strictly_rising(seen: list[int]) -> bool:
    return all(later > earlier for earlier, later in itertools.pairwise(seen))


async def _seeded(db: Database, clock: FakeClock) -> None:
    """``PARCELS`` parcels with a label only, each followed by its own chat; two days later
    every one of them has new scans (and alerts) in the sandbox."""
    writes = []
    for index in range(PARCELS):
        number = TrackingNumber(f"1ZGIVE{index:012d}")
        shipment = Shipment(
            carrier="ups",
            number=number,
            status=Status.INFO_RECEIVED,
            checked_at=clock.now(),
            first_seen=clock.now(),
        )
        writes.append(SnapshotWrite(shipment, clock.now()))
    await db.shipments.save_many(writes)
    for index, write in enumerate(writes):
        await db.subscriptions.add(
            Subscription(chat=chat(f"give{index}"), key=write.shipment.key, created_at=clock.now())
        )
    clock.current += timedelta(days=2)


async def _poll(tmp_path: Path, watched: Watched) -> None:
    clock = FakeClock()
    async with Database.open(tmp_path / "give.sqlite3", clock=clock) as db:
        await _seeded(db, clock)
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(3)
        )
        watched.pairs.clear()
        watched.decode.clear()
        with watched.turns:
            stats = await service.refresh.poll_due(PARCELS)
    assert stats.checked == PARCELS
    assert stats.alerts > 0


async def test_a_poll_gives_way_between_alerting_parcels_and_subscriber_rows(
    tmp_path: Path, watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is one item
    await _poll(tmp_path, watched)
    # Every parcel's subscriber row decoded and every alerting parcel's per-chat alerts worked
    # out in a turn of its own: the counting task ran between any two of them.
    assert len(watched.decode) == PARCELS
    assert strictly_rising(watched.decode)
    assert len(watched.pairs) == PARCELS
    assert strictly_rising(watched.pairs)


async def test_with_slices_longer_than_the_cycle_the_counts_stand_still(
    tmp_path: Path, watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: what the test above tells apart."""
    monkeypatch.setattr(cooperative, "SLICE", 3600.0)
    await _poll(tmp_path, watched)
    assert len(watched.pairs) == PARCELS
    assert len(set(watched.pairs)) == 1
    assert len(set(watched.decode)) == 1
