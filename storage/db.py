"""Opening the database and handing out its repositories.

::

    async with Database.open("parcelbot.db") as db:
        await db.shipments.save_many(writes)
        entries = await db.outbox.due(now, 100)

``Database.open`` takes a SQLite file (a path, or ``sqlite:///path``) or a PostgreSQL URL
(``postgresql://user@host:5432/parcelbot``); the repositories are the same on both
(``storage.sql``). What follows is about SQLite; PostgreSQL is in ``storage.postgres``.

The file is put in WAL mode (readers never block the writer), foreign keys are enforced,
and a writer waits up to ``busy_timeout`` for another process's write lock instead of failing.
``synchronous=NORMAL`` in WAL mode never corrupts the file; a power cut may lose the last
commits, never half of one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import aiosqlite

from core.errors import StorageUnavailable
from core.ports import Clock
from storage.attempts import SqliteAttempts
from storage.chats import SqliteChats, SqliteMeta
from storage.checkpoints import SAFETY_NET_PAGES, Checkpointer
from storage.connection import InlineReader, Reader, SerialConnection
from storage.faults import storage_error
from storage.guilds import SqliteDiscordGuilds
from storage.inbox import SqliteInbox
from storage.migrations import (
    INBOX_MIGRATIONS,
    Migration,
    apply_migrations,
    apply_pg_migrations,
    pg_schema_version,
)
from storage.observations import SqliteObservations
from storage.order_index import SqliteOrderIndex
from storage.orders import SqliteOrderLinks
from storage.outbox import SqliteOutbox
from storage.shipments import SqliteShipments
from storage.sql import Connection
from storage.stats import SqliteStats
from storage.subscriptions import SqliteSubscriptions
from storage.views import SqliteViews
from storage.webhook_seen import SqliteSeenPushes

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "Database",
    "inbox_path",
    "is_postgres",
    "open_inbox",
    "sqlite_path",
]

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_BUSY_TIMEOUT_MS = 15_000
"""How long a write waits for another connection's write lock before giving up."""

_MEMORY = ":memory:"

_READER_BUSY_TIMEOUT_MS = 1_000
"""How long a chat command's read waits when SQLite answers busy. In WAL mode readers only
see that in rare moments (another process recovering the log); the event loop waits with it."""


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"


def is_postgres(location: str | Path) -> bool:
    """Whether ``location`` is a PostgreSQL URL (else a SQLite file)."""
    return str(location).startswith(_POSTGRES_SCHEMES)


def sqlite_path(location: str | Path) -> str:
    """The file of a SQLite location: a path as it is, or the path of a ``sqlite:///path``
    URL (``sqlite:///data/bot.sqlite3`` is relative, ``sqlite:////var/lib/bot.sqlite3``
    absolute, as in SQLAlchemy)."""
    text = str(location)
    return text[len(_SQLITE_SCHEME) :] if text.startswith(_SQLITE_SCHEME) else text


class _WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Database:
    """An open parcelbot database: one connection and the repositories built on it.

    Every repository shares the connection. On SQLite statements from concurrent tasks are
    serialised (see ``storage.connection``), and ``views`` (what chat commands read) use a
    second, read-only connection on the event loop's thread when the file is in WAL mode
    (``storage.connection.InlineReader``), so they never queue behind background work. On
    PostgreSQL the connection is a pool. Several ``Database`` objects, in one process or
    many, may open the same database at once.
    """

    def __init__(
        self,
        conn: Connection,
        clock: Clock,
        path: str,
        reader: Reader | None = None,
    ) -> None:
        self.path = path
        """The SQLite file, or the PostgreSQL database named without its password."""
        self.backend = conn.dialect.name
        """``"sqlite"`` or ``"postgresql"``."""
        self.shipments = SqliteShipments(conn, clock)
        self.subscriptions = SqliteSubscriptions(conn, clock)
        self.chats = SqliteChats(conn)
        self.outbox = SqliteOutbox(conn)
        self.meta = SqliteMeta(conn)
        self.discord = SqliteDiscordGuilds(conn)
        self.orders = SqliteOrderLinks(conn)
        self.order_index = SqliteOrderIndex(conn)
        self.inbox = SqliteInbox(conn)
        self.observations = SqliteObservations(conn)
        self.attempts = SqliteAttempts(conn)
        self.webhook_seen = SqliteSeenPushes(conn)
        self.stats = SqliteStats(conn)
        # Chat commands read on a connection of their own (see storage.views).
        self.views = SqliteViews(reader or conn)
        self._conn = conn

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        migrations: list[Migration] | None = None,
        single_writer: bool = False,
    ) -> AsyncIterator[Database]:
        """Open (creating if needed), check and migrate the database; close it on exit.

        ``path`` is a file (its folder is created), ``":memory:"`` for a throwaway database,
        a ``sqlite:///path`` URL, or a PostgreSQL URL (``postgresql://…``; the database must
        exist, its tables are created; ``single_writer`` does not apply: any number of
        processes may share it).
        ``clock`` stamps rows whose time the caller did not give (default: the wall clock).
        With ``single_writer`` (the running bot) the file is locked for this process: a second
        one is refused, since two would each send every alert. The file is checked first
        (``PRAGMA quick_check``) and a damaged one is not written to.

        Raises ``SchemaTooNewError`` when the file comes from a newer version of parcelbot,
        and ``StorageUnavailable`` (one sentence, ``storage.faults``) when the file is in use
        by another parcelbot, damaged, read-only, locked, on a full disk or cannot be opened.
        """
        if is_postgres(path):
            async with cls._open_postgres(str(path), clock, migrations) as database:
                yield database
            return
        location = sqlite_path(path)
        lock: _WriterLock | None = None
        try:
            if location != _MEMORY:
                Path(location).parent.mkdir(parents=True, exist_ok=True)
                _owner_only(location)
                if single_writer:
                    lock = _WriterLock.take(location)
            # Autocommit mode: transactions are explicit BEGIN IMMEDIATE … COMMIT.
            conn = await aiosqlite.connect(location, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            if lock is not None:
                lock.release()
            raise _translated(err, location) from err
        checkpointer: Checkpointer | None = None
        reader: InlineReader | None = None
        try:
            try:
                await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
                await _check(conn, location)
                await _configure(conn, busy_timeout_ms)
                await apply_migrations(conn, migrations)
                if location != _MEMORY and await _journal_mode(conn) == "wal":
                    # Checkpoints run beside the writer (storage.checkpoints); its own are a
                    # safety net only.
                    checkpointer = await Checkpointer.open(location, busy_timeout_ms)
                    await conn.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_NET_PAGES:d}")
                    # WAL lets a second connection read while the first one writes.
                    reader = InlineReader.open(location, _READER_BUSY_TIMEOUT_MS)
            except (OSError, sqlite3.Error) as err:
                raise _translated(err, location) from err
            serial = SerialConnection(
                conn, checkpointer.nudge if checkpointer else None, path=location
            )
            yield cls(
                serial,
                clock or _WallClock(),
                location,
                reader,
            )
        finally:
            # The worker threads are not daemons: an unclosed connection hangs the exit.
            if reader is not None:
                reader.close()
            if checkpointer is not None:
                await checkpointer.close()
            await conn.close()
            if lock is not None:
                lock.release()

    @classmethod
    @asynccontextmanager
    async def _open_postgres(
        cls, url: str, clock: Clock | None, migrations: list[Migration] | None
    ) -> AsyncIterator[Database]:
        # Imported here: a bot on SQLite never loads psycopg (``parcelbot console`` starts
        # faster by the time that takes).
        from storage.postgres import PgConnection

        async with PgConnection.open(url) as conn:
            await apply_pg_migrations(conn, migrations)
            # The pool serves chat commands' reads too: a reader never waits for a writer.
            yield cls(conn, clock or _WallClock(), conn.where, conn)

    async def reachable(self) -> str | None:
        """None when the database answers a query; else why not (one sentence)."""
        try:
            await self._conn.read("SELECT 1")
        except StorageUnavailable as err:
            return err.reason
        return None

    @property
    def sqlite(self) -> SerialConnection:
        """The SQLite connection (SQLite-only maintenance and tests); ``TypeError`` on
        another backend."""
        if not isinstance(self._conn, SerialConnection):
            raise TypeError(f"{self.path} is not a SQLite database")
        return self._conn

    @property
    def connection(self) -> Connection:
        """The connection every repository uses (for maintenance such as ``storage.copy``)."""
        return self._conn

    async def info(self) -> dict[str, str]:
        """The connection's effective settings and schema version, for diagnostics."""
        found: dict[str, str] = {"path": self.path}
        if self.backend == "postgresql":
            rows = await self._conn.read("SHOW server_version")
            found["server_version"] = str(rows[0][0])
            found["schema_version"] = str(await pg_schema_version(self._conn))
            return found
        for name in (
            "user_version",
            "journal_mode",
            "synchronous",
            "foreign_keys",
            "busy_timeout",
        ):
            # Names come from the fixed tuple above; PRAGMA takes no parameters.
            rows = await self._conn.read(f"PRAGMA {name}")
            found[name] = str(rows[0][0]) if rows else ""
        return found

    async def checkpoint(self) -> None:
        """Fold the write-ahead log back into the main file (housekeeping; SQLite only:
        PostgreSQL checkpoints by itself)."""
        if self.backend == "sqlite":
            await self._conn.write("PRAGMA wal_checkpoint(TRUNCATE)")

    async def optimize(self) -> None:
        """Let SQLite refresh its query-planner statistics (cheap; run now and then).
        PostgreSQL's autovacuum does that by itself."""
        if self.backend == "sqlite":
            await self._conn.write("PRAGMA optimize")


def _owner_only(location: str) -> None:
    """Create the database file readable and writable by its owner only (0600), and tighten a
    file (and its WAL and shared-memory files) another program left open to others: it holds
    chats, orders and the shop's tokens. SQLite gives new WAL files the database's mode."""
    # O_CREAT with mode 0600: never a moment where the new file is readable by others.
    os.close(os.open(location, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (location, location + "-wal", location + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("cannot make %s private to its owner", name)


def _translated(err: OSError | sqlite3.Error, location: str) -> Exception:
    translated = storage_error(err, location)
    return err if translated is None else translated


async def _check(conn: aiosqlite.Connection, location: str) -> None:
    """Refuse a damaged file before anything writes to it (``PRAGMA quick_check``)."""
    async with conn.execute("PRAGMA quick_check") as cursor:
        rows = await cursor.fetchall()
    found = [str(row[0]) for row in rows]
    if found != ["ok"]:
        log.error("storage: quick_check of %s found %s", location, "; ".join(found[:3]))
        raise StorageUnavailable(
            f"the database {location} is damaged; stop parcelbot, move the file aside and "
            "restore a backup (parcelbot db backup makes one)"
        )


class _WriterLock:
    """An exclusive lock on ``<database>.lock`` for as long as one process runs the bot."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    @classmethod
    def take(cls, location: str) -> _WriterLock | None:
        """Lock the database for this process; ``StorageUnavailable`` when another holds it.

        None where the platform has no ``fcntl`` (Windows): no lock there."""
        if fcntl is None:
            return None
        handle = open(location + ".lock", "ab")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            handle.close()
            raise StorageUnavailable(
                f"another parcelbot is already running on the database {location}; stop it "
                "first (two would each send every alert)"
            ) from err
        return cls(handle)

    def release(self) -> None:
        # Closing the file releases the lock; the file stays (deleting it would race).
        self._handle.close()


def inbox_path(path: str | Path) -> str:
    """Where ``open_inbox`` keeps the pushes of the database at ``path``: beside it, with
    ``.inbox`` before the suffix (``parcelbot.inbox.sqlite3``); ``":memory:"`` stays so. On
    PostgreSQL the pushes go to the same database (its writers do not wait for each other)."""
    if is_postgres(path):
        return str(path)
    location = sqlite_path(path)
    if location == _MEMORY:
        return location
    file = Path(location)
    return str(file.with_name(f"{file.stem}.inbox{file.suffix or '.sqlite3'}"))


@asynccontextmanager
async def open_inbox(
    path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> AsyncIterator[SqliteInbox]:
    """A webhook inbox in a database file of its own (created if needed); closed on exit.

    Pushes are committed here before they are answered. In the main database each append
    would wait for the write lock behind whatever the poller or the push processing holds
    (SQLite has one writer per file, a poll cycle's transaction takes tens of milliseconds);
    in a file of its own an append waits only for other appends. Same settings as the main
    file (WAL, ``synchronous=NORMAL``): a committed push survives a crash of the process.
    A PostgreSQL URL gives the inbox table of that database.
    """
    if is_postgres(path):
        from storage.postgres import PgConnection

        async with PgConnection.open(str(path), max_size=4) as pg:
            await apply_pg_migrations(pg)
            yield SqliteInbox(pg)
        return
    location = sqlite_path(path)
    if location != _MEMORY:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        _owner_only(location)  # pushes hold orders: their file is the owner's alone too
    conn = await aiosqlite.connect(location, isolation_level=None)
    try:
        await _configure(conn, busy_timeout_ms)
        await apply_migrations(conn, INBOX_MIGRATIONS)
        yield SqliteInbox(SerialConnection(conn, path=location))
    finally:
        await conn.close()


async def _configure(conn: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    # busy_timeout first, so every later statement waits for other connections' locks.
    await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms):d}")
    mode = await _enable_wal(conn, busy_timeout_ms / 1000)
    if mode != "wal":
        log.debug("journal mode is %s (WAL needs a file on disk)", mode)
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA temp_store = MEMORY")


async def _journal_mode(conn: aiosqlite.Connection) -> str:
    async with conn.execute("PRAGMA journal_mode") as cursor:
        row = await cursor.fetchone()
    return "" if row is None else str(row[0]).lower()


async def _enable_wal(conn: aiosqlite.Connection, patience: float) -> str:
    """Switch to WAL, retrying: SQLite answers this pragma with "database is locked" at once,
    without its busy handler, while another connection is opening the same fresh file."""
    deadline = asyncio.get_running_loop().time() + patience
    delay = 0.005
    while True:
        try:
            async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
                row = await cursor.fetchone()
            return "" if row is None else str(row[0]).lower()
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or asyncio.get_running_loop().time() >= deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)
