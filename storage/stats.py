"""Figures about the work waiting in the database, for readiness checks and metrics.

Read-only queries on the shared connection; each is one indexed scan of the rows waiting
(unsent alerts, parcels due), so it stays cheap however much history the database holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.codec import time_to_text
from storage.sql import Connection

__all__ = ["Backlog", "SqliteStats"]


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work waiting now: alerts due for sending and parcels due for a check.

    ``outbox_due`` counts unsent alerts whose next attempt is due, leaving out paused chats
    (nothing can reach them) and alerts held for quiet hours or a retry later;
    ``oldest_alert`` is when the oldest of them was queued. ``oldest_check`` is when the
    most overdue parcel was due for a check (None: nothing is overdue).
    """

    outbox_due: int
    oldest_alert: datetime | None
    parcels_due: int
    oldest_check: datetime | None


class SqliteStats:
    """Backlog figures on SQLite."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def backlog(self, now: datetime) -> Backlog:
        at = time_to_text(now)
        outbox = await self._conn.read(
            "SELECT count(*), min(o.created_at) FROM outbox AS o "
            "WHERE o.sent_at IS NULL "
            "AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?) "
            "AND NOT EXISTS (SELECT 1 FROM chats AS c "
            "WHERE c.chat_key = o.chat_key AND c.paused <> 0)",
            (at,),
        )
        due = await self._conn.read(
            "SELECT count(*), min(next_check_at) FROM shipments "
            "WHERE next_check_at IS NOT NULL AND next_check_at <= ?",
            (at,),
        )
        (alerts, oldest_alert), (parcels, oldest_check) = outbox[0], due[0]
        return Backlog(
            outbox_due=int(alerts),
            oldest_alert=datetime.fromisoformat(oldest_alert) if oldest_alert else None,
            parcels_due=int(parcels),
            oldest_check=datetime.fromisoformat(oldest_check) if oldest_check else None,
        )
