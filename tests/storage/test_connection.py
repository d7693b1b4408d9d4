"""``SerialConnection.run_transaction``: a whole write transaction in one worker-thread hand-off."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from storage.connection import SerialConnection
from storage.sql import Tx


@pytest.fixture
async def serial(db_path: Path) -> AsyncIterator[tuple[SerialConnection, list[str]]]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    commits: list[str] = []
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("CREATE TABLE items (name TEXT PRIMARY KEY)")
        yield SerialConnection(conn, lambda: commits.append("commit")), commits


async def _names(db_path: Path) -> list[str]:
    # Another connection: sees only what was committed.
    async with aiosqlite.connect(db_path) as other:
        rows = await other.execute_fetchall("SELECT name FROM items ORDER BY name")
    return [str(row[0]) for row in rows]


async def test_work_is_committed_and_its_result_returned(
    serial: tuple[SerialConnection, list[str]], db_path: Path
) -> None:
    conn, commits = serial

    async def work(tx: Tx) -> int:
        assert conn.raw._conn.in_transaction
        return await tx.write_many("INSERT INTO items VALUES (?)", [("a",), ("b",)])

    assert await conn.run_transaction(work) == 2
    assert await _names(db_path) == ["a", "b"]
    assert commits == ["commit"]


async def test_work_that_raises_is_rolled_back_whole(
    serial: tuple[SerialConnection, list[str]], db_path: Path
) -> None:
    conn, commits = serial

    async def work(tx: Tx) -> None:
        await tx.write("INSERT INTO items VALUES ('a')")
        await tx.write("INSERT INTO items VALUES ('a')")  # duplicate key: fails

    with pytest.raises(sqlite3.IntegrityError):
        await conn.run_transaction(work)
    assert await _names(db_path) == []
    assert commits == []
    # Nothing stayed open: the connection takes the next transaction.
    await conn.write("INSERT INTO items VALUES ('b')")
    assert await _names(db_path) == ["b"]


async def test_a_cancelled_caller_still_gets_its_transaction_committed_whole(
    serial: tuple[SerialConnection, list[str]], db_path: Path
) -> None:
    conn, _commits = serial
    started, release = threading.Event(), threading.Event()

    async def work(tx: Tx) -> None:
        await tx.write("INSERT INTO items VALUES ('a')")
        started.set()
        release.wait()
        await tx.write("INSERT INTO items VALUES ('b')")

    task: asyncio.Task[None] = asyncio.create_task(conn.run_transaction(work))
    await asyncio.to_thread(started.wait)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The next statement queues behind the transaction on the same worker thread.
    assert await conn.read("SELECT name FROM items ORDER BY name") == [("a",), ("b",)]
    assert await _names(db_path) == ["a", "b"]


async def test_work_that_waits_on_anything_but_its_transaction_is_refused(
    serial: tuple[SerialConnection, list[str]], db_path: Path
) -> None:
    conn, commits = serial

    async def work(tx: Tx) -> None:
        await tx.write("INSERT INTO items VALUES ('a')")
        await asyncio.sleep(0)  # not the transaction: the worker thread has no event loop

    with pytest.raises(RuntimeError, match="awaited something other"):
        await conn.run_transaction(work)
    assert await _names(db_path) == []
    assert commits == []
