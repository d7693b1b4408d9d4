"""The ETA model: fallback, recency, stages, calibration, seasons, combining and wording."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.eta.calendar import CALENDAR_DAYS, calendar_for_country
from core.eta.model import (
    EtaConfig,
    EtaModel,
    _narrowest_start,
    combine,
    describe,
    moved_days,
    observation_from,
)
from core.eta.priors import PRIORS, find_prior, normalise, prior_index
from core.eta.stats import quantile
from core.models import (
    Eta,
    EtaSource,
    Observation,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)

T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)
CARRIER = "acme"


def days(value: float) -> timedelta:
    return timedelta(days=value)


def obs(
    transit: float,
    *,
    at: datetime = T0,
    origin: str = "A",
    destination: str = "B",
    processing: float = 1.0,
    carrier: str = CARRIER,
) -> Observation:
    """A parcel ordered at ``at``, handed over ``processing`` days later, delivered after."""
    handed = at + days(processing)
    return Observation(
        carrier=carrier,
        service="",
        origin=origin,
        destination=destination,
        ordered_at=at,
        handed_over_at=handed,
        delivered_at=handed + days(transit),
    )


def learner_config(**settings: Any) -> EtaConfig:
    """The default configuration with ``settings`` applied to both stages' learners."""
    base = EtaConfig()
    return replace(
        base,
        purchase=replace(base.purchase, **settings),
        transit=replace(base.transit, **settings),
    )


def plain_model(**settings: Any) -> EtaModel:
    """A model counting plain elapsed days, so expected values are easy to state."""
    return EtaModel(config=learner_config(**settings), calendars={CARRIER: CALENDAR_DAYS})


def median_days(eta: Eta, start: datetime) -> float:
    return (eta.most_likely - start).total_seconds() / 86_400


def at_handoff(model: EtaModel, origin: str, destination: str, now: datetime = T0) -> Eta:
    return model.estimate(
        carrier=CARRIER,
        origin=origin,
        destination=destination,
        ordered_at=now - days(1),
        handed_over_at=now,
        now=now,
    )


# -- observations ----------------------------------------------------------------------------


def test_naive_or_inconsistent_observations_are_refused() -> None:
    model = plain_model()
    naive = datetime(2024, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        model.observe(Observation(CARRIER, "", "A", "B", naive, None, naive + days(2)))
    backwards = Observation(CARRIER, "", "A", "B", T0, None, T0 - days(1))
    with pytest.raises(ValueError, match="before"):
        model.observe(backwards)
    assert model.observe_many([backwards, obs(3)]) == 1
    assert len(model) == 1


# -- fallback and shrinkage ------------------------------------------------------------------


def test_thin_lane_follows_its_destination_and_rich_lane_follows_itself() -> None:
    model = plain_model()
    lanes = [("C", "B", 10.0)] * 200 + [("C", "E", 3.0)] * 200 + [("F", "B", 3.0)] * 2
    random.Random(1).shuffle(lanes)
    model.observe_many(
        obs(transit, origin=origin, destination=destination, at=T0 - days(60) + days(i * 0.1))
        for i, (origin, destination, transit) in enumerate(lanes)
    )

    rich = median_days(at_handoff(model, "C", "E"), T0)
    thin = median_days(at_handoff(model, "F", "B"), T0)
    unseen = median_days(at_handoff(model, "Z", "B"), T0)
    assert rich == pytest.approx(3.0, abs=0.3)
    assert thin > 7.0  # two quick deliveries do not outvote a slow destination
    assert unseen == pytest.approx(10.0, abs=1.0)


def test_unseen_destination_falls_back_to_the_carrier() -> None:
    model = plain_model()
    model.observe_many(obs(5.0, origin="A", destination=f"D{i % 5}") for i in range(100))
    eta = at_handoff(model, "A", "NEW")
    assert median_days(eta, T0) == pytest.approx(5.0, abs=0.3)
    assert eta.source is EtaSource.LEARNED


def test_fresh_install_uses_published_priors() -> None:
    model = EtaModel()
    now = datetime(2024, 6, 3, 15, tzinfo=UTC)  # a Monday
    eta = model.estimate(
        carrier="ups",
        service="Next Day Air",
        origin="US-NY",
        destination="US-CA",
        ordered_at=now - days(1),
        handed_over_at=now,
        now=now,
    )
    assert eta.source is EtaSource.PRIOR
    assert eta.confidence < 0.8
    # Next Day Air: one working day, give or take.
    assert eta.most_likely - now < days(2)

    generic = model.estimate(
        carrier="unknown-carrier",
        origin="X",
        destination="Y",
        ordered_at=now,
        handed_over_at=now,
        now=now,
    )
    assert generic.source is EtaSource.PRIOR
    assert days(2) < generic.most_likely - now < days(10)


def test_priors_table_matches_catalogue_names() -> None:
    index = prior_index(PRIORS)
    found = find_prior(index, "UPS", "2nd Day Air")
    assert found is not None and found.service == "2nd_day_air"
    assert find_prior(index, "royal_mail", "Tracked 24") is not None
    assert find_prior(index, "nobody") is None
    assert normalise(" Priority Mail Express ") == "priority_mail_express"


def test_history_outweighs_the_prior() -> None:
    model = EtaModel(calendars={"ups": CALENDAR_DAYS})
    model.observe_many(obs(9.0, carrier="ups") for _ in range(300))
    eta = model.estimate(
        carrier="ups", origin="A", destination="B", ordered_at=T0, handed_over_at=T0, now=T0
    )
    assert eta.source is EtaSource.LEARNED
    assert median_days(eta, T0) == pytest.approx(9.0, abs=0.5)


# -- recency ---------------------------------------------------------------------------------


def test_recent_deliveries_weigh_more() -> None:
    model = plain_model(half_life_days=30.0)
    old = T0 - days(400)
    model.observe_many(obs(10.0, at=old + days(i * 0.1)) for i in range(300))
    model.observe_many(obs(3.0, at=T0 - days(20) + days(i * 0.1)) for i in range(100))
    recent_first = median_days(at_handoff(model, "A", "B", T0 + days(5)), T0 + days(5))
    assert recent_first == pytest.approx(3.0, abs=0.5)

    flat = plain_model(half_life_days=0.0, window=1000)
    flat.observe_many(obs(10.0, at=old + days(i * 0.1)) for i in range(300))
    flat.observe_many(obs(3.0, at=T0 - days(20) + days(i * 0.1)) for i in range(100))
    assert median_days(at_handoff(flat, "A", "B", T0 + days(5)), T0 + days(5)) > 8.0


# -- stages ----------------------------------------------------------------------------------


def stage_model() -> EtaModel:
    model = plain_model()
    rng = random.Random(7)
    model.observe_many(
        obs(rng.uniform(3.0, 7.0), processing=rng.uniform(1.0, 3.0), at=T0 - days(60 - i * 0.1))
        for i in range(400)
    )
    return model


def test_purchase_stage_adds_processing_time() -> None:
    model = stage_model()
    ordered = T0
    before = model.estimate(
        carrier=CARRIER, origin="A", destination="B", ordered_at=ordered, now=ordered
    )
    # Order → delivery is processing (1–3) plus transit (3–7): median about 7 days.
    assert median_days(before, ordered) == pytest.approx(7.0, abs=0.6)
    handed = ordered + days(1)
    after = model.estimate(
        carrier=CARRIER,
        origin="A",
        destination="B",
        ordered_at=ordered,
        handed_over_at=handed,
        now=handed,
    )
    assert median_days(after, handed) == pytest.approx(5.0, abs=0.5)
    assert (after.latest - after.earliest) < (before.latest - before.earliest)


def test_elapsed_time_narrows_the_window_and_never_starts_in_the_past() -> None:
    model = stage_model()
    handed = T0
    later = handed + days(6)
    eta = model.estimate(
        carrier=CARRIER,
        origin="A",
        destination="B",
        ordered_at=handed - days(1),
        handed_over_at=handed,
        now=later,
    )
    assert eta.earliest >= later
    assert eta.earliest <= eta.most_likely <= eta.latest
    # Only deliveries taking 6–7 days remain possible (the learned spread blurs the edge).
    assert eta.latest <= handed + days(8)
    fresh = at_handoff(model, "A", "B", handed)
    assert eta.latest - eta.earliest < fresh.latest - fresh.earliest

    very_late = handed + days(30)
    eta = model.estimate(
        carrier=CARRIER,
        origin="A",
        destination="B",
        ordered_at=handed - days(1),
        handed_over_at=handed,
        now=very_late,
    )
    assert very_late <= eta.earliest <= eta.most_likely <= eta.latest


def test_out_for_delivery_means_today_in_the_buyers_zone() -> None:
    model = stage_model()
    # 10:00 in São Paulo (UTC-3).
    now = datetime(2024, 3, 5, 13, tzinfo=UTC)
    eta = model.estimate(
        carrier=CARRIER,
        origin="A",
        destination="B",
        ordered_at=now - days(5),
        handed_over_at=now - days(4),
        out_for_delivery_at=now - timedelta(hours=2),
        now=now,
        tz="America/Sao_Paulo",
    )
    assert eta.earliest == now
    assert eta.latest == datetime(2024, 3, 6, 0, tzinfo=UTC)  # 21:00 local
    assert eta.earliest < eta.most_likely < eta.latest

    stale_scan = model.estimate(
        carrier=CARRIER,
        origin="A",
        destination="B",
        ordered_at=now - days(5),
        handed_over_at=now - days(4),
        out_for_delivery_at=now - days(1),
        now=now,
        tz="America/Sao_Paulo",
    )
    assert stale_scan.latest > eta.latest  # yesterday's scan: back to the transit estimate


def test_working_days_push_a_friday_handoff_past_the_weekend() -> None:
    cal = calendar_for_country("BR", "America/Sao_Paulo")
    model = EtaModel(calendars={CARRIER: cal})
    monday = datetime(2024, 6, 3, 15, tzinfo=UTC)
    model.observe_many(
        obs(cal_days, at=monday - days(1), processing=1.0) for cal_days in [2.0] * 50
    )
    friday = datetime(2024, 6, 7, 15, tzinfo=UTC)
    eta = at_handoff(model, "A", "B", friday)
    # Two working days after Friday afternoon is Tuesday afternoon, not Sunday.
    assert eta.most_likely.astimezone(cal.zone).weekday() == 1


# -- calibration and seasons -----------------------------------------------------------------


def test_calibrated_window_covers_about_eighty_percent() -> None:
    rng = random.Random(11)

    def draw(at: datetime) -> Observation:
        return obs(rng.lognormvariate(1.6, 0.45), at=at, destination=rng.choice("BCD"))

    # A nominal share: here each estimate is made with everything delivered before it known.
    base = EtaConfig()
    config = replace(base, transit=replace(base.transit, window_share=0.8))
    model = EtaModel(config=config, calendars={CARRIER: CALENDAR_DAYS})
    model.observe_many(draw(T0 + days(i * 0.2)) for i in range(1500))
    start = T0 + days(320)
    covered = 0
    trials = 1500
    for i in range(trials):
        parcel = draw(start + days(i * 0.01))
        assert parcel.handed_over_at is not None
        eta = model.estimate(
            carrier=CARRIER,
            origin=parcel.origin,
            destination=parcel.destination,
            ordered_at=parcel.ordered_at,
            handed_over_at=parcel.handed_over_at,
            now=parcel.handed_over_at,
        )
        covered += eta.earliest <= parcel.delivered_at <= eta.latest
    assert covered / trials == pytest.approx(0.8, abs=0.04)


def test_window_is_read_from_recent_residuals_and_is_asymmetric() -> None:
    # Deliveries are usually on time and sometimes very late: the window stretches late.
    rng = random.Random(3)
    model = plain_model()
    model.observe_many(
        obs(
            4.0 + (rng.uniform(3, 9) if rng.random() < 0.2 else rng.uniform(-0.5, 0.5)),
            at=T0 + days(i * 0.2),
        )
        for i in range(1200)
    )
    now = T0 + days(241)
    eta = at_handoff(model, "A", "B", now)
    early = eta.most_likely - eta.earliest
    late = eta.latest - eta.most_likely
    assert late > 3 * early


def test_a_larger_log_offset_widens_windows_less_with_the_duration() -> None:
    # Two lanes, two days and twenty, each off by up to two days either way; one residual
    # distribution for the carrier serves both.
    def widths(offset: float) -> tuple[float, float]:
        rng = random.Random(5)
        model = plain_model(log_offset=offset, lane_spread=False, calibration_strength=1e9)
        model.observe_many(
            obs(
                (2.0 if i % 2 else 20.0) + rng.uniform(-2, 2),
                at=T0 + days(i * 0.2),
                destination="B" if i % 2 else "C",
            )
            for i in range(1200)
        )
        now = T0 + days(241)
        short, long = at_handoff(model, "A", "B", now), at_handoff(model, "A", "C", now)
        return (
            (short.latest - short.earliest).total_seconds() / 86_400,
            (long.latest - long.earliest).total_seconds() / 86_400,
        )

    log_short, log_long = widths(1.0)
    flat_short, flat_long = widths(8.0)
    # Read on log(days + 1) the long lane's window is many times the short one's; on
    # log(days + 8) their spreads in days come much closer, as the deliveries' are.
    assert log_long > 4 * log_short
    assert flat_long / flat_short < log_long / log_short / 2
    assert flat_long < log_long


def test_the_window_is_the_narrowest_in_the_buyers_calendar_days() -> None:
    # Ten working days, evenly spread: every window holding 80% spans eight working days,
    # but those straddling fewer weekends are shorter for the buyer.
    cal = calendar_for_country("XX", "UTC")
    grid = tuple(10 * (i + 0.5) / 100 for i in range(100))
    origin = cal.clock(datetime(2024, 1, 2, 12, tzinfo=UTC))  # a Tuesday

    def calendar_width(level: float) -> float:
        low = cal.from_clock(origin + quantile(grid, level))
        high = cal.from_clock(origin + quantile(grid, level + 0.8))
        return (high - low).total_seconds() / 86_400

    chosen = _narrowest_start(grid, 0.0, 0.8, cal, origin)
    widths = [calendar_width(step / 100) for step in range(21)]
    assert calendar_width(chosen) == pytest.approx(min(widths), abs=1e-6)
    assert calendar_width(chosen) < calendar_width(0.1) - 1  # the equal-tailed window


def test_a_slowdown_is_followed_once_recent_deliveries_show_it() -> None:
    model = plain_model()
    model.observe_many(obs(3.0, at=T0 + days(i * 0.1)) for i in range(1000))
    before = median_days(at_handoff(model, "A", "B", T0 + days(150)), T0 + days(150))
    model.observe_many(obs(8.0, at=T0 + days(100 + i * 0.1)) for i in range(500))
    after = median_days(at_handoff(model, "A", "B", T0 + days(150)), T0 + days(150))
    assert before == pytest.approx(3.0, abs=0.3)
    assert after == pytest.approx(8.0, abs=0.5)


# -- shipments -------------------------------------------------------------------------------


def shipment(status: Status, events: tuple[TrackingEvent, ...], **extra: object) -> Shipment:
    return Shipment(
        carrier=CARRIER,
        number=TrackingNumber("X1"),
        status=status,
        events=events,
        origin="A",
        destination="B",
        **extra,  # type: ignore[arg-type]
    )


def test_estimate_shipment_reads_the_stage_from_events() -> None:
    model = stage_model()
    scan = TrackingEvent(T0, Status.IN_TRANSIT, "Picked up")
    parcel = shipment(Status.IN_TRANSIT, (scan,), first_seen=T0 - days(1))
    eta = model.estimate_shipment(parcel, now=T0)
    assert eta is not None
    assert median_days(eta, T0) == pytest.approx(5.0, abs=0.5)

    out = TrackingEvent(T0 + days(4), Status.OUT_FOR_DELIVERY, "Out for delivery")
    moving = shipment(Status.OUT_FOR_DELIVERY, (scan, out), first_seen=T0 - days(1))
    today = model.estimate_shipment(
        moving,
        now=T0
        + days(
            4,
        )
        + timedelta(hours=1),
    )
    assert today is not None and today.confidence == pytest.approx(0.9)

    delivered = shipment(
        Status.DELIVERED,
        (scan, TrackingEvent(T0 + days(5), Status.DELIVERED, "Delivered")),
        delivered_at=T0 + days(5),
        first_seen=T0 - days(1),
    )
    assert model.estimate_shipment(delivered, now=T0 + days(6)) is None
    made = observation_from(delivered)
    assert made is not None
    assert made.handed_over_at == T0 and made.ordered_at == T0 - days(1)
    assert observation_from(parcel) is None


# -- combining -------------------------------------------------------------------------------


def eta(start: datetime, first: float, likely: float, last: float, source: EtaSource) -> Eta:
    return Eta(start + days(first), start + days(last), start + days(likely), source, 0.8)


def test_recent_carrier_eta_is_combined_with_ours() -> None:
    carrier_eta = eta(T0, 2, 2.5, 3, EtaSource.CARRIER)
    ours = eta(T0, 1, 3, 6, EtaSource.LEARNED)
    combined = combine(carrier_eta, ours, T0)
    assert combined is not None
    assert combined.source is EtaSource.COMBINED
    assert combined.most_likely == carrier_eta.most_likely
    assert combined.earliest == ours.earliest and combined.latest == ours.latest


def test_carrier_eta_alone_or_against_a_prior_is_shown_as_the_carriers() -> None:
    carrier_eta = eta(T0, 2, 2.5, 3, EtaSource.CARRIER)
    assert combine(carrier_eta, None, T0) == carrier_eta
    prior = eta(T0, 1, 3, 6, EtaSource.PRIOR)
    shown = combine(carrier_eta, prior, T0)
    assert shown is not None and shown.source is EtaSource.CARRIER


def test_stale_carrier_eta_is_ignored() -> None:
    ours = eta(T0, 1, 3, 6, EtaSource.LEARNED)
    lapsed = eta(T0 - days(10), 1, 2, 3, EtaSource.CARRIER)
    assert combine(lapsed, ours, T0) == ours
    old = eta(T0, 2, 2.5, 3, EtaSource.CARRIER)
    assert combine(old, ours, T0, issued_at=T0 - days(5)) == ours
    assert combine(None, None, T0) is None


# -- wording and time zones ------------------------------------------------------------------


def test_describe_renders_the_window_in_the_buyers_zone() -> None:
    # 02:00 UTC on Tuesday 5 March is still Monday 4 March in São Paulo.
    window = Eta(
        earliest=datetime(2024, 3, 5, 2, tzinfo=UTC),
        latest=datetime(2024, 3, 8, 2, tzinfo=UTC),
        most_likely=datetime(2024, 3, 6, 2, tzinfo=UTC),
        source=EtaSource.LEARNED,
    )
    lines = describe(window, None, "America/Sao_Paulo")
    assert lines[0] == "Arrives Mon 4 – Thu 7 Mar, most likely Tue 5 Mar"
    assert lines[-1] == "Our estimate from past deliveries"
    assert (
        describe(window, None, "Europe/Berlin")[0]
        == "Arrives Tue 5 – Fri 8 Mar, most likely Wed 6 Mar"
    )
    counted = replace(window, based_on=1243)
    assert describe(counted, None, "UTC")[-1] == "Our estimate from 1,243 similar deliveries"


def test_describe_names_both_months_across_a_month_end() -> None:
    window = Eta(
        earliest=datetime(2024, 11, 29, 12, tzinfo=UTC),
        latest=datetime(2024, 12, 3, 12, tzinfo=UTC),
        most_likely=datetime(2024, 11, 30, 12, tzinfo=UTC),
        source=EtaSource.CARRIER,
    )
    lines = describe(window, None, "UTC", carrier="UPS")
    assert lines == ["Arrives Fri 29 Nov – Tue 3 Dec, most likely Sat 30 Nov", "UPS's estimate"]


def test_describe_compares_with_the_promise() -> None:
    window = Eta(
        earliest=datetime(2024, 3, 5, 12, tzinfo=UTC),
        latest=datetime(2024, 3, 9, 12, tzinfo=UTC),
        most_likely=datetime(2024, 3, 7, 12, tzinfo=UTC),
        source=EtaSource.COMBINED,
    )
    late = describe(window, datetime(2024, 3, 5, 3, tzinfo=UTC), "UTC")
    assert "About 2 days later than promised (Tue 5 Mar)" in late
    on_time = describe(window, datetime(2024, 3, 10, 3, tzinfo=UTC), "UTC")
    assert "On time (promised by Sun 10 Mar)" in on_time
    slipping = describe(window, datetime(2024, 3, 8, 3, tzinfo=UTC), "UTC")
    assert any(line.startswith("On time") and "slip" in line for line in slipping)
    assert slipping[-1] == "The carrier's estimate, checked against past deliveries"


def test_describe_same_day_window_shows_hours() -> None:
    window = Eta(
        earliest=datetime(2024, 3, 5, 13, tzinfo=UTC),
        latest=datetime(2024, 3, 5, 23, tzinfo=UTC),
        most_likely=datetime(2024, 3, 5, 18, tzinfo=UTC),
        source=EtaSource.CARRIER,
    )
    # Hours only on the delivery day itself.
    today = datetime(2024, 3, 5, 12, tzinfo=UTC)
    lines = describe(window, None, "America/Sao_Paulo", carrier="UPS", now=today)
    assert lines[0] == "Arrives today, between 10:00 and 20:00"
    assert lines[-1] == "UPS's estimate"
    ahead = describe(window, None, "America/Sao_Paulo", now=today - days(2))
    assert ahead[0] == "Arrives Tue 5 Mar"


def test_moved_days_counts_local_days() -> None:
    first = eta(T0, 1, 2, 3, EtaSource.LEARNED)
    later = eta(T0, 1, 4, 5, EtaSource.LEARNED)
    assert moved_days(None, first) == 0
    assert moved_days(first, later) == 2
    assert moved_days(later, first, "America/Sao_Paulo") == -2


def test_each_delivery_is_learned_at_once_without_a_refit() -> None:
    model = plain_model()
    model.observe_many(obs(5.0) for _ in range(50))
    assert median_days(at_handoff(model, "A", "B"), T0) == pytest.approx(5.0, abs=0.2)
    for _ in range(60):
        model.observe(obs(9.0))
    assert model.fitted_count == len(model) == 110
    assert median_days(at_handoff(model, "A", "B"), T0) > 8.0


def test_estimates_at_one_moment_do_not_depend_on_what_was_estimated_before() -> None:
    lanes = [("A", "B"), ("A", "C"), ("D", "B"), ("A", "B")]
    history = [
        obs(2.0 + (i % 7) * 0.5, at=T0 + days(i * 0.05), destination=d)
        for i, d in enumerate(["B", "C"] * 300)
    ]
    warm = plain_model()
    warm.observe_many(history)
    now = T0 + days(40)
    for origin, destination in lanes:
        cold = plain_model()
        cold.observe_many(history)
        assert at_handoff(warm, origin, destination, now) == at_handoff(
            cold, origin, destination, now
        )
