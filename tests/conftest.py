"""Fixtures shared by every test folder: a real SQLite file, the sandbox, the real service,
and the loopback fake provider server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from bots.locales import voices
from core.commands import CommandRouter
from core.providers.sandbox import SandboxProvider, SandboxShop
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.providers.fake_server import FakeServer

# CI explores a fixed set of generated examples, so a run of main never passes or fails by
# chance; runs elsewhere keep drawing new examples and find new cases.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


VOICES = voices()
"""Every language from the repository's catalogs (made once: compiling them takes a moment)."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database.open(tmp_path / "parcelbot.sqlite3") as database:
        yield database


@pytest.fixture
def service(db: Database, clock: FakeClock) -> ParcelService:
    import random

    return ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        rng=random.Random(7),
        voices=VOICES,
    )


@pytest.fixture
def router(service: ParcelService) -> CommandRouter:
    return CommandRouter(service)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = FakeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
