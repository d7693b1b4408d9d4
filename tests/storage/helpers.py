"""Builders for the storage tests: parcels, events, alerts and chats with readable defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    TrackingEvent,
    TrackingNumber,
)

__all__ = [
    "T0",
    "alert",
    "chat",
    "count_rows",
    "event",
    "key",
    "shipment",
    "write",
]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def key(number: str = "1Z999AA10123456784", carrier: str = "ups") -> ShipmentKey:
    return ShipmentKey(carrier, TrackingNumber(number))


def chat(
    chat_id: str = "1",
    user_id: str = "",
    *,
    platform: Platform = Platform.TELEGRAM,
    group: bool = False,
) -> ChatRef:
    return ChatRef(platform, chat_id, user_id or chat_id, is_group=group)


def event(hours: float, description: str = "", status: Status = Status.IN_TRANSIT) -> TrackingEvent:
    return TrackingEvent(
        time=T0 + timedelta(hours=hours),
        status=status,
        description=description or f"Scan after {hours} h",
        location="Louisville, KY, US",
        raw_code="IT",
    )


def shipment(
    parcel: ShipmentKey | None = None,
    events: tuple[TrackingEvent, ...] = (),
    status: Status = Status.IN_TRANSIT,
    checked_at: datetime | None = T0,
) -> Shipment:
    parcel = parcel or key()
    return Shipment(
        carrier=parcel.carrier,
        number=parcel.number,
        status=status,
        events=events,
        checked_at=checked_at,
        provider="sandbox",
    )


def alert(parcel: ShipmentKey | None = None, dedupe: str = "moved:1") -> Alert:
    parcel = parcel or key()
    return Alert(AlertKind.MOVED, parcel, f"{parcel}:{dedupe}", event=event(1))


def write(
    snapshot: Shipment,
    next_check_at: datetime | None = None,
    alerts: tuple[tuple[ChatRef, Alert], ...] = (),
) -> SnapshotWrite:
    return SnapshotWrite(snapshot, next_check_at, alerts)


async def count_rows(path: Path, table: str, where: str = "1", *params: object) -> int:
    """Count rows through a separate connection, as another process would see them."""
    async with aiosqlite.connect(path) as conn:
        rows = list(
            await conn.execute_fetchall(
                f"SELECT count(*) FROM {table} WHERE {where}",  # noqa: S608 - test-chosen names
                params,
            )
        )
    return int(rows[0][0])
