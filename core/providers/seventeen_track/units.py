"""17TRACK's vocabulary → our closed types: carrier keys, main and sub-statuses, error codes.

Pure data and functions over ``core.models`` and ``core.errors``; no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    TrackingError,
)
from core.i18n import N_
from core.models import IncidentReason, Status

__all__ = [
    "BASE_URL",
    "CARRIER_CODES",
    "MAIN_STATUS_MAP",
    "MAX_BATCH",
    "PROVIDER",
    "QUOTA_MESSAGE",
    "SUB_STATUS_MAP",
    "TAG_PREFIX",
    "carrier_from_code",
    "carrier_from_tag",
    "map_status",
    "number_error",
    "retrack_error",
]

log = logging.getLogger(__name__)

BASE_URL = "https://api.17track.net/track/v2.2"
MAX_BATCH = 40
PROVIDER = "17track"

QUOTA_MESSAGE = N_(
    "The tracking service has no quota left for new parcels, so this number cannot be added "
    "yet. The bot's operator has been told."
)

# Catalogue code → 17TRACK carrier key. Unlisted carriers are registered without a key and
# 17TRACK detects them itself.
CARRIER_CODES: Mapping[str, int] = {
    "usps": 21051,
    "ups": 100002,
    "fedex": 100003,
    "dhl": 100001,
    "china_post": 3011,
    "australia_post": 1151,
    "royal_mail": 11031,
    "yunexpress": 190008,
}
_CODE_CARRIERS: Mapping[int, str] = {code: name for name, code in CARRIER_CODES.items()}


def carrier_from_code(code: object) -> str:
    """Our catalogue code for a 17TRACK carrier key, or "" when it is not in the table."""
    return _CODE_CARRIERS.get(code, "") if isinstance(code, int) else ""


_S = Status
_R = IncidentReason

MAIN_STATUS_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "NotFound": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit": (_S.IN_TRANSIT, None),
    "Expired": (_S.EXPIRED, None),
    "AvailableForPickup": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery": (_S.OUT_FOR_DELIVERY, None),
    "DeliveryFailure": (_S.DELIVERY_FAILED, _R.OTHER),
    "Delivered": (_S.DELIVERED, None),
    "Exception": (_S.EXCEPTION, _R.OTHER),
}

SUB_STATUS_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "NotFound_Other": (_S.NOT_FOUND, None),
    "NotFound_InvalidCode": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit_PickedUp": (_S.IN_TRANSIT, None),
    "InTransit_Other": (_S.IN_TRANSIT, None),
    "InTransit_Departure": (_S.IN_TRANSIT, None),
    "InTransit_Arrival": (_S.IN_TRANSIT, None),
    "InTransit_CustomsProcessing": (_S.IN_TRANSIT, None),
    "InTransit_CustomsReleased": (_S.IN_TRANSIT, None),
    "InTransit_CustomsRequiringInformation": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Expired_Other": (_S.EXPIRED, None),
    "AvailableForPickup_Other": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_Other": (_S.OUT_FOR_DELIVERY, None),
    "DeliveryFailure_Other": (_S.DELIVERY_FAILED, _R.OTHER),
    "DeliveryFailure_NoBody": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    "DeliveryFailure_Security": (_S.DELIVERY_FAILED, _R.CUSTOMS_HOLD),
    "DeliveryFailure_Rejected": (_S.DELIVERY_FAILED, _R.REFUSED),
    "DeliveryFailure_InvalidAddress": (_S.DELIVERY_FAILED, _R.ADDRESS_ISSUE),
    "Delivered_Other": (_S.DELIVERED, None),
    "Exception_Other": (_S.EXCEPTION, _R.OTHER),
    "Exception_Returning": (_S.EXCEPTION, _R.RETURNING),
    "Exception_Returned": (_S.EXCEPTION, _R.RETURNED),
    "Exception_NoBody": (_S.EXCEPTION, _R.RECIPIENT_UNAVAILABLE),
    "Exception_Security": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_Damage": (_S.EXCEPTION, _R.DAMAGED),
    "Exception_Lost": (_S.EXCEPTION, _R.LOST),
    "Exception_Rejected": (_S.EXCEPTION, _R.REFUSED),
    "Exception_Delayed": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_Destroyed": (_S.EXCEPTION, _R.DESTROYED),
    "Exception_Cancel": (_S.EXCEPTION, _R.CANCELLED),
}

# "*_Security" covers customs holds and unpaid fees alike; the scan text tells them apart.
_FEES = re.compile(r"\b(fee|fees|duty|duties|tax|taxes|payment|pay|charges?)\b", re.I)


def map_status(
    status: str, sub_status: str = "", text: str = ""
) -> tuple[Status, IncidentReason | None]:
    """17TRACK main status + sub-status → our status and incident reason.

    The sub-status wins; an unknown sub-status falls back to its prefix, then to the main
    status, then to in-transit (a scan exists, so the parcel is somewhere).
    """
    mapped = SUB_STATUS_MAP.get(sub_status)
    if mapped is None:
        prefix = sub_status.split("_", 1)[0]
        mapped = MAIN_STATUS_MAP.get(prefix) or MAIN_STATUS_MAP.get(status)
    if mapped is None:
        return Status.IN_TRANSIT, None
    state, reason = mapped
    if sub_status.endswith("_Security") and _FEES.search(text):
        reason = IncidentReason.DUTIES_DUE
    return state, reason


TAG_PREFIX = "pb:"


def carrier_from_tag(tag: str) -> str:
    """Our carrier code from a tag we set at registration, or ""."""
    return tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else ""


# Per-number rejection codes (providers.md §2).
ALREADY_REGISTERED = -18019901
NOT_REGISTERED = -18019902
NO_INFO_YET = -18019909
QUOTA_EXHAUSTED = -18019908
DAILY_LIMIT = -18019907
AUTH_CODES = frozenset({-18010001, -18010002})


def number_error(code: object, message: str = "") -> TrackingError | None:
    """The error for one rejected number; None when the number is fine but has no data yet."""
    if code in (ALREADY_REGISTERED, NO_INFO_YET):
        return None
    if code == -18010012:
        return InvalidInput(
            "That number is not in a format the carrier uses. Check it and send it again."
        )
    if code in (-18019903, -18019910):
        return CarrierNotDetected()
    if code == QUOTA_EXHAUSTED:
        return ProviderAuthError(QUOTA_MESSAGE, provider=PROVIDER)
    if code == DAILY_LIMIT:
        return RateLimited(
            "The tracking service's daily limit for new parcels is reached. Please try again "
            "tomorrow.",
            provider=PROVIDER,
            retry_after=3600.0,
        )
    if code in AUTH_CODES:
        return ProviderAuthError(provider=PROVIDER)
    log.info("%s rejected a number with code %s", PROVIDER, code)
    return ProviderUnavailable(provider=PROVIDER)


RETRACK_REFUSED = frozenset({-18019904, -18019905})


def retrack_error(code: object, message: str = "") -> TrackingError | None:
    """The error for a number ``retrack`` rejected; None when it is being tracked anyway."""
    if code in RETRACK_REFUSED:
        # The restart rules (one restart per number, only stopped numbers) said no.
        return ProviderError(provider=PROVIDER)
    return number_error(code, message)
