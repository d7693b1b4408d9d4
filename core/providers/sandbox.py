"""The sandbox carrier and shop: simulated parcels and orders, so parcelbot works with no keys.

Every tracking number gets a **journey** chosen from its characters (``scenario_of``): a fixed
list of carrier scans, each at an offset from the journey's start. The journey starts at
``TrackRequest.first_seen``, or, when that is None, the first time the provider instance sees
the number. A scan is visible once ``start + offset / speed`` has passed on the clock, so
``speed=1440`` plays a virtual day in one real minute. The same number, carrier, start and
clock always give the same ``Shipment``.

Scenarios and where they end (virtual time from the start, when the label is created)::

    not_yet_active           label created, never scanned          info_received, no incident
    normal                   ~3.6 days                              delivered, photo
    out_for_delivery_signed  ~2.1 days                              delivered, signature (name)
    left_at_door             ~3.3 days                              delivered, left at front door
    failed_attempt           receiver out once, ~4.1 days           delivered, to a neighbour
    weather_delay            storm hold at a hub, ~5.4 days         delivered, photo
    address_issue            address incomplete, fixed, ~4.6 days   delivered, signature
    customs_duties           customs hold, duties due, ~7.8 days    delivered, signature
    pickup_point             held at a pickup point, ~4.9 days      delivered, collected
    returned                 refused, returned, ~7.3 days           exception: returned
    lost                     scans stop ~1 day in, ~8.5 days        exception: lost

``address_issue`` is resolved: the receiver corrects the address and the parcel is delivered,
so it shows an incident that opens (exception) and closes again (back in transit).

Test triggers (documented so demos can show the error paths):

- a number containing ``ERR`` (after normalisation) is reported as not found: its request
  lands in ``TrackBatch.errors`` as ``ShipmentNotFound`` while the rest of the batch succeeds
  (``SAMPLE_NOT_FOUND`` is such a number with a valid UPS check digit);
- ``SandboxProvider.unavailable = True`` makes the whole source fail with
  ``ProviderUnavailable`` until it is set back to False (likewise for ``SandboxShop``).

``SAMPLES`` holds a UPS, a USPS and a FedEx number with a valid check digit for every
scenario; ``SAMPLE_NUMBERS`` is the UPS one. ``SAMPLE_ORDERS`` are sandbox shop orders.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from core.budgets import SANDBOX_MEMO_BYTES, entries
from core.carriers import normalise
from core.cooperative import Breather
from core.errors import ProviderUnavailable, ShipmentNotFound
from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    Order,
    OrderId,
    OrderStatus,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    ShipmentKey,
    Status,
    TrackBatch,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)

if TYPE_CHECKING:
    # Only the Clock protocol's shape is needed; importing ports at run time would pull in
    # the reply layer for nothing.
    from core.ports import Clock

__all__ = [
    "ERROR_TRIGGER",
    "SAMPLES",
    "SAMPLE_NOT_FOUND",
    "SAMPLE_NUMBERS",
    "SAMPLE_ORDERS",
    "Journey",
    "SandboxOrder",
    "SandboxParcel",
    "SandboxProvider",
    "SandboxShop",
    "Scenario",
    "Step",
    "build_order",
    "build_shipment",
    "journey",
    "scenario_of",
]

logger = logging.getLogger(__name__)

_PROVIDER = "sandbox"

ERROR_TRIGGER = "ERR"
"""A number containing this text is reported as not found by the sandbox carrier."""


class Scenario(StrEnum):
    """The journeys a sandbox parcel can take (see the module docstring for end states)."""

    NOT_YET_ACTIVE = "not_yet_active"
    NORMAL = "normal"
    OUT_FOR_DELIVERY_SIGNED = "out_for_delivery_signed"
    LEFT_AT_DOOR = "left_at_door"
    FAILED_ATTEMPT = "failed_attempt"
    WEATHER_DELAY = "weather_delay"
    ADDRESS_ISSUE = "address_issue"
    CUSTOMS_DUTIES = "customs_duties"
    PICKUP_POINT = "pickup_point"
    RETURNED = "returned"
    LOST = "lost"


_SCENARIOS = tuple(Scenario)


def _digest(number: str) -> bytes:
    # An unkeyed digest: stable across processes and Python versions,
    # unlike hash(), which is randomised per process.
    return hashlib.blake2b(normalise(number).encode("utf-8"), digest_size=16).digest()


def scenario_of(number: str) -> Scenario:
    """The scenario a number plays, from a digest of its normalised form (deterministic).

    Normalised as carrier detection reads numbers (``core.carriers.normalise``), so spacing,
    dashes and case never change the scenario.
    """
    return _SCENARIOS[int.from_bytes(_digest(number)[:4], "big") % len(_SCENARIOS)]


# --- journeys ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One scan of a journey, ``at`` virtual time after the journey starts.

    ``eta`` is the carrier's expected delivery (virtual offset from the start) as known from
    this scan on, or None when the carrier shows none at this point (always None at the end).
    """

    at: timedelta
    status: Status
    description: str
    location: str = ""
    code: str = ""
    incident: IncidentReason | None = None
    proof: ProofOfDelivery | None = None
    eta: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """A number's whole simulated life: its scenario, route and every scan, oldest first."""

    scenario: Scenario
    origin: str
    destination: str
    steps: tuple[Step, ...]

    @property
    def duration(self) -> timedelta:
        """Virtual time from the start to the last scan."""
        return self.steps[-1].at


_CITIES = (
    "Austin, TX",
    "Portland, OR",
    "Columbus, OH",
    "Raleigh, NC",
    "Denver, CO",
    "Phoenix, AZ",
    "Nashville, TN",
    "Salt Lake City, UT",
    "Madison, WI",
    "Albany, NY",
    "Richmond, VA",
    "Boise, ID",
    "Tucson, AZ",
    "Omaha, NE",
    "Spokane, WA",
    "Savannah, GA",
)
_HUBS = {
    "ups": ("Louisville, KY", "Hodgkins, IL", "Ontario, CA", "Mesquite, TX"),
    "fedex": ("Memphis, TN", "Indianapolis, IN", "Fort Worth, TX", "Oakland, CA"),
    "": ("Kansas City, MO", "Jacksonville, FL", "Chicago, IL", "Philadelphia, PA"),
}
_ABROAD = ("Shenzhen, CN", "Yiwu, CN", "Ho Chi Minh City, VN", "Busan, KR", "Guadalajara, MX")
_GATEWAYS = ("Los Angeles, CA", "Newark, NJ", "Miami, FL", "Seattle, WA")
_SIGNERS = ("M. GARCIA", "J. SMITH", "A. PATEL", "K. NGUYEN", "L. JOHNSON", "R. OKAFOR")
_PICKUP_POINTS = (
    "Main Street Pharmacy",
    "Parcel Locker 14B",
    "Oak Avenue Convenience",
    "Westside Hardware",
)
_PICKED_UP = ("Picked up by the carrier", "Pickup scan", "Received at the origin facility")
_DEPARTED = ("Departed from facility", "Left the facility", "In transit to the next facility")
_ARRIVED = ("Arrived at facility", "Arrival scan", "Arrived at the sort facility")

# Per-number jitter of up to 39 minutes; template scans are >= 1 h apart, so jitter never
# changes their order.
_JITTER = tuple(timedelta(minutes=minutes) for minutes in range(40))
_FINAL_INCIDENTS = frozenset({IncidentReason.LOST, IncidentReason.RETURNED})


@dataclass(frozen=True, slots=True)
class _Row:
    """A scan in a scenario's template. ``text`` and ``detail`` may hold ``{word}`` fields;
    ``place`` names a role (origin, hub, destination, gateway) filled per number."""

    at: timedelta
    status: Status
    text: str
    place: str
    code: str
    incident: IncidentReason | None
    proof: ProofKind | None
    detail: str
    eta: timedelta | None
    templated: bool


class _Template:
    """Collects a scenario's rows; the carrier ETA set by ``eta`` carries onto later rows."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self._eta: timedelta | None = None

    def eta(self, hours: float | None) -> _Template:
        self._eta = None if hours is None else timedelta(hours=hours)
        return self

    def add(
        self,
        hours: float,
        status: Status,
        text: str,
        place: str,
        code: str,
        *,
        incident: IncidentReason | None = None,
        proof: ProofKind | None = None,
        detail: str = "",
    ) -> _Template:
        final = status is Status.DELIVERED or incident in _FINAL_INCIDENTS
        self.rows.append(
            _Row(
                at=timedelta(hours=hours),
                status=status,
                text=text,
                place=place,
                code=code,
                incident=incident,
                proof=proof,
                detail=detail,
                eta=None if final else self._eta,
                templated="{" in text or "{" in detail,
            )
        )
        return self

    def head(self) -> _Template:
        """Label, pickup, origin departure and hub arrival: how most journeys begin."""
        return (
            self.add(0, _A, _LABEL, "origin", "MP")
            .add(5, _T, "{picked_up}", "origin", "PU")
            .add(9, _T, "{departed}", "origin", "DP")
            .add(20, _T, "{arrived}", "hub", "AR")
        )

    def to_destination(self, depart_hours: float, arrive_hours: float) -> _Template:
        return self.add(depart_hours, _T, "{departed}", "hub", "DP").add(
            arrive_hours, _T, "{arrived}", "destination", "AR"
        )


_A, _T, _OFD = Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY
_EXC, _DLV = Status.EXCEPTION, Status.DELIVERED
_LABEL = "Shipping label created; the carrier has not received the parcel yet"
_SIGNED = "Delivered; signed by {signer}"
_PHOTO = "Delivered; a photo was taken at the delivery address"
_PHOTO_DETAIL = "Photo at the delivery address"

_TEMPLATES: dict[Scenario, tuple[_Row, ...]] = {
    scenario: tuple(template.rows)
    for scenario, template in {
        Scenario.NOT_YET_ACTIVE: _Template().add(0, _A, _LABEL, "origin", "MP"),
        Scenario.NORMAL: _Template()
        .eta(86)
        .head()
        .to_destination(26, 50)
        .add(62, _T, "Processing at the destination facility", "destination", "OT")
        .add(80, _OFD, "Out for delivery", "destination", "OFD")
        .add(86, _DLV, _PHOTO, "destination", "DL", proof=ProofKind.PHOTO, detail=_PHOTO_DETAIL),
        Scenario.OUT_FOR_DELIVERY_SIGNED: _Template()
        .eta(50)
        .add(0, _A, _LABEL, "origin", "MP")
        .add(3, _T, "{picked_up}", "origin", "PU")
        .add(6, _T, "{departed}", "origin", "DP")
        .add(14, _T, "{arrived}", "hub", "AR")
        .to_destination(18, 30)
        .add(44, _OFD, "Out for delivery", "destination", "OFD")
        .add(50, _DLV, _SIGNED, "destination", "DL", proof=ProofKind.SIGNATURE, detail="{signer}"),
        Scenario.LEFT_AT_DOOR: _Template()
        .eta(80)
        .head()
        .to_destination(26, 48)
        .add(74, _OFD, "Out for delivery", "destination", "OFD")
        .add(
            80,
            _DLV,
            "Delivered; left at the front door",
            "destination",
            "DL",
            proof=ProofKind.LEFT_AT_DOOR,
            detail="Front door",
        ),
        Scenario.FAILED_ATTEMPT: _Template()
        .eta(76)
        .head()
        .to_destination(26, 50)
        .add(70, _OFD, "Out for delivery", "destination", "OFD")
        .eta(99)
        .add(
            75,
            Status.DELIVERY_FAILED,
            "Delivery attempted; the receiver was not available. A notice was left",
            "destination",
            "DF",
            incident=IncidentReason.RECIPIENT_UNAVAILABLE,
        )
        .add(78, _T, "Back at the delivery facility; next attempt tomorrow", "destination", "OT")
        .add(94, _OFD, "Out for delivery", "destination", "OFD")
        .add(
            99,
            _DLV,
            "Delivered to a neighbour",
            "destination",
            "DL",
            proof=ProofKind.NEIGHBOUR,
            detail="Neighbour at the next house",
        ),
        Scenario.WEATHER_DELAY: _Template()
        .eta(80)
        .head()
        .eta(130)
        .add(
            26,
            _EXC,
            "Severe weather is delaying the trip; the parcel will move once it is safe",
            "hub",
            "WX",
            incident=IncidentReason.WEATHER_DELAY,
        )
        .to_destination(70, 96)
        .add(124, _OFD, "Out for delivery", "destination", "OFD")
        .add(130, _DLV, _PHOTO, "destination", "DL", proof=ProofKind.PHOTO, detail=_PHOTO_DETAIL),
        Scenario.ADDRESS_ISSUE: _Template()
        .eta(80)
        .head()
        .to_destination(26, 50)
        .eta(None)
        .add(
            58,
            _EXC,
            "The address is incomplete (no apartment number); the carrier is contacting the "
            "receiver",
            "destination",
            "AD",
            incident=IncidentReason.ADDRESS_ISSUE,
        )
        .eta(110)
        .add(82, _T, "Address corrected by the receiver; delivery rescheduled", "destination", "AC")
        .add(104, _OFD, "Out for delivery", "destination", "OFD")
        .add(110, _DLV, _SIGNED, "destination", "DL", proof=ProofKind.SIGNATURE, detail="{signer}"),
        Scenario.CUSTOMS_DUTIES: _Template()
        .add(0, _A, _LABEL, "origin", "MP")
        .add(10, _T, "{picked_up}", "origin", "PU")
        .add(30, _T, "Departed the origin country", "origin", "EX")
        .add(50, _T, "Arrived in the destination country", "gateway", "IM")
        .add(54, _T, "Customs clearance started", "gateway", "CC")
        .add(
            70,
            _EXC,
            "Held by customs; clearance is in progress",
            "gateway",
            "CH",
            incident=IncidentReason.CUSTOMS_HOLD,
        )
        .add(
            96,
            _EXC,
            "Import duties and taxes of {duties} are due; pay them to release the parcel",
            "gateway",
            "DU",
            incident=IncidentReason.DUTIES_DUE,
        )
        .eta(188)
        .add(140, _T, "Duties paid; released by customs", "gateway", "CR")
        .add(150, _T, "{departed}", "gateway", "DP")
        .add(170, _T, "{arrived}", "destination", "AR")
        .add(182, _OFD, "Out for delivery", "destination", "OFD")
        .add(188, _DLV, _SIGNED, "destination", "DL", proof=ProofKind.SIGNATURE, detail="{signer}"),
        Scenario.PICKUP_POINT: _Template()
        .head()
        .to_destination(26, 50)
        .add(62, _T, "Sent to the pickup point {point}", "destination", "OT")
        .add(
            70,
            Status.AVAILABLE_FOR_PICKUP,
            "Ready for collection at {point}; it is held there for 7 days",
            "destination",
            "PP",
        )
        .add(
            118,
            _DLV,
            "Collected by the receiver at {point}",
            "destination",
            "DL",
            proof=ProofKind.PICKUP_POINT,
            detail="{point}",
        ),
        Scenario.RETURNED: _Template()
        .head()
        .to_destination(26, 50)
        .add(80, _OFD, "Out for delivery", "destination", "OFD")
        .add(
            84,
            Status.DELIVERY_FAILED,
            "The receiver refused the delivery",
            "destination",
            "RF",
            incident=IncidentReason.REFUSED,
        )
        .add(
            90,
            _EXC,
            "Returning to the sender",
            "destination",
            "RS",
            incident=IncidentReason.RETURNING,
        )
        .add(
            112,
            _EXC,
            "Return in transit: arrived at facility",
            "hub",
            "RS",
            incident=IncidentReason.RETURNING,
        )
        .add(
            140,
            _EXC,
            "Return in transit: arrived at facility",
            "origin",
            "RS",
            incident=IncidentReason.RETURNING,
        )
        .add(176, _EXC, "Returned to the sender", "origin", "RT", incident=IncidentReason.RETURNED),
        # Scans stop after the hub; days later the carrier declares the parcel lost.
        Scenario.LOST: _Template()
        .eta(80)
        .head()
        .add(
            204,
            _EXC,
            "The carrier could not find the parcel and declared it lost; the sender can file "
            "a claim",
            "hub",
            "LS",
            incident=IncidentReason.LOST,
        ),
    }.items()
}


# Which digest byte picks each word of a description, and from which options.
_WORDS: dict[str, tuple[int, tuple[str, ...]]] = {
    "signer": (7, _SIGNERS),
    "departed": (8, _DEPARTED),
    "arrived": (9, _ARRIVED),
    "picked_up": (11, _PICKED_UP),
    "point": (15, _PICKUP_POINTS),
}


class _Plan(dict[str, str]):
    """A number's scenario and route; words and places are looked up lazily (``plan[name]``)
    because polling builds many shipments and most rows need none of them. Each one is
    worked out once per plan and then kept (``__missing__``), so ``str.format_map`` and
    place lookups find it at dictionary speed."""

    __slots__ = ("carrier", "destination", "digest", "origin", "scenario")

    def __init__(self, number: str, carrier: str) -> None:
        super().__init__()
        digest = self.digest = _digest(number)
        self.carrier = carrier.lower()
        self.scenario = _SCENARIOS[int.from_bytes(digest[:4], "big") % len(_SCENARIOS)]
        first = digest[4] % len(_CITIES)
        if self.scenario is Scenario.CUSTOMS_DUTIES:
            self.origin = _ABROAD[digest[10] % len(_ABROAD)]
        else:
            self.origin = f"{_CITIES[first]}, US"
        later = (first + 1 + digest[5] % (len(_CITIES) - 1)) % len(_CITIES)
        self.destination = f"{_CITIES[later]}, US"
        self["origin"] = self.origin
        self["destination"] = self.destination

    def __missing__(self, name: str) -> str:
        value = self[name] = self._word(name)
        return value

    def _word(self, name: str) -> str:
        digest = self.digest
        if name == "hub":
            hubs = _HUBS.get(self.carrier, _HUBS[""])
            return f"{hubs[digest[6] % len(hubs)]}, US"
        if name == "gateway":
            return f"{_GATEWAYS[digest[12] % len(_GATEWAYS)]}, US"
        if name == "duties":
            return f"USD {12 + digest[13] % 40}.{digest[14] % 100:02d}"
        slot, options = _WORDS[name]
        return options[digest[slot] % len(options)]

    def at(self, index: int, row: _Row) -> timedelta:
        """The row's virtual offset for this number (the label scan is never jittered)."""
        if index == 0:
            return row.at
        return row.at + _JITTER[(self.digest[index % 16] * (index + 3)) % 40]

    def resolve(self, row: _Row) -> tuple[str, str, ProofOfDelivery | None]:
        """The row's description, location and proof of delivery for this number."""
        return self.text(row), self[row.place], self.proof(row)

    def text(self, row: _Row) -> str:
        """The row's description for this number."""
        return row.text.format_map(self) if row.templated else row.text

    def proof(self, row: _Row) -> ProofOfDelivery | None:
        """The row's proof of delivery for this number, if it has one."""
        if row.proof is None:
            return None
        detail = row.detail.format_map(self) if row.templated else row.detail
        return ProofOfDelivery(row.proof, detail)


def journey(number: str, carrier: str = "") -> Journey:
    """The scans ``number`` goes through; places and wording vary with the number.

    ``carrier`` (a catalogue code) only picks plausible hub names. Pure and deterministic.
    """
    plan = _Plan(number, carrier)
    steps = []
    for index, row in enumerate(_TEMPLATES[plan.scenario]):
        text, location, proof = plan.resolve(row)
        at = plan.at(index, row)
        steps.append(Step(at, row.status, text, location, row.code, row.incident, proof, row.eta))
    return Journey(plan.scenario, plan.origin, plan.destination, tuple(steps))


# --- shipments ---------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    # A naive datetime is a bug elsewhere; read it as UTC rather than fail a whole batch.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_ETA_BEFORE, _ETA_AFTER = timedelta(hours=6), timedelta(hours=4)


def build_shipment(request: TrackRequest, start: datetime, now: datetime, speed: float) -> Shipment:
    """The snapshot of ``request``'s parcel at ``now`` for a journey that began at ``start``.

    Only scans whose time (``start + offset / speed``) is at or before ``now`` are included.
    Status, incident, proof, delivery time and carrier ETA come from the latest visible scan;
    ``shipped_at`` is the first physical scan. Before ``start`` the status is ``not_found``.
    Pure: same inputs, same ``Shipment`` (equal to what ``journey`` describes).
    """
    return _build(request, start, now, speed).shipment


@dataclass(frozen=True, slots=True)
class _Built:
    """A snapshot and the span of clock times for which the same scans are visible.

    The snapshot's scans are exactly those up to the first scan later than the clock, so any
    ``now`` with ``latest <= now`` (``latest``: the newest visible scan) and ``now < upcoming``
    (the first scan not yet visible; None once the journey is over) sees the same ones.
    """

    shipment: Shipment
    start: datetime
    speed: float
    latest: datetime | None
    upcoming: datetime | None

    def covers(self, start: datetime, now: datetime, speed: float) -> bool:
        """Whether ``build_shipment`` at ``now`` would give this snapshot (but its check time)."""
        latest, upcoming = self.latest, self.upcoming
        return (
            start == self.start
            and speed == self.speed
            and (latest is None or latest <= now)
            and (upcoming is None or now < upcoming)
        )


def _build(
    request: TrackRequest,
    start: datetime,
    now: datetime,
    speed: float,
    known: tuple[TrackingEvent, ...] = (),
) -> _Built:
    """``build_shipment``, plus how long its answer stays the same (see ``_Built``).

    ``known`` may hold scans an earlier call built for the same request, start and speed:
    they are reused as they are (the same objects), so unchanged scans stay identical.
    """
    raw_start = start
    start, now = _utc(start), _utc(now)
    plan = _Plan(request.number, request.carrier)
    scaled = speed != 1.0  # dividing by 1.0 gives the same timedelta; skip the work
    events: list[TrackingEvent] = []
    last: _Row | None = None
    proof: ProofOfDelivery | None = None
    shipped_at: datetime | None = None
    latest: datetime | None = None
    upcoming: datetime | None = None
    # Only the scans already visible are built: polling many parcels stays cheap. Scans
    # built before are reused as they are.
    for index, row in enumerate(_TEMPLATES[plan.scenario]):
        offset = plan.at(index, row)
        time = start + (offset / speed if scaled else offset)
        if time > now:
            upcoming = time
            break
        proof = plan.proof(row)
        if index < len(known):
            events.append(known[index])
        else:
            events.append(
                TrackingEvent(
                    time, row.status, plan.text(row), plan[row.place], row.code, row.incident
                )
            )
        if shipped_at is None and row.status is not _A:
            shipped_at = time
        if latest is None or time > latest:
            latest = time
        last = row
    eta = None
    if last is not None and last.eta is not None:
        if scaled:
            most_likely = start + last.eta / speed
            earliest = most_likely - _ETA_BEFORE / speed
            latest_eta = most_likely + _ETA_AFTER / speed
        else:
            most_likely = start + last.eta
            earliest, latest_eta = most_likely - _ETA_BEFORE, most_likely + _ETA_AFTER
        eta = Eta(earliest, latest_eta, most_likely, EtaSource.CARRIER, 0.9)
    delivered = last is not None and last.status is Status.DELIVERED
    shipment = Shipment(
        carrier=request.carrier,
        number=request.number,
        status=last.status if last is not None else Status.NOT_FOUND,
        events=tuple(events),
        eta=eta,
        checked_at=now,
        delivered_at=events[-1].time if delivered else None,
        proof=proof if delivered else None,
        incident=last.incident if last is not None else None,
        provider=_PROVIDER,
        shipped_at=shipped_at,
        first_seen=start,
        origin=plan.origin,
        destination=plan.destination,
    )
    return _Built(shipment, raw_start, speed, latest, upcoming)


# Bounds SandboxProvider's memory of recent answers (about 1,700 bytes a parcel); when full it
# starts over.
_RECENT_LIMIT = entries(SANDBOX_MEMO_BYTES, 1700)


class SandboxProvider:
    """A ``TrackingProvider`` for simulated parcels of any carrier; needs no keys or network.

    ``speed`` is virtual seconds per real second (1440: a day per minute). The start of a
    request without ``first_seen`` is remembered per instance from the first time it is seen.
    Requests whose number contains ``ERR`` come back as ``ShipmentNotFound`` in
    ``TrackBatch.errors``; setting ``unavailable`` makes ``track`` raise ``ProviderUnavailable``.
    Larger batches than ``max_batch`` are accepted too.
    """

    name = _PROVIDER
    max_batch = 100

    def __init__(self, clock: Clock, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be a positive number")
        self._clock = clock
        self.speed = speed
        self.unavailable = False
        self._first_seen: dict[ShipmentKey, datetime] = {}
        # The last answer per (carrier, number) that passed the error check.
        self._recent: dict[tuple[str, str], _Built] = {}

    def supports(self, carrier: str) -> bool:
        """Every carrier: the sandbox simulates any number."""
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Snapshots for every request; a bad number goes to ``errors``, never raises."""
        if self.unavailable:
            raise ProviderUnavailable(provider=self.name)
        now = self._clock.now()
        batch = TrackBatch()
        recent = self._recent
        speed = self.speed
        # Most polls find a parcel's visible scans unchanged: the last answer is reused (same
        # scan objects, new check time) while the clock stays within its span (``_Built``).
        reuse = now.tzinfo is UTC
        breathe = Breather()
        for request in requests:
            await breathe()
            key = request.key
            built = recent.get((request.carrier, request.number))
            if built is None:
                number = normalise(request.number)
                if not number or ERROR_TRIGGER in number:
                    batch.errors[key] = ShipmentNotFound()
                    continue
            start = request.first_seen or self._first_seen.setdefault(key, now)
            if reuse and built is not None and built.covers(start, now, speed):
                batch.shipments[key] = built.shipment.rechecked(now, _utc(start))
                continue
            known: tuple[TrackingEvent, ...] = ()
            if built is not None and built.start == start and built.speed == speed:
                known = built.shipment.events
            try:
                built = _build(request, start, now, speed, known)
            except (OverflowError, ValueError):
                # Only absurd inputs get here (a start near the end of the calendar).
                batch.errors[key] = ShipmentNotFound()
                continue
            batch.shipments[key] = built.shipment
            if len(recent) >= _RECENT_LIMIT:
                recent.clear()
            recent[request.carrier, request.number] = built
        logger.debug(
            "sandbox tracked %s parcels, %s errors", len(batch.shipments), len(batch.errors)
        )
        return batch


# --- samples -----------------------------------------------------------------------------------

# Found by counting up package ids under fixed prefixes until each scenario had a number with
# a valid check digit (tests re-check both facts). UPS: 1Z SBX123 03 <7 digits> <check>;
# USPS: 94 001 118990 <10 digits> <check>; FedEx Express: 7712 <7 digits> <check>.
_SAMPLES: dict[Scenario, dict[str, str]] = {
    Scenario.NOT_YET_ACTIVE: {
        "ups": "1ZSBX1230300000030",
        "usps": "9400111899000000000046",
        "fedex": "771200000133",
    },
    Scenario.NORMAL: {
        "ups": "1ZSBX1230300000263",
        "usps": "9400111899000000000275",
        "fedex": "771200000041",
    },
    Scenario.OUT_FOR_DELIVERY_SIGNED: {
        "ups": "1ZSBX1230300000021",
        "usps": "9400111899000000000084",
        "fedex": "771200000100",
    },
    Scenario.LEFT_AT_DOOR: {
        "ups": "1ZSBX1230300000156",
        "usps": "9400111899000000000022",
        "fedex": "771200000214",
    },
    Scenario.FAILED_ATTEMPT: {
        "ups": "1ZSBX1230300000076",
        "usps": "9400111899000000000053",
        "fedex": "771200000052",
    },
    Scenario.WEATHER_DELAY: {
        "ups": "1ZSBX1230300000012",
        "usps": "9400111899000000000015",
        "fedex": "771200000096",
    },
    Scenario.ADDRESS_ISSUE: {
        "ups": "1ZSBX1230300000343",
        "usps": "9400111899000000000039",
        "fedex": "771200000199",
    },
    Scenario.CUSTOMS_DUTIES: {
        "ups": "1ZSBX1230300000183",
        "usps": "9400111899000000000138",
        "fedex": "771200000085",
    },
    Scenario.PICKUP_POINT: {
        "ups": "1ZSBX1230300000067",
        "usps": "9400111899000000000091",
        "fedex": "771200000030",
    },
    Scenario.RETURNED: {
        "ups": "1ZSBX1230300000101",
        "usps": "9400111899000000000251",
        "fedex": "771200000020",
    },
    Scenario.LOST: {
        "ups": "1ZSBX1230300000058",
        "usps": "9400111899000000000183",
        "fedex": "771200000019",
    },
}

SAMPLES: Mapping[Scenario, Mapping[str, str]] = MappingProxyType(
    {scenario: MappingProxyType(by_carrier) for scenario, by_carrier in _SAMPLES.items()}
)
"""For every scenario, a number per carrier code (``ups``, ``usps``, ``fedex``)."""

SAMPLE_NUMBERS: Mapping[Scenario, str] = MappingProxyType(
    {scenario: by_carrier["ups"] for scenario, by_carrier in SAMPLES.items()}
)
"""One UPS number per scenario, for the README and demos."""

SAMPLE_NOT_FOUND = "1ZERR1230300000010"
"""A UPS number with a valid check digit that the sandbox reports as not found."""


# --- shop --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SandboxParcel:
    """A parcel of a sandbox order whose journey had run ``shipped_ago`` (virtual time) when
    the order was first looked up."""

    number: TrackingNumber
    carrier: str
    shipped_ago: timedelta = timedelta()


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    """A sandbox shop order. Times are virtual and relative to the order's first lookup.

    ``status`` is used while the order has no parcels; with parcels it follows them. The
    postcode and phone digits are made up, for demonstrating the ownership check.
    """

    order_id: OrderId
    status: OrderStatus
    parcels: tuple[SandboxParcel, ...]
    placed_ago: timedelta
    promised_in: timedelta
    postcode: str
    phone_last4: str


def _order(
    suffix: int,
    status: OrderStatus,
    parcels: tuple[tuple[Scenario, str, float], ...],
    placed_days_ago: float,
    promised_in_days: float,
) -> SandboxOrder:
    order_id = OrderId(f"57600000000000000{suffix}")
    return SandboxOrder(
        order_id=order_id,
        status=status,
        parcels=tuple(
            SandboxParcel(TrackingNumber(SAMPLES[scenario][carrier]), carrier, timedelta(days=ago))
            for scenario, carrier, ago in parcels
        ),
        placed_ago=timedelta(days=placed_days_ago),
        promised_in=timedelta(days=promised_in_days),
        postcode=f"0000{suffix}",
        phone_last4=f"000{suffix}",
    )


SAMPLE_ORDERS: Mapping[OrderId, SandboxOrder] = MappingProxyType(
    {
        order.order_id: order
        for order in (
            _order(1, OrderStatus.IN_TRANSIT, ((Scenario.NORMAL, "usps", 1),), 2, 5),
            _order(
                2,
                OrderStatus.IN_TRANSIT,
                (
                    (Scenario.OUT_FOR_DELIVERY_SIGNED, "fedex", 1),
                    (Scenario.LEFT_AT_DOOR, "usps", 0.5),
                ),
                2,
                4,
            ),
            _order(3, OrderStatus.IN_TRANSIT, ((Scenario.CUSTOMS_DUTIES, "fedex", 2),), 4, 10),
            _order(4, OrderStatus.AWAITING_SHIPMENT, (), 1, 6),
            _order(
                5, OrderStatus.AWAITING_COLLECTION, ((Scenario.NOT_YET_ACTIVE, "usps", 0),), 1, 6
            ),
            _order(6, OrderStatus.DELIVERED, ((Scenario.PICKUP_POINT, "usps", 6),), 8, -1),
            _order(7, OrderStatus.IN_TRANSIT, ((Scenario.WEATHER_DELAY, "fedex", 1),), 2, 3),
        )
    }
)
"""Sandbox shop orders by id (18 digits starting 57). Ids not listed are unknown to the shop.

::

    576000000000000001  one USPS parcel (normal), a day under way at the first lookup
    576000000000000002  two parcels: FedEx (signed for) and USPS (left at the door)
    576000000000000003  FedEx from abroad: customs hold, duties due, then delivered
    576000000000000004  not shipped yet: awaiting shipment, no parcels
    576000000000000005  label created but never scanned: awaiting collection
    576000000000000006  already collected at a pickup point: delivered
    576000000000000007  FedEx weather delay: arrives after the shop's promised date

Order ``…00N`` has the made-up postcode ``0000N`` and phone ending ``000N``.
"""


def build_order(spec: SandboxOrder, anchor: datetime, now: datetime, speed: float) -> Order:
    """The ``Order`` for ``spec`` first looked up at ``anchor``, as seen at ``now``.

    Each parcel's ``TrackRequest.first_seen`` is set so its journey had run ``shipped_ago``
    at ``anchor``. With parcels, the status follows them: all delivered → delivered, any
    physically scanned → in transit, else awaiting collection. Pure.
    """
    anchor, now = _utc(anchor), _utc(now)
    requests = tuple(
        TrackRequest(parcel.number, parcel.carrier, anchor - parcel.shipped_ago / speed)
        for parcel in spec.parcels
    )
    status = spec.status
    if requests:
        states = [
            build_shipment(request, request.first_seen or anchor, now, speed)
            for request in requests
        ]
        if all(state.status is Status.DELIVERED for state in states):
            status = OrderStatus.DELIVERED
        elif any(state.shipped_at is not None for state in states):
            status = OrderStatus.IN_TRANSIT
        else:
            status = OrderStatus.AWAITING_COLLECTION
    return Order(
        order_id=spec.order_id,
        shop="Sandbox Shop",
        status=status,
        shipments=requests,
        placed_at=anchor - spec.placed_ago / speed,
        promised_by=anchor + spec.promised_in / speed,
        postcode=spec.postcode,
        phone_last4=spec.phone_last4,
    )


class SandboxShop:
    """An ``OrderSource`` serving ``SAMPLE_ORDERS``; unknown ids are simply absent.

    An order's times are anchored at the first time this instance is asked for it, and
    ``speed`` should match the ``SandboxProvider``'s so promises line up with journeys.
    Setting ``unavailable`` makes ``get_orders`` raise ``ProviderUnavailable``.
    """

    name = "sandbox-shop"

    def __init__(self, clock: Clock, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be a positive number")
        self._clock = clock
        self.speed = speed
        self.unavailable = False
        self._anchors: dict[OrderId, datetime] = {}

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
        """The known orders among ``order_ids``."""
        if self.unavailable:
            raise ProviderUnavailable(provider=self.name)
        now = self._clock.now()
        found: dict[OrderId, Order] = {}
        for order_id in order_ids:
            spec = SAMPLE_ORDERS.get(OrderId(order_id.strip()))
            if spec is not None:
                anchor = self._anchors.setdefault(spec.order_id, now)
                found[order_id] = build_order(spec, anchor, now, self.speed)
        return found
