"""The adaptive polling schedule, per status, with a seeded random source."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.incidents import DELIVERY_CHECK_AFTER
from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from core.polling import JITTER, MIN_INTERVAL, SAFETY_NET, base_interval, next_check

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def ev(
    hours: float,
    status: Status = Status.IN_TRANSIT,
    location: str = "Hub",
    incident: IncidentReason | None = None,
) -> TrackingEvent:
    return TrackingEvent(T0 + hours * H, status, status.value, location, incident=incident)


def parcel(
    *events: TrackingEvent,
    status: Status | None = None,
    origin: str = "US",
    destination: str = "US",
    eta: Eta | None = None,
) -> Shipment:
    current = status or (events[-1].status if events else Status.NOT_FOUND)
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z999AA10123456784"),
        status=current,
        events=events,
        first_seen=T0,
        origin=origin,
        destination=destination,
        eta=eta,
        delivered_at=events[-1].time if current is Status.DELIVERED and events else None,
    )


def within_jitter(result: datetime | None, now: datetime, base: timedelta) -> bool:
    assert result is not None
    return base * (1 - JITTER) <= result - now <= base * (1 + JITTER)


@pytest.mark.parametrize(
    ("shipment", "at_hours", "base"),
    [
        (parcel(ev(0, Status.OUT_FOR_DELIVERY)), 1, timedelta(minutes=45)),
        (parcel(ev(0, Status.DELIVERY_FAILED)), 1, 2.5 * H),
        (parcel(ev(0, Status.AVAILABLE_FOR_PICKUP)), 5, 3 * H),
        (parcel(ev(0, Status.AVAILABLE_FOR_PICKUP)), 30, 8 * H),
        (parcel(ev(0, Status.EXCEPTION, incident=IncidentReason.CUSTOMS_HOLD)), 5, 4 * H),
        (parcel(ev(0, Status.EXCEPTION, incident=IncidentReason.CUSTOMS_HOLD)), 60, 8 * H),
        (parcel(ev(0)), 2, 3 * H),
        (parcel(ev(0)), 20, 6 * H),
        (parcel(ev(0)), 72, 10 * H),
        (parcel(ev(0), origin="CN"), 30, 12 * H),
        (parcel(ev(0), origin="CN"), 5, 3 * H),
        (parcel(), 1, 6 * H),
        (parcel(ev(0, Status.INFO_RECEIVED)), 47, 6 * H),
        (parcel(ev(0, Status.INFO_RECEIVED)), 48, 12 * H),
        (parcel(), 24 * 8, 24 * H),
    ],
)
def test_schedule_per_status(shipment: Shipment, at_hours: float, base: timedelta) -> None:
    at = T0 + at_hours * H
    assert base_interval(shipment, at) == base
    rng = random.Random(42)
    for _ in range(50):
        assert within_jitter(next_check(shipment, at, rng), at, base)


def test_the_arrival_window_tightens_a_moving_parcel() -> None:
    window = Eta(T0 + 30 * H, T0 + 60 * H, T0 + 45 * H, EtaSource.CARRIER)
    # Last scan 14 h ago: 6 h normally, 3 h once the window opens within 12 h.
    assert base_interval(parcel(ev(0), ev(8)), T0 + 22 * H) == 6 * H
    assert base_interval(parcel(ev(0), ev(8), eta=window), T0 + 22 * H) == 3 * H
    assert base_interval(parcel(ev(0), ev(4), eta=window), T0 + 17 * H) == 6 * H
    # A parcel quiet for two days is not about to arrive.
    assert base_interval(parcel(ev(0), eta=window), T0 + 55 * H) == 10 * H
    # Past the window the parcel is late: no more tightening.
    assert base_interval(parcel(ev(0), ev(66), eta=window), T0 + 80 * H) == 6 * H


@pytest.mark.parametrize(
    "reason",
    [IncidentReason.LOST, IncidentReason.RETURNED, IncidentReason.CANCELLED],
)
def test_terminal_incidents_stop_polling(reason: IncidentReason) -> None:
    shipment = parcel(ev(0, Status.EXCEPTION, incident=reason))
    assert next_check(shipment, T0 + H, random.Random(1)) is None
    assert next_check(shipment, T0 + H, random.Random(1), webhook_fed=True) is None


def test_expired_stops_polling() -> None:
    assert next_check(parcel(ev(0), status=Status.EXPIRED), T0, random.Random(1)) is None


def test_delivered_gets_one_recheck_when_the_delivery_check_is_due() -> None:
    shipment = parcel(ev(0), ev(10, Status.DELIVERED))
    due = T0 + 10 * H + DELIVERY_CHECK_AFTER
    rng = random.Random(3)
    for _ in range(50):
        recheck = next_check(shipment, T0 + 10 * H, rng)
        assert recheck is not None
        assert due <= recheck <= due + DELIVERY_CHECK_AFTER * JITTER
    assert next_check(shipment, due, rng) is None
    assert next_check(shipment, due + H, rng) is None
    # A delivery seen with no date at all is not rechecked.
    assert next_check(parcel(status=Status.DELIVERED), T0, rng) is None


def test_webhook_fed_parcels_get_a_daily_safety_net() -> None:
    rng = random.Random(5)
    for shipment in (parcel(ev(0, Status.OUT_FOR_DELIVERY)), parcel(ev(0)), parcel()):
        assert within_jitter(
            next_check(shipment, T0 + H, rng, webhook_fed=True), T0 + H, SAFETY_NET
        )


def test_the_same_seed_gives_the_same_schedule() -> None:
    shipment = parcel(ev(0))
    first = [next_check(shipment, T0 + H, random.Random(9)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    spread = {next_check(shipment, T0 + H, rng) for rng in [random.Random(9)] * 20}
    assert len(spread) > 10  # jitter spreads parcels added together


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(Status)),
    st.integers(min_value=0, max_value=24 * 30),
    st.integers(min_value=0, max_value=2**32),
    st.booleans(),
)
def test_next_check_is_always_in_the_future_or_none(
    status: Status, hours: int, seed: int, webhook: bool
) -> None:
    shipment = parcel(ev(0, status), status=status)
    at = T0 + hours * H
    result = next_check(shipment, at, random.Random(seed), webhook_fed=webhook)
    assert result is None or result >= at + MIN_INTERVAL


def _journey() -> list[TrackingEvent]:
    """A three-day domestic parcel: label, four hub scans, out for delivery, delivered."""
    return [
        ev(1, Status.INFO_RECEIVED, "Shipper"),
        ev(10, location="Origin hub"),
        ev(20, location="Regional hub"),
        ev(34, location="Destination hub"),
        ev(47, location="Local depot"),
        ev(71, Status.OUT_FOR_DELIVERY, "Local depot"),
        ev(77, Status.DELIVERED, "Front door"),
    ]


def test_a_typical_journey_costs_far_fewer_calls_than_a_fixed_poller() -> None:
    events = _journey()
    rng = random.Random(11)
    at, calls = T0, 0
    while at < T0 + timedelta(days=14):
        calls += 1
        seen = tuple(event for event in events if event.time <= at)
        upcoming = next_check(parcel(*seen), at, rng)
        if upcoming is None:
            break
        at = upcoming
    assert calls / 14 <= 6
    # Polling stopped after the one delivery recheck, a day after delivery.
    assert at >= events[-1].time + DELIVERY_CHECK_AFTER
