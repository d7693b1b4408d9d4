"""AfterShip's vocabulary → ours: every tag and subtag in statuses.md maps to a defined state."""

from __future__ import annotations

import pytest

from core.models import IncidentReason, Status
from core.providers import aftership as af

R = IncidentReason

# statuses.md §3: the 9 tags and every subtag listed.
AFTERSHIP_TAGS = [
    "Pending",
    "InfoReceived",
    "InTransit",
    "OutForDelivery",
    "AvailableForPickup",
    "AttemptFail",
    "Delivered",
    "Exception",
    "Expired",
]
AFTERSHIP_SUB: dict[str, tuple[Status, IncidentReason | None]] = {
    **{f"Pending_00{i}": (Status.NOT_FOUND, None) for i in range(1, 7)},
    "InfoReceived_001": (Status.INFO_RECEIVED, None),
    **{f"InTransit_{i:03d}": (Status.IN_TRANSIT, None) for i in range(1, 12)},
    "OutForDelivery_001": (Status.OUT_FOR_DELIVERY, None),
    "OutForDelivery_002": (Status.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_003": (Status.OUT_FOR_DELIVERY, None),
    "OutForDelivery_004": (Status.OUT_FOR_DELIVERY, None),
    "AvailableForPickup_001": (Status.AVAILABLE_FOR_PICKUP, None),
    "AttemptFail_001": (Status.DELIVERY_FAILED, R.OTHER),
    "AttemptFail_002": (Status.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    "AttemptFail_003": (Status.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    **{f"Delivered_00{i}": (Status.DELIVERED, None) for i in range(1, 6)},
    "Exception_001": (Status.EXCEPTION, R.OTHER),
    "Exception_002": (Status.EXCEPTION, R.RECIPIENT_MOVED),
    "Exception_003": (Status.EXCEPTION, R.REFUSED),
    "Exception_004": (Status.EXCEPTION, R.CUSTOMS_HOLD),
    "Exception_005": (Status.EXCEPTION, R.CARRIER_DELAY),
    "Exception_006": (Status.EXCEPTION, R.DUTIES_DUE),
    "Exception_007": (Status.EXCEPTION, R.ADDRESS_ISSUE),
    "Exception_008": (Status.EXCEPTION, R.PICKUP_MISSED),
    "Exception_009": (Status.EXCEPTION, R.REJECTED_BY_CARRIER),
    "Exception_010": (Status.EXCEPTION, R.RETURNING),
    "Exception_011": (Status.EXCEPTION, R.RETURNED),
    "Exception_012": (Status.EXCEPTION, R.DAMAGED),
    "Exception_013": (Status.EXCEPTION, R.LOST),
    "Exception_014": (Status.EXCEPTION, R.OTHER),
    "Exception_015": (Status.EXCEPTION, R.OTHER),
    "Exception_016": (Status.EXCEPTION, R.CARRIER_DELAY),
    "Exception_017": (Status.EXCEPTION, R.WEATHER_DELAY),
    "Exception_018": (Status.EXCEPTION, R.CUSTOMS_HOLD),
    "Exception_019": (Status.EXCEPTION, R.CARRIER_DELAY),
    "Exception_020": (Status.EXCEPTION, R.CANCELLED),
    "Exception_021": (Status.EXCEPTION, R.DESTROYED),
    "Expired_001": (Status.EXPIRED, None),
}

NEEDS_REASON = {Status.EXCEPTION, Status.DELIVERY_FAILED}


def test_the_enumerations_are_complete() -> None:
    assert len(AFTERSHIP_TAGS) == 9
    assert set(af.SUBTAG_MAP) == set(AFTERSHIP_SUB)


@pytest.mark.parametrize("tag", AFTERSHIP_TAGS)
def test_every_aftership_tag_maps(tag: str) -> None:
    status, reason = af.map_tag(tag)
    assert status in Status
    assert (reason is not None) == (status in NEEDS_REASON)


@pytest.mark.parametrize(("subtag", "expected"), sorted(AFTERSHIP_SUB.items()))
def test_every_aftership_subtag_maps(
    subtag: str, expected: tuple[Status, IncidentReason | None]
) -> None:
    tag = subtag.split("_", 1)[0]
    assert af.map_tag(tag, subtag) == expected
    status, reason = expected
    assert (reason is not None) == (status in NEEDS_REASON)


def test_aftership_unknown_subtags_go_by_prefix() -> None:
    assert af.map_tag("Exception", "Exception_099") == (Status.EXCEPTION, R.OTHER)
    assert af.map_tag("InTransit", "InTransit_012") == (Status.IN_TRANSIT, None)
    assert af.map_tag("", "AttemptFail_009") == (Status.DELIVERY_FAILED, R.OTHER)
