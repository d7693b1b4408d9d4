"""The public tracking_number_data vectors: loading and scoring carrier detection on them.

Shared by ``tests/core/test_carriers_vectors.py`` and ``benchmarks/carrier_detection.py``. The
vectors are read from ``../shared`` next to the repository (or ``$PARCELBOT_SHARED``); the
runtime catalogue never reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.carriers import detect, format_matches, normalise
from core.models import CarrierMatch

__all__ = [
    "FORMAT_NAMES",
    "CourierScore",
    "Vector",
    "expected_carrier",
    "find_vectors_dir",
    "is_own_format",
    "load_vectors",
    "render_table",
    "score",
]

_VECTORS_PATH = Path("fixtures") / "tracking_number_data" / "couriers"

# Which of our format names correspond to each format of the vector files (by id, or by name
# where a format has no id). A vector is "valid for its own format" when one of these verifies.
FORMAT_NAMES: Mapping[str, tuple[str, ...]] = {
    "amazon_logistics": ("Amazon Logistics",),
    "amazon_international": ("Amazon Shipping international",),
    "canada_post": ("Canada Post (16)",),
    "canpar_22": ("Canpar (22)",),
    "dhl_express": ("DHL Express waybill",),
    "dhl_express_piece_id": ("DHL Express piece ID",),
    "dhl_ecommerce": ("DHL eCommerce", "DHL Global Mail"),
    "dhl_ecommerce_14": ("DHL eCommerce (14)",),
    "dpd": ("DPD parcel (28)",),
    "dpd_14": ("DPD parcel (14)",),
    "fedex_12": ("FedEx Express (12)",),
    "fedex_34": ("FedEx Express (34)",),
    "fedex_astra_32": ("FedEx ASTRA (32)",),
    "fedex_ground": ("FedEx Ground (15)",),
    "fedex_ground_sscc_18": ("FedEx Ground SSCC-18",),
    "fedex_ground_96": ("FedEx Ground 96 (22)",),
    "fedex_ground_gsn": ("FedEx Ground (34)",),
    "gofo_us": ("GOFO Express",),
    "landmark_global": ("Landmark Global LTN",),
    "lasership_lx": ("LaserShip L",),
    "lasership_1ls7": ("LaserShip 1LS (15)",),
    "LaserShip 1LS7 (18)": ("LaserShip 1LS (18)",),
    "lasership_1lscx": ("LaserShip 1LSCX",),
    "Old Dominion": ("Old Dominion PRO",),
    "Old Dominion Guaranteed Shipment": ("Old Dominion guaranteed",),
    "ontrac_c": ("OnTrac",),
    "ontrac_d": ("OnTrac",),
    "purolator_numeric": ("Purolator (12)",),
    "purolator_alpha": ("Purolator PIN",),
    "s10": ("UPU S10",),
    "speedee": ("Spee-Dee",),
    "ups": ("UPS 1Z",),
    "UPS Waybill": ("UPS waybill",),
    "usps_20": ("USPS (20)",),
    "usps_impb_n": ("USPS IMpb", "USPS IMpb with ZIP routing"),
    "usps_legacy": ("USPS legacy (20)", "USPS IMpb", "USPS IMpb with ZIP routing"),
    "usps_impb_c": ("USPS IMpb", "USPS IMpb with ZIP routing"),
    "yodel": ("Yodel",),
    "yunexpress": ("YunExpress",),
}

# Posts with their own catalogue entry; other S10 issuers are "post_" + country code.
_S10_NAMED = {"GB": "royal_mail", "US": "usps", "CA": "canada_post"}


@dataclass(frozen=True, slots=True)
class Vector:
    """One test number from a courier file."""

    courier: str
    format_key: str
    number: str
    valid: bool


@dataclass(slots=True)
class CourierScore:
    """Counts for one courier file."""

    courier: str
    valid: int = 0
    hit: int = 0
    top1: int = 0
    invalid: int = 0
    rejected: int = 0
    courier_accepted: int = 0
    misses: list[str] = field(default_factory=list)


def find_vectors_dir(start: Path | None = None) -> Path | None:
    """The ``couriers`` directory of the shared fixtures, or None when it is not there.

    ``$PARCELBOT_SHARED`` wins; otherwise a ``shared`` directory beside any ancestor of this
    file (the repository normally sits next to it).
    """
    override = os.environ.get("PARCELBOT_SHARED")
    if override:
        candidate = Path(override) / _VECTORS_PATH
        return candidate if candidate.is_dir() else None
    here = (start or Path(__file__)).resolve()
    for ancestor in here.parents:
        candidate = ancestor / "shared" / _VECTORS_PATH
        if candidate.is_dir():
            return candidate
    return None


def load_vectors(directory: Path) -> list[Vector]:
    """Every valid and invalid test number of every courier file, in file order."""
    vectors: list[Vector] = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        courier = str(data["courier_code"])
        for spec in data["tracking_numbers"]:
            key = str(spec.get("id") or spec["name"])
            tests = spec.get("test_numbers", {})
            vectors.extend(Vector(courier, key, str(n), True) for n in tests.get("valid", []))
            vectors.extend(Vector(courier, key, str(n), False) for n in tests.get("invalid", []))
    return vectors


def expected_carrier(vector: Vector) -> str:
    """Our carrier code for a vector's courier (S10 numbers name their post by country)."""
    if vector.courier == "s10":
        country = normalise(vector.number)[-2:]
        return _S10_NAMED.get(country, f"post_{country.lower()}")
    return vector.courier


def is_own_format(match: CarrierMatch, vector: Vector) -> bool:
    """Whether ``match`` is a reading under the vector's own format."""
    names = FORMAT_NAMES.get(vector.format_key, ())
    # S10 readings carry the kind of item after the name: "UPU S10 (registered)".
    return any(
        match.format_name == name or match.format_name.startswith(f"{name} (") for name in names
    )


def _accepted_by_own_format(vector: Vector) -> bool:
    return any(
        is_own_format(match, vector) and match.check_digit_valid is not False
        for match in format_matches(vector.number)
    )


def score(vectors: Sequence[Vector]) -> list[CourierScore]:
    """Per-courier counts, in courier order of first appearance."""
    scores: dict[str, CourierScore] = {}
    valid_numbers: dict[str, set[str]] = {}
    for vector in vectors:
        if vector.valid:
            valid_numbers.setdefault(vector.courier, set()).add(normalise(vector.number))
    for vector in vectors:
        entry = scores.setdefault(vector.courier, CourierScore(vector.courier))
        expected = expected_carrier(vector)
        if vector.valid:
            entry.valid += 1
            matches = detect(vector.number)
            right = [m for m in matches if m.carrier.code == expected]
            if (
                right
                and right[0].check_digit_valid is not False
                and _accepted_by_own_format(vector)
            ):
                entry.hit += 1
            else:
                entry.misses.append(f"missed {vector.number!r}")
            if matches and matches[0].carrier.code == expected:
                entry.top1 += 1
            elif right:
                entry.misses.append(f"ranked {matches[0].carrier.code} first: {vector.number!r}")
        else:
            entry.invalid += 1
            if not _accepted_by_own_format(vector):
                entry.rejected += 1
            else:
                entry.misses.append(f"accepted invalid {vector.number!r}")
            if any(
                m.carrier.code == expected and m.check_digit_valid is not False
                for m in detect(vector.number)
            ):
                entry.courier_accepted += 1
                listed = normalise(vector.number) in valid_numbers.get(vector.courier, set())
                entry.misses.append(
                    f"invalid for its format but read as {expected}: {vector.number!r}"
                    + (" (the same file lists it as valid)" if listed else "")
                )
    return list(scores.values())


def _iter_rows(scores: Sequence[CourierScore]) -> Iterator[tuple[str, ...]]:
    for s in scores:
        yield (
            s.courier,
            f"{s.hit}/{s.valid}",
            f"{s.top1}/{s.valid}",
            f"{s.rejected}/{s.invalid}",
            str(s.courier_accepted),
        )


def render_table(scores: Sequence[CourierScore]) -> str:
    """The per-courier table with a totals line, as plain text."""
    header = ("courier", "valid hit", "top-1", "invalid rejected", "invalid read as courier")
    valid = sum(s.valid for s in scores)
    top1 = sum(s.top1 for s in scores)
    totals = (
        "TOTAL",
        f"{sum(s.hit for s in scores)}/{valid}",
        f"{top1}/{valid} ({100 * top1 / max(valid, 1):.1f}%)",
        f"{sum(s.rejected for s in scores)}/{sum(s.invalid for s in scores)}",
        str(sum(s.courier_accepted for s in scores)),
    )
    rows = [header, *_iter_rows(scores), totals]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.insert(len(lines) - 1, lines[1])
    notes = [f"  {s.courier}: {miss}" for s in scores for miss in s.misses]
    return "\n".join(lines + notes)
