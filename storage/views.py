"""What a chat command reads, in one hand-off each, on the database's read connection.

``/track`` of a stored parcel needs the chat's settings, subscriptions (labels) and remembered
carrier pick, then the parcel's snapshot with its history, the chat's subscription to it, the
order index entry for its number and the chat's order links. Read one query at a time through
the connection the poller writes on, that was about eight round trips, each queued behind
whatever background work held the connection. Here they are two (``chat``, ``parcel``), each
one read transaction on the read connection (``storage.db``; ``storage.connection.
InlineReader``): in WAL mode a reader neither waits for the writer nor blocks it.
"""

from __future__ import annotations

from core.models import ChatRef, ChatSettings, ChatView, ParcelView, ShipmentKey
from storage.codec import SETTINGS_COLUMNS, settings_from_row, subscription_from_row
from storage.connection import Reader
from storage.order_index import _SELECT as _SELECT_INDEXED
from storage.order_index import _row as _indexed
from storage.orders import _SELECT as _SELECT_LINKS
from storage.orders import _link
from storage.shipments import read_snapshot
from storage.sql import Tx
from storage.subscriptions import _SELECT as _SELECT_SUBSCRIPTIONS

__all__ = ["SqliteViews"]

_DEFAULTS = ChatSettings()


class SqliteViews:
    """``core.ports.ReadViews`` on SQLite: each view is one read transaction."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader

    async def chat(self, chat: ChatRef, number: str) -> ChatView:
        """The chat's settings (defaults when none saved), its carrier pick for ``number`` and
        its subscriptions."""

        async def read(tx: Tx) -> ChatView:
            settings = await tx.read(
                f"SELECT {SETTINGS_COLUMNS} FROM chats "  # noqa: S608 - fixed column list
                "WHERE chat_key = ?",
                (chat.chat_key,),
            )
            pick = await tx.read(
                "SELECT carrier FROM carrier_picks WHERE chat_key = ? AND number = ?",
                (chat.chat_key, number),
            )
            subs = await tx.read(
                _SELECT_SUBSCRIPTIONS
                + "WHERE s.chat_key = ? ORDER BY s.created_at DESC, s.id DESC",
                (chat.chat_key,),
            )
            return ChatView(
                settings_from_row(settings[0]) if settings else _DEFAULTS,
                str(pick[0][0]) if pick else None,
                tuple(subscription_from_row(row) for row in subs),
            )

        return await self._reader.run_read(read)

    async def parcel(self, chat: ChatRef, key: ShipmentKey) -> ParcelView:
        """The stored snapshot (None when never saved), the chat's subscription to it (active
        or archived), the order index entry for its number and the chat's order links."""

        async def read(tx: Tx) -> ParcelView:
            shipment = await read_snapshot(tx, key)
            sub = await tx.read(
                _SELECT_SUBSCRIPTIONS + "WHERE s.chat_key = ? AND s.carrier = ? AND s.number = ?",
                (chat.chat_key, key.carrier, key.number),
            )
            indexed = await tx.read(_SELECT_INDEXED + "WHERE number = ?", (key.number,))
            links = [
                _link((r[0], r[1], r[2], r[3], r[4], r[5]))
                for r in await tx.read(_SELECT_LINKS + "WHERE chat_key = ?", (chat.chat_key,))
            ]
            return ParcelView(
                shipment,
                subscription_from_row(sub[0]) if sub else None,
                _indexed(indexed[0]) if indexed else None,
                {link.key: link for link in links},
            )

        return await self._reader.run_read(read)
