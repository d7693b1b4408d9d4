"""``parcelbot db backup`` on a database the bot is writing, the documented restore, and
JSON log lines with secrets redacted."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from bots.logs import configure_logging
from bots.runtime import open_runtime
from bots.settings import load_settings
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.fakes import chat

pytestmark = pytest.mark.usefixtures("clean_environment")

ROOT = Path(__file__).resolve().parents[3]
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


def subscriptions(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT chat_key FROM subscriptions").fetchall()
    return {row[0] for row in rows}


def cli_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PARCELBOT_")}


async def test_a_backup_taken_while_the_bot_writes_restores_every_subscription(
    tmp_path: Path,
) -> None:
    live, copy = tmp_path / "live.sqlite3", tmp_path / "backups" / "copy.sqlite3"
    settings = load_settings(db=str(live))
    async with open_runtime(settings) as runtime:
        written: list[str] = []
        stop, warm = asyncio.Event(), asyncio.Event()

        async def writer() -> None:
            serial = 0
            while not stop.is_set():
                who = chat(f"c{serial}")
                await runtime.service.subscribe(who, NUMBER, f"parcel {serial}")
                written.append(who.chat_key)
                if len(written) >= 200:
                    warm.set()
                serial += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(writer())
        await asyncio.wait_for(warm.wait(), 60)
        before = set(written)
        backup = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            "--db",
            str(live),
            "db",
            "backup",
            str(copy),
            cwd=tmp_path,
            env=cli_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(backup.communicate(), 60)
        during = len(written) - len(before)
        stop.set()
        await task
        after = set(written)
    assert backup.returncode == 0, err.decode()
    assert out.decode().startswith(f"backed up {live} to {copy}")
    assert during > 0  # the bot kept writing while the backup ran

    # Restore as the README says: with the bot stopped, the copy becomes the database file.
    restored = tmp_path / "restored" / "parcelbot.sqlite3"
    restored.parent.mkdir()
    shutil.copyfile(copy, restored)
    with sqlite3.connect(restored) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    held = subscriptions(restored)
    assert before <= held <= after
    async with open_runtime(load_settings(db=str(restored))) as again:
        assert await again.service.list_numbers(chat("c0")) == [(NUMBER, "parcel 0")]


def test_backup_refuses_a_missing_database_in_one_sentence(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-m",
            "bots",
            "--db",
            str(tmp_path / "none.sqlite3"),
            "db",
            "backup",
            str(tmp_path / "out.sqlite3"),
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"parcelbot: there is no database at {tmp_path / 'none.sqlite3'}"
    assert not (tmp_path / "out.sqlite3").exists()


def test_json_logs_are_one_object_per_line_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "123456:AAH-secret-telegram-token"
    key = "17track-secret-key-0042"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json", [token, key])
        log = logging.getLogger("parcelbot.test")
        log.info("calling https://api.telegram.org/bot%s/getMe", token)
        log.warning("line one\nline two with %s", key)
        try:
            raise RuntimeError(f"request with key {key} failed")
        except RuntimeError:
            log.exception("provider failed")
        log.debug("not shown at INFO")
    finally:
        configure_logging("WARNING", "text", [])
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["INFO", "WARNING", "ERROR"]
    assert records[0]["message"] == "calling https://api.telegram.org/bot<redacted>/getMe"
    assert records[1]["message"] == "line one\nline two with <redacted>"
    assert records[2]["logger"] == "parcelbot.test"
    assert "RuntimeError: request with key <redacted> failed" in records[2]["exception"]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    text = "\n".join(lines)
    assert token not in text and key not in text and "AAH-secret" not in text
