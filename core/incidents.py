"""Incidents: what went wrong with a parcel, why, and what the buyer should do about it.

Two kinds share ``IncidentReason``:

- **provider incidents** come with the carrier's data: the reason on the latest event while the
  parcel is in ``exception`` or ``delivery_failed`` (failed attempt, address issue, customs…);
- **derived incidents** are worked out here from the timeline and the clock:

  ================  ===========================================================================
  not_yet_active    ``not_found`` / ``info_received`` (label created, no carrier scan) for
                    48 h or more since the number was first seen
  late              not delivered and ``now`` is past ``eta.latest`` or past ``promised_by``
  stale             in transit / out for delivery and no new scan for the route's threshold
                    (``STALE_AFTER``, from ``route_class``)
  loop              the latest located scan is at a facility the parcel had already left
                    (A → B → A), with only in-transit scans in between
  ================  ===========================================================================

The age thresholds are "at or past": a label exactly 48 h old is not yet active, one a second
younger is not. A deadline is passed only after it: ``late`` starts a moment after
``eta.latest``. When several apply, ``derive`` picks the provider's incident, then late, not
yet active, stale, loop; ``derive_all`` lists them all. All functions are pure; ``now`` is
always passed in (aware UTC).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from core.models import IncidentReason, Shipment, Status, TrackingEvent

__all__ = [
    "DELIVERY_CHECK_AFTER",
    "DELIVERY_CHECK_WINDOW",
    "DERIVED_REASONS",
    "NEVER_HANDED_OVER_AFTER",
    "NOT_YET_ACTIVE_AFTER",
    "STALE_AFTER",
    "TERMINAL_REASONS",
    "Contact",
    "Explanation",
    "RouteClass",
    "delivery_check_at",
    "delivery_check_due",
    "derive",
    "derive_all",
    "explain",
    "explain_code",
    "explain_status",
    "find_loop",
    "known_codes",
    "last_scan_time",
    "never_handed_over",
    "never_handed_over_after",
    "provider_incident",
    "route_class",
    "settled_until",
    "stale_after",
]

Contact = Literal["carrier", "seller", "none"]


class RouteClass(StrEnum):
    """How far a parcel travels, which sets how long a quiet spell is normal."""

    DOMESTIC = "domestic"
    REGIONAL = "regional"
    CROSS_BORDER = "cross_border"
    LONG_HAUL = "long_haul"
    UNKNOWN = "unknown"


NOT_YET_ACTIVE_AFTER = timedelta(hours=48)
"""A label with no carrier scan this long after the number was first seen is an incident."""

NEVER_HANDED_OVER_AFTER: Mapping[RouteClass, timedelta] = {
    # Sellers are asked to ship within 1–3 working days; a label still unscanned after a
    # week (more where the first scan happens abroad) was most likely never handed over.
    RouteClass.DOMESTIC: timedelta(days=6),
    RouteClass.REGIONAL: timedelta(days=7),
    RouteClass.CROSS_BORDER: timedelta(days=8),
    RouteClass.LONG_HAUL: timedelta(days=10),
    RouteClass.UNKNOWN: timedelta(days=7),
}
"""How long a label may stay unscanned before the parcel counts as never handed over."""

STALE_AFTER: Mapping[RouteClass, timedelta] = {
    # Carriers scan domestic parcels at least daily; four silent days is a real stall.
    RouteClass.DOMESTIC: timedelta(days=4),
    # Neighbouring countries by road (EU, North America): one border, slower hand-overs.
    RouteClass.REGIONAL: timedelta(days=6),
    RouteClass.CROSS_BORDER: timedelta(days=8),
    # Air/sea consolidation and two postal systems: a week without scans is routine.
    RouteClass.LONG_HAUL: timedelta(days=10),
    RouteClass.UNKNOWN: timedelta(days=6),
}
"""Days without a new scan before an in-transit parcel counts as stale, per route class.

Shorter than the "presumed lost" rules of thumb (7 days domestic, 20 international; see
statuses.md §7) because a stale alert is an early nudge, not a loss claim.
"""

DELIVERY_CHECK_AFTER = timedelta(hours=24)
"""How long after delivery the "did it really arrive?" follow-up becomes due."""

DELIVERY_CHECK_WINDOW = timedelta(days=7)
"""After this long, a delivery is too old to ask about (e.g. a parcel first seen late)."""

DERIVED_REASONS = frozenset(
    {
        IncidentReason.NOT_YET_ACTIVE,
        IncidentReason.NEVER_HANDED_OVER,
        IncidentReason.LATE,
        IncidentReason.STALE,
        IncidentReason.LOOP,
    }
)
"""Reasons parcelbot works out itself; every other reason comes from a provider."""

TERMINAL_REASONS = frozenset(
    {
        IncidentReason.LOST,
        IncidentReason.DESTROYED,
        IncidentReason.RETURNED,
        IncidentReason.CANCELLED,
    }
)
"""Provider incidents after which the carrier will not move the parcel again."""

# Carriers that almost only carry cross-border e-commerce parcels from Asia; a code is the
# catalogue's carrier code (lower-case). Used only when origin/destination are unknown.
_LONG_HAUL_CARRIERS = frozenset(
    {
        "cainiao",
        "yanwen",
        "yunexpress",
        "4px",
        "china-post",
        "china-ems",
        "sunyou",
        "cne",
        "ubi",
        "wanb",
        "jt-international",
        "aliexpress",
    }
)

# Carriers whose tracking numbers almost always mean a single-country journey.
_DOMESTIC_CARRIERS = frozenset(
    {
        "usps",
        "royal-mail",
        "evri",
        "deutsche-post",
        "colissimo",
        "poste-italiane",
        "correos",
        "canada-post",
        "australia-post",
        "japan-post",
        "jne",
        "jnt",
        "sicepat",
        "ninjavan",
        "lasership",
        "ontrac",
    }
)

# A coarse continent table: enough to tell a neighbouring-country trip from a long haul.
_COUNTRIES_BY_REGION: Mapping[str, str] = {
    "europe": (
        "AT BE BG CH CY CZ DE DK EE ES FI FR GB GR HR HU IE IS IT LI LT LU LV MT NL NO PL "
        "PT RO SE SI SK UK"
    ),
    "north_america": "US CA MX",
    "east_asia": "CN HK MO TW JP KR",
    "southeast_asia": "ID MY SG TH VN PH KH MM LA BN",
    "oceania": "AU NZ",
    "south_america": "BR AR CL CO PE UY",
    "south_asia": "IN PK BD LK NP",
    "middle_east": "AE SA QA KW BH OM IL TR",
}
_REGIONS: Mapping[str, str] = {
    country: region
    for region, countries in _COUNTRIES_BY_REGION.items()
    for country in countries.split()
}

# ISO 3166 alpha-3 codes some providers send (AfterShip v4 ``*_country_iso3``).
_ALPHA3: Mapping[str, str] = {
    "USA": "US",
    "CAN": "CA",
    "MEX": "MX",
    "GBR": "GB",
    "DEU": "DE",
    "FRA": "FR",
    "ITA": "IT",
    "ESP": "ES",
    "NLD": "NL",
    "BEL": "BE",
    "POL": "PL",
    "CHN": "CN",
    "HKG": "HK",
    "JPN": "JP",
    "KOR": "KR",
    "TWN": "TW",
    "IDN": "ID",
    "MYS": "MY",
    "SGP": "SG",
    "THA": "TH",
    "VNM": "VN",
    "PHL": "PH",
    "AUS": "AU",
    "NZL": "NZ",
    "BRA": "BR",
    "IND": "IN",
    "ARE": "AE",
    "SAU": "SA",
    "TUR": "TR",
}

# Statuses in which a parcel is expected to keep producing scans.
_MOVING = frozenset({Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY})
# Statuses in which the parcel has no physical carrier scan yet.
_UNSCANNED = frozenset({Status.NOT_FOUND, Status.INFO_RECEIVED})
# Statuses that cannot be "late": the parcel arrived, is waiting for the buyer, or tracking ended.
_NEVER_LATE = frozenset({Status.DELIVERED, Status.EXPIRED, Status.AVAILABLE_FOR_PICKUP})


def _country(place: str) -> str:
    """An ISO alpha-2 code from ``"US"``, ``"usa"`` or ``"Los Angeles, CA, US"``; else ""."""
    token = place.strip().rsplit(",", 1)[-1].strip().upper()
    if len(token) == 3 and token in _ALPHA3:
        return _ALPHA3[token]
    return token if len(token) == 2 and token.isalpha() else ""


def route_class(shipment: Shipment) -> RouteClass:
    """Classify the journey from origin/destination countries, else from the carrier.

    Same country → domestic; same continent → regional; different continents → long haul
    (one side unknown to the table → cross-border). Without both countries the carrier code
    decides (known cross-border consolidators → long haul, domestic posts → domestic).
    """
    return _route_class(shipment.origin, shipment.destination, shipment.carrier)


# Every poll asks this several times per parcel, and parcels share few places and carriers.
@functools.lru_cache(maxsize=4096)
def _route_class(origin_place: str, destination_place: str, carrier_code: str) -> RouteClass:
    origin, destination = _country(origin_place), _country(destination_place)
    if origin and destination:
        if origin == destination:
            return RouteClass.DOMESTIC
        origin_region, destination_region = _REGIONS.get(origin), _REGIONS.get(destination)
        if origin_region is None or destination_region is None:
            return RouteClass.CROSS_BORDER
        if origin_region == destination_region:
            return RouteClass.REGIONAL
        return RouteClass.LONG_HAUL
    carrier = carrier_code.strip().lower()
    if carrier in _LONG_HAUL_CARRIERS:
        return RouteClass.LONG_HAUL
    if carrier in _DOMESTIC_CARRIERS:
        return RouteClass.DOMESTIC
    return RouteClass.UNKNOWN


def never_handed_over_after(shipment: Shipment) -> timedelta:
    """How long a label may stay unscanned before the parcel counts as never handed over."""
    return NEVER_HANDED_OVER_AFTER[route_class(shipment)]


def never_handed_over(shipment: Shipment, now: datetime) -> bool:
    """True when ``shipment`` has no carrier scan long past its carrier-aware limit."""
    if shipment.status not in _UNSCANNED:
        return False
    seen = _first_seen(shipment)
    return seen is not None and now - seen >= never_handed_over_after(shipment)


def stale_after(shipment: Shipment) -> timedelta:
    """How long without a new scan before ``shipment`` counts as stale."""
    return STALE_AFTER[route_class(shipment)]


def last_scan_time(shipment: Shipment) -> datetime | None:
    """When the carrier last reported anything: the newest event, else ``shipped_at``."""
    if shipment.events:
        return max([event.time for event in shipment.events])
    return shipment.shipped_at


def _first_seen(shipment: Shipment) -> datetime | None:
    candidates = [
        moment
        for moment in (
            shipment.first_seen,
            shipment.shipped_at,
            min((event.time for event in shipment.events), default=None),
        )
        if moment is not None
    ]
    return min(candidates, default=None)


def provider_incident(shipment: Shipment) -> IncidentReason | None:
    """The carrier-reported incident while the parcel is in ``exception``/``delivery_failed``.

    The latest event's reason wins; then a provider reason already on the snapshot; else
    ``other`` (the status alone says something is wrong). None in any other status.
    """
    if shipment.status not in (Status.EXCEPTION, Status.DELIVERY_FAILED):
        return None
    for event in reversed(shipment.events):
        if event.status is shipment.status:
            if event.incident is not None and event.incident not in DERIVED_REASONS:
                return event.incident
            break
    if shipment.incident is not None and shipment.incident not in DERIVED_REASONS:
        return shipment.incident
    return IncidentReason.OTHER


# Loop detection compares every located scan's place on every poll; places repeat a lot.
@functools.lru_cache(maxsize=8192)
def _place(location: str) -> str:
    return " ".join(location.casefold().split())


def find_loop(events: tuple[TrackingEvent, ...]) -> TrackingEvent | None:
    """The scan that closes an A → B → A loop at the end of the journey so far, if any.

    Only located scans count, consecutive scans at one place are one visit, and a delivery
    step (out for delivery, failed attempt, pickup) in between means the parcel came back
    to its depot for a normal reason, which is not a loop.
    """
    # A bare country code ("US", "CHN") names no facility; counting it would turn
    # A → "US" → A into a false loop.
    located = [event for event in events if len(event.location.strip()) > 3]
    if not located:
        return None
    latest = located[-1]
    here = _place(latest.location)
    # Walk back over the current visit, then look for an earlier visit to the same place.
    index = len(located) - 1
    while index >= 0 and _place(located[index].location) == here:
        index -= 1
    visit_start = index + 1
    if located[visit_start].status is not Status.IN_TRANSIT:
        return None
    left_for_elsewhere = False
    while index >= 0:
        event = located[index]
        if event.status is not Status.IN_TRANSIT:
            return None
        if _place(event.location) == here:
            return located[visit_start] if left_for_elsewhere else None
        left_for_elsewhere = True
        index -= 1
    return None


def delivery_check_at(shipment: Shipment) -> datetime | None:
    """When the "did it really arrive?" follow-up becomes due; None unless delivered.

    Counted from ``delivered_at``, else from the newest delivered scan.
    """
    if shipment.status is not Status.DELIVERED:
        return None
    delivered = shipment.delivered_at
    if delivered is None:
        delivered = max(
            (event.time for event in shipment.events if event.status is Status.DELIVERED),
            default=None,
        )
    return None if delivered is None else delivered + DELIVERY_CHECK_AFTER


def delivery_check_due(shipment: Shipment, now: datetime) -> bool:
    """True from a day after delivery until a week after it (see ``DELIVERY_CHECK_*``)."""
    due = delivery_check_at(shipment)
    if due is None:
        return False
    return due <= now < due - DELIVERY_CHECK_AFTER + DELIVERY_CHECK_WINDOW


def derive_all(shipment: Shipment, now: datetime) -> tuple[IncidentReason, ...]:
    """Every open incident, most important first: the provider's, then late, not yet active,
    stale, loop. Empty for delivered and expired parcels."""
    if shipment.status in (Status.DELIVERED, Status.EXPIRED):
        return ()
    reasons: list[IncidentReason] = []
    provider = provider_incident(shipment)
    if provider is not None:
        reasons.append(provider)
        if provider in TERMINAL_REASONS:
            return tuple(reasons)
    if shipment.status not in _NEVER_LATE:
        eta, promised_by = shipment.eta, shipment.promised_by
        if (eta is not None and now > eta.latest) or (
            promised_by is not None and now > promised_by
        ):
            reasons.append(IncidentReason.LATE)
    if shipment.status in _UNSCANNED:
        seen = _first_seen(shipment)
        if seen is not None and now - seen >= never_handed_over_after(shipment):
            reasons.append(IncidentReason.NEVER_HANDED_OVER)
        elif seen is not None and now - seen >= NOT_YET_ACTIVE_AFTER:
            reasons.append(IncidentReason.NOT_YET_ACTIVE)
    if shipment.status in _MOVING:
        last = last_scan_time(shipment)
        if last is not None and now - last >= stale_after(shipment):
            reasons.append(IncidentReason.STALE)
        if find_loop(shipment.events) is not None:
            reasons.append(IncidentReason.LOOP)
    return tuple(reasons)


def settled_until(shipment: Shipment, since: datetime) -> datetime | None:
    """How long the clock alone changes nothing about ``shipment``: ``derive_all(shipment, t)``
    and ``delivery_check_due(shipment, t)`` are the same for every ``t`` from ``since`` up to
    (not including) the returned moment; None when they stay the same for ever after.

    Every time-based threshold at or after ``since`` ends the span (late: ``eta.latest`` and
    ``promised_by``; not yet active; stale; the delivery check's start and end), whether or
    not it applies to the parcel's status: a span cut short only costs a fresh derivation.
    """
    moments: list[datetime] = []
    if shipment.eta is not None:
        moments.append(shipment.eta.latest)
    if shipment.promised_by is not None:
        moments.append(shipment.promised_by)
    if shipment.status in _UNSCANNED:
        seen = _first_seen(shipment)
        if seen is not None:
            moments.append(seen + NOT_YET_ACTIVE_AFTER)
            moments.append(seen + never_handed_over_after(shipment))
    if shipment.status in _MOVING:
        last = last_scan_time(shipment)
        if last is not None:
            moments.append(last + stale_after(shipment))
    check = delivery_check_at(shipment)
    if check is not None:
        moments.append(check)
        moments.append(check - DELIVERY_CHECK_AFTER + DELIVERY_CHECK_WINDOW)
    return min((moment for moment in moments if moment >= since), default=None)


def derive(shipment: Shipment, now: datetime) -> IncidentReason | None:
    """The open incident to show: the provider's when there is one, else the most important
    derived one (late, not yet active, stale, loop), else None."""
    reasons = derive_all(shipment, now)
    return reasons[0] if reasons else None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Plain-language meaning of a status or incident and what the buyer can do.

    ``contact`` says who can actually help: the carrier (it has the parcel), the seller (it
    holds the contract with the carrier and can open a claim or resend), or nobody yet.
    """

    title: str
    what_happened: str
    next_steps: tuple[str, ...]
    contact: Contact


_REASONS: Mapping[IncidentReason, Explanation] = {
    IncidentReason.ADDRESS_ISSUE: Explanation(
        "Address problem",
        "The carrier could not deliver because the address looks wrong or incomplete.",
        (
            "Check the delivery address in your order (house number, flat, postcode).",
            "Contact the carrier with your tracking number and the correct address.",
            "If the address in the order is wrong, ask the seller to update it with the carrier.",
        ),
        "carrier",
    ),
    IncidentReason.RECIPIENT_UNAVAILABLE: Explanation(
        "Nobody was home",
        "The driver tried to deliver but nobody could receive the parcel.",
        (
            "Look for a card or message from the carrier with the next step.",
            "Most carriers try again the next working day; you can often pick a day or a "
            "pickup point on the carrier's site.",
            "Have your tracking number and ID ready if you collect it in person.",
        ),
        "carrier",
    ),
    IncidentReason.REFUSED: Explanation(
        "Delivery refused",
        "The parcel was refused at the door and will usually go back to the seller.",
        (
            "If you did not mean to refuse it, contact the carrier at once to redeliver.",
            "If you refused it on purpose, ask the seller about your refund.",
        ),
        "carrier",
    ),
    IncidentReason.DAMAGED: Explanation(
        "Parcel damaged",
        "The carrier reports that the parcel was damaged on the way.",
        (
            "If it reaches you, take photos of the box and the contents before opening further.",
            "Keep all packaging and labels: claims need them.",
            "Report it to the seller within their return window; they claim from the carrier.",
        ),
        "seller",
    ),
    IncidentReason.LOST: Explanation(
        "Parcel lost",
        "The carrier reports that it has lost the parcel.",
        (
            "Contact the seller: they shipped it and can resend or refund.",
            "Keep your order number and this tracking history as evidence.",
            "If the seller does not help, open a dispute with the shop or your payment provider.",
        ),
        "seller",
    ),
    IncidentReason.DESTROYED: Explanation(
        "Parcel destroyed",
        "The parcel could not be delivered or returned and was disposed of by the carrier.",
        (
            "Contact the seller for a refund or a replacement.",
            "Keep your order number and this tracking history as evidence.",
        ),
        "seller",
    ),
    IncidentReason.CUSTOMS_HOLD: Explanation(
        "Held at customs",
        "Customs is holding the parcel, often because information or documents are missing.",
        (
            "Watch for a message from the carrier or customs asking for information.",
            "Have ready: the order confirmation, what you paid, a description of the items "
            "and your ID or tax number if your country needs one.",
            "If nothing happens for a few days, ask the seller for the customs paperwork.",
        ),
        "carrier",
    ),
    IncidentReason.DUTIES_DUE: Explanation(
        "Import duties to pay",
        "The parcel is waiting until import duties or taxes are paid.",
        (
            "Look for a payment request from the carrier; pay only through its official "
            "site or app.",
            "Have ready: your tracking number and the amount shown on the notice.",
            "If the seller promised duties were included, ask the seller to settle them.",
        ),
        "carrier",
    ),
    IncidentReason.WEATHER_DELAY: Explanation(
        "Delayed by weather",
        "Bad weather is slowing the carrier down; the parcel is safe but will be late.",
        ("No action needed; it should move again within a few days.",),
        "none",
    ),
    IncidentReason.CARRIER_DELAY: Explanation(
        "Carrier delay",
        "The carrier reports a delay in its network (volume, missed flight, processing).",
        (
            "No action needed yet; delays like this usually clear within a few days.",
            "If it does not move for a week, contact the seller.",
        ),
        "none",
    ),
    IncidentReason.REJECTED_BY_CARRIER: Explanation(
        "Rejected by the carrier",
        "The carrier would not take the parcel as it was sent (packaging, contents or paperwork).",
        ("Contact the seller: they have to fix the shipment and send it again.",),
        "seller",
    ),
    IncidentReason.PICKUP_MISSED: Explanation(
        "Not collected in time",
        "The parcel waited at the pickup point but was not collected before the deadline.",
        (
            "Contact the carrier quickly: it may still be held for a short time.",
            "If it is already going back, ask the seller to resend or refund.",
        ),
        "carrier",
    ),
    IncidentReason.RECIPIENT_MOVED: Explanation(
        "Recipient moved",
        "The carrier reports that the recipient no longer lives at the address.",
        (
            "Check the address in your order.",
            "Contact the carrier to redirect the parcel, or the seller if it cannot be redirected.",
        ),
        "carrier",
    ),
    IncidentReason.CANCELLED: Explanation(
        "Shipment cancelled",
        "The shipment was cancelled and will not be delivered.",
        ("Contact the seller to find out why and to get a refund or a new shipment.",),
        "seller",
    ),
    IncidentReason.RETURNING: Explanation(
        "Going back to the seller",
        "The parcel is on its way back to the seller.",
        (
            "If you still want it, contact the carrier at once: sometimes the return can be "
            "stopped.",
            "Otherwise ask the seller for a refund or a resend once it arrives back.",
        ),
        "carrier",
    ),
    IncidentReason.RETURNED: Explanation(
        "Returned to the seller",
        "The parcel arrived back at the seller.",
        ("Contact the seller for a refund or to have it sent again.",),
        "seller",
    ),
    IncidentReason.STALE: Explanation(
        "No updates for a while",
        "The carrier has not scanned the parcel for longer than usual for this route.",
        (
            "Contact the seller first: they can ask the carrier to trace the parcel.",
            "If the seller cannot help, contact the carrier with your tracking number.",
            "Keep this tracking history: it helps if you need a refund.",
        ),
        "seller",
    ),
    IncidentReason.LATE: Explanation(
        "Running late",
        "The parcel has not arrived by the latest expected date.",
        (
            "Check the timeline: late parcels often still arrive within a few days.",
            "Contact the seller if it was promised by a date; they can chase the carrier.",
        ),
        "seller",
    ),
    IncidentReason.NOT_YET_ACTIVE: Explanation(
        "Not scanned by the carrier yet",
        "A shipping label exists, but the carrier has not scanned the parcel for two days.",
        (
            "Tracking usually starts within 48 hours after the seller ships.",
            "If it still shows nothing, contact the seller: the parcel may not have been "
            "handed over yet.",
        ),
        "seller",
    ),
    IncidentReason.NEVER_HANDED_OVER: Explanation(
        "Probably never handed to the carrier",
        "A shipping label exists, but the carrier has never scanned the parcel: it was "
        "probably never handed to the carrier.",
        (
            "Ask the seller to ship it or refund you.",
            "Keep your order number and this message for the claim (/report).",
        ),
        "seller",
    ),
    IncidentReason.LOOP: Explanation(
        "Sent back to an earlier stop",
        "The parcel was scanned again at a facility it had already left, which usually means "
        "it was mis-sorted.",
        (
            "No action needed yet; carriers usually re-route it within a day or two.",
            "If it loops again or stops moving, contact the carrier.",
        ),
        "none",
    ),
    IncidentReason.OTHER: Explanation(
        "Delivery problem",
        "The carrier reports a problem with this parcel.",
        (
            "Open the timeline to read the carrier's own words.",
            "Contact the carrier with your tracking number for details.",
        ),
        "carrier",
    ),
}

_STATUSES: Mapping[Status, Explanation] = {
    Status.NOT_FOUND: Explanation(
        "Not found yet",
        "The carrier has no information about this number yet.",
        (
            "New labels often take up to 48 hours to appear; check back later.",
            "Make sure the number and carrier are right.",
            "If it still shows nothing after two days, ask the seller to confirm the number.",
        ),
        "none",
    ),
    Status.INFO_RECEIVED: Explanation(
        "Label created",
        "The seller created a shipping label; the carrier has not picked the parcel up yet.",
        (
            "Wait up to 48 hours for the first carrier scan.",
            "If nothing moves after that, contact the seller.",
        ),
        "none",
    ),
    Status.IN_TRANSIT: Explanation(
        "In transit",
        "The carrier has the parcel and it is on its way.",
        (
            "No action needed; you will hear when it is out for delivery.",
            "If it shows no updates for many days, contact the seller, then the carrier.",
        ),
        "none",
    ),
    Status.OUT_FOR_DELIVERY: Explanation(
        "Out for delivery",
        "The parcel is on the delivery vehicle and should arrive today.",
        ("Make sure someone can receive it, or that a safe place is available.",),
        "none",
    ),
    Status.AVAILABLE_FOR_PICKUP: Explanation(
        "Ready for pickup",
        "The parcel is waiting for you at a pickup point or locker.",
        (
            "Collect it before the deadline on the carrier's notice, or it goes back.",
            "Bring your ID and the tracking number or pickup code.",
        ),
        "none",
    ),
    Status.DELIVERY_FAILED: Explanation(
        "Delivery attempt failed",
        "The carrier tried to deliver but could not.",
        (
            "Look for a card or message from the carrier with the reason.",
            "Most carriers try again; you can often choose a new day or a pickup point.",
        ),
        "carrier",
    ),
    Status.EXCEPTION: Explanation(
        "Problem with the parcel",
        "Something is holding the parcel up (customs, address, damage, a return…).",
        (
            "Open the timeline or /explain the reason shown for specific next steps.",
            "Contact the carrier with your tracking number if it is unclear.",
        ),
        "carrier",
    ),
    Status.DELIVERED: Explanation(
        "Delivered",
        "The carrier says the parcel was delivered.",
        (
            "Not there? Check around your door, with neighbours and your building's "
            "reception or mailroom.",
            "Still missing after a day: report it to the seller and ask the carrier for "
            "proof of delivery.",
            "Keep the tracking history; it is evidence for a claim.",
        ),
        "none",
    ),
    Status.EXPIRED: Explanation(
        "Tracking expired",
        "Tracking stopped without the parcel being delivered.",
        (
            "Contact the seller: they can ask the carrier what happened.",
            "Keep your order number and this tracking history for a refund claim.",
        ),
        "seller",
    ),
}

_ALIASES: Mapping[str, Status | IncidentReason] = {
    "pending": Status.NOT_FOUND,
    "label_created": Status.INFO_RECEIVED,
    "pre_transit": Status.INFO_RECEIVED,
    "transit": Status.IN_TRANSIT,
    "shipped": Status.IN_TRANSIT,
    "ofd": Status.OUT_FOR_DELIVERY,
    "pickup": Status.AVAILABLE_FOR_PICKUP,
    "pick_up": Status.AVAILABLE_FOR_PICKUP,
    "ready_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "attempt_fail": Status.DELIVERY_FAILED,
    "attempt_failed": Status.DELIVERY_FAILED,
    "failed_attempt": Status.DELIVERY_FAILED,
    "delivery_failure": Status.DELIVERY_FAILED,
    "delivery_attempt_failed": Status.DELIVERY_FAILED,
    "undelivered": Status.DELIVERY_FAILED,
    "problem": Status.EXCEPTION,
    "alert": Status.EXCEPTION,
    "tracking_expired": Status.EXPIRED,
    "not_received": Status.DELIVERED,
    "delivered_not_received": Status.DELIVERED,
    "delivered_but_not_received": Status.DELIVERED,
    "address": IncidentReason.ADDRESS_ISSUE,
    "wrong_address": IncidentReason.ADDRESS_ISSUE,
    "incorrect_address": IncidentReason.ADDRESS_ISSUE,
    "nobody_home": IncidentReason.RECIPIENT_UNAVAILABLE,
    "no_body": IncidentReason.RECIPIENT_UNAVAILABLE,
    "rejected": IncidentReason.REFUSED,
    "damage": IncidentReason.DAMAGED,
    "disposed": IncidentReason.DESTROYED,
    "customs": IncidentReason.CUSTOMS_HOLD,
    "duties": IncidentReason.DUTIES_DUE,
    "duty": IncidentReason.DUTIES_DUE,
    "taxes": IncidentReason.DUTIES_DUE,
    "held_for_payment": IncidentReason.DUTIES_DUE,
    "weather": IncidentReason.WEATHER_DELAY,
    "delayed": IncidentReason.CARRIER_DELAY,
    "delay": IncidentReason.CARRIER_DELAY,
    "cancel": IncidentReason.CANCELLED,
    "canceled": IncidentReason.CANCELLED,
    "return": IncidentReason.RETURNING,
    "returning_to_sender": IncidentReason.RETURNING,
    "returned_to_sender": IncidentReason.RETURNED,
    "stuck": IncidentReason.STALE,
    "no_updates": IncidentReason.STALE,
    "not_moving": IncidentReason.STALE,
    "overdue": IncidentReason.LATE,
    "not_active": IncidentReason.NOT_YET_ACTIVE,
    "not_yet_scanned": IncidentReason.NOT_YET_ACTIVE,
    "inactive": IncidentReason.NOT_YET_ACTIVE,
    "looping": IncidentReason.LOOP,
    "missorted": IncidentReason.LOOP,
}

_BY_CODE: Mapping[str, Status | IncidentReason] = {
    **{status.value: status for status in Status},
    **{reason.value: reason for reason in IncidentReason},
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s\-_./]+")


def explain(reason: IncidentReason) -> Explanation:
    """What an incident means and what to do next (defined for every reason)."""
    return _REASONS[reason]


def explain_status(status: Status) -> Explanation:
    """What a status means and what to do next (defined for every status)."""
    return _STATUSES[status]


def known_codes() -> tuple[str, ...]:
    """Every status and incident code ``explain_code`` knows by its canonical name."""
    return tuple(_BY_CODE)


def _normalise_code(text: str) -> str:
    # "OutForDelivery", "out-for delivery" and "OUT_FOR_DELIVERY" all read the same.
    spaced = _CAMEL_BOUNDARY.sub("_", text.strip())
    return _SEPARATORS.sub("_", spaced.casefold()).strip("_")


def explain_code(text: str) -> Explanation | None:
    """Explain a status or incident code as a user may type it, or None when unknown.

    Tolerates case, spaces, dashes, CamelCase vendor names (``InTransit``, ``AttemptFail``)
    and a few everyday words (``customs``, ``stuck``, ``not received``).
    """
    code = _normalise_code(text[:64])
    if not code:
        return None
    alias = _BY_CODE.get(code) or _ALIASES.get(code)
    if isinstance(alias, Status):
        return _STATUSES[alias]
    if isinstance(alias, IncidentReason):
        return _REASONS[alias]
    return None
