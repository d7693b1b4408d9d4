"""The shipments read cache: whatever happens, a read equals a read on a fresh connection."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storage.shipments as shipments_module
from core.budgets import snapshot_bytes
from core.models import Shipment, ShipmentKey, SnapshotWrite, Status, TrackingEvent
from storage.cache import ReadCache
from storage.codec import shipment_from_row, time_to_text
from storage.db import Database
from tests.storage.helpers import T0, event, key, shipment, write
from tests.turns import Turns

KEYS = [key("1ZCACHE0001"), key("1ZCACHE0002"), key("1ZCACHE0003", "fedex")]
PLUS7 = timezone(timedelta(hours=7))

events = st.builds(
    TrackingEvent,
    time=st.tuples(st.integers(0, 5), st.booleans()).map(
        lambda spec: (T0 + timedelta(hours=spec[0])).astimezone(PLUS7 if spec[1] else T0.tzinfo)
    ),
    status=st.sampled_from([Status.IN_TRANSIT, Status.EXCEPTION]),
    description=st.sampled_from(["Arrived", "Departed"]),
    location=st.sampled_from(["", "Hub A"]),
)
snapshots = st.builds(
    lambda index, evs, status, hours, first: replace(
        shipment(
            KEYS[index], events=tuple(evs), status=status, checked_at=T0 + timedelta(hours=hours)
        ),
        first_seen=None if first is None else T0 + timedelta(hours=first),
    ),
    st.integers(0, len(KEYS) - 1),
    st.lists(events, max_size=4),
    st.sampled_from([Status.IN_TRANSIT, Status.DELIVERED, Status.EXCEPTION]),
    st.integers(0, 48),
    st.none() | st.integers(0, 3),
)
# (who writes: this object or another connection, the batch of snapshots)
steps = st.lists(st.tuples(st.booleans(), st.lists(snapshots, min_size=1, max_size=3)), max_size=6)


async def _fresh(path: Path, keys: list[ShipmentKey]) -> dict[ShipmentKey, Shipment]:
    async with Database.open(path) as db:
        return await db.shipments.get_many(keys)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_cached_reads_match_the_rows(
    tmp_path_factory: pytest.TempPathFactory, plan: list[tuple[bool, list[Shipment]]]
) -> None:
    path = tmp_path_factory.mktemp("cache") / "parcelbot.sqlite3"

    async def run() -> None:
        async with Database.open(path) as mine, Database.open(path) as other:
            for by_other, batch in plan:
                writer = other if by_other else mine
                await writer.shipments.save_many([write(snapshot) for snapshot in batch])
                cached = await mine.shipments.get_many(KEYS)
                truth = await _fresh(path, KEYS)
                # repr catches values that are equal but would print differently.
                assert repr(cached) == repr(truth)
                assert cached == truth

    asyncio.run(run())


async def test_a_read_after_another_connection_wrote_sees_its_change(db_path: Path) -> None:
    async with Database.open(db_path) as mine, Database.open(db_path) as other:
        await mine.shipments.save_many([write(shipment(events=(event(0),)))])
        assert (await mine.shipments.get(key())) is not None
        await other.shipments.save_many([write(shipment(status=Status.DELIVERED))])
        stored = await mine.shipments.get(key())
        assert stored is not None
        assert stored.status is Status.DELIVERED


async def test_a_raw_write_by_another_connection_is_noticed(db_path: Path) -> None:
    async with Database.open(db_path) as mine:
        await mine.shipments.save_many([write(shipment(events=(event(0), event(1))))])
        async with aiosqlite.connect(db_path) as conn:
            await conn.execute("DELETE FROM events WHERE time > ?", (time_to_text(T0),))
            await conn.commit()
        stored = await mine.shipments.get(key())
        assert stored is not None
        assert [e.time for e in stored.events] == [T0]


async def test_a_big_read_returns_everything_even_past_the_cache_bound(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [key(f"1ZBOUND{i:04d}") for i in range(10)]
    snapshots = [shipment(k, events=(event(0),)) for k in keys]
    # Room for three of these snapshots, counted in bytes.
    limit = 3 * snapshot_bytes(snapshots[0])
    monkeypatch.setattr("storage.shipments._CACHE_LIMIT", limit)
    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(s) for s in snapshots])
        first = await db.shipments.get_many(keys)
        again = await db.shipments.get_many(keys)
        stats = db.shipments.cache_stats()
        held, cached = stats.size, stats.entries
    assert list(first) == keys
    assert again == first
    assert held <= limit and cached == 3


async def test_two_snapshots_of_one_parcel_in_one_batch_are_cached_as_stored(
    db_path: Path,
) -> None:
    async with Database.open(db_path) as db:
        await db.shipments.save_many(
            [
                SnapshotWrite(shipment(events=(event(3), event(1))), None),
                SnapshotWrite(shipment(events=(event(2), event(1, "Other"))), None),
            ]
        )
        cached = await db.shipments.get(key())
    assert cached == (await _fresh(db_path, [key()]))[key()]


@pytest.mark.sqlite_only
async def test_a_save_cancelled_while_it_commits_leaves_no_stale_cache(store: Database) -> None:
    # The write runs on the worker thread to its end even when its caller is cancelled, so
    # the snapshot it was writing may be stored: the next read must show it, not the cache.
    started, release = threading.Event(), threading.Event()

    def hold() -> int:
        started.set()
        release.wait()
        return 0

    await store.shipments.save_many([write(shipment(events=(event(0),)))])
    assert await store.shipments.get(key()) is not None  # cached now
    raw = store.sqlite.raw
    await raw.create_function("hold", 0, hold)
    await raw.execute("CREATE TEMP TRIGGER held AFTER INSERT ON events BEGIN SELECT hold(); END")
    newer = shipment(events=(event(0), event(1)), checked_at=T0 + timedelta(hours=2))
    task = asyncio.create_task(store.shipments.save_many([write(newer)]))
    await asyncio.to_thread(started.wait)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await store.shipments.get(key())
    assert stored is not None
    assert stored.events == newer.events


async def test_a_big_save_gives_way_while_it_works_out_what_to_cache(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted by interleavings, never timed: at a zero slice every parcel is a slice of its own.
    monkeypatch.setattr("core.cooperative.SLICE", 0.0)
    keys = [key(f"1ZGIVE{i:04d}") for i in range(8)]
    seen: list[int] = []
    turns = Turns()
    checked = shipments_module._reads_back_as_is

    def watched(snapshot: Shipment, added: Sequence[TrackingEvent]) -> bool:
        seen.append(turns.count)
        return checked(snapshot, added)

    monkeypatch.setattr(shipments_module, "_reads_back_as_is", watched)
    async with Database.open(db_path) as db:
        with turns:
            await db.shipments.save_many([write(shipment(k, events=(event(0),))) for k in keys])
        assert await db.shipments.get_many(keys) == await _fresh(db_path, keys)
    assert len(seen) == len(keys)
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


def _rechecked_later(keys: Sequence[ShipmentKey]) -> list[SnapshotWrite]:
    """What a poll that found nothing new saves for ``keys``: the same scan, checked later."""
    return [
        write(shipment(k, events=(event(0),), checked_at=T0 + timedelta(hours=1))) for k in keys
    ]


async def test_a_big_save_gives_way_while_it_caches_what_it_stored(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.cooperative.SLICE", 0.0)
    monkeypatch.setattr(shipments_module, "_APPLY_SLICE", 1, raising=False)
    keys = [key(f"1ZGIVE{i:04d}") for i in range(8)]
    settled: list[int] = []
    turns = Turns()
    swap = ReadCache.replace

    def watched(cache: ReadCache[Any, Any], cached: Any, value: Any) -> None:
        settled.append(turns.count)
        swap(cache, cached, value)

    monkeypatch.setattr(ReadCache, "replace", watched)
    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(shipment(k, events=(event(0),))) for k in keys])
        with turns:
            await db.shipments.save_many(_rechecked_later(keys))
        assert await db.shipments.get_many(keys) == await _fresh(db_path, keys)
    # Every parcel's cached snapshot was swapped for its rechecked one in a turn of its own.
    assert len(settled) == len(keys)
    assert all(later > earlier for earlier, later in itertools.pairwise(settled))


async def test_while_a_save_caches_what_it_stored_no_older_value_can_be_read(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows are committed before the cache learns them, parcel by parcel: whenever it
    # changes, every value it would hand out must already be the stored one.
    keys = [key(f"1ZHELD{i:04d}") for i in range(4)]
    behind: list[str] = []
    swap = ReadCache.replace

    def checked(cache: ReadCache[Any, Any], cached: Any, value: Any) -> None:
        for parcel in keys:
            shown = cache.get((parcel.carrier, parcel.number))
            (stored,) = rows.execute(
                "SELECT checked_at FROM shipments WHERE number = ?", (parcel.number,)
            ).fetchone()
            if shown is not None and time_to_text(shown.checked_at) != stored:
                behind.append(parcel.number)
        swap(cache, cached, value)

    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(shipment(k, events=(event(0),))) for k in keys])
        assert len(await db.shipments.get_many(keys)) == len(keys)
        rows = sqlite3.connect(db_path, check_same_thread=False)
        monkeypatch.setattr(ReadCache, "replace", checked)
        await db.shipments.save_many(_rechecked_later(keys))
        assert await db.shipments.get_many(keys) == await _fresh(db_path, keys)
    rows.close()
    assert behind == []


@pytest.mark.parametrize("reader_first", [False, True])
async def test_saves_and_reads_interleaved_with_a_save_leave_the_cache_as_stored(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, reader_first: bool
) -> None:
    # Every loop gives way at every item, so the saves' cache work and the read interleave.
    monkeypatch.setattr("core.cooperative.SLICE", 0.0)
    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(shipment(k, events=(event(0),))) for k in KEYS])
        await db.shipments.get_many(KEYS)  # all cached
        later = [
            shipment(k, events=(event(0), event(1)), checked_at=T0 + timedelta(hours=1))
            for k in KEYS
        ]
        latest = [
            shipment(k, events=(event(0), event(2)), checked_at=T0 + timedelta(hours=2))
            for k in KEYS[::-1]
        ]
        steps = [
            db.shipments.save_many([write(s) for s in later]),
            db.shipments.save_many([write(s) for s in latest]),
        ]
        read = db.shipments.get_many(KEYS)
        await asyncio.gather(*([read, *steps] if reader_first else [*steps, read]))
        cached = await db.shipments.get_many(KEYS)
    truth = await _fresh(db_path, KEYS)
    assert repr(cached) == repr(truth)
    assert cached == truth


async def test_a_big_read_gives_way_while_it_decodes_what_the_cache_lacks(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted by interleavings, never timed: at a zero slice every parcel is a slice of its own.
    keys = [key(f"1ZREAD{i:04d}") for i in range(8)]
    async with Database.open(db_path) as db:
        await db.shipments.save_many(
            [write(shipment(k, events=(event(0), event(1), event(2)))) for k in keys]
        )
    monkeypatch.setattr("core.cooperative.SLICE", 0.0)
    seen: list[int] = []
    turns = Turns()

    def watched(*args: Any) -> Shipment:
        seen.append(turns.count)
        return shipment_from_row(*args)

    monkeypatch.setattr(shipments_module, "shipment_from_row", watched)
    async with Database.open(db_path) as db:
        with turns:
            found = await db.shipments.get_many(keys)
    assert [len(found[k].events) for k in keys] == [3] * len(keys)
    assert len(seen) == len(keys)
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 7])
async def test_histories_decoded_in_slices_are_whole(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    # Slices of a few event rows: a slice boundary falls inside most parcels' histories.
    keys = [key(f"1ZSLICE{i:04d}") for i in range(6)]
    async with Database.open(db_path) as db:
        await db.shipments.save_many(
            [
                write(shipment(k, events=tuple(event(h) for h in range(index % 4 + 1))))
                for index, k in enumerate(keys)
            ]
        )
        whole = {k: await db.shipments.get(k) for k in keys}
    monkeypatch.setattr(shipments_module, "_EVENT_SLICE", rows)
    async with Database.open(db_path) as db:
        found = await db.shipments.get_many(keys)
    assert found == whole
    assert [len(found[k].events) for k in keys] == [1, 2, 3, 4, 1, 2]
