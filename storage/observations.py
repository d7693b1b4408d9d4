"""Delivered parcels kept as history for arrival estimates, on SQLite.

Implements ``core.eta.model.ObservationRepository``.

An observation holds carrier, service, regions and four times, nothing about the buyer. The
parcel it came from is remembered only as a SHA-256 digest of ``carrier:number``, enough to
store each parcel once and to delete it when its owner asks (``forget``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from core.eta.model import Observation
from core.models import ShipmentKey
from storage.codec import opt_text, opt_time, time_from_text, time_to_text
from storage.sql import Connection

__all__ = ["SqliteObservations", "country_only", "parcel_digest"]

_INSERT = (
    "INSERT INTO eta_observations (parcel, carrier, service, origin, destination, "
    "ordered_at, handed_over_at, delivered_at, promised_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_SELECT_ALL = (
    "SELECT carrier, service, origin, destination, ordered_at, handed_over_at, delivered_at, "
    "promised_by FROM eta_observations ORDER BY delivered_at, id"
)
_SELECT_PAGE = (
    "SELECT id, carrier, service, origin, destination, ordered_at, handed_over_at, "
    "delivered_at, promised_by FROM eta_observations WHERE id > ? ORDER BY id LIMIT ?"
)


def parcel_digest(key: ShipmentKey) -> str:
    """The stored stand-in for a parcel's key (hex SHA-256 of ``carrier:number``)."""
    return hashlib.sha256(str(key).encode()).hexdigest()


def country_only(place: str) -> str:
    """The last part of a place (``Portland, OR, US`` → ``US``): a region shared by many."""
    return place.rsplit(",", 1)[-1].strip()


def _from_row(row: Sequence[Any]) -> Observation:
    carrier, service, origin, destination, ordered, handed, delivered, promised = row
    return Observation(
        carrier=carrier,
        service=service,
        origin=origin,
        destination=destination,
        ordered_at=time_from_text(ordered),
        handed_over_at=opt_text(handed),
        delivered_at=time_from_text(delivered),
        promised_by=opt_text(promised),
    )


class SqliteObservations:
    """``ObservationRepository`` on SQLite (table ``eta_observations``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, obs: Observation, key: ShipmentKey | None = None) -> bool:
        """Store one delivered parcel; False when ``key`` was already stored."""
        changed = await self._conn.write(
            _INSERT,
            (
                None if key is None else parcel_digest(key),
                obs.carrier,
                obs.service,
                obs.origin,
                obs.destination,
                time_to_text(obs.ordered_at),
                opt_time(obs.handed_over_at),
                time_to_text(obs.delivered_at),
                opt_time(obs.promised_by),
            ),
        )
        return changed > 0

    async def all(self) -> list[Observation]:
        """Every observation, oldest delivery first."""
        rows = await self._conn.read(_SELECT_ALL)
        return [_from_row(row) for row in rows]

    async def iter(self, batch: int = 500) -> AsyncIterator[Observation]:
        """Every observation in insertion order, ``batch`` rows per query."""
        last = 0
        while True:
            rows = await self._conn.read(_SELECT_PAGE, (last, batch))
            for row in rows:
                yield _from_row(row[1:])
            if len(rows) < batch:
                return
            last = int(rows[-1][0])

    async def count(self) -> int:
        """How many observations are stored."""
        rows = await self._conn.read("SELECT count(*) FROM eta_observations")
        return int(rows[0][0])

    async def forget(self, key: ShipmentKey) -> int:
        """Delete what was learned from one parcel; returns the rows removed (0 or 1)."""
        return await self._conn.write(
            "DELETE FROM eta_observations WHERE parcel = ?", (parcel_digest(key),)
        )

    async def prune(self, delivered_before: datetime) -> int:
        """Drop observations delivered before a time (old history barely counts anyway)."""
        return await self._conn.write(
            "DELETE FROM eta_observations WHERE delivered_at < ?",
            (time_to_text(delivered_before),),
        )
