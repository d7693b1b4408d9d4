"""The alert outbox: alerts stored with the snapshot that caused them, delivered later.

Rows are written by ``SqliteShipments.save_many`` (one transaction with the snapshot) and read
here by the flusher. Delivery is at least once: a row stays due until ``mark_sent``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from core.models import OutboxEntry
from storage.codec import alert_from_json, chat_from_columns, time_to_text
from storage.sql import Connection

__all__ = ["SqliteOutbox"]


class SqliteOutbox:
    """``OutboxRepository`` on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._ids = conn.dialect.ids

    async def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Unsent entries whose next attempt is due, oldest first, skipping paused chats."""
        rows = await self._conn.read(
            "SELECT o.id, o.platform, o.chat_id, o.user_id, o.is_group, o.alert, o.created_at, "
            "o.attempts FROM outbox AS o "
            "WHERE o.sent_at IS NULL "
            "AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) "
            "AND NOT EXISTS (SELECT 1 FROM chats AS c "
            "WHERE c.chat_key = o.chat_key AND c.paused <> 0) "
            "ORDER BY o.id LIMIT ?",
            (time_to_text(now), limit),
        )
        return [
            OutboxEntry(
                id=entry_id,
                chat=chat_from_columns(platform, chat_id, user_id, is_group),
                alert=alert_from_json(alert),
                created_at=datetime.fromisoformat(created_at),
                attempts=attempts,
            )
            for entry_id, platform, chat_id, user_id, is_group, alert, created_at, attempts in rows
        ]

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None:
        """Record delivery; these entries are never returned by ``due`` again."""
        if not ids:
            return
        await self._conn.write(
            "UPDATE outbox SET sent_at = ? "  # noqa: S608
            f"WHERE id IN ({self._ids}) AND sent_at IS NULL",
            (time_to_text(now), json.dumps(list(ids))),
        )

    async def mark_failed(self, entry_id: int, retry_at: datetime) -> None:
        """Count a failed attempt and hold the entry back until ``retry_at``."""
        await self._conn.write(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? "
            "WHERE id = ? AND sent_at IS NULL",
            (time_to_text(retry_at), entry_id),
        )

    async def discard(self, ids: Sequence[int]) -> int:
        """Delete unsent entries that can never be delivered; return how many went."""
        if not ids:
            return 0
        return await self._conn.write(
            f"DELETE FROM outbox WHERE id IN ({self._ids}) AND sent_at IS NULL",  # noqa: S608
            (json.dumps(list(ids)),),
        )

    async def pending_count(self) -> int:
        """How many entries are not sent yet (paused chats included)."""
        rows = await self._conn.read("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        return int(rows[0][0])

    async def purge_sent(self, before: datetime) -> int:
        """Delete entries sent before ``before``; return how many went.

        A purged alert's dedupe key is forgotten, so keep well past any repeat window.
        """
        return await self._conn.write(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
            (time_to_text(before),),
        )

    async def hold(self, ids: Sequence[int], until: datetime) -> None:
        """Keep entries for a digest, not due before ``until``; attempts are not counted."""
        if not ids:
            return
        await self._conn.write(
            "UPDATE outbox SET held = 1, next_attempt_at = ? "  # noqa: S608
            f"WHERE id IN ({self._ids}) AND sent_at IS NULL",
            (time_to_text(until), json.dumps(list(ids))),
        )

    async def hold_chat(self, chat_key: str) -> int:
        """Mark every unsent entry of the chat as waiting for a digest; return how many."""
        return await self._conn.write(
            "UPDATE outbox SET held = 1 WHERE chat_key = ? AND sent_at IS NULL", (chat_key,)
        )

    async def held_ids(self, ids: Sequence[int]) -> set[int]:
        """The entries among ``ids`` that wait for a digest."""
        if not ids:
            return set()
        rows = await self._conn.read(
            f"SELECT id FROM outbox WHERE id IN ({self._ids}) AND held <> 0",  # noqa: S608
            (json.dumps(list(ids)),),
        )
        return {int(row[0]) for row in rows}
