"""Storage fixtures: a real SQLite file in a temporary folder, opened with a settable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.fakes import FakeClock
from tests.storage.helpers import T0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parcelbot.sqlite3"


@pytest.fixture
def store_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def store(db_path: Path, store_clock: FakeClock) -> AsyncIterator[Database]:
    async with Database.open(db_path, clock=store_clock) as database:
        yield database
