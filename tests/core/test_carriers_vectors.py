"""Carrier detection against every courier file of the public tracking_number_data vectors."""

from __future__ import annotations

import pytest

from core.carrier_formats import FORMATS
from core.carriers import CARRIERS, detect, format_matches, normalise
from tests.core.carrier_vectors import (
    FORMAT_NAMES,
    Vector,
    expected_carrier,
    find_vectors_dir,
    is_own_format,
    load_vectors,
    render_table,
    score,
)

_DIRECTORY = find_vectors_dir()
_VECTORS = load_vectors(_DIRECTORY) if _DIRECTORY is not None else []

pytestmark = pytest.mark.skipif(
    _DIRECTORY is None, reason="shared tracking_number_data vectors are not next to the repo"
)


def _id(vector: Vector) -> str:
    return f"{vector.courier}-{vector.format_key}-{normalise(vector.number)}"


_VALID = [v for v in _VECTORS if v.valid]
_INVALID = [v for v in _VECTORS if not v.valid]


def test_the_vector_set_is_the_one_documented() -> None:
    couriers = {v.courier for v in _VECTORS}
    assert len(couriers) == 18
    assert len({(v.courier, v.format_key) for v in _VECTORS}) == 39
    assert len(_VALID) == 192
    assert len(_INVALID) == 88


def test_every_vector_format_maps_to_formats_we_have() -> None:
    ours = {number_format.name for number_format in FORMATS}
    for vector in _VECTORS:
        names = FORMAT_NAMES[vector.format_key]
        assert set(names) <= ours, vector.format_key


@pytest.mark.parametrize("vector", _VALID, ids=_id)
def test_valid_number_is_detected_with_its_courier_among_candidates(vector: Vector) -> None:
    expected = expected_carrier(vector)
    assert expected in CARRIERS
    matches = detect(vector.number)
    ours = [m for m in matches if m.carrier.code == expected]
    assert ours, [m.carrier.code for m in matches]
    assert ours[0].check_digit_valid is not False
    assert any(
        is_own_format(m, vector) and m.check_digit_valid is not False
        for m in format_matches(vector.number)
    ), f"not valid for its own format {FORMAT_NAMES[vector.format_key]}"


@pytest.mark.parametrize("vector", _INVALID, ids=_id)
def test_invalid_number_is_rejected_by_its_own_format(vector: Vector) -> None:
    accepted = [
        m
        for m in format_matches(vector.number)
        if is_own_format(m, vector) and m.check_digit_valid is not False
    ]
    assert accepted == []


def test_invalid_numbers_are_not_read_as_their_courier_unless_listed_valid_too() -> None:
    # One Purolator vector is invalid for the alpha format yet listed as a valid 12-digit
    # Purolator number in the same file; every other invalid number must not read as valid.
    valid_numbers = {(v.courier, normalise(v.number)) for v in _VALID}
    for vector in _INVALID:
        if (vector.courier, normalise(vector.number)) in valid_numbers:
            continue
        expected = expected_carrier(vector)
        assert not any(
            m.carrier.code == expected and m.check_digit_valid is not False
            for m in detect(vector.number)
        ), vector


def test_totals_meet_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    scores = score(_VECTORS)
    with capsys.disabled():
        print("\n" + render_table(scores))
    valid = sum(s.valid for s in scores)
    assert sum(s.hit for s in scores) == valid == 192
    assert sum(s.top1 for s in scores) / valid >= 0.97
    assert sum(s.rejected for s in scores) == sum(s.invalid for s in scores) == 88
