"""AfterShip's vocabulary → our closed types: slugs, tags and subtags, meta codes.

Pure data and functions over ``core.models`` and ``core.errors``; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import CarrierNotDetected, InvalidInput, ProviderUnavailable, TrackingError
from core.models import IncidentReason, Status

__all__ = [
    "API_VERSION",
    "BASE_URL",
    "MAX_BATCH",
    "PROVIDER",
    "SLUGS",
    "SUBTAG_MAP",
    "TAG_MAP",
    "carrier_from_slug",
    "map_tag",
]

BASE_URL = "https://api.aftership.com/tracking"
API_VERSION = "2025-04"
MAX_BATCH = 25
PROVIDER = "aftership"

# Catalogue code → AfterShip courier slug; unlisted carriers are left to AfterShip's detection.
SLUGS: Mapping[str, str] = {
    "usps": "usps",
    "ups": "ups",
    "fedex": "fedex",
    "dhl": "dhl",
    "canada_post": "canada-post",
    "china_post": "china-post",
    "australia_post": "australia-post",
    "royal_mail": "royal-mail",
    "yunexpress": "yunexpress",
    "dpd": "dpd",
    "purolator": "purolator",
    "ontrac": "ontrac",
    "lasership": "lasership",
}
_SLUG_CARRIERS: Mapping[str, str] = {slug: code for code, slug in SLUGS.items()}


def carrier_from_slug(slug: str) -> str:
    """Our catalogue code for an AfterShip slug, or "" when it is not in the table."""
    return _SLUG_CARRIERS.get(slug.strip().lower(), "")


_S = Status
_R = IncidentReason

TAG_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "Pending": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit": (_S.IN_TRANSIT, None),
    "OutForDelivery": (_S.OUT_FOR_DELIVERY, None),
    "AvailableForPickup": (_S.AVAILABLE_FOR_PICKUP, None),
    "AttemptFail": (_S.DELIVERY_FAILED, _R.OTHER),
    "Delivered": (_S.DELIVERED, None),
    "Exception": (_S.EXCEPTION, _R.OTHER),
    "Expired": (_S.EXPIRED, None),
}

SUBTAG_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    **{f"Pending_00{i}": (_S.NOT_FOUND, None) for i in range(1, 7)},
    "InfoReceived_001": (_S.INFO_RECEIVED, None),
    **{f"InTransit_{i:03d}": (_S.IN_TRANSIT, None) for i in range(1, 12)},
    "OutForDelivery_001": (_S.OUT_FOR_DELIVERY, None),
    # Before AvailableForPickup existed, "ready to pick up" lived under OutForDelivery.
    "OutForDelivery_002": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_003": (_S.OUT_FOR_DELIVERY, None),
    "OutForDelivery_004": (_S.OUT_FOR_DELIVERY, None),
    "AvailableForPickup_001": (_S.AVAILABLE_FOR_PICKUP, None),
    "AttemptFail_001": (_S.DELIVERY_FAILED, _R.OTHER),
    "AttemptFail_002": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    "AttemptFail_003": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    **{f"Delivered_00{i}": (_S.DELIVERED, None) for i in range(1, 6)},
    "Exception_001": (_S.EXCEPTION, _R.OTHER),
    "Exception_002": (_S.EXCEPTION, _R.RECIPIENT_MOVED),
    "Exception_003": (_S.EXCEPTION, _R.REFUSED),
    "Exception_004": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_005": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_006": (_S.EXCEPTION, _R.DUTIES_DUE),
    "Exception_007": (_S.EXCEPTION, _R.ADDRESS_ISSUE),
    "Exception_008": (_S.EXCEPTION, _R.PICKUP_MISSED),
    "Exception_009": (_S.EXCEPTION, _R.REJECTED_BY_CARRIER),
    "Exception_010": (_S.EXCEPTION, _R.RETURNING),
    "Exception_011": (_S.EXCEPTION, _R.RETURNED),
    "Exception_012": (_S.EXCEPTION, _R.DAMAGED),
    "Exception_013": (_S.EXCEPTION, _R.LOST),
    "Exception_014": (_S.EXCEPTION, _R.OTHER),
    "Exception_015": (_S.EXCEPTION, _R.OTHER),
    "Exception_016": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_017": (_S.EXCEPTION, _R.WEATHER_DELAY),
    "Exception_018": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_019": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_020": (_S.EXCEPTION, _R.CANCELLED),
    "Exception_021": (_S.EXCEPTION, _R.DESTROYED),
    "Expired_001": (_S.EXPIRED, None),
}


def map_tag(tag: str, subtag: str = "") -> tuple[Status, IncidentReason | None]:
    """AfterShip tag + subtag → our status and reason; unknown subtags go by their prefix."""
    mapped = SUBTAG_MAP.get(subtag)
    if mapped is None:
        mapped = TAG_MAP.get(subtag.split("_", 1)[0]) or TAG_MAP.get(tag)
    return mapped if mapped is not None else (Status.IN_TRANSIT, None)


def create_error(code: int | None) -> TrackingError | None:
    """The per-number error of a failed create; None means it exists (fine)."""
    if code == 4003:
        return None
    if code in (4005, 4017):
        return InvalidInput(
            "That number is not in a format the carrier uses. Check it and send it again."
        )
    if code in (4010, 4011, 4012):
        return CarrierNotDetected()
    return ProviderUnavailable(provider=PROVIDER)
