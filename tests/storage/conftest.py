"""Storage fixtures: the database each repository contract test runs against.

``store`` is a real SQLite file in a temporary folder, and — for every test that does not
look at that file itself (it asks for ``db_path``) — also a PostgreSQL schema of its own on
the test server (``tests.postgres``), each opened with a settable clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.fakes import FakeClock
from tests.postgres import postgres_schema
from tests.storage.helpers import T0

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests that open the SQLite file themselves run on SQLite only; every other test of a
    # repository runs on both backends.
    if "backend" in metafunc.fixturenames:
        sqlite_only = (
            "db_path" in metafunc.fixturenames
            or metafunc.definition.get_closest_marker("sqlite_only") is not None
        )
        metafunc.parametrize("backend", BACKENDS[:1] if sqlite_only else BACKENDS)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parcelbot.sqlite3"


@pytest.fixture
def store_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store_location(backend: str, tmp_path: Path) -> Iterator[str]:
    """Where ``store`` lives: the SQLite file, or a PostgreSQL URL of a fresh schema."""
    if backend == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        # The same place as ``db_path``, for tests that ask for both.
        yield str(tmp_path / "data" / "parcelbot.sqlite3")


@pytest.fixture
async def store(store_location: str, store_clock: FakeClock) -> AsyncIterator[Database]:
    async with Database.open(store_location, clock=store_clock) as database:
        yield database
