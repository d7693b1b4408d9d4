"""The sandbox's scenarios: which one a number plays (from a digest of its normalised form),
each scenario's scripted scans, and sample numbers with valid check digits for each.

Pure data and functions; standard library and ``core`` only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType

from core.carriers import normalise
from core.models import IncidentReason, ProofKind, Status

__all__ = [
    "ERROR_TRIGGER",
    "SAMPLES",
    "SAMPLE_NOT_FOUND",
    "SAMPLE_NUMBERS",
    "Scenario",
    "scenario_of",
]

PROVIDER = "sandbox"

ERROR_TRIGGER = "ERR"
"""A number containing this text is reported as not found by the sandbox carrier."""


class Scenario(StrEnum):
    """The journeys a sandbox parcel can take (``core.providers.sandbox`` lists where each ends)."""

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


ALL_SCENARIOS = tuple(Scenario)


def number_digest(number: str) -> bytes:
    # An unkeyed digest: stable across processes and Python versions,
    # unlike hash(), which is randomised per process.
    return hashlib.blake2b(normalise(number).encode("utf-8"), digest_size=16).digest()


def scenario_of(number: str) -> Scenario:
    """The scenario a number plays, from a digest of its normalised form (deterministic).

    Normalised as carrier detection reads numbers (``core.carriers.normalise``), so spacing,
    dashes and case never change the scenario.
    """
    return ALL_SCENARIOS[int.from_bytes(number_digest(number)[:4], "big") % len(ALL_SCENARIOS)]


FINAL_INCIDENTS = frozenset({IncidentReason.LOST, IncidentReason.RETURNED})


@dataclass(frozen=True, slots=True)
class Row:
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
        self.rows: list[Row] = []
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
        final = status is Status.DELIVERED or incident in FINAL_INCIDENTS
        self.rows.append(
            Row(
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

TEMPLATES: dict[Scenario, tuple[Row, ...]] = {
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
