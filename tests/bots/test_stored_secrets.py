"""Secrets at rest: the database file is its owner's alone; seller tokens are encrypted."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bots.shop_tokens import TOKENS_KEY, TokenBox, TokenKeeper, initial_tokens, load_tokens
from storage.db import Database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _mode_if_any(path: Path) -> int | None:
    try:
        return _mode(path)
    except FileNotFoundError:
        return None


async def test_a_new_database_file_is_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual default: new files readable by everyone
    try:
        path = tmp_path / "fresh.sqlite3"
        async with Database.open(path) as db:
            await db.meta.set("k", "v")
            assert _mode(path) == 0o600
            assert _mode_if_any(Path(str(path) + "-wal")) in (None, 0o600)
    finally:
        os.umask(old)


async def test_a_world_readable_database_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    async with Database.open(path):
        pass
    path.chmod(0o644)
    async with Database.open(path):
        assert _mode(path) == 0o600


async def test_refreshed_tokens_are_stored_encrypted_and_read_back(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    box = TokenBox(key)
    configured = initial_tokens("access-1", "refresh-1", NOW)
    async with Database.open(tmp_path / "t.sqlite3") as db:
        refreshed = initial_tokens("access-2", "refresh-2", NOW + timedelta(hours=1))
        await TokenKeeper(db.meta, configured, box)(refreshed)
        stored = await db.meta.get(TOKENS_KEY)
        assert stored is not None and "access-2" not in stored and "refresh-2" not in stored
        loaded = await load_tokens(db.meta, configured, box)
        assert loaded.access_token == "access-2" and loaded.refresh_token == "refresh-2"
        # Another key cannot read them: the configured pair is used instead.
        other = await load_tokens(db.meta, configured, TokenBox(Fernet.generate_key().decode()))
        assert other.access_token == "access-1"


async def test_tokens_stored_in_clear_by_an_older_version_are_encrypted(tmp_path: Path) -> None:
    box = TokenBox(app_secret="app-secret")
    configured = initial_tokens("access-1", "refresh-1", NOW)
    async with Database.open(tmp_path / "legacy.sqlite3") as db:
        # What an older version stored: the pair in clear.
        await TokenKeeper(db.meta, configured, _ClearBox())(
            initial_tokens("access-2", "refresh-2", NOW)
        )
        assert "access-2" in (await db.meta.get(TOKENS_KEY) or "")
        loaded = await load_tokens(db.meta, configured, box)
        assert loaded.access_token == "access-2"
        stored = await db.meta.get(TOKENS_KEY)
        assert stored is not None and stored.startswith("fernet:") and "access-2" not in stored


def test_a_box_needs_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        TokenBox()


class _ClearBox(TokenBox):
    """Stores as versions before encryption did."""

    def __init__(self) -> None:
        pass

    def seal(self, text: str) -> str:
        json.loads(text)
        return text
