"""ShipmentRepository contract on a real SQLite file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from core import cooperative
from core.models import Status, Subscription
from storage.db import Database
from tests.fakes import FakeClock
from tests.storage.helpers import T0, alert, chat, count_rows, event, key, shipment, write


async def test_unknown_parcel_is_none(store: Database) -> None:
    assert await store.shipments.get(key()) is None
    assert await store.shipments.get_many([key(), key("OTHER")]) == {}
    assert await store.shipments.get_many([]) == {}


async def test_saved_snapshot_comes_back_whole(store: Database) -> None:
    snapshot = shipment(events=(event(0), event(2)))
    await store.shipments.save_many([write(snapshot)])
    assert await store.shipments.get(key()) == replace(snapshot, first_seen=T0)


async def test_first_seen_is_set_once_and_kept(store: Database, store_clock: FakeClock) -> None:
    await store.shipments.save_many([write(shipment(checked_at=None))])
    store_clock.advance(timedelta(days=2))
    later = shipment(checked_at=T0 + timedelta(days=2))
    await store.shipments.save_many([write(replace(later, first_seen=T0 + timedelta(days=9)))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert stored.first_seen == T0
    assert stored.checked_at == T0 + timedelta(days=2)


async def test_events_come_back_oldest_first_whatever_the_save_order(store: Database) -> None:
    await store.shipments.save_many([write(shipment(events=(event(5), event(1))))])
    await store.shipments.save_many([write(shipment(events=(event(3),)))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert [e.time for e in stored.events] == [T0 + timedelta(hours=h) for h in (1, 3, 5)]


async def test_resaving_the_same_events_appends_nothing(store: Database, db_path: Path) -> None:
    history = (event(0), event(1), event(2))
    for _ in range(3):
        await store.shipments.save_many([write(shipment(events=history))])
    assert await count_rows(db_path, "events") == 3
    # A fresh connection has no memory of what was written and must still add nothing.
    async with Database.open(db_path) as again:
        await again.shipments.save_many([write(shipment(events=history))])
    assert await count_rows(db_path, "events") == 3


async def test_new_events_are_appended_and_old_ones_kept(store: Database) -> None:
    await store.shipments.save_many([write(shipment(events=(event(0), event(1))))])
    # The provider now reports a longer history, then one that dropped the oldest scan.
    await store.shipments.save_many([write(shipment(events=(event(0), event(1), event(2))))])
    await store.shipments.save_many([write(shipment(events=(event(1), event(2), event(4))))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert [e.time for e in stored.events] == [T0 + timedelta(hours=h) for h in (0, 1, 2, 4)]


async def test_changed_event_in_a_known_prefix_is_still_stored(store: Database) -> None:
    await store.shipments.save_many([write(shipment(events=(event(0), event(1))))])
    amended = (event(0), event(1, "Arrived at hub (corrected)"), event(2))
    await store.shipments.save_many([write(shipment(events=amended))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert [e.description for e in stored.events] == [
        "Scan after 0 h",
        "Scan after 1 h",
        "Arrived at hub (corrected)",
        "Scan after 2 h",
    ]


async def test_same_time_events_keep_their_reported_order(store: Database) -> None:
    same_time = (event(1, "Sorted"), event(1, "Loaded"), event(1, "Departed"))
    await store.shipments.save_many([write(shipment(events=same_time))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert stored.events == same_time


async def test_snapshot_fields_are_replaced_by_a_newer_save(store: Database) -> None:
    await store.shipments.save_many([write(shipment(status=Status.IN_TRANSIT))])
    delivered = replace(
        shipment(status=Status.DELIVERED, checked_at=T0 + timedelta(days=1)),
        delivered_at=T0 + timedelta(days=1),
        destination="Springfield, US",
    )
    await store.shipments.save_many([write(delivered)])
    assert await store.shipments.get(key()) == replace(delivered, first_seen=T0)


async def test_get_many_returns_only_known_parcels_with_their_own_events(
    store: Database,
) -> None:
    a, b = key("AAA111"), key("BBB222", "dhl")
    await store.shipments.save_many(
        [write(shipment(a, (event(0),))), write(shipment(b, (event(1), event(2))))]
    )
    found = await store.shipments.get_many([a, b, key("CCC333")])
    assert set(found) == {a, b}
    assert len(found[a].events) == 1
    assert len(found[b].events) == 2
    assert found[b].carrier == "dhl"


async def test_same_number_at_two_carriers_is_two_parcels(store: Database) -> None:
    ups, fedex = key("123456789012", "ups"), key("123456789012", "fedex")
    await store.shipments.save_many([write(shipment(ups, (event(0),)))])
    await store.shipments.save_many([write(shipment(fedex, (event(1), event(2))))])
    found = await store.shipments.get_many([ups, fedex])
    assert [len(found[k].events) for k in (ups, fedex)] == [1, 2]


async def test_due_is_most_overdue_first_and_skips_unscheduled(store: Database) -> None:
    parcels = [key(f"N{i}") for i in range(5)]
    offsets = [30, -10, None, 5, -60]  # minutes from T0; None: never check again
    await store.shipments.save_many(
        [
            write(shipment(k), None if m is None else T0 + timedelta(minutes=m))
            for k, m in zip(parcels, offsets, strict=True)
        ]
    )
    assert await store.shipments.due(T0, 10) == [parcels[4], parcels[1]]
    assert await store.shipments.due(T0 + timedelta(minutes=5), 10) == [
        parcels[4],
        parcels[1],
        parcels[3],
    ]
    assert await store.shipments.due(T0 + timedelta(days=1), 2) == [parcels[4], parcels[1]]


async def test_schedule_sets_and_clears_the_next_check(store: Database) -> None:
    await store.shipments.save_many([write(shipment(), T0 + timedelta(hours=5))])
    assert await store.shipments.due(T0, 10) == []
    await store.shipments.schedule(key(), T0 - timedelta(minutes=1))
    assert await store.shipments.due(T0, 10) == [key()]
    assert await store.shipments.next_check(key()) == T0 - timedelta(minutes=1)
    await store.shipments.schedule(key(), None)
    assert await store.shipments.due(T0 + timedelta(days=365), 10) == []
    assert await store.shipments.next_check(key()) is None
    # Scheduling a parcel that was never saved is a no-op, not an error.
    await store.shipments.schedule(key("NEVER"), T0)
    assert await store.shipments.count() == 1


async def test_save_many_counts_only_new_outbox_rows(store: Database, db_path: Path) -> None:
    alice, bob = chat("alice"), chat("bob")
    moved = alert(dedupe="moved:1")
    first = write(shipment(), T0, ((alice, moved), (bob, moved)))
    assert await store.shipments.save_many([first]) == 2
    # The same alert again (e.g. the poll ran twice) is ignored, a new one is added.
    again = write(shipment(), T0, ((alice, moved), (bob, alert(dedupe="moved:2"))))
    assert await store.shipments.save_many([again]) == 1
    assert await count_rows(db_path, "outbox") == 3
    assert await store.shipments.save_many([]) == 0


async def test_save_many_is_one_transaction(store: Database, db_path: Path) -> None:
    # A trigger makes the outbox insert fail after the snapshots and events were written.
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.dedupe_key LIKE '%boom' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        await conn.commit()
    good = write(shipment(key("GOOD1"), (event(0),)), T0)
    bad = write(shipment(key("BAD1"), (event(0),)), T0, ((chat(), alert(key("BAD1"), "boom")),))
    with pytest.raises(aiosqlite.IntegrityError, match="refused"):
        await store.shipments.save_many([good, bad])
    assert await count_rows(db_path, "shipments") == 0
    assert await count_rows(db_path, "events") == 0
    # The connection is usable afterwards and nothing stayed half-open.
    assert await store.shipments.save_many([good]) == 0
    assert await store.shipments.get(key("GOOD1")) is not None
    # The events the failed save did not store are written by the next save.
    assert await count_rows(db_path, "events") == 1


async def test_failed_save_does_not_teach_the_event_memo(store: Database, db_path: Path) -> None:
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON outbox "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
        await conn.commit()
    history = (event(0), event(1))
    with pytest.raises(aiosqlite.IntegrityError):
        await store.shipments.save_many([write(shipment(events=history), T0, ((chat(), alert()),))])
    await store.shipments.save_many([write(shipment(events=history))])
    assert await count_rows(db_path, "events") == 2


async def test_naive_times_are_rejected_before_anything_is_written(store: Database) -> None:
    naive = replace(shipment(), checked_at=T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        await store.shipments.save_many([write(shipment(key("FINE"))), write(naive)])
    assert await store.shipments.count() == 0


async def test_outbox_created_at_comes_from_the_snapshot_or_the_clock(store: Database) -> None:
    checked = T0 + timedelta(minutes=7)
    await store.shipments.save_many(
        [
            write(shipment(key("A1"), checked_at=checked), None, ((chat(), alert(key("A1"))),)),
            write(shipment(key("B1"), checked_at=None), None, ((chat(), alert(key("B1"))),)),
        ]
    )
    entries = await store.outbox.due(T0 + timedelta(days=1), 10)
    assert [(e.alert.key, e.created_at) for e in entries] == [
        (key("A1"), checked),
        (key("B1"), T0),
    ]


async def test_clearing_the_event_memo_rewrites_deleted_history(
    store: Database, db_path: Path
) -> None:
    history = (event(0), event(1))
    await store.shipments.save_many([write(shipment(events=history))])
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute("DELETE FROM events")
        await conn.commit()
    store.shipments.clear_event_memo()
    await store.shipments.save_many([write(shipment(events=history))])
    assert await count_rows(db_path, "events") == 2


async def test_an_unchanged_snapshot_still_moves_its_poll_times(store: Database) -> None:
    snapshot = shipment(events=(event(0),))
    await store.shipments.save_many([write(snapshot, T0 + timedelta(hours=1))])
    later = replace(snapshot, checked_at=T0 + timedelta(hours=1))
    await store.shipments.save_many([write(later, T0 + timedelta(hours=3))])
    stored = await store.shipments.get(key())
    assert stored is not None
    assert stored.checked_at == T0 + timedelta(hours=1)
    assert await store.shipments.next_check(key()) == T0 + timedelta(hours=3)
    # Then a real change (only the ETA-free status moves) is written in full.
    delivered = replace(later, status=Status.DELIVERED, delivered_at=T0 + timedelta(hours=2))
    await store.shipments.save_many([write(delivered, None)])
    assert await store.shipments.get(key()) == replace(delivered, first_seen=T0)
    assert await store.shipments.next_check(key()) is None


async def test_each_process_sees_the_other_ones_snapshot_changes(db_path: Path) -> None:
    async with Database.open(db_path) as first, Database.open(db_path) as second:
        await first.shipments.save_many([write(shipment(status=Status.IN_TRANSIT))])
        await second.shipments.save_many([write(shipment(status=Status.DELIVERED))])
        await first.shipments.save_many([write(shipment(status=Status.DELIVERED))])
        stored = await first.shipments.get(key())
        assert stored is not None
        assert stored.status is Status.DELIVERED


async def test_a_parcel_deleted_behind_its_back_is_written_whole_again(
    store: Database, db_path: Path
) -> None:
    snapshot = shipment(events=(event(0), event(1)))
    await store.shipments.save_many([write(snapshot, T0)])
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("DELETE FROM shipments")
        await conn.commit()
    assert await count_rows(db_path, "events") == 0
    await store.shipments.save_many([write(snapshot, T0)])
    assert await store.shipments.get(key()) == replace(snapshot, first_seen=T0)
    assert await store.shipments.due(T0, 5) == [key()]


async def test_a_parcel_twice_in_one_batch_keeps_the_later_snapshot(store: Database) -> None:
    first = shipment(events=(event(0),))
    await store.shipments.save_many([write(first, T0)])
    moved = replace(first, status=Status.OUT_FOR_DELIVERY, events=(event(0), event(1)))
    # The unchanged snapshot comes last, so it must win over the changed one before it.
    again = replace(first, checked_at=T0 + timedelta(hours=2))
    await store.shipments.save_many(
        [write(moved, T0 + timedelta(hours=1)), write(again, T0 + timedelta(hours=4))]
    )
    stored = await store.shipments.get(key())
    assert stored is not None
    assert (stored.status, stored.checked_at) == (Status.IN_TRANSIT, T0 + timedelta(hours=2))
    assert len(stored.events) == 2
    assert await store.shipments.next_check(key()) == T0 + timedelta(hours=4)


async def test_due_parcels_says_which_are_followed_and_which_were_pushed(
    store: Database,
) -> None:
    followed, archived, nobody, later = key("A1"), key("B2"), key("C3"), key("D4")
    for index, parcel in enumerate((followed, archived, nobody, later)):
        due_at = T0 + timedelta(minutes=index) if parcel != later else T0 + timedelta(days=1)
        await store.shipments.save_many([write(shipment(parcel), due_at)])
    await store.subscriptions.add(Subscription(chat=chat("1"), key=followed, created_at=T0))
    await store.subscriptions.add(Subscription(chat=chat("2"), key=archived, created_at=T0))
    await store.subscriptions.add(Subscription(chat=chat("3"), key=later, created_at=T0))
    await store.subscriptions.archive(archived)
    await store.shipments.mark_pushed([followed], T0)
    await store.shipments.mark_pushed([nobody], T0 - timedelta(days=5))

    now = T0 + timedelta(hours=1)
    due = await store.shipments.due_parcels(now, 10, T0 - timedelta(days=3))
    assert due.keys == tuple(await store.shipments.due(now, 10)) == (followed, archived, nobody)
    assert due.followed == {followed}
    assert due.pushed == {followed}
    assert due.pushed == await store.shipments.pushed_since(due.keys, T0 - timedelta(days=3))
    assert (await store.shipments.due_parcels(now, 2, T0)).keys == (followed, archived)
    assert (await store.shipments.due_parcels(T0 - timedelta(hours=1), 10, T0)).keys == ()


@pytest.mark.sqlite_only
async def test_a_full_memo_of_what_was_written_is_let_go_in_slices(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is a chance to give way
    monkeypatch.setattr(cooperative, "RELEASE_SLICE", 1)
    monkeypatch.setattr("storage.shipments._MEMO_LIMIT", 4)
    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(shipment(key(f"1ZMEMO{i:04d}"))) for i in range(4)])
        full = db.shipments._memo
        sizes: list[int] = []

        async def watch() -> None:
            while True:
                sizes.append(len(full))
                await asyncio.sleep(0)

        watcher = asyncio.get_running_loop().create_task(watch())
        await db.shipments.save_many([write(shipment(key("1ZMEMO9999")))])
        watcher.cancel()
        assert db.shipments.memo_stats() == (0, 5)
    # The four parcels it knew were forgotten one at a time, the other task running between.
    assert full == {}
    assert sorted(set(sizes), reverse=True) == [4, 3, 2, 1]
