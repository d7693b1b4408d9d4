"""Everything written survives closing and reopening the file."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from core.models import ChatSettings, Preference, Subscription
from storage.db import Database
from tests.storage.helpers import T0, alert, chat, event, key, shipment, write


async def test_data_survives_a_restart(db_path: Path) -> None:
    snapshot = shipment(events=(event(0), event(4)))
    subscription = Subscription(chat=chat(), key=key(), label="Shoes", created_at=T0)
    settings = ChatSettings(preference=Preference.MILESTONES, timezone="Europe/Berlin")
    async with Database.open(db_path) as db:
        await db.shipments.save_many(
            [write(snapshot, T0 + timedelta(hours=1), ((chat(), alert()),))]
        )
        await db.subscriptions.add(subscription)
        await db.chats.save_settings(chat(), settings)
        await db.chats.remember_carrier(chat(), "123456789012", "fedex")
        await db.meta.set("clock", "x")

    async with Database.open(db_path) as db:
        assert await db.shipments.get(key()) == replace(snapshot, first_seen=T0)
        assert await db.shipments.due(T0 + timedelta(hours=1), 5) == [key()]
        assert await db.subscriptions.for_chat(chat()) == [subscription]
        assert await db.chats.get_settings(chat()) == settings
        assert await db.chats.carrier_pick(chat(), "123456789012") == "fedex"
        assert await db.meta.get("clock") == "x"
        (entry,) = await db.outbox.due(T0, 5)
        assert entry.alert == alert()
        await db.outbox.mark_sent([entry.id], T0)

    async with Database.open(db_path) as db:
        assert await db.outbox.due(T0, 5) == []
        assert await db.outbox.pending_count() == 0


async def test_the_connection_is_closed_even_when_the_body_fails(db_path: Path) -> None:
    class Boom(Exception):
        pass

    try:
        async with Database.open(db_path) as db:
            await db.meta.set("k", "v")
            raise Boom
    except Boom:
        pass
    async with Database.open(db_path) as db:
        assert await db.meta.get("k") == "v"


async def test_housekeeping_keeps_the_data(db_path: Path) -> None:
    async with Database.open(db_path) as db:
        await db.shipments.save_many([write(shipment(events=(event(0),)))])
        await db.checkpoint()
        await db.optimize()
        assert await db.shipments.count() == 1
    async with Database.open(db_path) as db:
        assert await db.shipments.get(key()) is not None
