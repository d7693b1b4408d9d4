"""17TRACK's pure parse functions on the recorded payloads."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import ProofKind
from core.providers import seventeen_track as st
from tests.providers.conftest import assert_delivered, req
from tests.providers.fake_server import load

USPS = "9400111206206406260787"


def test_parse_track_info_delivered_with_proof() -> None:
    info = load("seventeen_track/gettrackinfo_in_transit.json")["body"]["data"]["accepted"][0][
        "track_info"
    ]
    info["latest_status"] = {"status": "Delivered", "sub_status": "Delivered_Other"}
    events = info["tracking"]["providers"][0]["events"]
    events.insert(
        0,
        {
            "time_utc": "2026-01-03T20:00:00Z",
            "description": "Delivered, Front Door/Porch",
            "location": "SAN JOSE, CA 95110",
            "stage": "Delivered",
            "sub_status": "Delivered_Other",
        },
    )
    shipment = st.parse_track_info(info, req(USPS))
    assert_delivered(shipment, datetime(2026, 1, 3, 20, 0, tzinfo=UTC), ProofKind.LEFT_AT_DOOR)
