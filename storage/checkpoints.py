"""WAL checkpoints on a connection of their own, so writers never wait for them.

In WAL mode every commit appends pages to the write-ahead log, and by default the committing
connection copies the log back into the database file (a *checkpoint*, with its fsyncs) once
the log holds 1,000 pages — inside that commit. A poll cycle's commit rewrites a few hundred
scattered pages, so every few cycles one of them paid for a checkpoint.

``Checkpointer`` moves that work to a second connection with its own worker thread: after a
commit it runs a PASSIVE checkpoint there (one at a time; commits meanwhile ask for one more
run). PASSIVE checkpoints never block readers or writers and SQLite releases the GIL while it
copies pages, so the copying overlaps the writer's next cycle on another core. The writer's
own automatic checkpoint stays on as a safety net, at ``SAFETY_NET_PAGES``, for when this one
falls behind (or its connection failed).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import aiosqlite

__all__ = ["SAFETY_NET_PAGES", "Checkpointer"]

log = logging.getLogger(__name__)

SAFETY_NET_PAGES = 10_000
"""The writer's automatic checkpoint threshold (pages of 4 KiB) while a ``Checkpointer`` runs."""


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection when ``nudge``d.

    ``nudge`` never blocks and never raises; a failed checkpoint is logged and the next
    nudge tries again. ``close`` waits for the running checkpoint, then closes the connection.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._closed = False

    @classmethod
    async def open(cls, path: str, busy_timeout_ms: int) -> Checkpointer:
        """A checkpointer on a new connection to the database file at ``path``."""
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    def nudge(self) -> None:
        """Something was committed: checkpoint soon (coalesced with a run in progress)."""
        if self._closed:
            return
        if self._task is not None:
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                self._again = False
                try:
                    await self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except (sqlite3.Error, ValueError) as err:
                    # Busy or failing: the writer's safety net still bounds the log.
                    log.debug("background checkpoint failed: %s", err)
                    return
                if not self._again or self._closed:
                    return
        finally:
            self._task = None

    async def close(self) -> None:
        """Stop taking nudges, let a running checkpoint finish, close the connection."""
        self._closed = True
        task = self._task
        if task is not None:
            try:
                await task
            except Exception:  # closing must go on whatever the last run hit
                log.debug("background checkpoint ended with an error", exc_info=True)
        await self._conn.close()
