"""A poll that finds a parcel unchanged: no alerts, no new rows, but a new check time and next
poll time — and what is stored reads back the same after a restart."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from core.models import (
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingNumber,
)
from core.providers.sandbox import SAMPLES, SandboxProvider, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock
from tests.storage.helpers import count_rows


async def test_unchanged_parcel_gets_a_new_next_check_and_no_alerts(tmp_path: Path) -> None:
    path = tmp_path / "poll.sqlite3"
    clock = FakeClock()
    key = ShipmentKey("ups", TrackingNumber(SAMPLES[Scenario.NORMAL]["ups"]))
    chat = ChatRef(Platform.CONSOLE, "c1", "u1")
    async with Database.open(path, clock=clock) as db:
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(3)
        )
        await db.subscriptions.add(Subscription(chat=chat, key=key, created_at=clock.now()))
        seed = Shipment(
            carrier="ups",
            number=key.number,
            status=Status.INFO_RECEIVED,
            checked_at=clock.now(),
            first_seen=clock.now(),
        )
        await db.shipments.save_many([SnapshotWrite(seed, clock.now())])
        clock.advance(timedelta(hours=30))  # label, pickup, departure and hub scans visible
        first = await service.refresh.poll_due()
        assert first.checked == 1 and first.changed == 1
        events_before = await count_rows(path, "events")
        outbox_before = await count_rows(path, "outbox")
        due_after_first = await db.shipments.next_check(key)
        assert due_after_first is not None

        clock.current = due_after_first  # due again; the next scan is hours away
        stored_before = await db.shipments.get(key)
        again = await service.refresh.poll_due()
        assert (again.checked, again.changed, again.alerts, again.errors) == (1, 0, 0, 0)
        assert await count_rows(path, "events") == events_before
        assert await count_rows(path, "outbox") == outbox_before
        due_after_second = await db.shipments.next_check(key)
        assert due_after_second is not None and due_after_second > clock.now()
        stored = await db.shipments.get(key)
        assert stored is not None and stored_before is not None
        assert stored.checked_at == clock.now()
        assert stored.events == stored_before.events
    async with Database.open(path, clock=clock) as reopened:
        assert await reopened.shipments.get(key) == stored
        assert await reopened.shipments.next_check(key) == due_after_second
