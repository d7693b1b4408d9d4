"""Delivered parcels stored as ETA history in a real SQLite file, and learned back from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from core.eta.calendar import CALENDAR_DAYS
from core.eta.model import EtaModel, Observation, ObservationRepository
from core.models import EtaSource, ShipmentKey, TrackingNumber
from storage.connection import SerialConnection
from storage.migrations import apply_migrations
from storage.observations import SqliteObservations

T0 = datetime(2024, 5, 6, 12, tzinfo=UTC)


def parcel(i: int, transit: float = 4.0) -> Observation:
    ordered = T0 + timedelta(hours=i)
    return Observation(
        carrier="acme",
        service="ground",
        origin="SP",
        destination="RJ",
        ordered_at=ordered,
        handed_over_at=ordered + timedelta(days=1) if i % 2 else None,
        delivered_at=ordered + timedelta(days=1 + transit),
        promised_by=ordered + timedelta(days=10) if i % 3 else None,
    )


def key(i: int) -> ShipmentKey:
    return ShipmentKey("acme", TrackingNumber(f"AC{i:08d}"))


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[SqliteObservations]:
    conn = await aiosqlite.connect(tmp_path / "eta.db", isolation_level=None)
    try:
        await apply_migrations(conn)
        yield SqliteObservations(SerialConnection(conn))
    finally:
        await conn.close()


async def test_round_trip_keeps_every_field(repo: SqliteObservations) -> None:
    stored = [parcel(i) for i in range(6)]
    for i, obs in enumerate(stored):
        assert await repo.add(obs, key(i))
    assert await repo.all() == stored
    assert await repo.count() == 6


async def test_a_parcel_is_stored_once(repo: SqliteObservations) -> None:
    assert await repo.add(parcel(1), key(1))
    assert not await repo.add(parcel(1), key(1))
    assert await repo.add(parcel(2))  # no key: nothing to deduplicate on
    assert await repo.count() == 2


async def test_iter_pages_through_everything(repo: SqliteObservations) -> None:
    for i in range(7):
        await repo.add(parcel(i), key(i))
    seen = [obs async for obs in repo.iter(batch=3)]
    assert seen == [parcel(i) for i in range(7)]


async def test_forget_and_prune(repo: SqliteObservations) -> None:
    for i in range(4):
        await repo.add(parcel(i), key(i))
    assert await repo.forget(key(2)) == 1
    assert await repo.forget(key(2)) == 0
    assert parcel(2) not in await repo.all()
    assert await repo.prune(parcel(1).delivered_at) == 1
    assert await repo.count() == 2


async def test_stored_history_feeds_the_model(repo: SqliteObservations) -> None:
    port: ObservationRepository = repo
    for i in range(60):
        await port.add(parcel(i, transit=4.0), key(i))
    model = EtaModel(calendars={"acme": CALENDAR_DAYS})
    model.observe_many([obs async for obs in port.iter()])
    now = T0 + timedelta(days=30)
    eta = model.estimate(
        carrier="acme",
        service="ground",
        origin="SP",
        destination="RJ",
        ordered_at=now - timedelta(days=1),
        handed_over_at=now,
        now=now,
    )
    assert eta.source is EtaSource.LEARNED
    assert eta.most_likely - now == pytest.approx(timedelta(days=4), abs=timedelta(hours=2))
