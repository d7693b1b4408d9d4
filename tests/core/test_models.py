"""Model helpers that the poll path leans on for speed must not drop a field."""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from datetime import UTC, datetime, timedelta

from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _every_field_set() -> Shipment:
    scan = TrackingEvent(T0, Status.DELIVERED, "Delivered", "Leeds", "D1")
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z5R89390357567127"),
        status=Status.DELIVERED,
        events=(scan,),
        eta=Eta(T0, T0 + timedelta(days=2), T0 + timedelta(days=1), EtaSource.LEARNED, 0.7),
        promised_by=T0 + timedelta(days=3),
        checked_at=T0 + timedelta(hours=1),
        delivered_at=T0,
        proof=ProofOfDelivery(ProofKind.SIGNATURE, "J. SMITH"),
        incident=IncidentReason.DAMAGED,
        provider="17track",
        shipped_at=T0 - timedelta(days=2),
        first_seen=T0 - timedelta(days=3),
        origin="SP",
        destination="RJ",
    )


def test_the_sample_sets_every_field() -> None:
    # A field added to Shipment must be set here too, or the next test could not see it dropped.
    sample = _every_field_set()
    for spec in fields(Shipment):
        if spec.default is not MISSING:
            assert getattr(sample, spec.name) != spec.default, spec.name


def test_rechecked_is_replace() -> None:
    sample = _every_field_set()
    later = T0 + timedelta(days=5)
    start = T0 - timedelta(days=9)
    scans = (*sample.events, TrackingEvent(later, Status.DELIVERED, "Signed for"))

    assert sample.rechecked(later, start) == replace(sample, checked_at=later, first_seen=start)
    assert sample.rechecked(later, start, scans) == replace(
        sample, checked_at=later, first_seen=start, events=scans
    )
    assert sample.rechecked(later, start).events is sample.events
