"""Failed ownership proofs per person and per order (``core.ownership``), on SQLite.

Subjects are stored as given (the service passes digests, never a person's id or an order id
in clear: the table is about abuse, not about anyone).
"""

from __future__ import annotations

from core.models import Attempts, Scope
from storage.codec import opt_text, opt_time
from storage.sql import Connection

__all__ = ["SqliteAttempts"]


class SqliteAttempts:
    """``AttemptRepository`` on SQLite (table ``proof_attempts``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, scope: Scope, subject: str) -> Attempts:
        rows = await self._conn.read(
            "SELECT failures, window_start, locked_until, lockouts FROM proof_attempts "
            "WHERE scope = ? AND subject = ?",
            (scope.value, subject),
        )
        if not rows:
            return Attempts()
        failures, start, until, lockouts = rows[0]
        return Attempts(int(failures), opt_text(start), opt_text(until), int(lockouts))

    async def put(self, scope: Scope, subject: str, state: Attempts) -> None:
        await self._conn.write(
            "INSERT INTO proof_attempts (scope, subject, failures, window_start, locked_until, "
            "lockouts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, subject) DO UPDATE SET "
            "failures = excluded.failures, window_start = excluded.window_start, "
            "locked_until = excluded.locked_until, lockouts = excluded.lockouts",
            (
                scope.value,
                subject,
                state.failures,
                opt_time(state.window_start),
                opt_time(state.locked_until),
                state.lockouts,
            ),
        )

    async def clear(self, scope: Scope, subject: str) -> None:
        await self._conn.write(
            "DELETE FROM proof_attempts WHERE scope = ? AND subject = ?", (scope.value, subject)
        )
