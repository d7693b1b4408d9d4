"""Each new snapshot is assessed once per poll (``incidents.assess``); alerts and polling read
that assessment instead of deriving the incidents again."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import alerts, incidents, polling
from core.models import (
    AlertKind,
    IncidentReason,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)
from core.service import ParcelService
from storage.db import Database
from tests.core.refresh.test_poll_subscribers import SameAnswerProvider
from tests.fakes import FakeClock, chat


def _moving(key: ShipmentKey, at: datetime, place: str) -> Shipment:
    return Shipment(
        carrier=key.carrier,
        number=key.number,
        status=Status.IN_TRANSIT,
        events=(TrackingEvent(at, Status.IN_TRANSIT, "Departed", place),),
        origin="US",
        destination="US",
    )


async def test_a_poll_assesses_each_new_snapshot_once_and_nobody_derives_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    keys = [ShipmentKey("ups", TrackingNumber(f"1ZASSESS{i:010d}")) for i in range(5)]
    answers = {key: _moving(key, clock.now(), "Louisville, KY, US") for key in keys}
    provider = SameAnswerProvider(answers)
    assessed: list[ShipmentKey] = []
    real_assess = incidents.assess

    def recording(shipment: Shipment, now: datetime) -> incidents.Assessment:
        assessed.append(shipment.key)
        return real_assess(shipment, now)

    def forbidden(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("derived again instead of reading the assessment")

    async with Database.open(tmp_path / "assess.sqlite3", clock=clock) as db:
        service = ParcelService(provider=provider, store=db, clock=clock, rng=random.Random(3))
        for key in keys:
            await db.shipments.save_many([SnapshotWrite(answers[key], clock.now())])
            await db.subscriptions.add(
                Subscription(chat=chat(key.number), key=key, created_at=clock.now())
            )
        # Every parcel moves on: new scans, so alerts are worked out for each.
        later = clock.advance(timedelta(hours=2))
        for key in keys:
            old = answers[key]
            scan = TrackingEvent(later, Status.IN_TRANSIT, "Arrived", "Reno, NV, US")
            provider.answers[key] = Shipment(
                carrier=old.carrier,
                number=old.number,
                status=Status.IN_TRANSIT,
                events=(*old.events, scan),
                origin="US",
                destination="US",
            )
            await db.shipments.schedule(key, later)
        monkeypatch.setattr(incidents, "assess", recording)
        monkeypatch.setattr(alerts, "assess", forbidden)
        monkeypatch.setattr(polling, "assess", forbidden)
        stats = await service.refresh.poll_due()
    assert (stats.checked, stats.changed) == (5, 5)
    assert stats.alerts == 5  # one "moved" alert each: the assessment reached the diff
    assert Counter(assessed) == Counter(keys)  # each once, none twice


def _delivered(at: datetime) -> Shipment:
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1ZASSESS0000000099"),
        status=Status.DELIVERED,
        events=(TrackingEvent(at, Status.DELIVERED, "Delivered", "Reno, NV, US"),),
        delivered_at=at,
    )


def test_the_diff_reads_the_delivery_check_from_the_assessment() -> None:
    delivered_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    delivered = old = _delivered(delivered_at)
    now = delivered_at + timedelta(hours=1)
    # Too early for the follow-up by the clock; an assessment saying it is due is believed.
    assert incidents.assess(delivered, now).delivery_check_due is False
    due = incidents.Assessment(
        at=now,
        reasons=(),
        provider=None,
        last_scan=delivered_at,
        delivery_check_at=now,
        delivery_check_due=True,
    )
    kinds = [alert.kind for alert in alerts.diff(old, delivered, now, assessment=due)]
    assert AlertKind.DELIVERY_CHECK in kinds
    assert AlertKind.DELIVERY_CHECK not in [a.kind for a in alerts.diff(old, delivered, now)]


def test_polling_reads_the_carriers_incident_from_the_assessment() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    held = Shipment(
        carrier="ups",
        number=TrackingNumber("1ZASSESS0000000098"),
        status=Status.EXCEPTION,
        events=(TrackingEvent(now, Status.EXCEPTION, "Held", "Reno, NV, US"),),
    )
    rng = random.Random(1)
    assert polling.next_check(held, now, rng) is not None  # an open exception is polled
    lost = incidents.assess(held, now)
    lost = incidents.Assessment(
        at=lost.at,
        reasons=(IncidentReason.LOST,),
        provider=IncidentReason.LOST,
        last_scan=lost.last_scan,
        delivery_check_at=None,
        delivery_check_due=False,
    )
    assert polling.next_check(held, now, rng, assessment=lost) is None  # terminal: never again


def test_assess_agrees_with_each_derivation_it_replaces() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    key = ShipmentKey("ups", TrackingNumber("1ZASSESS0000000097"))
    shipments = [
        _moving(key, start, "Louisville, KY, US"),
        _delivered(start),
        Shipment(carrier="ups", number=key.number, status=Status.NOT_FOUND, first_seen=start),
        Shipment(
            carrier="ups",
            number=key.number,
            status=Status.DELIVERY_FAILED,
            events=(TrackingEvent(start, Status.DELIVERY_FAILED, "No one home", "Reno, NV, US"),),
        ),
    ]
    for shipment in shipments:
        for hours in (0, 30, 100, 200):
            now = start + timedelta(hours=hours)
            found = incidents.assess(shipment, now)
            assert found.reasons == incidents.derive_all(shipment, now)
            assert found.incident == incidents.derive(shipment, now)
            assert found.provider == incidents.provider_incident(shipment)
            assert found.last_scan == incidents.last_scan_time(shipment)
            assert found.delivery_check_at == incidents.delivery_check_at(shipment)
            assert found.delivery_check_due == incidents.delivery_check_due(shipment, now)
