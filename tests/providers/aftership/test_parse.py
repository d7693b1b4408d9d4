"""AfterShip's pure parse functions on the recorded payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from core.models import IncidentReason, ProofKind, Status
from core.providers import aftership as af
from tests.providers.conftest import assert_delivered, req
from tests.providers.fake_server import load

USPS = "9400111206206406260787"
TRACKING = load("aftership/get_tracking_2025-04.json")["body"]["data"]


def test_pending_tracking_without_checkpoints() -> None:
    shipment = af.parse_tracking({"tracking_number": "x1", "slug": "ups", "tag": "Pending"})
    assert shipment.status is Status.NOT_FOUND
    assert shipment.events == ()
    assert shipment.carrier == "ups"
    assert shipment.number == "X1"


def test_delivered_with_signature() -> None:
    raw = copy.deepcopy(TRACKING)
    raw.update(tag="Delivered", subtag="Delivered_003", signed_by="J DOE")
    raw["checkpoints"].append(
        {
            "checkpoint_time": "2026-01-03T14:02:00-08:00",
            "message": "Delivered, signed for",
            "tag": "Delivered",
            "subtag": "Delivered_003",
        }
    )
    shipment = af.parse_tracking(raw, req(USPS))
    assert_delivered(shipment, datetime(2026, 1, 3, 22, 2, tzinfo=UTC), ProofKind.SIGNATURE)


def test_exception_incident_and_local_time_without_offset() -> None:
    raw = copy.deepcopy(TRACKING)
    raw.update(tag="Exception", subtag="Exception_011")
    raw["checkpoints"] = [
        {
            "checkpoint_time": "2026-01-04T09:30:00",
            "created_at": "2026-01-04T17:35:00+00:00",
            "message": "Returned to sender",
            "tag": "Exception",
            "subtag": "Exception_011",
        }
    ]
    shipment = af.parse_tracking(raw, req(USPS))
    assert shipment.incident is IncidentReason.RETURNED
    assert shipment.is_final
    assert shipment.events[0].time == datetime(2026, 1, 4, 17, 35, tzinfo=UTC)
