"""Per-detail effects: recovery of known effects, shrinkage, keys and use inside the model."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from core.eta import EtaConfig, EtaModel, Observation, ParcelDetails
from core.eta_calendar import CALENDAR_DAYS
from core.eta_effects import detail_keys, fit_effects
from core.eta_stats import quantile

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)
CARRIER = "acme"


def test_fit_recovers_a_known_multiplicative_effect() -> None:
    rng = random.Random(3)
    rows = []
    for _ in range(2000):
        slow = rng.random() < 0.5
        days = math.exp(math.log(4.0) + (math.log(2.0) if slow else 0.0) + rng.gauss(0, 0.1)) - 1
        rows.append((("all=1", f"zone={'far' if slow else 'near'}"), days, 1.0))
    fit = fit_effects(rows, shrinkage=5.0, iterations=6)
    gap = fit.effects["zone=far"] - fit.effects["zone=near"]
    assert abs(gap - math.log(2.0)) < 0.03
    far = quantile(fit.grid(("all=1", "zone=far")), 0.5)
    near = quantile(fit.grid(("all=1", "zone=near")), 0.5)
    assert abs((far + 1) / (near + 1) - 2.0) < 0.1


def test_rare_keys_are_shrunk_towards_no_effect() -> None:
    rows: list[tuple[tuple[str, ...], float, float]] = [(("base=1",), 4.0, 1.0)] * 500
    rows += [(("base=1", "sender=rare"), 20.0, 1.0)]
    fit = fit_effects(rows, shrinkage=20.0, iterations=6)
    full = math.log(21.0) - math.log(5.0)
    assert 0 < fit.effects["sender=rare"] < full / 10
    assert fit.predict(("base=1", "sender=unseen")) == fit.predict(("base=1",))


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
    config = EtaConfig(calibrate=False, season_strength=0.0)
    model = EtaModel(config=config, calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(_history(random.Random(5)))
    plain = EtaModel(
        config=EtaConfig(calibrate=False, season_strength=0.0, effects=False),
        calendars={CARRIER: CALENDAR_DAYS},
    )
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
    assert transit_days(model, None) == transit_days(plain, None)
    assert transit_days(plain, ParcelDetails(destination_zip="69001")) == transit_days(plain, None)


def test_calibration_gives_detailed_estimates_their_own_levels() -> None:
    model = EtaModel(config=EtaConfig(season_strength=0.0), calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(_history(random.Random(7)))
    model.refit()
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
