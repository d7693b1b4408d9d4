"""The alert outbox: alerts stored with the snapshot that caused them, delivered later.

Rows are written by ``SqliteShipments.save_many`` (one transaction with the snapshot) and read
here by the flusher. Delivery is at least once: a row stays due until ``mark_sent``.

Any number of flushers, in any number of processes, may share one database: each ``claim``s
whole chats (a row in ``chat_leases`` names the holder and until when), so one chat's alerts
go out from one flusher at a time, in order, and never twice. A flusher that dies holding a
chat loses nothing: the lease runs out and another claims the chat.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.models import OutboxEntry
from storage.codec import alert_from_json, chat_from_columns, time_to_text
from storage.sql import Connection, Tx

__all__ = ["SqliteOutbox"]


_DUE = "o.sent_at IS NULL AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)"

_SELECT_ENTRIES = (
    "SELECT o.id, o.platform, o.chat_id, o.user_id, o.is_group, o.alert, o.created_at, "
    "o.attempts FROM outbox AS o "
)

# The chats with due alerts this holder may claim: unpaused, not held by another flusher,
# and not sent to by another one within the platform's per-chat spacing. Oldest alert first.
_CLAIMABLE_CHATS = f"""
SELECT o.chat_key, count(*) FROM outbox AS o
LEFT JOIN chat_leases AS l ON l.chat_key = o.chat_key
WHERE {_DUE}
AND NOT EXISTS (SELECT 1 FROM chats AS c WHERE c.chat_key = o.chat_key AND c.paused <> 0)
AND (l.chat_key IS NULL OR l.holder = ?
    OR (l.until <= ? AND (l.last_sent_at IS NULL OR l.last_sent_at <= ?)))
{{platforms}}
GROUP BY o.chat_key
ORDER BY min(o.id)
LIMIT ?
"""  # noqa: S608 - constants joined; values stay parameters

# Take (or renew) one chat's lease; returns the chat when it is ours. On PostgreSQL a second
# flusher claiming the same chat at once waits for the first one's commit, then finds the
# lease taken (the condition is checked against the committed row).
_TAKE_LEASE = """
INSERT INTO chat_leases (chat_key, holder, until) VALUES (?, ?, ?)
ON CONFLICT (chat_key) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE chat_leases.holder = excluded.holder
    OR (chat_leases.until <= ?
        AND (chat_leases.last_sent_at IS NULL OR chat_leases.last_sent_at <= ?))
RETURNING chat_key
"""


# A lock on the chat's name held to the end of the claiming transaction, or False at once.
_TRY_CHAT = "SELECT pg_try_advisory_xact_lock(hashtext(?))"


def _entries(rows: list[Any]) -> list[OutboxEntry]:
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


class SqliteOutbox:
    """``OutboxRepository`` on SQLite and PostgreSQL."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._ids = conn.dialect.ids
        self._claimable = _CLAIMABLE_CHATS.replace("{platforms}", "")
        self._claimable_on = _CLAIMABLE_CHATS.replace(
            "{platforms}", f"AND o.platform IN ({conn.dialect.texts})"
        )
        self._claimed_entries = (
            _SELECT_ENTRIES
            + f"WHERE o.chat_key IN ({conn.dialect.texts}) AND {_DUE} ORDER BY o.id LIMIT ?"
        )

    async def claim(
        self,
        now: datetime,
        limit: int,
        *,
        holder: str,
        until: datetime,
        spaced: datetime,
        platforms: Sequence[str] = (),
    ) -> list[OutboxEntry]:
        """Claim chats with due entries for ``holder`` until ``until``; their due entries,
        oldest first (chats until they hold ``limit`` entries; at most ``limit`` entries).

        A chat is claimable when nobody holds it, ``holder`` does (the lease is renewed), or
        the holder's lease ran out and its last message went out at or before ``spaced``
        (the platform's spacing between two messages to one chat holds across processes).
        Entries already handed out to ``holder`` are returned again while unsent. With
        ``platforms``, only chats on those platforms (the ones the caller can send to).
        """
        stamp, lease, gap = time_to_text(now), time_to_text(until), time_to_text(spaced)
        select = self._claimed_entries

        shared = self._conn.dialect.name == "postgresql"

        async def work(tx: Tx) -> list[Any]:
            # Twice the chats wanted: others claiming at this moment take some of them.
            if platforms:
                rows = await tx.read(
                    self._claimable_on,
                    (stamp, holder, stamp, gap, json.dumps(list(platforms)), 2 * limit),
                )
            else:
                rows = await tx.read(self._claimable, (stamp, holder, stamp, gap, 2 * limit))
            won: list[str] = []
            entries = 0
            for chat_key, due in rows:
                # PostgreSQL: a chat another flusher is claiming right now is passed over, not
                # waited for (SKIP LOCKED for rows that may not exist yet).
                if shared and not (await tx.read(_TRY_CHAT, (chat_key,)))[0][0]:
                    continue
                if await tx.read(_TAKE_LEASE, (chat_key, holder, lease, stamp, gap)):
                    won.append(chat_key)
                    entries += int(due)
                    if entries >= limit:
                        break
            if not won:
                return []
            return await tx.read(select, (json.dumps(won), stamp, limit))

        return _entries(await self._conn.run_transaction(work))

    async def release(
        self, chat_keys: Sequence[str], holder: str, now: datetime, *, sent: bool
    ) -> None:
        """``holder`` is done with these chats for now (``sent``: its last message to them
        went out at ``now``); another flusher may claim them, after the per-chat spacing."""
        if not chat_keys:
            return
        last = time_to_text(now) if sent else None
        await self._conn.write(
            "UPDATE chat_leases SET until = ?, last_sent_at = coalesce(?, last_sent_at) "  # noqa: S608
            f"WHERE chat_key IN ({self._conn.dialect.texts}) AND holder = ?",
            (time_to_text(now), last, json.dumps(list(chat_keys)), holder),
        )

    async def due(self, now: datetime, limit: int) -> list[OutboxEntry]:
        """Unsent entries whose next attempt is due, oldest first, skipping paused chats."""
        rows = await self._conn.read(
            _SELECT_ENTRIES + f"WHERE {_DUE} "  # noqa: S608 - constants joined
            "AND NOT EXISTS (SELECT 1 FROM chats AS c "
            "WHERE c.chat_key = o.chat_key AND c.paused <> 0) "
            "ORDER BY o.id LIMIT ?",
            (time_to_text(now), limit),
        )
        return _entries(rows)

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
        stamp = time_to_text(before)
        # Leases of chats nobody sent to lately go with them (they only hold the spacing).
        await self._conn.write(
            "DELETE FROM chat_leases WHERE until < ? "
            "AND (last_sent_at IS NULL OR last_sent_at < ?)",
            (stamp, stamp),
        )
        return await self._conn.write(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (stamp,)
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
