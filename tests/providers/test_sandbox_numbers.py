"""Sandbox numbers: check digits against public vectors, and every sample plays its scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.providers.sandbox import (
    ERROR_TRIGGER,
    SAMPLE_NOT_FOUND,
    SAMPLE_NUMBERS,
    SAMPLES,
    Scenario,
    check_digit_valid,
    fedex_check_digit,
    guess_carrier,
    normalise,
    scenario_of,
    ups_check_digit,
    usps_check_digit,
)

ROOT = Path(__file__).resolve().parents[2]

# Published example numbers (tracking_number_data test vectors).
VALID = {
    "ups": [
        "1Z5R89390357567127",
        "1Z879E930346834440",
        "1Z410E7W0392751591",
        "1Z8V92A70367203024",
        " 1 Z 8 V 9 2 A 7 0 3 6 7 2 0 3 0 2 4 ",
        "1ZXX3150YW44070023",
        "1Z999AA10123456784",
    ],
    "usps": [
        "0307 1790 0005 2348 3741",
        "7112 3456 7891 2345 6787",
        "9400111206206406260787",
        "9400 1112 0108 0805 4830 16",
        "9405803699300124287899",
        "9434611206206407667136",
        "9505 5110 6960 5048 6006 24",
        "9261292700768711948021",
    ],
    "fedex": [
        "986578788855",
        "477179081230",
        "799531274483",
        "790535312317",
        " 7 9 0 5 3 5 3 1 2 3 1 7 ",
        "974367662710",
    ],
}
INVALID = [
    "2Z5R89390357567127",
    "1A5R89390357567127",
    "1Z1111111111111111",
    "0307 1790 0005 2348 3742",
    "9434611206206407667131",
    "996578788855",
    "",
    "hello",
]


@pytest.mark.parametrize(("carrier", "number"), [(c, n) for c, ns in VALID.items() for n in ns])
def test_public_vectors_are_valid(carrier: str, number: str) -> None:
    assert guess_carrier(number) == carrier
    assert check_digit_valid(number)


@pytest.mark.parametrize("number", INVALID)
def test_public_invalid_vectors_are_rejected(number: str) -> None:
    assert guess_carrier(number) is None
    assert not check_digit_valid(number)


def test_check_digit_functions_on_known_numbers() -> None:
    assert ups_check_digit("999AA1012345678") == 4
    assert usps_check_digit("940011120620640626078") == 7
    assert fedex_check_digit("98657878885") == 5


def test_every_scenario_has_a_ups_usps_and_fedex_sample() -> None:
    assert set(SAMPLES) == set(Scenario) == set(SAMPLE_NUMBERS)
    for scenario, by_carrier in SAMPLES.items():
        assert set(by_carrier) == {"ups", "usps", "fedex"}
        assert SAMPLE_NUMBERS[scenario] == by_carrier["ups"]
    numbers = [n for by_carrier in SAMPLES.values() for n in by_carrier.values()]
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("scenario", list(Scenario))
def test_samples_play_their_scenario_with_valid_check_digits(scenario: Scenario) -> None:
    for carrier, number in SAMPLES[scenario].items():
        assert scenario_of(number) is scenario
        assert guess_carrier(number) == carrier
        assert number == normalise(number) and ERROR_TRIGGER not in number
    ups = SAMPLE_NUMBERS[scenario]
    assert len(ups) == 18 and ups.startswith("1Z")
    assert int(ups[-1]) == ups_check_digit(ups[2:-1])
    usps = SAMPLES[scenario]["usps"]
    assert len(usps) == 22 and int(usps[-1]) == usps_check_digit(usps[:-1])
    fedex = SAMPLES[scenario]["fedex"]
    assert len(fedex) == 12 and int(fedex[-1]) == fedex_check_digit(fedex[:-1])


def test_not_found_sample_is_a_valid_ups_number_with_the_trigger() -> None:
    assert guess_carrier(SAMPLE_NOT_FOUND) == "ups" and ERROR_TRIGGER in SAMPLE_NOT_FOUND


def test_scenario_ignores_spacing_and_case() -> None:
    number = SAMPLE_NUMBERS[Scenario.FAILED_ATTEMPT]
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4)).lower()
    assert scenario_of(spaced) is Scenario.FAILED_ATTEMPT
    assert scenario_of(number.replace("1Z", "1z-", 1)) is Scenario.FAILED_ATTEMPT


def test_scenarios_are_stable_across_processes() -> None:
    # hash() would differ between processes with different seeds; the digest must not.
    code = (
        "from core.providers.sandbox import SAMPLES, scenario_of\n"
        "print(','.join(scenario_of(n) for b in SAMPLES.values() for n in b.values()))"
    )
    expected = ",".join(scenario_of(n) for b in SAMPLES.values() for n in b.values())
    for seed in ("1", "2"):
        out = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        )
        assert out.stdout.strip() == expected


def test_the_carrier_catalogue_detects_every_sample() -> None:
    carriers = pytest.importorskip("core.carriers", exc_type=ImportError)
    for by_carrier in SAMPLES.values():
        for code, number in by_carrier.items():
            matches = carriers.detect(number)
            assert matches and matches[0].carrier.code == code, number
            assert matches[0].check_digit_valid is True
    assert carriers.detect(SAMPLE_NOT_FOUND)[0].carrier.code == "ups"
