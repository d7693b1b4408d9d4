"""A number's journey and the snapshots it shows: the scenario's scans placed on a route and
worded for this number (``journey``), and the ``Shipment`` visible at a moment
(``build_shipment``). Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    ProofOfDelivery,
    Shipment,
    Status,
    TrackingEvent,
    TrackRequest,
)
from core.providers.sandbox.scenarios import (
    ALL_SCENARIOS,
    PROVIDER,
    TEMPLATES,
    Row,
    Scenario,
    number_digest,
)

__all__ = ["Journey", "Step", "build_shipment", "journey"]


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
        digest = self.digest = number_digest(number)
        self.carrier = carrier.lower()
        self.scenario = ALL_SCENARIOS[int.from_bytes(digest[:4], "big") % len(ALL_SCENARIOS)]
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

    def at(self, index: int, row: Row) -> timedelta:
        """The row's virtual offset for this number (the label scan is never jittered)."""
        if index == 0:
            return row.at
        return row.at + _JITTER[(self.digest[index % 16] * (index + 3)) % 40]

    def resolve(self, row: Row) -> tuple[str, str, ProofOfDelivery | None]:
        """The row's description, location and proof of delivery for this number."""
        return self.text(row), self[row.place], self.proof(row)

    def text(self, row: Row) -> str:
        """The row's description for this number."""
        return row.text.format_map(self) if row.templated else row.text

    def proof(self, row: Row) -> ProofOfDelivery | None:
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
    for index, row in enumerate(TEMPLATES[plan.scenario]):
        text, location, proof = plan.resolve(row)
        at = plan.at(index, row)
        steps.append(Step(at, row.status, text, location, row.code, row.incident, proof, row.eta))
    return Journey(plan.scenario, plan.origin, plan.destination, tuple(steps))


def as_utc(moment: datetime) -> datetime:
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
    return build_visible(request, start, now, speed).shipment


@dataclass(frozen=True, slots=True)
class Built:
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


def build_visible(
    request: TrackRequest,
    start: datetime,
    now: datetime,
    speed: float,
    known: tuple[TrackingEvent, ...] = (),
) -> Built:
    """``build_shipment``, plus how long its answer stays the same (see ``Built``).

    ``known`` may hold scans an earlier call built for the same request, start and speed:
    they are reused as they are (the same objects), so unchanged scans stay identical.
    """
    raw_start = start
    start, now = as_utc(start), as_utc(now)
    plan = _Plan(request.number, request.carrier)
    scaled = speed != 1.0  # dividing by 1.0 gives the same timedelta; skip the work
    events: list[TrackingEvent] = []
    last: Row | None = None
    proof: ProofOfDelivery | None = None
    shipped_at: datetime | None = None
    latest: datetime | None = None
    upcoming: datetime | None = None
    # Only the scans already visible are built: polling many parcels stays cheap. Scans
    # built before are reused as they are.
    for index, row in enumerate(TEMPLATES[plan.scenario]):
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
        if shipped_at is None and row.status is not Status.INFO_RECEIVED:
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
        provider=PROVIDER,
        shipped_at=shipped_at,
        first_seen=start,
        origin=plan.origin,
        destination=plan.destination,
    )
    return Built(shipment, raw_start, speed, latest, upcoming)
