"""17TRACK client over real HTTP against the loopback fake built from the fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import InvalidInput, ProviderAuthError, ProviderUnavailable, RateLimited
from core.models import EtaSource, IncidentReason, Status
from core.pacing import SlidingWindow
from core.providers import seventeen_track as st
from tests.fakes import FakeClock
from tests.providers.conftest import (
    FAST_RETRY,
    FastOptions,
    RecordingSleep,
    req,
    transient_failures,
)
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, json_reply, load

USPS = "9400111206206406260787"
ERRORS = {c["name"]: c for c in load("seventeen_track/errors.json")["cases"]}
IN_TRANSIT = load("seventeen_track/gettrackinfo_in_transit.json")["body"]


def numbers(count: int) -> list[str]:
    return [f"9400111206206406{i:06d}" for i in range(count)]


@pytest.fixture
def tracker() -> Fake17Track:
    return Fake17Track()


@pytest.fixture
def client(
    fake: FakeServer, tracker: Fake17Track, http: httpx.AsyncClient, fast_options: FastOptions
) -> st.SeventeenTrackClient:
    tracker.install(fake)
    return st.SeventeenTrackClient(
        http,
        api_key=KEY,
        base_url=fake.url + PREFIX,
        limiter=SlidingWindow(1000),
        **fast_options,
    )


async def test_registered_number_becomes_a_full_shipment(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer, clock: FakeClock
) -> None:
    tracker.registered.add(USPS)
    batch = await client.track([req(USPS)])
    assert not batch.errors
    shipment = batch.shipments[req(USPS).key]
    assert shipment.status is Status.IN_TRANSIT
    assert shipment.carrier == "usps"
    assert shipment.provider == "17track"
    assert [e.description for e in shipment.events] == [
        "Shipping Label Created, USPS Awaiting Item",
        "USPS picked up item",
        "Departed USPS Regional Facility",
        "In Transit to Next Facility",
    ]
    assert shipment.events[0].status is Status.INFO_RECEIVED
    assert shipment.events[-1].time == datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC)
    assert shipment.events[-1].raw_code == "InTransit_Other"
    assert shipment.shipped_at == datetime(2025, 12, 30, 2, 13, 20, tzinfo=UTC)
    assert shipment.eta is not None
    assert shipment.eta.source is EtaSource.CARRIER
    assert shipment.eta.earliest == datetime(2026, 1, 3, 8, 0, tzinfo=UTC)
    assert shipment.eta.latest == datetime(2026, 1, 4, 5, 0, tzinfo=UTC)
    assert shipment.origin == "US"
    assert shipment.destination == "US"
    assert shipment.checked_at == clock.now()
    sent = fake.calls("POST", f"{PREFIX}/gettrackinfo")[0]
    assert sent.json() == [{"number": USPS, "carrier": 21051}]
    assert sent.headers["17token"] == KEY
    assert not fake.calls("POST", f"{PREFIX}/register")


async def test_first_sight_registers_and_reads_as_not_found(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer
) -> None:
    batch = await client.track([req(USPS), req("1Z5R89390357567127", "ups")])
    assert {s.status for s in batch.shipments.values()} == {Status.NOT_FOUND}
    assert tracker.registered == {USPS, "1Z5R89390357567127"}
    register = fake.calls("POST", f"{PREFIX}/register")
    assert len(register) == 1
    assert register[0].json() == [
        {"number": USPS, "carrier": 21051, "tag": "pb:usps"},
        {"number": "1Z5R89390357567127", "carrier": 100002, "tag": "pb:ups"},
    ]
    again = await client.track([req(USPS)])
    assert again.shipments[req(USPS).key].status is Status.IN_TRANSIT
    assert len(fake.calls("POST", f"{PREFIX}/register")) == 1


async def test_unknown_carrier_is_registered_without_a_carrier_key(
    client: st.SeventeenTrackClient, fake: FakeServer
) -> None:
    await client.track([req("LX123456789CN", "some_local_post")])
    assert fake.calls("POST", f"{PREFIX}/register")[0].json() == [
        {"number": "LX123456789CN", "tag": "pb:some_local_post"}
    ]


async def test_one_bad_number_in_a_batch_of_40(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer
) -> None:
    good = numbers(39)
    tracker.registered.update(good)
    tracker.invalid.add("12BAD")
    batch = await client.track([req(n) for n in [*good[:20], "12BAD", *good[20:]]])
    assert len(batch.shipments) == 39
    assert set(batch.errors) == {req("12BAD").key}
    assert isinstance(batch.errors[req("12BAD").key], InvalidInput)
    assert len(fake.calls("POST", f"{PREFIX}/gettrackinfo")) == 1


async def test_batches_hold_at_most_40_numbers(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer
) -> None:
    many = numbers(85)
    tracker.registered.update(many)
    batch = await client.track([req(n) for n in many])
    assert len(batch.shipments) == 85
    sizes = sorted(len(r.json()) for r in fake.calls("POST", f"{PREFIX}/gettrackinfo"))
    assert sizes == [5, 40, 40]


async def test_returning_and_not_registered_in_one_answer(
    client: st.SeventeenTrackClient, tracker: Fake17Track
) -> None:
    tracker.registered.add(USPS)
    tracker.returning(USPS)
    batch = await client.track([req(USPS), req("9400100000000000000000")])
    returning = batch.shipments[req(USPS).key]
    assert returning.status is Status.EXCEPTION
    assert returning.incident is IncidentReason.RETURNING
    assert returning.eta is None
    fresh = batch.shipments[req("9400100000000000000000").key]
    assert fresh.status is Status.NOT_FOUND


async def test_no_info_yet_is_a_not_found_snapshot(
    client: st.SeventeenTrackClient, tracker: Fake17Track
) -> None:
    tracker.registered.add(USPS)
    tracker.no_info.add(USPS)
    batch = await client.track([req(USPS)])
    assert batch.shipments[req(USPS).key].status is Status.NOT_FOUND


async def test_quota_exhausted_gives_a_clear_error_and_stops_registering(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer, clock: FakeClock
) -> None:
    tracker.quota = 0
    tracker.registered.add(USPS)
    batch = await client.track([req(USPS), req("9400100000000000000001")])
    assert batch.shipments[req(USPS).key].status is Status.IN_TRANSIT
    error = batch.errors[req("9400100000000000000001").key]
    assert isinstance(error, ProviderAuthError)
    assert error.user_message == st.QUOTA_MESSAGE
    assert "quota" in error.user_message
    # While exhausted, new numbers are refused without spending a call on register.
    await client.track([req("9400100000000000000002")])
    assert len(fake.calls("POST", f"{PREFIX}/register")) == 1
    # After the recheck interval getquota shows room again and registration resumes.
    tracker.quota = 5
    clock.advance(timedelta(minutes=11))
    batch = await client.track([req("9400100000000000000003")])
    assert batch.shipments[req("9400100000000000000003").key].status is Status.NOT_FOUND
    assert len(fake.calls("POST", f"{PREFIX}/getquota")) == 1


async def test_get_quota(client: st.SeventeenTrackClient, tracker: Fake17Track) -> None:
    tracker.quota = 163
    quota = await client.get_quota()
    assert quota == st.Quota(total=200, used=37, remaining=163, today_used=3, max_daily=200)


async def test_invalid_key_raises_auth_error(
    fake: FakeServer, http: httpx.AsyncClient, sleeper: RecordingSleep
) -> None:
    Fake17Track().install(fake)
    client = st.SeventeenTrackClient(
        http, api_key="wrong", base_url=fake.url + PREFIX, retry=FAST_RETRY, sleep=sleeper
    )
    with pytest.raises(ProviderAuthError):
        await client.track([req(USPS)])
    assert len(fake.requests) == 1  # a 401 is never retried


async def test_429_with_retry_after_is_honoured(
    client: st.SeventeenTrackClient,
    tracker: Fake17Track,
    fake: FakeServer,
    sleeper: RecordingSleep,
) -> None:
    tracker.registered.add(USPS)
    case = ERRORS["rate_limited"]
    fake.route(
        "POST",
        f"{PREFIX}/gettrackinfo",
        json_reply(case["body"], status=429, headers={"retry-after": "0.005"}),
        tracker.answer,
    )
    batch = await client.track([req(USPS)])
    assert batch.shipments[req(USPS).key].status is Status.IN_TRANSIT
    assert sleeper.delays == [0.005]


async def test_429_in_a_200_envelope_is_retried(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer
) -> None:
    tracker.registered.add(USPS)
    fake.route(
        "POST", f"{PREFIX}/gettrackinfo", json_reply(ERRORS["rate_limited"]["body"]), tracker.answer
    )
    batch = await client.track([req(USPS)])
    assert req(USPS).key in batch.shipments


async def test_429_every_time_raises_rate_limited(
    client: st.SeventeenTrackClient, fake: FakeServer, sleeper: RecordingSleep
) -> None:
    fake.route(
        "POST",
        f"{PREFIX}/gettrackinfo",
        json_reply(ERRORS["rate_limited"]["body"], status=429, headers={"retry-after": "2"}),
    )
    with pytest.raises(RateLimited) as caught:
        await client.track([req(USPS)])
    assert caught.value.retry_after == 2.0
    assert len(sleeper.delays) == FAST_RETRY.attempts - 1


@pytest.mark.parametrize(
    "failure",
    transient_failures(
        json_reply({"message": "boom"}, status=500),
        IN_TRANSIT,
        {"code": 0, "data": {"accepted": [], "rejected": []}},
    ),
)
async def test_transient_failures_are_retried_then_succeed(
    client: st.SeventeenTrackClient,
    tracker: Fake17Track,
    fake: FakeServer,
    failure: object,
) -> None:
    tracker.registered.add(USPS)
    fake.route("POST", f"{PREFIX}/gettrackinfo", failure, tracker.answer)  # type: ignore[arg-type]
    batch = await client.track([req(USPS)])
    assert batch.shipments[req(USPS).key].status is Status.IN_TRANSIT
    assert len(fake.calls("POST", f"{PREFIX}/gettrackinfo")) == 2


@pytest.mark.parametrize(
    "failure",
    transient_failures(json_reply({"message": "boom"}, status=500), IN_TRANSIT, {}),
)
async def test_persistent_failures_raise_provider_unavailable(
    client: st.SeventeenTrackClient, fake: FakeServer, failure: object
) -> None:
    fake.route("POST", f"{PREFIX}/gettrackinfo", failure)  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable) as caught:
        await client.track([req(USPS)])
    assert caught.value.__cause__ is not None
    assert len(fake.calls("POST", f"{PREFIX}/gettrackinfo")) == FAST_RETRY.attempts


async def test_batch_too_large_answer_is_a_provider_error(
    client: st.SeventeenTrackClient, fake: FakeServer
) -> None:
    fake.route("POST", f"{PREFIX}/gettrackinfo", json_reply(ERRORS["batch_too_large"]["body"]))
    with pytest.raises(ProviderUnavailable):
        await client.track([req(USPS)])


async def test_one_failing_chunk_does_not_fail_the_others(
    client: st.SeventeenTrackClient, tracker: Fake17Track, fake: FakeServer
) -> None:
    many = numbers(41)
    tracker.registered.update(many)
    calls = {"n": 0}

    def first_fails(request: object) -> object:
        calls["n"] += 1
        if len(request.json()) == 40:  # type: ignore[attr-defined]
            return json_reply({}, status=503)
        return tracker.answer(request)  # type: ignore[arg-type]

    fake.route("POST", f"{PREFIX}/gettrackinfo", first_fails)  # type: ignore[arg-type]
    batch = await client.track([req(n) for n in many])
    assert len(batch.shipments) == 1
    assert len(batch.errors) == 40
    assert all(isinstance(e, ProviderUnavailable) for e in batch.errors.values())
