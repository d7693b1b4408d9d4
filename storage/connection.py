"""One aiosqlite connection shared by many tasks, one statement group at a time.

Several tasks use the same connection. Without care, one task's statement could run inside
another task's open transaction and be rolled back with it. ``SerialConnection`` therefore
lets one task at a time in: ``read`` for single queries, ``write`` for single statements and
``transaction`` for a group of statements committed together (``run_transaction`` for one
that runs on the worker thread in a single hand-off). Write transactions start with
``BEGIN IMMEDIATE`` so a second process waits (``busy_timeout``) for the write lock up front
instead of failing with "database is locked" when a reader upgrades to a writer.

Failures an operator can fix (locked by another program, disk full, read-only, damaged) come
out as ``core.errors.StorageUnavailable`` with one sentence (``storage.faults``), logged once
at WARNING when they start and once when statements succeed again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar, cast

import aiosqlite

from storage.faults import storage_error
from storage.sql import SQLITE, Dialect, Row, Work

__all__ = ["InlineReader", "Reader", "Row", "SerialConnection", "Transaction"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


class SerialConnection:
    """Serialises use of one autocommit-mode aiosqlite connection between tasks."""

    def __init__(
        self,
        conn: aiosqlite.Connection,
        on_commit: Callable[[], None] | None = None,
        *,
        path: str = "",
    ) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        # Told after every committed ``transaction`` (must not raise or block).
        self._on_commit = on_commit
        self._path = path or "(in memory)"
        self._trouble: str | None = None

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn SQLite failures an operator can fix into ``StorageUnavailable``."""
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            translated = storage_error(err, self._path)
            if translated is None:
                raise
            if self._trouble != translated.reason:
                self._trouble = translated.reason
                log.warning("storage: %s", translated.reason)
            raise translated from err
        if self._trouble is not None:
            self._trouble = None
            log.warning("storage: the database %s works again", self._path)

    @property
    def dialect(self) -> Dialect:
        """SQLite's spellings (``storage.sql``)."""
        return SQLITE

    @property
    def raw(self) -> aiosqlite.Connection:
        """The wrapped connection, for set-up code that runs before anyone else uses it."""
        return self._conn

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        with self._guard():
            async with self._lock:
                return list(await self._conn.execute_fetchall(sql, params))

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; return the number of rows it changed."""
        with self._guard():
            async with self._lock:
                cursor = await self._conn.execute(sql, params)
        if self._on_commit is not None:
            self._on_commit()
        return cursor.rowcount

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Transaction]:
        """Hold the connection for several queries that must see one consistent state."""
        with self._guard():
            async with self._lock:
                try:
                    await self._conn.execute("BEGIN DEFERRED")
                    yield Transaction(self._conn)
                finally:
                    # A read transaction has nothing to keep; ending it releases the snapshot.
                    await asyncio.shield(self._rollback())

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Hold the write lock; commit on normal exit, roll back on any exception.

        Statements already handed to the worker thread still run after a cancellation, so
        the rollback is queued behind them (shielded, so a second cancellation cannot skip
        it); it also covers a ``BEGIN`` or ``COMMIT`` that failed or was cancelled.
        """
        with self._guard():
            async with self._lock:
                try:
                    await self._conn.execute("BEGIN IMMEDIATE")
                    yield Transaction(self._conn)
                    await self._conn.execute("COMMIT")
                except BaseException:
                    await asyncio.shield(self._rollback())
                    raise
        if self._on_commit is not None:
            self._on_commit()

    async def run_transaction(self, work: Work[_T]) -> _T:
        """Run ``work`` on the connection's worker thread between ``BEGIN IMMEDIATE`` and
        ``COMMIT``, rolling back if it raises; return what it returned.

        One hand-off to the worker thread instead of one per statement (each costs tens of
        microseconds of thread and event-loop wake-ups): ``work`` gets a ``Tx`` whose methods
        run their statement at once, so its coroutine runs to its end in one step there
        (``_run_through``). The whole transaction runs even if the caller is cancelled
        meanwhile: it commits or rolls back as a unit either way.
        """

        def transact() -> _T:
            conn = self._conn._conn  # aiosqlite's own sqlite3 connection
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = _run_through(work(_DirectTx(conn)))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        result = await self._hand_off(transact)
        if self._on_commit is not None:
            self._on_commit()
        return result

    async def run_read(self, work: Work[_T]) -> _T:
        """Run ``work`` on the connection's worker thread inside one read transaction, so that
        its queries see one consistent state; return what it returned.

        Several queries for one hand-off (see ``run_transaction``); ``work`` must only read.
        """

        # On aiosqlite's own sqlite3 connection, in its thread.
        return await self._hand_off(lambda: _read_transaction(self._conn._conn, work))

    async def _hand_off(self, job: Callable[[], _T]) -> _T:
        with self._guard():
            async with self._lock:
                # aiosqlite has no public way to run a function on its worker thread (where
                # its sqlite3 connection lives); ``_execute`` is how its own methods do it.
                run = cast("Callable[[Callable[[], _T]], Awaitable[_T]]", self._conn._execute)
                return await run(job)

    async def _rollback(self) -> None:
        try:
            await self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            # No transaction was open (BEGIN failed, COMMIT went through, or SQLite already
            # rolled back by itself): nothing to undo.
            log.debug("rollback found no open transaction")


def _read_transaction(conn: sqlite3.Connection, work: Work[_T]) -> _T:
    """``work`` inside one read transaction on ``conn``, which is ended whatever happens."""
    conn.execute("BEGIN DEFERRED")
    try:
        return _run_through(work(_DirectTx(conn)))
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _run_through(step: Awaitable[_T]) -> _T:
    """The result of a coroutine that never waits: every ``_DirectTx`` method returns at once,
    so one ``send`` runs a unit of ``Work`` to its end without an event loop (the worker
    thread has none). A coroutine that does wait on something else is a bug and refused."""
    coroutine = cast("Coroutine[Any, Any, _T]", step)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast("_T", done.value)
    coroutine.close()
    raise RuntimeError("database work awaited something other than its transaction")


class _DirectTx:
    """``storage.sql.Tx`` on a plain ``sqlite3`` connection: each call runs at once, on the
    calling thread (the worker thread, or the event loop's for ``InlineReader``)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self._conn.executemany(sql, rows).rowcount

    async def data_version(self) -> int | None:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])


class Reader(Protocol):
    """Runs a group of queries as one read transaction (``SerialConnection``, ``InlineReader``)."""

    async def run_read(self, work: Work[_T]) -> _T: ...


class InlineReader:
    """A read-only connection used on the event loop's own thread, for chat commands.

    A chat command reads a handful of rows by key: tens of microseconds of SQLite work,
    against a hand-off to a worker thread whose every wake-up competes for the GIL with the
    poller's threads (milliseconds each while a poll runs). In WAL mode a reader never waits
    for the writer, so reading inline is faster and keeps command latency independent of
    background work. Only small, indexed reads belong here: the loop runs nothing else
    meanwhile.
    """

    def __init__(self, conn: sqlite3.Connection, path: str = "") -> None:
        self._conn = conn
        self._path = path or "(in memory)"

    @classmethod
    def open(cls, location: str, busy_timeout_ms: int) -> InlineReader:
        """A reader on the database file at ``location`` (``query_only``: it cannot write)."""
        conn = sqlite3.connect(location, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
            conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return cls(conn, location)

    async def run_read(self, work: Work[_T]) -> _T:
        """Run ``work`` inside one read transaction (one consistent state); return its result.

        Failures an operator can fix come out as ``StorageUnavailable``, as on the writer."""
        try:
            return _read_transaction(self._conn, work)
        except (sqlite3.Error, OSError) as err:
            translated = storage_error(err, self._path)
            if translated is None:
                raise
            raise translated from err

    def close(self) -> None:
        self._conn.close()


class Transaction:
    """Statements inside an open transaction (see ``SerialConnection.transaction``)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        return list(await self._conn.execute_fetchall(sql, params))

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        cursor = await self._conn.execute(sql, params)
        return cursor.rowcount

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row (``executemany``); return the rows changed in total."""
        cursor = await self._conn.executemany(sql, rows)
        return cursor.rowcount

    async def data_version(self) -> int | None:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits."""
        rows = await self._conn.execute_fetchall("PRAGMA data_version")
        return int(next(iter(rows))[0])
