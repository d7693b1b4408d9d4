"""Versioned schema migrations, one list for every backend.

``MIGRATIONS`` is an ordered list: entry *i* upgrades a database from version *i* to *i + 1*.
To change the schema, append a new ``Migration``; never edit or reorder a released one.
Statements are written for SQLite; ``storage.sql.Dialect.ddl`` gives PostgreSQL the same
tables in its types. The version is SQLite's ``PRAGMA user_version``, and on PostgreSQL the
one row of the ``schema_version`` table.

Each migration runs in its own transaction together with the version bump, so a crash leaves
the database at the old or the new version, never in between (PostgreSQL's schema changes
are transactional too), and two processes opening the same fresh database migrate it exactly
once (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite

from storage.connection import Transaction
from storage.sql import POSTGRES, Connection, Tx

__all__ = [
    "INBOX_MIGRATIONS",
    "MIGRATIONS",
    "Migration",
    "SchemaTooNewError",
    "apply_migrations",
    "apply_pg_migrations",
    "latest_version",
    "pg_schema_version",
    "schema_version",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: SQL statements, then an optional function, in one transaction.

    ``statements`` are single SQL statements (no ``executescript``: it would commit early),
    written for SQLite in the portable subset ``storage.sql`` describes. ``run`` gets the
    open transaction and must not commit.
    """

    description: str
    statements: tuple[str, ...] = ()
    run: Callable[[Tx], Awaitable[None]] | None = None


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer parcelbot than this one."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(
            f"database schema version {found} is newer than this program knows ({known}); "
            "upgrade parcelbot or use another database file"
        )


_V1 = Migration(
    description="shipments, events, chats, carrier picks, subscriptions, outbox, meta",
    statements=(
        """
        CREATE TABLE shipments (
            id INTEGER PRIMARY KEY,
            carrier TEXT NOT NULL,
            number TEXT NOT NULL,
            status TEXT NOT NULL,
            incident TEXT,
            provider TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT '',
            destination TEXT NOT NULL DEFAULT '',
            eta_earliest TEXT,
            eta_latest TEXT,
            eta_most_likely TEXT,
            eta_source TEXT,
            eta_confidence REAL,
            promised_by TEXT,
            checked_at TEXT,
            delivered_at TEXT,
            shipped_at TEXT,
            proof_kind TEXT,
            proof_detail TEXT,
            first_seen TEXT NOT NULL,
            next_check_at TEXT,
            UNIQUE (carrier, number)
        )
        """,
        """
        CREATE INDEX shipments_next_check ON shipments (next_check_at)
            WHERE next_check_at IS NOT NULL
        """,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            shipment_id INTEGER NOT NULL REFERENCES shipments (id) ON DELETE CASCADE,
            time TEXT NOT NULL,
            status TEXT NOT NULL,
            description TEXT NOT NULL,
            location TEXT NOT NULL DEFAULT '',
            raw_code TEXT NOT NULL DEFAULT '',
            incident TEXT,
            UNIQUE (shipment_id, time, description, status)
        )
        """,
        """
        CREATE TABLE chats (
            chat_key TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            preference TEXT NOT NULL DEFAULT 'all',
            timezone TEXT NOT NULL DEFAULT 'UTC',
            quiet_start TEXT NOT NULL DEFAULT '',
            quiet_end TEXT NOT NULL DEFAULT '',
            paused INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE carrier_picks (
            chat_key TEXT NOT NULL,
            number TEXT NOT NULL,
            carrier TEXT NOT NULL,
            PRIMARY KEY (chat_key, number)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            chat_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            is_group INTEGER NOT NULL DEFAULT 0,
            carrier TEXT NOT NULL,
            number TEXT NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            preference TEXT,
            muted INTEGER NOT NULL DEFAULT 0,
            archived INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (chat_key, carrier, number)
        )
        """,
        "CREATE INDEX subscriptions_parcel ON subscriptions (carrier, number)",
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            chat_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            chat_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            is_group INTEGER NOT NULL DEFAULT 0,
            carrier TEXT NOT NULL,
            number TEXT NOT NULL,
            dedupe_key TEXT NOT NULL,
            alert TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            sent_at TEXT,
            UNIQUE (chat_key, dedupe_key)
        )
        """,
        "CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL",
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ),
)

_V2 = Migration(
    description="discord server settings and member alert routes",
    statements=(
        """
        CREATE TABLE discord_guilds (
            guild_id INTEGER PRIMARY KEY,
            alerts_channel_id INTEGER,
            allow_public INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE discord_members (
            user_id INTEGER PRIMARY KEY,
            public_guild_id INTEGER,
            home_guild_id INTEGER,
            home_channel_id INTEGER,
            dm_closed INTEGER NOT NULL DEFAULT 0,
            dm_notice_sent INTEGER NOT NULL DEFAULT 0
        )
        """,
    ),
)

_ETA_OBSERVATIONS = Migration(
    description="delivered parcels kept as history for arrival estimates",
    statements=(
        """
        CREATE TABLE eta_observations (
            id INTEGER PRIMARY KEY,
            parcel TEXT UNIQUE,
            carrier TEXT NOT NULL,
            service TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT '',
            destination TEXT NOT NULL DEFAULT '',
            ordered_at TEXT NOT NULL,
            handed_over_at TEXT,
            delivered_at TEXT NOT NULL,
            promised_by TEXT
        )
        """,
        "CREATE INDEX eta_observations_delivered ON eta_observations (delivered_at)",
    ),
)

_PROACTIVE = Migration(
    description="webhook pushes, held (digest) alerts, order links",
    statements=(
        # When a provider last pushed this parcel (webhooks); NULL: only ever polled.
        "ALTER TABLE shipments ADD COLUMN pushed_at TEXT",
        # 1: the alert waits for a digest (quiet hours, or the chat was unreachable).
        "ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0",
        """
        CREATE TABLE order_links (
            chat_key TEXT NOT NULL,
            carrier TEXT NOT NULL,
            number TEXT NOT NULL,
            order_id TEXT NOT NULL,
            shop TEXT NOT NULL DEFAULT '',
            promised_by TEXT,
            linked_at TEXT NOT NULL,
            PRIMARY KEY (chat_key, carrier, number)
        ) WITHOUT ROWID
        """,
        """
        CREATE INDEX subscriptions_active ON subscriptions (carrier, number)
            WHERE archived = 0
        """,
    ),
)

_ORDER_INDEX = Migration(
    description="tracking number to shop order index",
    statements=(
        """
        CREATE TABLE order_index (
            number TEXT PRIMARY KEY,
            carrier TEXT NOT NULL DEFAULT '',
            shop_id TEXT NOT NULL DEFAULT '',
            order_id TEXT NOT NULL,
            package_id TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX order_index_order ON order_index (order_id)",
    ),
)

_WEBHOOK_INBOX = Migration(
    description="verified webhook notifications kept until processed",
    statements=(
        # A row is written before the push is answered and marked done once processed, so a
        # crash in between leaves it for the next start. Done rows keep only their id (for
        # de-duplication) until they are purged.
        """
        CREATE TABLE webhook_inbox (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            notification_id TEXT NOT NULL,
            body BLOB,
            received_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            done_at TEXT,
            UNIQUE (provider, notification_id)
        )
        """,
        """
        CREATE INDEX webhook_inbox_pending ON webhook_inbox (next_attempt_at)
            WHERE done_at IS NULL
        """,
    ),
)

_ETA_TOLD = Migration(
    description="what each chat was told about a parcel's arrival",
    statements=(
        # The latest day first promised, the most likely day last told (ISO dates in the
        # chat's zone), when, and whether the chat heard the parcel is running late.
        "ALTER TABLE subscriptions ADD COLUMN eta_first_latest TEXT",
        "ALTER TABLE subscriptions ADD COLUMN eta_day TEXT",
        "ALTER TABLE subscriptions ADD COLUMN eta_told_at TEXT",
        "ALTER TABLE subscriptions ADD COLUMN eta_late INTEGER NOT NULL DEFAULT 0",
    ),
)

_PROMISES_ON_LINKS = Migration(
    description="shops' promised dates move from parcels to the verified chats' order links",
    statements=(
        # A promise was kept on the shared parcel row, where every follower read it. Each chat
        # that proved the order keeps it on its own link; then the parcels forget it.
        """
        UPDATE order_links SET promised_by = (
            SELECT s.promised_by FROM shipments AS s
            WHERE s.carrier = order_links.carrier AND s.number = order_links.number
        )
        WHERE promised_by IS NULL AND EXISTS (
            SELECT 1 FROM shipments AS s
            WHERE s.carrier = order_links.carrier AND s.number = order_links.number
                AND s.promised_by IS NOT NULL
        )
        """,
        "UPDATE shipments SET promised_by = NULL WHERE promised_by IS NOT NULL",
    ),
)

_PROOF_ATTEMPTS = Migration(
    description="failed ownership proofs per person and per order, with lockouts",
    statements=(
        """
        CREATE TABLE proof_attempts (
            scope TEXT NOT NULL,
            subject TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            window_start TEXT,
            locked_until TEXT,
            lockouts INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (scope, subject)
        ) WITHOUT ROWID
        """,
    ),
)

_WEBHOOK_SEEN = Migration(
    description="processed provider pushes, so a replay after a restart is a duplicate",
    statements=(
        """
        CREATE TABLE webhook_seen (
            provider TEXT NOT NULL,
            notification_id TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (provider, notification_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX webhook_seen_age ON webhook_seen (seen_at)",
    ),
)

_CHAT_LANGUAGE = Migration(
    description="each chat's language, and whether the chat chose it",
    statements=(
        # "" is "not known yet" (English); a language the chat picked with /language is
        # never replaced by the one its platform reports.
        "ALTER TABLE chats ADD COLUMN language TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE chats ADD COLUMN language_chosen INTEGER NOT NULL DEFAULT 0",
    ),
)

_SHARED_WORK = Migration(
    description="leases on chats being sent to, and rate allowances shared by every process",
    statements=(
        # One row per chat a flusher has claimed: who holds it until when, and when its last
        # message went out (another process waits the platform's per-chat spacing after it).
        """
        CREATE TABLE chat_leases (
            chat_key TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until TEXT NOT NULL,
            last_sent_at TEXT
        ) WITHOUT ROWID
        """,
        # One row per shared rate (a provider key, a bot's send allowance, one chat): the
        # earliest time, in seconds since the epoch, at which its next call may start, and the
        # start times of its latest calls (a JSON list; storage.limits).
        """
        CREATE TABLE rate_limits (
            name TEXT PRIMARY KEY,
            next_at REAL NOT NULL,
            starts TEXT NOT NULL DEFAULT '[]'
        ) WITHOUT ROWID
        """,
    ),
)

_GUILD_LANGUAGE = Migration(
    description="each Discord server's language, for the alerts posted in its channel",
    statements=("ALTER TABLE discord_guilds ADD COLUMN language TEXT NOT NULL DEFAULT ''",),
)

_NEWS_DUE = Migration(
    description="per parcel, from when its followers could have arrival news, and its epoch",
    statements=(
        # NULL: not known, judge at the next poll. The epoch goes up whenever a chat starts
        # following the parcel, changes its time zone or gets a new promise for it, so a poll
        # that judged the followers before that stores nothing (core.models.SnapshotWrite).
        "ALTER TABLE shipments ADD COLUMN news_due_at TEXT",
        "ALTER TABLE shipments ADD COLUMN news_epoch INTEGER NOT NULL DEFAULT 0",
    ),
)

MIGRATIONS: list[Migration] = [
    _V1,
    _V2,
    _ETA_OBSERVATIONS,
    _PROACTIVE,
    _ORDER_INDEX,
    _WEBHOOK_INBOX,
    _ETA_TOLD,
    _PROMISES_ON_LINKS,
    _PROOF_ATTEMPTS,
    _WEBHOOK_SEEN,
    _CHAT_LANGUAGE,
    _SHARED_WORK,
    _GUILD_LANGUAGE,
    _NEWS_DUE,
]
"""Every schema step in order; the schema version is the number applied."""

INBOX_MIGRATIONS: list[Migration] = [_WEBHOOK_INBOX]
"""The schema of a push inbox kept in a file of its own (``storage.db.open_inbox``)."""


def latest_version(migrations: list[Migration] | None = None) -> int:
    """The version a database has once every migration is applied."""
    return len(MIGRATIONS if migrations is None else migrations)


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The database's current ``user_version``."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def apply_migrations(
    conn: aiosqlite.Connection, migrations: list[Migration] | None = None
) -> int:
    """Bring the database up to date; return how many migrations ran (0 when current).

    The connection must be in autocommit mode (``isolation_level=None``). Raises
    ``SchemaTooNewError`` when the file is at a version this program does not know.
    """
    steps = MIGRATIONS if migrations is None else migrations
    known = len(steps)
    found = await schema_version(conn)
    if found > known:
        raise SchemaTooNewError(found, known)
    applied = 0
    while found < known:
        try:
            await conn.execute("BEGIN IMMEDIATE")
            # Another process may have migrated while we waited for the write lock.
            found = await schema_version(conn)
            if found > known:
                raise SchemaTooNewError(found, known)
            if found == known:
                await conn.execute("ROLLBACK")
                break
            step = steps[found]
            for statement in step.statements:
                await conn.execute(statement)
            if step.run is not None:
                await step.run(Transaction(conn))
            # PRAGMA does not take parameters; ``found`` is an int we computed.
            await conn.execute(f"PRAGMA user_version = {found + 1:d}")
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.OperationalError):  # no transaction was open
                await asyncio.shield(conn.execute("ROLLBACK"))
            raise
        log.info("database migrated to schema version %s (%s)", found + 1, step.description)
        found += 1
        applied += 1
    return applied


# Any constant: the key of the advisory lock that lets one process at a time migrate.
_MIGRATION_LOCK = 0x70617263656C


async def pg_schema_version(conn: Connection) -> int:
    """The PostgreSQL database's schema version (0: never migrated)."""
    rows = await conn.read("SELECT to_regclass('schema_version') IS NOT NULL")
    if not rows or not rows[0][0]:
        return 0
    found = await conn.read("SELECT version FROM schema_version")
    return int(found[0][0]) if found else 0


async def apply_pg_migrations(conn: Connection, migrations: list[Migration] | None = None) -> int:
    """``apply_migrations`` for PostgreSQL: bring the database up to date; return how many
    migrations ran. Raises ``SchemaTooNewError`` like it."""
    steps = MIGRATIONS if migrations is None else migrations
    known = len(steps)
    applied = 0
    while True:
        async with conn.transaction() as tx:
            # Held until this transaction ends: other processes wait here, then find the
            # version this one left.
            await tx.read("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            await tx.write("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            rows = await tx.read("SELECT version FROM schema_version")
            if not rows:
                await tx.write("INSERT INTO schema_version (version) VALUES (0)")
            found = int(rows[0][0]) if rows else 0
            if found > known:
                raise SchemaTooNewError(found, known)
            if found == known:
                return applied
            step = steps[found]
            for statement in step.statements:
                await tx.write(POSTGRES.ddl(statement))
            if step.run is not None:
                await step.run(tx)
            await tx.write("UPDATE schema_version SET version = ?", (found + 1,))
        log.info("database migrated to schema version %s (%s)", found + 1, step.description)
        applied += 1
