"""Verified webhook notifications, kept durably from the moment they are accepted until done.

A push is written here before it is answered, so once the sender got its 200 the notification
survives a crash; a background worker processes it and marks it done. The row of a done
notification loses its body and stays only as a de-duplication key (the sender may deliver
the same notification again) until ``purge`` removes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from core.models import StoredPush
from storage.codec import time_from_text, time_to_text
from storage.sql import Connection, Tx

__all__ = ["SqliteInbox"]

# Many rows in one statement, saying which were new: one round trip for a whole group of
# pushes instead of one per push (on PostgreSQL each costs about as much as answering one).
_INSERT_MANY = (
    "INSERT INTO webhook_inbox (provider, notification_id, body, received_at, next_attempt_at) "
    "VALUES {rows} ON CONFLICT (provider, notification_id) DO NOTHING "
    "RETURNING provider, notification_id"
)
_ROWS_PER_STATEMENT = 500  # 2,500 parameters: far below either backend's limit


def _insert_many(chunk: Sequence[tuple[str, str, bytes]], at: str) -> tuple[str, list[str | bytes]]:
    """The statement that stores ``chunk`` (received ``at``) and its parameters."""
    statement = _INSERT_MANY.format(rows=", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)))
    return statement, [v for p, n, body in chunk for v in (p, n, body, at, at)]


def _item(row: Sequence[object]) -> StoredPush:
    item_id, provider, notification_id, body, received_at, attempts = row
    raw = body if isinstance(body, bytes) else str(body or "").encode()
    return StoredPush(
        id=int(str(item_id)),
        provider=str(provider),
        notification_id=str(notification_id),
        body=raw,
        received_at=time_from_text(str(received_at)),
        attempts=int(str(attempts)),
    )


def _only(providers: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The condition (and its parameters) that keeps rows of ``providers``; none when empty."""
    if not providers:
        return "", ()
    return f" AND provider IN ({', '.join('?' * len(providers))})", tuple(providers)


class SqliteInbox:
    """``core.ports.PushStore`` on SQLite; unique per (provider, notification id)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, provider: str, notification_id: str, body: bytes, now: datetime) -> bool:
        """Store a notification, due at once; False when it was already there (done or not).

        The row is committed when this returns: from then on the notification is not lost.
        """
        [stored] = await self.add_many([(provider, notification_id, body)], now)
        return stored

    async def add_many(
        self, notifications: Sequence[tuple[str, str, bytes]], now: datetime
    ) -> list[bool]:
        """Store several (provider, notification id, body) in one transaction; per one, True
        when it was stored, False when it was already there (or earlier in the list).

        Every row is committed when this returns."""
        if not notifications:
            return []
        at = time_to_text(now)
        chunks = [
            _insert_many(notifications[start : start + _ROWS_PER_STATEMENT], at)
            for start in range(0, len(notifications), _ROWS_PER_STATEMENT)
        ]

        async def insert(tx: Tx) -> list[Sequence[object]]:
            return [row for statement, params in chunks for row in await tx.read(statement, params)]

        if len(chunks) == 1:
            # One statement is a transaction of its own: no BEGIN and COMMIT around it, two
            # round trips fewer per group of pushes on PostgreSQL.
            rows: list[Sequence[object]] = list(await self._conn.read(*chunks[0]))
        else:
            rows = await self._conn.run_transaction(insert)
        new = {(str(provider), str(notification_id)) for provider, notification_id in rows}
        # A repeat later in the list is not new: only the first of each pair was stored.
        stored: list[bool] = []
        for provider, notification_id, _body in notifications:
            stored.append((provider, notification_id) in new)
            new.discard((provider, notification_id))
        return stored

    async def due(
        self,
        now: datetime,
        limit: int,
        lease_until: datetime | None = None,
        providers: Sequence[str] = (),
    ) -> list[StoredPush]:
        """Unprocessed notifications whose next attempt is due, oldest first; only those of
        ``providers`` when given.

        With ``lease_until`` they are claimed: their next attempt moves there in the same
        transaction, so another worker (any process on the database) does not take them
        meanwhile; ``mark_done``/``mark_failed`` end the claim, and a worker that died
        leaves them due again at ``lease_until``."""
        only, chosen = _only(providers)
        select = (
            "SELECT id, provider, notification_id, body, received_at, attempts "  # noqa: S608
            f"FROM webhook_inbox WHERE done_at IS NULL AND next_attempt_at <= ?{only} "
            "ORDER BY next_attempt_at, id LIMIT ?"
        )
        if lease_until is None:
            rows = await self._conn.read(select, (time_to_text(now), *chosen, limit))
            return [_item(row) for row in rows]
        claim = f"{select} {self._conn.dialect.skip_locked('webhook_inbox')}"
        lease = time_to_text(lease_until)
        ids = self._conn.dialect.ids

        async def work(tx: Tx) -> list[Sequence[object]]:
            found = await tx.read(claim, (time_to_text(now), *chosen, limit))
            if found:
                await tx.write(
                    f"UPDATE webhook_inbox SET next_attempt_at = ? WHERE id IN ({ids})",  # noqa: S608
                    (lease, json.dumps([row[0] for row in found])),
                )
            return found

        return [_item(row) for row in await self._conn.run_transaction(work)]

    async def mark_done(self, item_id: int, now: datetime) -> None:
        """The notification was processed: drop its body, keep its id for de-duplication."""
        await self._conn.write(
            "UPDATE webhook_inbox SET done_at = ?, body = NULL WHERE id = ?",
            (time_to_text(now), item_id),
        )

    async def mark_done_many(self, item_ids: Sequence[int], now: datetime) -> None:
        """``mark_done`` for several notifications in one statement."""
        if item_ids:
            await self._conn.write(
                "UPDATE webhook_inbox SET done_at = ?, body = NULL "  # noqa: S608
                f"WHERE id IN ({self._conn.dialect.ids})",
                (time_to_text(now), json.dumps(list(item_ids))),
            )

    async def mark_failed(self, item_id: int, retry_at: datetime) -> None:
        """Processing failed: count the attempt and try again at ``retry_at``."""
        await self._conn.write(
            "UPDATE webhook_inbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
            (time_to_text(retry_at), item_id),
        )

    async def pending_count(self, providers: Sequence[str] = ()) -> int:
        """How many notifications (of ``providers`` when given) are not processed yet (due
        or waiting for a retry)."""
        only, chosen = _only(providers)
        rows = await self._conn.read(
            f"SELECT count(*) FROM webhook_inbox WHERE done_at IS NULL{only}",  # noqa: S608
            chosen,
        )
        return int(rows[0][0]) if rows else 0

    async def next_attempt(self, providers: Sequence[str] = ()) -> datetime | None:
        """When the earliest unprocessed notification (of ``providers`` when given) is due
        (None: nothing is waiting)."""
        only, chosen = _only(providers)
        rows = await self._conn.read(
            f"SELECT min(next_attempt_at) FROM webhook_inbox WHERE done_at IS NULL{only}",  # noqa: S608
            chosen,
        )
        return time_from_text(str(rows[0][0])) if rows and rows[0][0] is not None else None

    async def purge(self, done_before: datetime) -> int:
        """Forget notifications processed before ``done_before``; return how many went."""
        return await self._conn.write(
            "DELETE FROM webhook_inbox WHERE done_at IS NOT NULL AND done_at < ?",
            (time_to_text(done_before),),
        )
