"""Provider pushes already processed, by notification id (``core.ports.SeenPushes``).

The webhook server's repeat filter lives in memory; this table lets it outlive a restart, so a
replayed 17TRACK or AfterShip push is answered "duplicate" instead of being processed again,
and lets several webhook front ends on one database take each Telegram update once
(``claim``). Records older than ``keep`` are dropped as new ones are written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.codec import time_to_text
from storage.sql import Connection

__all__ = ["SqliteSeenPushes"]


class SqliteSeenPushes:
    """Processed push ids on SQLite (table ``webhook_seen``)."""

    def __init__(self, conn: Connection, keep: timedelta = timedelta(days=7)) -> None:
        self._conn = conn
        self._keep = keep

    async def seen(self, provider: str, notification_id: str) -> bool:
        rows = await self._conn.read(
            "SELECT 1 FROM webhook_seen WHERE provider = ? AND notification_id = ?",
            (provider, notification_id),
        )
        return bool(rows)

    async def remember(self, provider: str, notification_id: str, at: datetime) -> None:
        async with self._conn.transaction() as tx:
            await tx.write(
                "INSERT INTO webhook_seen (provider, notification_id, seen_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (provider, notification_id, time_to_text(at)),
            )
            await tx.write(
                "DELETE FROM webhook_seen WHERE seen_at < ?", (time_to_text(at - self._keep),)
            )

    async def claim(self, provider: str, notification_id: str, at: datetime) -> bool:
        async with self._conn.transaction() as tx:
            # The primary key decides between processes: one insert wins, the others find
            # the row and change nothing.
            taken = await tx.write(
                "INSERT INTO webhook_seen (provider, notification_id, seen_at) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (provider, notification_id, time_to_text(at)),
            )
            await tx.write(
                "DELETE FROM webhook_seen WHERE seen_at < ?", (time_to_text(at - self._keep),)
            )
        return taken == 1

    async def forget(self, provider: str, notification_id: str) -> None:
        await self._conn.write(
            "DELETE FROM webhook_seen WHERE provider = ? AND notification_id = ?",
            (provider, notification_id),
        )
