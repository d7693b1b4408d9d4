"""A poll reads subscribers only for the parcels whose snapshot caused alerts, and a parcel
that stays unchanged still gets the incidents (and alerts) that time alone opens."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from core.models import (
    AlertKind,
    IncidentReason,
    Preference,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import outbox_rows
from tests.fakes import FakeClock, chat


class SameAnswerProvider:
    """Hands back the very same snapshot object for a parcel on every call (as a provider
    whose answer did not change may), one per number it was given."""

    name = "same"
    max_batch = 50

    def __init__(self, answers: dict[ShipmentKey, Shipment]) -> None:
        self.answers = answers

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        batch = TrackBatch()
        for request in requests:
            batch.shipments[request.key] = self.answers[request.key]
        return batch


def moving(key: ShipmentKey, scanned: FakeClock) -> Shipment:
    """In transit within the US (domestic: stale after 4 days), last scanned now."""
    return Shipment(
        carrier=key.carrier,
        number=key.number,
        status=Status.IN_TRANSIT,
        events=(TrackingEvent(scanned.now(), Status.IN_TRANSIT, "Departed", "Louisville, KY, US"),),
        origin="US",
        destination="US",
    )


def parcel(index: int) -> ShipmentKey:
    return ShipmentKey("ups", TrackingNumber(f"1ZSAME{index:012d}"))


async def test_an_unchanged_parcel_turning_stale_gets_the_incident_and_one_alert(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stale.sqlite3"
    clock = FakeClock()
    key = parcel(1)
    follower = chat("stale")
    answer = moving(key, clock)
    async with Database.open(path, clock=clock) as db:
        service = ParcelService(
            provider=SameAnswerProvider({key: answer}),
            store=db,
            clock=clock,
            rng=random.Random(5),
        )
        await db.subscriptions.add(Subscription(chat=follower, key=key, created_at=clock.now()))
        await db.shipments.save_many([SnapshotWrite(answer, clock.now())])
        end = clock.now() + timedelta(days=6)
        stale_at = answer.events[-1].time + timedelta(days=4)
        polls_after_stale = 0
        while clock.now() < end:
            clock.advance(timedelta(hours=1))
            stats = await service.refresh.poll_due()
            stored = await db.shipments.get(key)
            assert stored is not None
            if stats.checked and clock.now() < stale_at:
                assert stored.incident is None
            if stats.checked and clock.now() >= stale_at:
                polls_after_stale += 1
                assert stored.incident is IncidentReason.STALE
            assert stats.changed == 0
        assert polls_after_stale >= 2
    stale = [
        row
        for row in await outbox_rows(str(path))
        if row.alert.kind is AlertKind.INCIDENT and row.alert.incident is IncidentReason.STALE
    ]
    assert [row.chat_key for row in stale] == [follower.chat_key]
    assert stale[0].created_at >= stale_at


async def test_subscribers_are_read_only_for_parcels_with_alerts(tmp_path: Path) -> None:
    clock = FakeClock()
    quiet, turning = parcel(1), parcel(2)
    first_chat, second_chat = chat("a"), chat("b")
    answers = {quiet: moving(quiet, clock), turning: moving(turning, clock)}
    async with Database.open(tmp_path / "subs.sqlite3", clock=clock) as db:
        provider = SameAnswerProvider(answers)
        service = ParcelService(provider=provider, store=db, clock=clock, rng=random.Random(2))
        for key in (quiet, turning):
            await db.shipments.save_many([SnapshotWrite(answers[key], clock.now())])
        await db.subscriptions.add(Subscription(chat=first_chat, key=quiet, created_at=clock.now()))
        for who in (first_chat, second_chat):
            await db.subscriptions.add(Subscription(chat=who, key=turning, created_at=clock.now()))
        await db.subscriptions.update(
            Subscription(
                chat=second_chat,
                key=turning,
                created_at=clock.now(),
                preference=Preference.EXCEPTIONS,
            )
        )
        asked: list[list[ShipmentKey]] = []
        real = db.subscriptions.subscribers

        async def counting(keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, list[Subscription]]:
            asked.append(list(keys))
            return await real(keys)

        db.subscriptions.subscribers = counting  # type: ignore[method-assign]

        clock.advance(timedelta(minutes=1))
        stats = await service.refresh.poll_due()
        assert (stats.checked, stats.changed, stats.alerts) == (2, 0, 0)
        assert asked == []  # nothing to say: no subscriber was read

        # A new scan for one parcel: only its subscribers are read, each with their preference.
        later = clock.advance(timedelta(hours=1))
        old = answers[turning]
        scan = TrackingEvent(later, Status.OUT_FOR_DELIVERY, "Out for delivery", "Reno, NV, US")
        provider.answers[turning] = Shipment(
            carrier=old.carrier,
            number=old.number,
            status=Status.OUT_FOR_DELIVERY,
            events=(*old.events, scan),
            origin="US",
            destination="US",
        )
        await db.shipments.schedule(quiet, later)
        await db.shipments.schedule(turning, later)
        stats = await service.refresh.poll_due()
        assert (stats.checked, stats.changed, stats.alerts) == (2, 1, 1)
        assert asked == [[turning]]
    rows = await outbox_rows(str(tmp_path / "subs.sqlite3"))
    assert [(row.chat_key, row.alert.kind) for row in rows] == [
        (first_chat.chat_key, AlertKind.OUT_FOR_DELIVERY)
    ]
