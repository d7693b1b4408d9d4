"""Sandbox numbers: every sample is a checked number of its carrier and plays its scenario."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.carriers import detect, normalise
from core.providers.sandbox import (
    ERROR_TRIGGER,
    SAMPLE_NOT_FOUND,
    SAMPLE_NUMBERS,
    SAMPLES,
    Scenario,
    scenario_of,
)

ROOT = Path(__file__).resolve().parents[3]

# The form of each carrier's samples: total length and leading characters.
SHAPES = {"ups": (18, "1ZSBX12303"), "usps": (22, "94001118990"), "fedex": (12, "7712")}


def assert_checked_number_of(number: str, carrier: str) -> None:
    """The catalogue reads ``number`` as ``carrier`` first, with a verified check digit."""
    matches = detect(number)
    assert matches, number
    assert matches[0].carrier.code == carrier, number
    assert matches[0].check_digit_valid is True, number


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
        assert_checked_number_of(number, carrier)
        assert number == normalise(number) and ERROR_TRIGGER not in number
        length, prefix = SHAPES[carrier]
        assert len(number) == length and number.startswith(prefix), number


def test_not_found_sample_is_a_valid_ups_number_with_the_trigger() -> None:
    assert_checked_number_of(SAMPLE_NOT_FOUND, "ups")
    assert ERROR_TRIGGER in SAMPLE_NOT_FOUND


def test_readme_lists_every_sample() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for by_carrier in SAMPLES.values() for n in by_carrier.values() if n not in readme]
    assert missing == []


def test_scenario_ignores_spacing_and_case() -> None:
    number = SAMPLE_NUMBERS[Scenario.FAILED_ATTEMPT]
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4)).lower()
    assert scenario_of(spaced) is Scenario.FAILED_ATTEMPT
    assert scenario_of(number.replace("1Z", "1z-", 1)) is Scenario.FAILED_ATTEMPT
    # Read the way carrier detection reads it, typographic dashes included.
    assert scenario_of(number.replace("1Z", "1Z\u2010", 1)) is Scenario.FAILED_ATTEMPT


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
