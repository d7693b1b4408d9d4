"""A shop's promised date is the verified buyer's alone: it lives on their order link, never on
the parcel every follower reads (real service, sandbox shop, real SQLite)."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from core.commands import CommandRouter
from core.models import ShipmentKey, TrackingNumber
from core.service import ParcelService
from storage.db import Database
from storage.migrations import MIGRATIONS
from tests.fakes import chat

ORDER = "576000000000000007"  # the sandbox order with a promised date (FedEx, weather delay)


async def _verified_number(router: CommandRouter) -> str:
    owner = chat("owner")
    replies = await router.run(owner, "verify", [ORDER, "00007"])
    return replies[0].buttons[0].args[0]


async def test_a_promise_reaches_only_the_chat_that_proved_the_order(
    service: ParcelService, db: Database
) -> None:
    router = CommandRouter(service)
    number = await _verified_number(router)
    owner = chat("owner")
    owner_view = "\n".join((await router.run(owner, "track", [number]))[0].lines)
    assert "promised" in owner_view

    stranger, group = chat("stranger"), chat("group", "member", group=True)
    for who in (stranger, group):
        await router.run(who, "subscribe", [number])
        for name in ("track", "history", "report"):
            for reply in await router.run(who, name, [number]):
                text = "\n".join((reply.title, *reply.lines))
                if reply.attachment is not None:
                    text += reply.attachment.content.decode()
                if name == "report":
                    assert "Promised by the shop: not known" in text
                else:
                    assert "promised by" not in text.lower(), (who, name)
    stored = await db.shipments.get(ShipmentKey("fedex", TrackingNumber(number)))
    assert stored is not None and stored.promised_by is None


async def test_promises_stored_on_parcels_move_to_the_verified_chats_links(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    step = next(i for i, m in enumerate(MIGRATIONS) if "promised dates move" in m.description)
    before = MIGRATIONS[:step]
    async with Database.open(path, migrations=before):
        pass
    async with aiosqlite.connect(path) as conn:
        await conn.execute(
            "INSERT INTO shipments (carrier, number, status, promised_by, first_seen) "
            "VALUES ('fedex', '771200000096', 'in_transit', '2026-03-04T18:00:00+00:00', "
            "'2026-03-01T00:00:00+00:00')"
        )
        await conn.execute(
            "INSERT INTO order_links (chat_key, carrier, number, order_id, linked_at) VALUES "
            "('console:owner', 'fedex', '771200000096', '576000000000000007', "
            "'2026-03-01T00:00:00+00:00')"
        )
        await conn.commit()
    async with Database.open(path) as db:
        owner = chat("owner")
        link = (await db.orders.for_chat(owner))[
            ShipmentKey("fedex", TrackingNumber("771200000096"))
        ]
        assert link.promised_by is not None and link.promised_by.day == 4
        stored = await db.shipments.get(ShipmentKey("fedex", TrackingNumber("771200000096")))
        assert stored is not None and stored.promised_by is None
