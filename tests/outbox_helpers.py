"""Queue alerts the way a poll does, for tests and benchmarks of delivery."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)
from storage.db import Database

__all__ = ["parcel_of", "queue_alerts"]


def parcel_of(who: ChatRef) -> ShipmentKey:
    """A UPS parcel of the chat's own (numbered after its chat id)."""
    digits = "".join(ch for ch in who.chat_id if ch.isdigit())[-10:] or "0"
    return ShipmentKey("ups", TrackingNumber(f"1ZQ{int(digits):012d}"))


async def queue_alerts(
    db: Database,
    chats: Sequence[ChatRef],
    count: int,
    now: datetime,
    *,
    key: ShipmentKey | None = None,
) -> None:
    """Each chat follows a parcel (``key``, else its own) and gets ``count`` ``moved`` alerts,
    in one snapshot transaction per parcel; alert ``i`` is about ``scan i``."""
    events = tuple(
        TrackingEvent(now - timedelta(hours=count - i), Status.IN_TRANSIT, f"scan {i}", "Hub")
        for i in range(count)
    )
    followers: dict[ShipmentKey, list[ChatRef]] = {}
    for who in chats:
        followers.setdefault(key or parcel_of(who), []).append(who)
    writes = []
    for parcel, group in followers.items():
        for who in group:
            await db.subscriptions.add(Subscription(who, parcel, created_at=now))
        shipment = Shipment(
            parcel.carrier, parcel.number, Status.IN_TRANSIT, events, checked_at=now, first_seen=now
        )
        alerts = tuple(
            (who, Alert(AlertKind.MOVED, parcel, f"{parcel}|moved|{i}", event=events[i]))
            for who in group
            for i in range(count)
        )
        writes.append(SnapshotWrite(shipment, None, alerts))
    await db.shipments.save_many(writes)
