"""Poll cycles and claims: a database's only poller claims nothing and runs its cycles one at a
time; pollers that share a database (``ServiceConfig.poll_lease``) claim disjoint parcels.

Either way two cycles started at once fetch every due parcel exactly once.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from core.config import ServiceConfig
from core.models import (
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackingNumber,
    TrackRequest,
)
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock

PARCELS = 30


class RecordingSandbox(SandboxProvider):
    """The sandbox, recording every number asked for and the stored next check of each at
    that moment; each call gives way once, as a real provider's network wait would."""

    def __init__(self, clock: FakeClock, db: Database) -> None:
        super().__init__(clock)
        self.asked: Counter[str] = Counter()
        self.next_checks: dict[str, datetime | None] = {}
        self._db = db

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        for request in requests:
            self.asked[request.number] += 1
            self.next_checks[request.number] = await self._db.shipments.next_check(request.key)
        await asyncio.sleep(0)
        return await super().track(requests)


async def _due_parcels(db: Database, clock: FakeClock) -> datetime:
    """``PARCELS`` followed parcels, all due at the returned moment."""
    due = clock.now()
    writes = []
    for index in range(PARCELS):
        key = ShipmentKey("ups", TrackingNumber(f"1ZCLAIM{index:011d}"))
        chat = ChatRef(Platform.CONSOLE, f"c{index}", f"u{index}")
        await db.subscriptions.add(Subscription(chat=chat, key=key, created_at=due))
        seed = Shipment(
            carrier="ups",
            number=key.number,
            status=Status.INFO_RECEIVED,
            checked_at=due,
            first_seen=due,
        )
        writes.append(SnapshotWrite(seed, due))
    await db.shipments.save_many(writes)
    return due


async def test_the_only_poller_claims_nothing_and_its_cycles_take_turns(tmp_path: Path) -> None:
    clock = FakeClock()
    async with Database.open(tmp_path / "poll.sqlite3", clock=clock) as db:
        due = await _due_parcels(db, clock)
        clock.advance(timedelta(hours=30))
        provider = RecordingSandbox(clock, db)
        service = ParcelService(provider=provider, store=db, clock=clock, rng=random.Random(5))

        first, second = await asyncio.gather(
            service.refresh.poll_due(PARCELS), service.refresh.poll_due(PARCELS)
        )

    assert first.checked + second.checked == PARCELS
    assert len(provider.asked) == PARCELS and set(provider.asked.values()) == {1}
    # Nothing was claimed: each parcel was still due as it was when it was fetched.
    assert set(provider.next_checks.values()) == {due}


async def test_pollers_sharing_a_database_claim_disjoint_parcels(tmp_path: Path) -> None:
    clock = FakeClock()
    lease = timedelta(minutes=5)
    async with Database.open(tmp_path / "poll.sqlite3", clock=clock) as db:
        await _due_parcels(db, clock)
        clock.advance(timedelta(hours=30))
        provider = RecordingSandbox(clock, db)
        service = ParcelService(
            provider=provider,
            store=db,
            clock=clock,
            config=ServiceConfig(poll_lease=lease),
            rng=random.Random(5),
        )

        first, second = await asyncio.gather(
            service.refresh.poll_due(PARCELS // 2), service.refresh.poll_due(PARCELS // 2)
        )

    assert first.checked == second.checked == PARCELS // 2
    assert len(provider.asked) == PARCELS and set(provider.asked.values()) == {1}
    # Each was claimed before it was fetched: its next check moved to the end of the lease.
    assert set(provider.next_checks.values()) == {clock.now() + lease}
