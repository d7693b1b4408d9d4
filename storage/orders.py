"""Which shop order a chat's parcels belong to (for ``/orders`` and ``/report``).

A link is stored per chat: an order id is personal, so it is shown only to the chat that proved
the order was theirs, and ``forget_chat`` deletes it with the rest of the chat's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.models import ChatRef, OrderId, OrderLink, ShipmentKey, TrackingNumber
from storage.codec import opt_text, opt_time, time_to_text
from storage.shipments import NEWS_AGAIN, NEWS_AGAIN_FOR_NUMBER
from storage.sql import Connection

__all__ = ["SqliteOrderLinks"]

_SELECT = "SELECT carrier, number, order_id, shop, promised_by, linked_at FROM order_links "


def _link(row: tuple[str, str, str, str, str | None, str]) -> OrderLink:
    carrier, number, order_id, shop, promised_by, linked_at = row
    return OrderLink(
        key=ShipmentKey(carrier, TrackingNumber(number)),
        order_id=OrderId(order_id),
        shop=shop,
        promised_by=opt_text(promised_by),
        linked_at=datetime.fromisoformat(linked_at),
    )


class SqliteOrderLinks:
    """``OrderLinkRepository`` on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def link(self, chat: ChatRef, link: OrderLink) -> None:
        """Remember (or update) which order the chat's parcel belongs to."""
        async with self._conn.transaction() as tx:
            await tx.write(
                "INSERT INTO order_links (chat_key, carrier, number, order_id, shop, "
                "promised_by, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chat_key, carrier, number) DO UPDATE SET "
                "order_id = excluded.order_id, shop = excluded.shop, "
                "promised_by = coalesce(excluded.promised_by, order_links.promised_by)",
                (
                    chat.chat_key,
                    link.key.carrier,
                    link.key.number,
                    link.order_id,
                    link.shop,
                    opt_time(link.promised_by),
                    time_to_text(link.linked_at),
                ),
            )
            if link.promised_by is not None:
                # A promise is judged per chat: the parcel's news is judged again.
                await tx.write(NEWS_AGAIN, (link.key.carrier, link.key.number))

    async def for_chat(self, chat: ChatRef) -> dict[ShipmentKey, OrderLink]:
        """The chat's links by parcel."""
        rows = await self._conn.read(_SELECT + "WHERE chat_key = ?", (chat.chat_key,))
        links = [_link((r[0], r[1], r[2], r[3], r[4], r[5])) for r in rows]
        return {link.key: link for link in links}

    async def promises(self, keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, dict[str, datetime]]:
        """Per parcel, the chats (by chat key) whose linked order promised a date, and that
        date; parcels without one are left out."""
        found: dict[ShipmentKey, dict[str, datetime]] = {}
        wanted = set(keys)
        numbers = sorted({key.number for key in wanted})
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self._conn.read(
                "SELECT chat_key, carrier, number, promised_by FROM order_links "  # noqa: S608
                f"WHERE promised_by IS NOT NULL AND number IN ({marks})",
                chunk,
            )
            for chat_key, carrier, number, promised in rows:
                key = ShipmentKey(carrier, TrackingNumber(number))
                if key in wanted and promised:
                    found.setdefault(key, {})[chat_key] = datetime.fromisoformat(promised)
        return found

    async def update_promises(self, promises: Mapping[str, datetime]) -> int:
        """A shop's newer promised date for the links to these numbers (by number)."""
        changed = 0
        for number, promised in promises.items():
            async with self._conn.transaction() as tx:
                found = await tx.write(
                    "UPDATE order_links SET promised_by = ? WHERE number = ?",
                    (opt_time(promised), number),
                )
                if found:
                    await tx.write(NEWS_AGAIN_FOR_NUMBER, (number,))
            changed += found
        return changed

    async def forget_chat(self, chat: ChatRef) -> int:
        """Delete the chat's links; return how many went."""
        return await self._conn.write(
            "DELETE FROM order_links WHERE chat_key = ?", (chat.chat_key,)
        )
