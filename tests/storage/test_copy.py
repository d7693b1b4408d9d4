"""``parcelbot db copy``: a SQLite bot moved to PostgreSQL with nothing lost.

A SQLite database with rows in every table (and pushes in its inbox file beside it) is copied
with the real command into a fresh PostgreSQL schema; every row of every table must arrive
as it was, the repositories must read the same things back, and new rows must get new ids.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bots.__main__ import main
from core.eta.model import Observation
from core.models import (
    Attempts,
    ChatSettings,
    GuildSettings,
    IndexedParcel,
    OrderId,
    OrderLink,
    Preference,
    Scope,
    Status,
    Subscription,
    TrackingNumber,
)
from storage.copy import tables
from storage.db import Database, inbox_path, open_inbox
from storage.sql import Connection
from tests.postgres import postgres_schema
from tests.storage.helpers import T0, alert, chat, event, key, shipment, write


async def _fill(path: Path) -> None:
    """Rows in every table of a SQLite bot, through its repositories."""
    async with Database.open(path) as db:
        moving, done = key("1ZMOVING"), key("1ZDONE")
        writes = [
            write(
                shipment(moving, (event(1), event(2, "Départ — 東京")), checked_at=T0),
                T0 + timedelta(hours=1),
                ((chat("7"), alert(moving, "moved:1")), (chat("8"), alert(moving, "moved:1"))),
            ),
            write(
                shipment(done, (event(1), event(30, status=Status.DELIVERED)), Status.DELIVERED),
                None,
                ((chat("7"), alert(done, "delivered")),),
            ),
        ]
        await db.shipments.save_many(writes)
        await db.shipments.mark_pushed([moving], T0)
        entries = await db.outbox.due(T0 + timedelta(days=1), 10)
        await db.outbox.mark_sent([entries[0].id], T0)
        await db.outbox.mark_failed(entries[1].id, T0 + timedelta(minutes=5))
        await db.subscriptions.add(Subscription(chat=chat("7"), key=moving, label="shoes"))
        await db.subscriptions.add(Subscription(chat=chat("8", group=True), key=moving))
        await db.chats.save_settings(chat("7"), ChatSettings(preference=Preference.MILESTONES))
        await db.chats.pause_chat(chat("9"))
        await db.chats.remember_carrier(chat("7"), "771200000041", "fedex")
        await db.meta.set("sandbox_clock", T0.isoformat())
        await db.discord.save(GuildSettings(2**40 + 1, alerts_channel_id=2**41, allow_public=True))
        await db.discord.remember_home(2**50, 2**40 + 1, 2**41)
        await db.orders.link(
            chat("7"), OrderLink(moving, OrderId("576000000000000002"), T0, "shop", T0)
        )
        await db.order_index.upsert(
            [
                IndexedParcel(
                    TrackingNumber("1ZMOVING"), "ups", "s1", OrderId("576000000000000002"), "p", T0
                )
            ]
        )
        await db.observations.add(
            Observation("ups", "", "US", "US", T0, T0, T0 + timedelta(days=3)), moving
        )
        await db.attempts.put(Scope.USER, "telegram:7", Attempts(2, T0, None, 1))
        await db.webhook_seen.remember("17track", "n-1", T0)
        await db.inbox.add("tiktok", "order-1", b'{"type": 1}', T0)
    async with open_inbox(inbox_path(path)) as pushes:
        await pushes.add("17track", "push-1", b'{"data": "\xff binary"}', T0)
        await pushes.add("tiktok", "order-1", b"the same id as the main inbox's", T0)


async def _dump(conn: Connection) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    for name in await tables(conn):
        rows = await conn.read(f'SELECT * FROM "{name}"')  # noqa: S608 - catalogue names
        found[name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def test_db_copy_moves_a_sqlite_bot_to_postgresql_with_nothing_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bot.sqlite3"
    asyncio.run(_fill(source))
    with postgres_schema() as url:
        assert main(["db", "copy", str(source), url]) == 0
        printed = capsys.readouterr().out
        assert "copied" in printed and "outbox: 3 rows" in printed
        asyncio.run(_compare(source, url))
        # A second copy into the now full database is refused and changes nothing.
        assert main(["db", "copy", str(source), url]) == 1
        assert "already holds data" in capsys.readouterr().err
        asyncio.run(_compare(source, url))
        asyncio.run(_add_after_copy(url))


async def _compare(source: Path, url: str) -> None:
    async with Database.open(source) as old, Database.open(url) as new:
        before, after = await _dump(old.connection), await _dump(new.connection)
        assert all(before[name] for name in before), "every table has rows to copy"
        pushes = after.pop("webhook_inbox")
        assert {name: rows for name, rows in before.items() if name != "webhook_inbox"} == after
        # The main inbox's row and the pushes file's new one (its repeated id stays once).
        assert sorted((row[1], row[2]) for row in pushes) == [
            ("17track", "push-1"),
            ("tiktok", "order-1"),
        ]
        assert await new.webhook_seen.seen("17track", "n-1")
        # The repositories read the same things back.
        later = T0 + timedelta(days=1)
        assert await new.outbox.due(later, 10) == await old.outbox.due(later, 10)
        for parcel in (key("1ZMOVING"), key("1ZDONE")):
            assert await new.shipments.get(parcel) == await old.shipments.get(parcel)
        assert await new.subscriptions.for_chat(chat("7")) == await old.subscriptions.for_chat(
            chat("7")
        )
        assert await new.chats.paused_chats() == ["telegram:9"]


async def _add_after_copy(url: str) -> None:
    """New rows get ids past the copied ones."""
    later = T0 + timedelta(days=1)
    async with Database.open(url) as new:
        added = await new.shipments.save_many(
            [write(shipment(key("1ZNEW")), None, ((chat("7"), alert(key("1ZNEW"), "new")),))]
        )
        assert added == 1
        ids = [entry.id for entry in await new.outbox.due(later, 10)]
        assert len(ids) == len(set(ids)) == 3
