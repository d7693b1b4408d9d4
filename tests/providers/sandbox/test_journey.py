"""The sandbox carrier: every scenario walked from label to end state on a settable clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ProviderUnavailable, ShipmentNotFound
from core.models import (
    EtaSource,
    IncidentReason,
    ProofKind,
    Shipment,
    Status,
    TrackingNumber,
    TrackRequest,
)
from core.providers.sandbox import (
    SAMPLE_NOT_FOUND,
    SAMPLES,
    SandboxProvider,
    Scenario,
    build_shipment,
    journey,
    scenario_of,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPEED = 1440.0  # a virtual day per real minute
TICK = timedelta(microseconds=1)


class Clock:
    """A clock whose time the test sets."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@dataclass(frozen=True)
class Expected:
    statuses: tuple[Status, ...]  # consecutive repeats collapsed
    incidents: tuple[IncidentReason, ...]  # in order of appearance
    proof: ProofKind | None
    carrier_eta: bool  # the carrier shows an ETA at some point


D, T, OFD, A = Status.DELIVERED, Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.INFO_RECEIVED
EXPECTED: dict[Scenario, Expected] = {
    Scenario.NOT_YET_ACTIVE: Expected((A,), (), None, False),
    Scenario.NORMAL: Expected((A, T, OFD, D), (), ProofKind.PHOTO, True),
    Scenario.OUT_FOR_DELIVERY_SIGNED: Expected((A, T, OFD, D), (), ProofKind.SIGNATURE, True),
    Scenario.LEFT_AT_DOOR: Expected((A, T, OFD, D), (), ProofKind.LEFT_AT_DOOR, True),
    Scenario.FAILED_ATTEMPT: Expected(
        (A, T, OFD, Status.DELIVERY_FAILED, T, OFD, D),
        (IncidentReason.RECIPIENT_UNAVAILABLE,),
        ProofKind.NEIGHBOUR,
        True,
    ),
    Scenario.WEATHER_DELAY: Expected(
        (A, T, Status.EXCEPTION, T, OFD, D), (IncidentReason.WEATHER_DELAY,), ProofKind.PHOTO, True
    ),
    Scenario.ADDRESS_ISSUE: Expected(
        (A, T, Status.EXCEPTION, T, OFD, D),
        (IncidentReason.ADDRESS_ISSUE,),
        ProofKind.SIGNATURE,
        True,
    ),
    Scenario.CUSTOMS_DUTIES: Expected(
        (A, T, Status.EXCEPTION, T, OFD, D),
        (IncidentReason.CUSTOMS_HOLD, IncidentReason.DUTIES_DUE),
        ProofKind.SIGNATURE,
        True,
    ),
    Scenario.PICKUP_POINT: Expected(
        (A, T, Status.AVAILABLE_FOR_PICKUP, D), (), ProofKind.PICKUP_POINT, False
    ),
    Scenario.RETURNED: Expected(
        (A, T, OFD, Status.DELIVERY_FAILED, Status.EXCEPTION),
        (IncidentReason.REFUSED, IncidentReason.RETURNING, IncidentReason.RETURNED),
        None,
        False,
    ),
    Scenario.LOST: Expected((A, T, Status.EXCEPTION), (IncidentReason.LOST,), None, True),
}
TERMINAL_INCIDENT = {Scenario.RETURNED: IncidentReason.RETURNED, Scenario.LOST: IncidentReason.LOST}
CASES = [
    pytest.param(scenario, carrier, id=f"{scenario}-{carrier}")
    for scenario in Scenario
    for carrier in ("ups", "usps", "fedex")
]


def request(number: str, carrier: str = "ups", first_seen: datetime | None = T0) -> TrackRequest:
    return TrackRequest(TrackingNumber(number), carrier, first_seen)


async def snapshot(provider: SandboxProvider, req: TrackRequest) -> Shipment:
    batch = await provider.track([req])
    assert not batch.errors
    return batch.shipments[req.key]


def collapse(items: list[Status]) -> tuple[Status, ...]:
    return tuple(s for i, s in enumerate(items) if i == 0 or items[i - 1] is not s)


def test_every_scenario_is_expected_and_sampled() -> None:
    assert set(EXPECTED) == set(Scenario) == set(SAMPLES)


@pytest.mark.parametrize(("scenario", "carrier"), CASES)
async def test_walk_journey_from_label_to_end_state(scenario: Scenario, carrier: str) -> None:
    number = SAMPLES[scenario][carrier]
    clock = Clock()
    provider = SandboxProvider(clock, speed=SPEED)
    req = request(number, carrier)
    steps = journey(number, carrier).steps
    seen_statuses: list[Status] = []
    seen_incidents: list[IncidentReason] = []
    saw_eta = False

    for index, step in enumerate(steps):
        due = T0 + step.at / SPEED
        # Just before its time the scan is not there yet …
        clock.current = due - TICK
        before = await snapshot(provider, req)
        assert len(before.events) == index
        # … and at its time it is, with the scan's status and incident on the shipment.
        clock.current = due
        now = await snapshot(provider, req)
        assert len(now.events) == index + 1
        event = now.events[-1]
        assert event.time == due and event.time.tzinfo is UTC
        assert (now.status, now.incident) == (step.status, step.incident)
        assert (event.description, event.location, event.incident, event.raw_code) == (
            step.description,
            step.location,
            step.incident,
            step.code,
        )
        assert event.description and event.location and event.raw_code
        assert now.checked_at == due and now.first_seen == T0 and now.provider == "sandbox"
        assert (now.carrier, now.number) == (carrier, number)
        if now.eta is not None:
            saw_eta = True
            assert now.eta.source is EtaSource.CARRIER
            assert now.eta.earliest <= now.eta.most_likely <= now.eta.latest
        seen_statuses.append(now.status)
        if now.incident is not None and now.incident not in seen_incidents:
            seen_incidents.append(now.incident)

    expected = EXPECTED[scenario]
    assert collapse(seen_statuses) == expected.statuses
    assert tuple(seen_incidents) == expected.incidents
    assert saw_eta is expected.carrier_eta

    # Long after the end nothing moves any more.
    clock.current = T0 + timedelta(days=40) / SPEED
    end = await snapshot(provider, req)
    assert len(end.events) == len(steps)
    assert end.eta is None or not end.is_final
    physical = [e for e in end.events if e.status is not Status.INFO_RECEIVED]
    assert end.shipped_at == (physical[0].time if physical else None)
    if expected.proof is not None:
        assert end.status is Status.DELIVERED and end.is_final
        assert end.proof is not None and end.proof.kind is expected.proof and end.proof.detail
        assert end.proof == steps[-1].proof
        assert end.delivered_at == end.events[-1].time
        assert end.incident is None and end.eta is None
    elif scenario in TERMINAL_INCIDENT:
        assert end.status is Status.EXCEPTION and end.is_final
        assert end.incident is TERMINAL_INCIDENT[scenario]
        assert end.proof is None and end.delivered_at is None
    else:
        assert (end.status, end.incident, end.shipped_at) == (Status.INFO_RECEIVED, None, None)
        assert not end.is_final


def test_signature_proof_names_the_signer() -> None:
    number = SAMPLES[Scenario.OUT_FOR_DELIVERY_SIGNED]["ups"]
    path = journey(number, "ups")
    end = build_shipment(request(number), T0, T0 + path.duration, 1.0)
    assert end.proof is not None and end.proof.kind is ProofKind.SIGNATURE
    assert end.proof.detail in end.events[-1].description


def test_left_at_door_proof_is_the_front_door() -> None:
    number = SAMPLES[Scenario.LEFT_AT_DOOR]["usps"]
    end = build_shipment(request(number, "usps"), T0, T0 + timedelta(days=10), 1.0)
    assert end.proof is not None and end.proof.detail == "Front door"


def test_lost_parcel_goes_quiet_for_days_before_it_is_declared_lost() -> None:
    steps = journey(SAMPLES[Scenario.LOST]["ups"], "ups").steps
    assert steps[-1].at - steps[-2].at >= timedelta(days=5)
    assert steps[-1].at <= timedelta(days=9)


def test_address_issue_is_resolved_and_delivered() -> None:
    number = SAMPLES[Scenario.ADDRESS_ISSUE]["fedex"]
    statuses = [step.status for step in journey(number, "fedex").steps]
    problem = statuses.index(Status.EXCEPTION)
    assert statuses[problem + 1] is Status.IN_TRANSIT and statuses[-1] is Status.DELIVERED


def test_weather_delay_moves_the_carrier_eta_later() -> None:
    number = SAMPLES[Scenario.WEATHER_DELAY]["ups"]
    steps = journey(number, "ups").steps
    etas = [step.eta for step in steps if step.eta is not None]
    assert etas[0] < etas[-1]


@pytest.mark.parametrize("scenario", [s for s in Scenario if s is not Scenario.NOT_YET_ACTIVE])
def test_journeys_last_two_to_nine_days_in_order(scenario: Scenario) -> None:
    for carrier, number in SAMPLES[scenario].items():
        path = journey(number, carrier)
        assert timedelta(days=2) <= path.duration <= timedelta(days=9)
        offsets = [step.at for step in path.steps]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
        assert path.steps[0].status is Status.INFO_RECEIVED and path.steps[0].at == timedelta()


def test_not_yet_active_only_ever_has_the_label() -> None:
    number = SAMPLES[Scenario.NOT_YET_ACTIVE]["ups"]
    later = build_shipment(request(number), T0, T0 + timedelta(days=30), 1.0)
    assert later.status is Status.INFO_RECEIVED and len(later.events) == 1
    assert later.incident is None and later.shipped_at is None


async def test_speed_compresses_time() -> None:
    number = SAMPLES[Scenario.NORMAL]["ups"]
    clock = Clock(T0 + timedelta(minutes=2))  # two virtual days at speed 1440
    fast = await snapshot(SandboxProvider(clock, speed=SPEED), request(number))
    slow = await snapshot(SandboxProvider(clock, speed=1.0), request(number))
    real = build_shipment(request(number), T0, T0 + timedelta(days=2), 1.0)
    assert len(slow.events) == 1
    assert [(e.status, e.description) for e in fast.events] == [
        (e.status, e.description) for e in real.events
    ]
    assert len(fast.events) > 4
    # Event times are the compressed real-time positions.
    assert fast.events[-1].time - T0 == (real.events[-1].time - T0) / SPEED


async def test_same_number_and_clock_give_the_same_shipment() -> None:
    clock = Clock(T0 + timedelta(minutes=3))
    reqs = [request(number, carrier) for s in Scenario for carrier, number in SAMPLES[s].items()]
    first = await SandboxProvider(clock, speed=SPEED).track(reqs)
    second = await SandboxProvider(clock, speed=SPEED).track(reqs)
    assert first.shipments == second.shipments and len(first.shipments) == len(reqs)


async def test_without_first_seen_the_journey_starts_when_first_seen_by_the_instance() -> None:
    number = SAMPLES[Scenario.NORMAL]["ups"]
    clock = Clock()
    provider = SandboxProvider(clock, speed=SPEED)
    req = request(number, first_seen=None)
    first = await snapshot(provider, req)
    assert first.first_seen == T0 and len(first.events) == 1
    clock.current = T0 + timedelta(minutes=1)
    later = await snapshot(provider, req)
    assert later.first_seen == T0 and len(later.events) > 1


async def test_one_bad_number_does_not_fail_the_batch() -> None:
    provider = SandboxProvider(Clock(), speed=SPEED)
    good = request(SAMPLES[Scenario.NORMAL]["ups"])
    bad = request(SAMPLE_NOT_FOUND)
    lowercase_bad = request("1zerr1230300000010", "ups")
    empty = request("", "ups")
    batch = await provider.track([good, bad, lowercase_bad, empty])
    assert set(batch.shipments) == {good.key}
    assert set(batch.errors) == {bad.key, lowercase_bad.key, empty.key}
    assert all(isinstance(e, ShipmentNotFound) and e.user_message for e in batch.errors.values())


async def test_empty_batch_and_outage() -> None:
    provider = SandboxProvider(Clock())
    empty = await provider.track([])
    assert not empty.shipments and not empty.errors
    provider.unavailable = True
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.track([request(SAMPLES[Scenario.NORMAL]["ups"])])
    assert caught.value.provider == "sandbox"
    provider.unavailable = False
    assert (await provider.track([request(SAMPLES[Scenario.NORMAL]["ups"])])).shipments


def test_provider_contract() -> None:
    ports = pytest.importorskip("core.ports", exc_type=ImportError)
    provider = SandboxProvider(Clock())
    assert isinstance(provider, ports.TrackingProvider)
    assert provider.name == "sandbox" and provider.max_batch == 100
    assert all(provider.supports(code) for code in ("ups", "usps", "fedex", "dhl", "whatever"))
    with pytest.raises(ValueError, match="speed"):
        SandboxProvider(Clock(), speed=0)


def test_before_the_start_the_carrier_has_nothing() -> None:
    number = SAMPLES[Scenario.NORMAL]["ups"]
    early = build_shipment(request(number), T0, T0 - timedelta(hours=1), 1.0)
    assert early.status is Status.NOT_FOUND and early.events == ()


def test_naive_first_seen_is_read_as_utc() -> None:
    number = SAMPLES[Scenario.NORMAL]["ups"]
    now = T0 + timedelta(days=1)
    naive = build_shipment(request(number), T0.replace(tzinfo=None), now, 1.0)
    aware = build_shipment(request(number), T0, now, 1.0)
    assert naive == aware


def test_places_and_wording_vary_with_the_number() -> None:
    paths = [journey(n, c) for by_carrier in SAMPLES.values() for c, n in by_carrier.items()]
    assert len({p.origin for p in paths}) >= 6
    assert len({p.destination for p in paths}) >= 6
    assert all(p.origin != p.destination for p in paths)
    pickups = {p.steps[1].description for p in paths if len(p.steps) > 1}
    assert len(pickups) >= 2
    signers = {
        p.steps[-1].proof.detail
        for p in paths
        if p.steps[-1].proof is not None and p.steps[-1].proof.kind is ProofKind.SIGNATURE
    }
    assert len(signers) >= 2
    customs = journey(SAMPLES[Scenario.CUSTOMS_DUTIES]["ups"])
    assert not customs.origin.endswith(", US") and customs.destination.endswith(", US")


def test_scenarios_are_spread_over_many_numbers() -> None:
    counts = dict.fromkeys(Scenario, 0)
    for i in range(2200):
        counts[scenario_of(f"1ZTEST{i:012d}")] += 1
    assert all(100 <= count <= 300 for count in counts.values()), counts


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=5), st.sampled_from(["ups", "usps", "", "x"]))
async def test_random_numbers_never_raise(numbers: list[str], carrier: str) -> None:
    provider = SandboxProvider(Clock(T0 + timedelta(days=3)), speed=3.0)
    reqs = [request(n, carrier) for n in numbers]
    batch = await provider.track(reqs)
    assert {r.key for r in reqs} == set(batch.shipments) | set(batch.errors)
    assert not set(batch.shipments) & set(batch.errors)


async def test_absurd_start_is_a_per_number_error() -> None:
    provider = SandboxProvider(Clock(datetime.max.replace(tzinfo=UTC)), speed=1e-9)
    near_end = request(
        SAMPLES[Scenario.NORMAL]["ups"], first_seen=datetime(9999, 12, 1, tzinfo=UTC)
    )
    batch = await provider.track([near_end])
    assert isinstance(batch.errors[near_end.key], ShipmentNotFound)
