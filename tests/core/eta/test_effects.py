"""Per-detail effects: recovery of known effects, shrinkage, keys and use inside the model."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.eta.calendar import CALENDAR_DAYS
from core.eta.effects import detail_keys
from core.eta.model import EtaConfig, EtaModel
from core.models import Observation, ParcelDetails

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)
CARRIER = "acme"


def test_unknown_details_add_no_keys_and_delay_only_after_handoff() -> None:
    start = datetime(2024, 3, 4, 10)  # a Monday
    bare = detail_keys(base=("lane=x",), details=None, start_local=start, delay_days=None)
    assert bare == ("lane=x", "weekday=0", "hour=2")
    full = detail_keys(
        base=(),
        details=ParcelDetails(
            origin_zip="01310", destination_zip="40010", freight=25.0, weight_g=800, items=6
        ),
        start_local=start,
        delay_days=1.2,
    )
    names = {key.split("=")[0] for key in full}
    assert {"delay", "dzip2", "dzip3", "ozip3", "sender", "freight", "weight", "items"} <= names
    assert "items=4" in full and "dzip3=400" in full and "sender=01310" in full
    assert not any(key.startswith("promise=") for key in full)
    promised = detail_keys(
        base=(), details=None, start_local=start, delay_days=None, promise_days=20.0
    )
    longer = detail_keys(
        base=(), details=None, start_local=start, delay_days=None, promise_days=30.0
    )
    assert "promise=30" in promised and "promise=34" in longer  # log bins, 10% apart


def _quarter_slow(rng: random.Random, marked: Callable[[bool, datetime], Any]) -> list[Observation]:
    """One lane where a quarter of the parcels take three times longer than the rest; each
    observation gets ``marked(slow, ordered_at)`` as its keyword arguments beside the lane."""
    out = []
    for i in range(400):
        slow = i % 4 == 0
        at = T0 + timedelta(hours=5 * i)
        handed = at + timedelta(days=1)
        transit = (9.0 if slow else 3.0) * rng.uniform(0.9, 1.1)
        out.append(
            Observation(
                carrier=CARRIER,
                service="",
                origin="SP",
                destination="BR",
                ordered_at=at,
                handed_over_at=handed,
                delivered_at=handed + timedelta(days=transit),
                **marked(slow, at),
            )
        )
    return out


def _promised_history(rng: random.Random) -> list[Observation]:
    """The shop promises 30 days to the slow quarter and 10 days to the rest."""
    return _quarter_slow(
        rng, lambda slow, at: {"promised_by": at + timedelta(days=30 if slow else 10)}
    )


def test_the_shops_promise_moves_the_estimate_at_both_stages() -> None:
    model = EtaModel(calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(_promised_history(random.Random(3)))
    now = T0 + timedelta(days=200)
    handed = now + timedelta(days=1)

    def days(promised: int | None, at_handoff: bool) -> float:
        start = handed if at_handoff else now
        eta = model.estimate(
            carrier=CARRIER,
            origin="SP",
            destination="BR",
            ordered_at=now,
            handed_over_at=handed if at_handoff else None,
            now=start,
            promised_by=None if promised is None else now + timedelta(days=promised),
        )
        return (eta.most_likely - start).total_seconds() / 86_400

    for at_handoff in (False, True):
        slow, fast, unknown = days(30, at_handoff), days(10, at_handoff), days(None, at_handoff)
        assert slow > fast + 3.0, at_handoff
        # Without a promise a parcel gets the lane's estimate, between the two.
        assert fast < unknown < slow, at_handoff
    assert 7.0 < days(30, True) < 11.0
    assert 2.0 < days(10, True) < 4.5


def _history(rng: random.Random) -> list[Observation]:
    """Buyers in postcode area 690 wait about three times longer than everyone else."""
    return _quarter_slow(
        rng,
        lambda far, _at: {
            "details": ParcelDetails(destination_zip="69005" if far else "01005", freight=20.0)
        },
    )


def test_details_sharpen_estimates_and_absent_details_keep_the_group_estimate() -> None:
    model = EtaModel(calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(_history(random.Random(5)))
    base = EtaConfig()
    no_effects = replace(
        base,
        purchase=replace(base.purchase, factors=frozenset()),
        transit=replace(base.transit, factors=frozenset()),
    )
    plain = EtaModel(config=no_effects, calendars={CARRIER: CALENDAR_DAYS})
    plain.observe_many(_history(random.Random(5)))
    now = T0 + timedelta(days=200)
    handed = now + timedelta(days=1)

    def transit_days(m: EtaModel, details: ParcelDetails | None) -> float:
        eta = m.estimate(
            carrier=CARRIER,
            origin="SP",
            destination="BR",
            ordered_at=now,
            handed_over_at=handed,
            now=handed,
            details=details,
        )
        return (eta.most_likely - handed).total_seconds() / 86_400

    far = transit_days(model, ParcelDetails(destination_zip="69001"))
    near = transit_days(model, ParcelDetails(destination_zip="01001"))
    assert 7.0 < far < 11.0
    assert 2.0 < near < 4.0
    # Without details a parcel gets the lane's estimate (the weekday effect aside).
    assert abs(transit_days(model, None) - transit_days(plain, None)) < 1.0
    assert transit_days(plain, ParcelDetails(destination_zip="69001")) == transit_days(plain, None)


def test_detailed_estimates_get_narrow_windows_when_details_explain_the_spread() -> None:
    model = EtaModel(calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(_history(random.Random(7)))
    now = T0 + timedelta(days=200)
    eta = model.estimate(
        carrier=CARRIER,
        origin="SP",
        destination="BR",
        ordered_at=now,
        now=now,
        details=ParcelDetails(destination_zip="01001"),
    )
    assert now <= eta.earliest <= eta.most_likely <= eta.latest
    assert eta.latest - eta.earliest < timedelta(days=4)
