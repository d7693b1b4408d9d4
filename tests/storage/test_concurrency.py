"""Many writers at once: tasks sharing one connection and two connections on one file."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from core.models import Subscription
from storage.db import Database
from tests.storage.helpers import T0, alert, chat, count_rows, event, key, shipment, write

WRITERS = 6
ROUNDS = 8
PARCELS = 25


async def writer(db: Database, writer_id: int) -> int:
    """Save overlapping parcels round after round, subscribing and queueing alerts."""
    added = 0
    for round_no in range(ROUNDS):
        writes = []
        for n in range(PARCELS):
            parcel = key(f"P{n:03d}")
            history = tuple(event(h) for h in range(round_no + 1))
            who = chat(f"w{writer_id}")
            writes.append(
                write(
                    shipment(parcel, history, checked_at=T0 + timedelta(minutes=round_no)),
                    T0 + timedelta(minutes=n),
                    ((who, alert(parcel, f"r{round_no}")),),
                )
            )
        added += await db.shipments.save_many(writes)
        await db.subscriptions.add(
            Subscription(chat=chat(f"w{writer_id}"), key=key(f"P{round_no:03d}"), created_at=T0)
        )
        await db.chats.remember_carrier(chat(f"w{writer_id}"), f"N{round_no}", "ups")
        await asyncio.sleep(0)
    return added


async def test_concurrent_writers_lose_nothing(db_path: Path) -> None:
    async with Database.open(db_path) as first, Database.open(db_path) as second:
        results = await asyncio.gather(
            *(writer(first if i % 2 else second, i) for i in range(WRITERS)),
            # Readers at the same time must see whole snapshots only.
            *(reader(first if i % 2 else second) for i in range(2)),
        )
    added = results[:WRITERS]
    assert added == [PARCELS * ROUNDS] * WRITERS
    assert await count_rows(db_path, "shipments") == PARCELS
    # Every writer saved the same histories: one row per distinct event, none doubled.
    assert await count_rows(db_path, "events") == PARCELS * ROUNDS
    assert await count_rows(db_path, "outbox") == WRITERS * ROUNDS * PARCELS
    assert await count_rows(db_path, "subscriptions") == WRITERS * ROUNDS
    assert await count_rows(db_path, "carrier_picks") == WRITERS * ROUNDS
    async with Database.open(db_path) as db:
        stored = await db.shipments.get(key("P000"))
        assert stored is not None
        assert len(stored.events) == ROUNDS


async def reader(db: Database) -> int:
    seen = 0
    for _ in range(ROUNDS * 2):
        found = await db.shipments.get_many([key(f"P{n:03d}") for n in range(PARCELS)])
        for snapshot in found.values():
            # A snapshot saved in round r always comes with at least r + 1 events.
            assert snapshot.checked_at is not None
            minutes = int((snapshot.checked_at - T0).total_seconds() // 60)
            assert len(snapshot.events) >= minutes + 1
        seen += len(found)
        await asyncio.sleep(0)
    return seen


async def test_concurrent_subscribes_to_one_parcel_count_as_new_once(db_path: Path) -> None:
    async with Database.open(db_path) as first, Database.open(db_path) as second:
        outcomes = await asyncio.gather(
            *(
                (first if i % 2 else second).subscriptions.add(
                    Subscription(chat=chat("same"), key=key(), label=f"L{i}", created_at=T0)
                )
                for i in range(20)
            )
        )
    assert outcomes.count(True) == 1
    assert await count_rows(db_path, "subscriptions") == 1


async def test_a_cancelled_save_leaves_all_or_nothing_and_a_usable_connection(
    db_path: Path,
) -> None:
    batch = [
        write(
            shipment(key(f"C{n:04d}"), (event(0), event(1))),
            T0,
            ((chat(), alert(key(f"C{n:04d}"))),),
        )
        for n in range(400)
    ]
    async with Database.open(db_path) as db:
        # Cancel at a different point each time: before, inside and after the transaction.
        for steps in range(14):
            task = asyncio.create_task(db.shipments.save_many(batch))
            await asyncio.sleep(steps * 0.002)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            # A cancelled save's transaction runs on to its end on the worker thread; a read
            # through the same connection is queued behind it, so the counts below see the end.
            await db.meta.get("after")
            stored = await count_rows(db_path, "shipments")
            assert stored in (0, len(batch))
            assert await count_rows(db_path, "outbox") == stored
            # The connection is free and outside any transaction again.
            await db.meta.set("after", str(steps))
            assert await db.meta.get("after") == str(steps)
        await db.shipments.save_many(batch)
        assert await count_rows(db_path, "events") == 2 * len(batch)
