"""Background WAL checkpoints (storage.checkpoints) and the subscription row memo."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite

from core.models import Subscription
from storage.checkpoints import SAFETY_NET_PAGES
from storage.db import Database
from tests.storage.helpers import chat, key, shipment, write


async def _settled(db: Database) -> None:
    """Wait until the background checkpoint started by the last commit is over."""
    checkpointer = db.sqlite._on_commit.__self__  # type: ignore[union-attr]
    for _ in range(500):
        if checkpointer._task is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the background checkpoint never finished")


async def test_commits_are_checkpointed_beside_the_writer(db_path: Path) -> None:
    async with Database.open(db_path) as db:
        rows = await db._conn.read("PRAGMA wal_autocheckpoint")
        assert rows[0][0] == SAFETY_NET_PAGES
        await db.shipments.save_many([write(shipment(key(f"1ZCKPT{n:04d}"))) for n in range(300)])
        await _settled(db)
        # Another connection finds every page of the log already copied into the database.
        async with aiosqlite.connect(db_path) as other:
            found = await other.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            busy, log_frames, done = next(iter(found))
        assert busy == 0 and log_frames > 0 and done == log_frames
    # Closing waits for a checkpoint in flight; the file opens again with everything in it.
    async with Database.open(db_path) as again:
        assert await again.shipments.count() == 300


async def test_memory_database_has_no_checkpointer() -> None:
    async with Database.open(":memory:") as db:
        assert db.sqlite._on_commit is None
        await db.shipments.save_many([write(shipment())])
        assert await db.shipments.count() == 1


async def test_subscribers_see_a_changed_subscription(store: Database) -> None:
    parcel, who = key(), chat()
    await store.subscriptions.add(Subscription(chat=who, key=parcel, label="shoes"))
    first = (await store.subscriptions.subscribers([parcel]))[parcel][0]
    assert (await store.subscriptions.subscribers([parcel]))[parcel][0] is first  # memo
    await store.subscriptions.update(Subscription(chat=who, key=parcel, label="boots", muted=True))
    changed = (await store.subscriptions.subscribers([parcel]))[parcel][0]
    assert (changed.label, changed.muted) == ("boots", True)
