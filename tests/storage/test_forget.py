"""/forget leaves nothing about the chat behind: parcels only it followed go with their
events and proof of delivery; what estimates learned from them no longer points at anyone
(real service, sandbox, real SQLite file)."""

from __future__ import annotations

from datetime import timedelta

import aiosqlite

from core.commands import CommandRouter
from core.models import Observation, ShipmentKey, TrackingNumber
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.service import ParcelService
from storage.db import Database
from storage.observations import parcel_digest
from tests.fakes import FakeClock, chat

SIGNED = SAMPLE_NUMBERS[Scenario.OUT_FOR_DELIVERY_SIGNED]
SHARED = SAMPLE_NUMBERS[Scenario.NORMAL]


async def _forget(router: CommandRouter, who: object) -> None:
    asked = (await router.run(who, "forget", []))[0]  # type: ignore[arg-type]
    yes = next(b for b in asked.buttons if b.label.startswith("Yes"))
    done = (await router.run(who, yes.action, list(yes.args)))[0]  # type: ignore[arg-type]
    assert done.title == "Forgotten"


async def _count(db: Database, sql: str, *args: object) -> int:
    async with aiosqlite.connect(db.path) as conn, conn.execute(sql, args) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def test_forget_removes_every_row_about_the_chat(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    router = CommandRouter(service)
    me, other = chat("me"), chat("other")
    await router.run(me, "subscribe", [SIGNED])
    await router.run(me, "subscribe", [SHARED])
    await router.run(other, "subscribe", [SHARED])
    for _ in range(6 * 24):
        clock.advance(timedelta(hours=1))
        await service.refresh.poll_due()
    signed = await db.shipments.get(ShipmentKey("ups", TrackingNumber(SIGNED)))
    assert signed is not None and signed.proof is not None and signed.proof.detail
    signer = signed.proof.detail
    key = signed.key
    await db.observations.add(
        Observation(
            "ups", "", "Portland, OR, US", "Austin, TX, US", clock.now(), None, clock.now()
        ),
        key,
    )

    await _forget(router, me)

    assert await db.shipments.get(key) is None
    assert await _count(db, "SELECT count(*) FROM shipments WHERE number = ?", SIGNED) == 0
    assert (
        await _count(db, "SELECT count(*) FROM events WHERE description LIKE ?", f"%{signer}%") == 0
    )
    assert (
        await _count(
            db, "SELECT count(*) FROM eta_observations WHERE parcel = ?", parcel_digest(key)
        )
        == 0
    )
    assert (
        await _count(db, "SELECT count(*) FROM eta_observations WHERE origin LIKE '%Portland%'")
        == 0
    )
    assert await _count(db, "SELECT count(*) FROM eta_observations WHERE origin = 'US'") == 1
    for table in ("subscriptions", "chats", "carrier_picks", "outbox", "order_links"):
        sql = f"SELECT count(*) FROM {table} WHERE chat_key = ?"  # noqa: S608
        rows = await _count(db, sql, me.chat_key)
        assert rows == 0, table
    # The parcel another chat still follows stays, for them.
    assert await db.shipments.get(ShipmentKey("ups", TrackingNumber(SHARED))) is not None
    assert len(await db.subscriptions.for_chat(other)) == 1
