"""Per-detail effects: recovery of known effects, shrinkage, keys and use inside the model."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.eta.calendar import CALENDAR_DAYS
from core.eta.effects import detail_keys
from core.eta.model import EtaConfig, EtaModel, Observation, ParcelDetails

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


def _history(rng: random.Random) -> list[Observation]:
    """Buyers in postcode area 690 wait about three times longer than everyone else."""
    out = []
    for i in range(400):
        far = i % 4 == 0
        zip_code = "69005" if far else "01005"
        at = T0 + timedelta(hours=5 * i)
        handed = at + timedelta(days=1)
        transit = (9.0 if far else 3.0) * rng.uniform(0.9, 1.1)
        out.append(
            Observation(
                carrier=CARRIER,
                service="",
                origin="SP",
                destination="BR",
                ordered_at=at,
                handed_over_at=handed,
                delivered_at=handed + timedelta(days=transit),
                details=ParcelDetails(destination_zip=zip_code, freight=20.0),
            )
        )
    return out


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
