"""Every 17TRACK and AfterShip status/sub-status in statuses.md maps to a defined state."""

from __future__ import annotations

import pytest

from core.models import IncidentReason, Status
from core.providers import aftership, seventeen_track

R = IncidentReason

# statuses.md §4: the 9 main statuses and 30 sub-statuses, with the expected mapping.
SEVENTEEN_MAIN = [
    "NotFound",
    "InfoReceived",
    "InTransit",
    "Expired",
    "AvailableForPickup",
    "OutForDelivery",
    "DeliveryFailure",
    "Delivered",
    "Exception",
]
SEVENTEEN_SUB: dict[str, tuple[Status, IncidentReason | None]] = {
    "NotFound_Other": (Status.NOT_FOUND, None),
    "NotFound_InvalidCode": (Status.NOT_FOUND, None),
    "InfoReceived": (Status.INFO_RECEIVED, None),
    "InTransit_PickedUp": (Status.IN_TRANSIT, None),
    "InTransit_Other": (Status.IN_TRANSIT, None),
    "InTransit_Departure": (Status.IN_TRANSIT, None),
    "InTransit_Arrival": (Status.IN_TRANSIT, None),
    "InTransit_CustomsProcessing": (Status.IN_TRANSIT, None),
    "InTransit_CustomsReleased": (Status.IN_TRANSIT, None),
    "InTransit_CustomsRequiringInformation": (Status.EXCEPTION, R.CUSTOMS_HOLD),
    "Expired_Other": (Status.EXPIRED, None),
    "AvailableForPickup_Other": (Status.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_Other": (Status.OUT_FOR_DELIVERY, None),
    "DeliveryFailure_Other": (Status.DELIVERY_FAILED, R.OTHER),
    "DeliveryFailure_NoBody": (Status.DELIVERY_FAILED, R.RECIPIENT_UNAVAILABLE),
    "DeliveryFailure_Security": (Status.DELIVERY_FAILED, R.CUSTOMS_HOLD),
    "DeliveryFailure_Rejected": (Status.DELIVERY_FAILED, R.REFUSED),
    "DeliveryFailure_InvalidAddress": (Status.DELIVERY_FAILED, R.ADDRESS_ISSUE),
    "Delivered_Other": (Status.DELIVERED, None),
    "Exception_Other": (Status.EXCEPTION, R.OTHER),
    "Exception_Returning": (Status.EXCEPTION, R.RETURNING),
    "Exception_Returned": (Status.EXCEPTION, R.RETURNED),
    "Exception_NoBody": (Status.EXCEPTION, R.RECIPIENT_UNAVAILABLE),
    "Exception_Security": (Status.EXCEPTION, R.CUSTOMS_HOLD),
    "Exception_Damage": (Status.EXCEPTION, R.DAMAGED),
    "Exception_Lost": (Status.EXCEPTION, R.LOST),
    "Exception_Rejected": (Status.EXCEPTION, R.REFUSED),
    "Exception_Delayed": (Status.EXCEPTION, R.CARRIER_DELAY),
    "Exception_Destroyed": (Status.EXCEPTION, R.DESTROYED),
    "Exception_Cancel": (Status.EXCEPTION, R.CANCELLED),
}

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
    assert len(SEVENTEEN_MAIN) == 9
    assert len(SEVENTEEN_SUB) == 30
    assert len(AFTERSHIP_TAGS) == 9
    assert set(seventeen_track.SUB_STATUS_MAP) == set(SEVENTEEN_SUB)
    assert set(aftership.SUBTAG_MAP) == set(AFTERSHIP_SUB)


@pytest.mark.parametrize("main", SEVENTEEN_MAIN)
def test_every_17track_main_status_maps(main: str) -> None:
    status, reason = seventeen_track.map_status(main)
    assert status in Status
    assert (reason is not None) == (status in NEEDS_REASON)


@pytest.mark.parametrize(("sub", "expected"), sorted(SEVENTEEN_SUB.items()))
def test_every_17track_sub_status_maps(
    sub: str, expected: tuple[Status, IncidentReason | None]
) -> None:
    main = sub.split("_", 1)[0]
    assert seventeen_track.map_status(main, sub) == expected
    status, reason = expected
    assert (reason is not None) == (status in NEEDS_REASON)


def test_17track_security_with_fees_is_duties_due() -> None:
    assert seventeen_track.map_status(
        "Exception", "Exception_Security", "Import duties and taxes must be paid"
    ) == (Status.EXCEPTION, R.DUTIES_DUE)
    assert seventeen_track.map_status("DeliveryFailure", "DeliveryFailure_Security", "Held") == (
        Status.DELIVERY_FAILED,
        R.CUSTOMS_HOLD,
    )


def test_17track_unknown_values_fall_back_by_prefix() -> None:
    assert seventeen_track.map_status("Exception", "Exception_Brandnew") == (
        Status.EXCEPTION,
        R.OTHER,
    )
    assert seventeen_track.map_status("Tracked", "") == (Status.IN_TRANSIT, None)


@pytest.mark.parametrize("tag", AFTERSHIP_TAGS)
def test_every_aftership_tag_maps(tag: str) -> None:
    status, reason = aftership.map_tag(tag)
    assert status in Status
    assert (reason is not None) == (status in NEEDS_REASON)


@pytest.mark.parametrize(("subtag", "expected"), sorted(AFTERSHIP_SUB.items()))
def test_every_aftership_subtag_maps(
    subtag: str, expected: tuple[Status, IncidentReason | None]
) -> None:
    tag = subtag.split("_", 1)[0]
    assert aftership.map_tag(tag, subtag) == expected
    status, reason = expected
    assert (reason is not None) == (status in NEEDS_REASON)


def test_aftership_unknown_subtags_go_by_prefix() -> None:
    assert aftership.map_tag("Exception", "Exception_099") == (Status.EXCEPTION, R.OTHER)
    assert aftership.map_tag("InTransit", "InTransit_012") == (Status.IN_TRANSIT, None)
    assert aftership.map_tag("", "AttemptFail_009") == (Status.DELIVERY_FAILED, R.OTHER)
