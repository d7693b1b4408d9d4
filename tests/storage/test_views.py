"""Chat-command reads (``Database.views``): one consistent state each, on their own
connection, so they proceed while background work holds the writer."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

from core.models import ChatSettings, Preference, Status, Subscription
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock
from tests.storage.helpers import T0, chat, event, key, shipment, write

# Only guards against a hang: a read that waited for the open transaction would never end.
_HANG = 30.0


async def test_views_read_committed_state_while_a_write_transaction_is_open(
    store: Database,
) -> None:
    parcel = key()
    who = chat("7")
    await store.shipments.save_many([write(shipment(parcel, (event(1),)), None)])
    await store.subscriptions.add(Subscription(chat=who, key=parcel, label="shoes"))
    await store.chats.save_settings(who, ChatSettings(preference=Preference.MILESTONES))
    await store.chats.remember_carrier(who, parcel.number, "ups")
    committed = await store.shipments.get(parcel)

    in_transaction = asyncio.Event()
    release = asyncio.Event()

    async def background_writer() -> None:
        # The same connection the poller writes on (``Database`` keeps it private).
        async with store._conn.transaction() as tx:
            await tx.write(
                "UPDATE shipments SET status = 'delivered' WHERE carrier = ? AND number = ?",
                (parcel.carrier, parcel.number),
            )
            in_transaction.set()
            await release.wait()

    writer = asyncio.create_task(background_writer())
    await in_transaction.wait()
    try:
        chat_view = await asyncio.wait_for(store.views.chat(who, parcel.number), _HANG)
        parcel_view = await asyncio.wait_for(store.views.parcel(who, parcel), _HANG)
    finally:
        release.set()
        await writer
    assert chat_view.settings.preference is Preference.MILESTONES
    assert chat_view.carrier_pick == "ups"
    # Read while the transaction was open: the committed state, not the pending update.
    assert parcel_view.shipment is not None
    assert parcel_view.shipment.status is Status.IN_TRANSIT
    assert parcel_view.shipment == committed
    assert parcel_view.subscription is not None and parcel_view.subscription.label == "shoes"
    assert parcel_view.indexed is None and parcel_view.links == {}
    # Once committed, the next view sees it.
    after = await store.views.parcel(who, parcel)
    assert after.shipment is not None and after.shipment.status is Status.DELIVERED


async def test_views_of_unknown_chat_and_parcel_are_defaults(store: Database) -> None:
    chat_view = await store.views.chat(chat("new"), "NOPE")
    assert chat_view == type(chat_view)(ChatSettings(), None)
    parcel_view = await store.views.parcel(chat("new"), key("NOPE"))
    assert parcel_view.shipment is None and parcel_view.subscription is None


async def test_views_work_on_an_in_memory_database() -> None:
    async with Database.open(":memory:") as db:
        await db.shipments.save_many([write(shipment(key()), None)])
        view = await db.views.parcel(chat(), key())
    assert view.shipment is not None and view.shipment.number == key().number


async def test_track_of_a_stored_parcel_proceeds_while_the_writer_is_held(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    number = SAMPLE_NUMBERS[Scenario.NORMAL]
    who = chat("track")
    async with Database.open(tmp_path / "track.sqlite3", clock=clock) as db:
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(1)
        )
        await service.subscribe(who, number, "boots")
        first = await service.track(who, number)

        in_transaction = asyncio.Event()
        release = asyncio.Event()

        async def background_writer() -> None:
            async with db._conn.transaction() as tx:
                await tx.write("UPDATE shipments SET next_check_at = NULL")
                in_transaction.set()
                await release.wait()

        writer = asyncio.create_task(background_writer())
        await in_transaction.wait()
        try:
            again = await asyncio.wait_for(service.track(who, number), _HANG)
        finally:
            release.set()
            await writer
    assert again == first
    assert "boots" in again.title or any("boots" in line for line in again.lines)


async def test_archive_scan_reads_active_subscriptions_not_every_parcel(store: Database) -> None:
    from storage.shipments import _statements
    from storage.sql import SQLITE

    done = key("DONE")
    twice = key("TWICE")
    dropped = key("DROPPED")
    moving = key("MOVING")
    saved = [
        write(shipment(done, (event(1, status=Status.DELIVERED),), Status.DELIVERED), None),
        write(shipment(twice, (), Status.NOT_FOUND, checked_at=T0), None),
        write(shipment(dropped, (event(1, status=Status.DELIVERED),), Status.DELIVERED), None),
        write(shipment(moving, (event(1),)), None),
        # Many finished parcels nobody follows any more: the scan must not walk them.
        *(write(shipment(key(f"OLD{n}"), (), Status.DELIVERED), None) for n in range(50)),
    ]
    await store.shipments.save_many(saved)
    for parcel, who in ((done, "a"), (twice, "a"), (twice, "b"), (dropped, "c"), (moving, "d")):
        await store.subscriptions.add(Subscription(chat=chat(who), key=parcel))
    await store.subscriptions.archive(dropped)
    later = T0 + timedelta(days=40)
    found = await store.shipments.finished(later, later, 100)
    assert sorted(found, key=str) == sorted([done, twice], key=str)  # once each, any followers
    if store.backend != "sqlite":
        return  # the plan below is SQLite's (PostgreSQL plans by its table statistics)
    rows = await store._conn.read(
        "EXPLAIN QUERY PLAN " + _statements(SQLITE).select_finished, (T0.isoformat(),) * 4 + (10,)
    )
    plan = " ".join(str(row[-1]) for row in rows)
    assert "subscriptions_active" in plan
    assert "SCAN s " not in plan + " " and "SCAN shipments" not in plan
