"""Which shop order a chat's parcels belong to (for ``/orders`` and ``/report``).

A link is stored per chat: an order id is personal, so it is shown only to the chat that proved
the order was theirs, and ``forget_chat`` deletes it with the rest of the chat's data.
"""

from __future__ import annotations

from datetime import datetime

from core.models import ChatRef, OrderId, ShipmentKey, TrackingNumber
from core.repositories import OrderLink
from storage.codec import opt_text, opt_time, time_to_text
from storage.connection import SerialConnection

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

    def __init__(self, conn: SerialConnection) -> None:
        self._conn = conn

    async def link(self, chat: ChatRef, link: OrderLink) -> None:
        """Remember (or update) which order the chat's parcel belongs to."""
        await self._conn.write(
            "INSERT INTO order_links (chat_key, carrier, number, order_id, shop, promised_by, "
            "linked_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (chat_key, carrier, number) DO UPDATE SET "
            "order_id = excluded.order_id, shop = excluded.shop, "
            "promised_by = coalesce(excluded.promised_by, promised_by)",
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

    async def for_chat(self, chat: ChatRef) -> dict[ShipmentKey, OrderLink]:
        """The chat's links by parcel."""
        rows = await self._conn.read(_SELECT + "WHERE chat_key = ?", (chat.chat_key,))
        links = [_link((r[0], r[1], r[2], r[3], r[4], r[5])) for r in rows]
        return {link.key: link for link in links}

    async def forget_chat(self, chat: ChatRef) -> int:
        """Delete the chat's links; return how many went."""
        return await self._conn.write(
            "DELETE FROM order_links WHERE chat_key = ?", (chat.chat_key,)
        )
