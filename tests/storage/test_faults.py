"""Storage faults an operator can fix end in one sentence (``StorageUnavailable``), never a
traceback, and lose nothing: a second bot on the same file, a damaged file, a database locked
by another program, a read-only database and a full disk."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import StorageUnavailable
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]


async def test_a_second_bot_on_the_same_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with Database.open(path, single_writer=True) as first:
        with pytest.raises(StorageUnavailable) as refused:
            async with Database.open(path, single_writer=True):
                pass
        assert "another parcelbot is already running" in refused.value.reason
        await first.meta.set("still", "works")
    # Once the first one is gone, the next one starts.
    async with Database.open(path, single_writer=True) as second:
        assert await second.meta.get("still") == "works"


def test_the_cli_says_one_sentence_when_the_database_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    holder = subprocess.Popen(  # noqa: S603 - our own interpreter
        [
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from storage.db import Database\n"
            "async def main():\n"
            f"    async with Database.open({str(path)!r}, single_writer=True):\n"
            "        print('held', flush=True); sys.stdin.readline()\n"
            "asyncio.run(main())\n",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        second = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-m", "bots", "--db", str(path), "console"],
            cwd=tmp_path,
            input="",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.communicate("\n", timeout=30)
    assert second.returncode == 1
    assert "another parcelbot is already running" in second.stderr
    assert "Traceback" not in second.stderr


async def _filled(path: Path) -> None:
    async with Database.open(path) as db:
        for index in range(400):
            await db.meta.set(f"key{index}", "x" * 300)
        await db.checkpoint()


async def test_a_file_damaged_in_the_middle_is_refused_and_not_written(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await _filled(path)
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xa5" * page
    path.write_bytes(bytes(data))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StorageUnavailable) as refused:
        async with Database.open(path):
            pass
    assert "is damaged" in refused.value.reason
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


async def test_a_write_lock_held_by_another_program_is_one_sentence_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    caplog.set_level(logging.WARNING, logger="storage")
    async with Database.open(path, busy_timeout_ms=100) as db:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        for _ in range(3):
            with pytest.raises(StorageUnavailable) as locked:
                await db.meta.set("k", "v")
            assert "locked by another program" in locked.value.reason
        other.execute("ROLLBACK")
        other.close()
        await db.meta.set("k", "v")
        assert await db.meta.get("k") == "v"
    lines = [r.getMessage() for r in caplog.records]
    assert sum("locked by another program" in line for line in lines) == 1
    assert sum("works again" in line for line in lines) == 1
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_read_only_database_is_one_sentence(tmp_path: Path) -> None:
    async with Database.open(tmp_path / "bot.sqlite3") as db:
        await db.meta.set("kept", "yes")
        # Root ignores file modes, so the connection is made read-only the way SQLite reports
        # a read-only file: SQLITE_READONLY on the first write.
        await db.sqlite.raw.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageUnavailable) as refused:
            await db.meta.set("new", "no")
        assert "read-only" in refused.value.reason
        assert await db.meta.get("kept") == "yes"


async def test_a_full_disk_is_one_sentence_and_the_failed_write_left_nothing(
    tmp_path: Path,
) -> None:
    async with Database.open(tmp_path / "bot.sqlite3") as db:
        await db.meta.set("kept", "yes")
        pages = (await db._conn.read("PRAGMA page_count"))[0][0]
        # The disk "fills up": SQLite may not grow the file any more (SQLITE_FULL).
        await db.sqlite.raw.execute(f"PRAGMA max_page_count = {int(pages)}")
        with pytest.raises(StorageUnavailable) as full:
            await db.meta.set("big", "x" * 200_000)
        assert "is full" in full.value.reason
        assert await db.meta.get("big") is None
        assert await db.meta.get("kept") == "yes"
