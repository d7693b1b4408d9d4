"""Incidents: what went wrong with a parcel and why (what it means for the buyer and what to do
about it is the catalogue in :mod:`core.explanations`).

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
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from core.models import IncidentReason, Shipment, Status, TrackingEvent

__all__ = [
    "DELIVERY_CHECK_AFTER",
    "DELIVERY_CHECK_WINDOW",
    "DERIVED_REASONS",
    "NEVER_HANDED_OVER_AFTER",
    "NOT_YET_ACTIVE_AFTER",
    "STALE_AFTER",
    "TERMINAL_REASONS",
    "Assessment",
    "RouteClass",
    "assess",
    "delivery_check_at",
    "delivery_check_due",
    "derive",
    "derive_all",
    "find_loop",
    "last_scan_time",
    "never_handed_over",
    "never_handed_over_after",
    "provider_incident",
    "route_class",
    "settled_until",
    "stale_after",
]


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
    return _check_due(delivery_check_at(shipment), now)


def _check_due(due: datetime | None, now: datetime) -> bool:
    """``delivery_check_due`` given the snapshot's ``delivery_check_at``."""
    if due is None:
        return False
    return due <= now < due - DELIVERY_CHECK_AFTER + DELIVERY_CHECK_WINDOW


class Assessment(NamedTuple):
    """What one snapshot means at one moment, worked out once by ``assess``.

    The refresh pipeline assesses each new snapshot once; alerts (``core.alerts.diff``) and
    polling (``core.polling.next_check``) read this value instead of deriving again. A tuple:
    one is made per parcel of every poll, and a frozen dataclass costs twice as much to make.
    """

    at: datetime
    """The moment the snapshot was assessed (aware UTC)."""
    reasons: tuple[IncidentReason, ...]
    """Every open incident, most important first (``derive_all``)."""
    provider: IncidentReason | None
    """The carrier's own incident (``provider_incident``)."""
    last_scan: datetime | None
    """When the carrier last reported anything (``last_scan_time``)."""
    delivery_check_at: datetime | None
    """When the "did it really arrive?" follow-up becomes due (``delivery_check_at``)."""
    delivery_check_due: bool
    """Whether that follow-up is due at ``at`` (``delivery_check_due``)."""

    @property
    def incident(self) -> IncidentReason | None:
        """The open incident to show (``derive``)."""
        return self.reasons[0] if self.reasons else None


def assess(shipment: Shipment, now: datetime) -> Assessment:
    """Everything ``shipment`` means at ``now``, each part derived once (see ``Assessment``)."""
    provider = provider_incident(shipment)
    last_scan = last_scan_time(shipment)
    check = delivery_check_at(shipment)
    return Assessment(
        at=now,
        reasons=_reasons(shipment, now, provider, last_scan),
        provider=provider,
        last_scan=last_scan,
        delivery_check_at=check,
        delivery_check_due=_check_due(check, now),
    )


def derive_all(shipment: Shipment, now: datetime) -> tuple[IncidentReason, ...]:
    """Every open incident, most important first: the provider's, then late, not yet active,
    stale, loop. Empty for delivered and expired parcels."""
    if shipment.status in (Status.DELIVERED, Status.EXPIRED):
        return ()
    last = last_scan_time(shipment) if shipment.status in _MOVING else None
    return _reasons(shipment, now, provider_incident(shipment), last)


def _reasons(
    shipment: Shipment,
    now: datetime,
    provider: IncidentReason | None,
    last_scan: datetime | None,
) -> tuple[IncidentReason, ...]:
    """``derive_all`` given the snapshot's ``provider_incident`` and ``last_scan_time``."""
    if shipment.status in (Status.DELIVERED, Status.EXPIRED):
        return ()
    reasons: list[IncidentReason] = []
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
        if last_scan is not None and now - last_scan >= stale_after(shipment):
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
