"""Schema versions: from empty, idempotent re-open, appended steps, refusal of newer files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from storage.db import Database
from storage.migrations import (
    MIGRATIONS,
    Migration,
    SchemaTooNewError,
    apply_migrations,
    latest_version,
    schema_version,
)
from storage.sql import Tx

TABLES = {"shipments", "events", "chats", "carrier_picks", "subscriptions", "outbox", "meta"}


async def pragma(path: Path, name: str) -> str:
    async with aiosqlite.connect(path) as conn:
        rows = list(await conn.execute_fetchall(f"PRAGMA {name}"))
    return str(rows[0][0])


async def tables(path: Path) -> set[str]:
    async with aiosqlite.connect(path) as conn:
        rows = await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


async def test_fresh_file_gets_the_whole_schema_in_wal_mode(db_path: Path) -> None:
    async with Database.open(db_path):
        pass
    assert await tables(db_path) >= TABLES
    assert int(await pragma(db_path, "user_version")) == latest_version() == len(MIGRATIONS)
    assert await pragma(db_path, "journal_mode") == "wal"


async def test_connection_settings(db_path: Path) -> None:
    async with Database.open(db_path, busy_timeout_ms=1234) as db:
        info = await db.info()
    assert info == {
        "path": str(db_path),
        "user_version": str(len(MIGRATIONS)),
        "journal_mode": "wal",
        "synchronous": "1",  # NORMAL
        "foreign_keys": "1",
        "busy_timeout": "1234",
    }


async def test_reopening_is_idempotent(db_path: Path) -> None:
    async with Database.open(db_path) as db:
        await db.meta.set("k", "v")
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await apply_migrations(conn) == 0
        assert await schema_version(conn) == latest_version()
    async with Database.open(db_path) as db:
        assert await db.meta.get("k") == "v"


async def test_an_appended_migration_runs_once_on_an_existing_file(db_path: Path) -> None:
    async with Database.open(db_path) as db:
        await db.meta.set("k", "v")

    async def backfill(tx: Tx) -> None:
        await tx.write("INSERT INTO notes (body) SELECT value FROM meta")

    extended = [
        *MIGRATIONS,
        Migration("notes", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",), backfill),
    ]
    for _ in range(2):
        async with Database.open(db_path, migrations=extended):
            pass
    assert int(await pragma(db_path, "user_version")) == len(MIGRATIONS) + 1
    async with aiosqlite.connect(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT body FROM notes"))
    assert [row[0] for row in rows] == ["v"]


async def test_a_failing_migration_leaves_the_old_version(db_path: Path) -> None:
    async with Database.open(db_path):
        pass
    broken = [
        *MIGRATIONS,
        Migration("broken", ("CREATE TABLE half (id INTEGER)", "THIS IS NOT SQL")),
    ]
    with pytest.raises(aiosqlite.OperationalError):
        async with Database.open(db_path, migrations=broken):
            pass
    assert int(await pragma(db_path, "user_version")) == len(MIGRATIONS)
    assert "half" not in await tables(db_path)


async def test_a_newer_file_is_refused_with_a_clear_error(db_path: Path) -> None:
    async with Database.open(db_path):
        pass
    async with aiosqlite.connect(db_path) as conn:
        await conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 3}")
        await conn.commit()
    with pytest.raises(SchemaTooNewError, match="newer than this program knows") as caught:
        async with Database.open(db_path):
            pass
    assert (caught.value.found, caught.value.known) == (len(MIGRATIONS) + 3, len(MIGRATIONS))


async def test_two_connections_migrating_one_fresh_file_at_once(db_path: Path) -> None:
    opened: list[int] = []

    async def open_and_write(name: str) -> None:
        async with Database.open(db_path) as db:
            await db.meta.set(name, "ok")
            opened.append(1)

    await asyncio.gather(*(open_and_write(f"n{i}") for i in range(4)))
    assert len(opened) == 4
    assert int(await pragma(db_path, "user_version")) == len(MIGRATIONS)


async def test_memory_database_works_for_quick_use() -> None:
    async with Database.open(":memory:") as db:
        await db.meta.set("k", "v")
        assert await db.meta.get("k") == "v"


async def test_postgresql_is_migrated_from_the_same_list_once_by_concurrent_openers() -> None:
    from storage.migrations import pg_schema_version
    from tests.postgres import postgres_schema

    with postgres_schema() as url:
        # Several processes starting at once on an empty database: one migrates, the others
        # wait for it and find the tables there.
        async def opener() -> int:
            async with Database.open(url) as db:
                return int((await db.info())["schema_version"])

        versions = await asyncio.gather(*(opener() for _ in range(4)))
        assert versions == [len(MIGRATIONS)] * 4
        async with Database.open(url) as db:
            assert await pg_schema_version(db.connection) == len(MIGRATIONS)
            # The same tables as SQLite, in PostgreSQL's types (64-bit Discord ids fit).
            await db.discord.remember_home(2**62, 2**62, 2**62)
            assert (await db.discord.member(2**62)).home_channel_id == 2**62
            await db.connection.write("UPDATE schema_version SET version = version + 1")
        with pytest.raises(SchemaTooNewError):
            async with Database.open(url):
                pass


def test_db_migrate_creates_the_tables_of_the_configured_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bots.__main__ import main
    from tests.postgres import postgres_schema

    with postgres_schema() as url:
        monkeypatch.setenv("PARCELBOT_DATABASE_URL", url)
        assert main(["db", "migrate"]) == 0
        out = capsys.readouterr().out
        assert f"schema version {len(MIGRATIONS)}" in out
        assert url not in out  # named by host and database, never by its URL
