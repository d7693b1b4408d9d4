"""17TRACK's vocabulary → ours: every status and sub-status in statuses.md maps to a defined
state; error codes and carrier keys become our errors and catalogue codes."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput, ProviderAuthError, RateLimited
from core.models import IncidentReason, Status
from core.providers import seventeen_track as st

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

NEEDS_REASON = {Status.EXCEPTION, Status.DELIVERY_FAILED}


def test_the_enumerations_are_complete() -> None:
    assert len(SEVENTEEN_MAIN) == 9
    assert len(SEVENTEEN_SUB) == 30
    assert set(st.SUB_STATUS_MAP) == set(SEVENTEEN_SUB)


@pytest.mark.parametrize("main", SEVENTEEN_MAIN)
def test_every_17track_main_status_maps(main: str) -> None:
    status, reason = st.map_status(main)
    assert status in Status
    assert (reason is not None) == (status in NEEDS_REASON)


@pytest.mark.parametrize(("sub", "expected"), sorted(SEVENTEEN_SUB.items()))
def test_every_17track_sub_status_maps(
    sub: str, expected: tuple[Status, IncidentReason | None]
) -> None:
    main = sub.split("_", 1)[0]
    assert st.map_status(main, sub) == expected
    status, reason = expected
    assert (reason is not None) == (status in NEEDS_REASON)


def test_17track_security_with_fees_is_duties_due() -> None:
    assert st.map_status(
        "Exception", "Exception_Security", "Import duties and taxes must be paid"
    ) == (Status.EXCEPTION, R.DUTIES_DUE)
    assert st.map_status("DeliveryFailure", "DeliveryFailure_Security", "Held") == (
        Status.DELIVERY_FAILED,
        R.CUSTOMS_HOLD,
    )


def test_17track_unknown_values_fall_back_by_prefix() -> None:
    assert st.map_status("Exception", "Exception_Brandnew") == (
        Status.EXCEPTION,
        R.OTHER,
    )
    assert st.map_status("Tracked", "") == (Status.IN_TRANSIT, None)


def test_number_errors() -> None:
    assert st.number_error(-18019901) is None
    assert st.number_error(-18019909) is None
    assert isinstance(st.number_error(-18010012), InvalidInput)
    assert isinstance(st.number_error(-18019908), ProviderAuthError)
    assert isinstance(st.number_error(-18019907), RateLimited)
    assert st.carrier_from_code(21051) == "usps"
    assert st.carrier_from_code(999) == ""
