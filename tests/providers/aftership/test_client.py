"""AfterShip client over real HTTP against a loopback fake serving the 2025-04 fixture."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    ProviderAuthError,
    ProviderUnavailable,
    RateLimited,
)
from core.models import EtaSource, Status
from core.pacing import SlidingWindow
from core.providers import aftership as af
from tests.fakes import FakeClock
from tests.providers.conftest import (
    FAST_RETRY,
    FastOptions,
    RecordingSleep,
    req,
    transient_failures,
)
from tests.providers.fake_server import FakeServer, Recorded, Reply, json_reply, load

KEY = "asat_test"
USPS = "9400111206206406260787"
LIST = "/tracking/2025-04/trackings"
TRACKING = load("aftership/get_tracking_2025-04.json")["body"]["data"]


class FakeAfterShip:
    def __init__(self) -> None:
        self.known: dict[str, dict[str, Any]] = {USPS: copy.deepcopy(TRACKING)}
        self.invalid: set[str] = set()
        self.undetectable: set[str] = set()
        self.headers: dict[str, str] = {}

    def know(self, numbers: list[str]) -> None:
        """Make AfterShip already track ``numbers`` (each a copy of the fixture tracking)."""
        for number in numbers:
            tracking = copy.deepcopy(TRACKING)
            tracking["tracking_number"] = number
            self.known[number] = tracking

    def install(self, server: FakeServer) -> None:
        server.route("GET", LIST, self.list)
        server.route("POST", LIST, self.create)

    def _refuse(self, request: Recorded) -> Reply | None:
        if request.headers.get("as-api-key") != KEY:
            meta = {"code": 401, "message": "Invalid API key.", "type": "Unauthorized"}
            return json_reply({"meta": meta, "data": {}}, 401)
        return None

    def list(self, request: Recorded) -> Reply:
        refused = self._refuse(request)
        if refused:
            return refused
        wanted = request.query["tracking_numbers"].split(",")
        trackings = [self.known[n] for n in wanted if n in self.known]
        meta = {"code": 200, "message": "OK", "type": "OK"}
        return json_reply({"meta": meta, "data": {"trackings": trackings}}, headers=self.headers)

    def create(self, request: Recorded) -> Reply:
        refused = self._refuse(request)
        if refused:
            return refused
        item = request.json()
        number = item["tracking_number"]
        if number in self.invalid:
            meta = {
                "code": 4005,
                "message": "The value of tracking_number is invalid.",
                "type": "BadRequest",
            }
            return json_reply({"meta": meta, "data": {}}, 400)
        if number in self.undetectable:
            meta = {"code": 4012, "message": "Cannot detect courier.", "type": "BadRequest"}
            return json_reply({"meta": meta, "data": {}}, 400)
        tracking = {
            "id": f"id-{number}",
            "tracking_number": number,
            "slug": item.get("slug", "usps"),
            "tag": "Pending",
            "subtag": "Pending_001",
            "checkpoints": [],
        }
        self.known[number] = tracking
        meta = {"code": 201, "message": "Created", "type": "Created"}
        return json_reply({"meta": meta, "data": tracking}, 201)


@pytest.fixture
def upstream(fake: FakeServer) -> FakeAfterShip:
    fake_service = FakeAfterShip()
    fake_service.install(fake)
    return fake_service


@pytest.fixture
def client(
    fake: FakeServer, upstream: FakeAfterShip, http: httpx.AsyncClient, fast_options: FastOptions
) -> af.AfterShipClient:
    return af.AfterShipClient(
        http,
        api_key=KEY,
        base_url=fake.url + "/tracking",
        limiter=SlidingWindow(1000),
        **fast_options,
    )


async def test_known_number_maps_tags_checkpoints_and_edd(
    client: af.AfterShipClient, fake: FakeServer, clock: FakeClock
) -> None:
    batch = await client.track([req(USPS)])
    shipment = batch.shipments[req(USPS).key]
    assert shipment.status is Status.IN_TRANSIT
    assert shipment.provider == "aftership"
    assert [e.raw_code for e in shipment.events] == [
        "InfoReceived_001",
        "InTransit_002",
        "InTransit_007",
    ]
    assert shipment.events[0].time == datetime(2025, 12, 29, 9, 20, tzinfo=UTC)
    assert shipment.events[0].status is Status.INFO_RECEIVED
    assert shipment.events[-1].location == "SAN JOSE CA DISTRIBUTION CENTER"
    assert shipment.eta is not None
    assert shipment.eta.source is EtaSource.CARRIER
    assert shipment.eta.most_likely == datetime(2026, 1, 4, 5, 0, tzinfo=UTC)
    assert shipment.promised_by == datetime(2026, 1, 6, tzinfo=UTC)
    assert shipment.shipped_at == datetime(2025, 12, 30, 2, 13, 20, tzinfo=UTC)
    assert shipment.origin == "USA"
    assert shipment.checked_at == clock.now()
    sent = fake.calls("GET", LIST)[0]
    assert sent.headers["as-api-key"] == KEY
    assert sent.query["tracking_numbers"] == USPS
    assert not fake.calls("POST", LIST)


async def test_unknown_number_is_created_and_pending(
    client: af.AfterShipClient, fake: FakeServer
) -> None:
    batch = await client.track([req(USPS), req("1Z5R89390357567127", "ups")])
    fresh = batch.shipments[req("1Z5R89390357567127", "ups").key]
    assert fresh.status is Status.NOT_FOUND
    assert fresh.events == ()
    created = fake.calls("POST", LIST)
    assert [c.json() for c in created] == [{"tracking_number": "1Z5R89390357567127", "slug": "ups"}]
    assert fake.calls("GET", LIST)[0].query["tracking_numbers"] == f"{USPS},1Z5R89390357567127"


async def test_unknown_carrier_is_created_without_a_slug(
    client: af.AfterShipClient, fake: FakeServer
) -> None:
    await client.track([req("LX123456789CN", "some_post")])
    assert fake.calls("POST", LIST)[0].json() == {"tracking_number": "LX123456789CN"}


async def test_one_bad_number_in_a_batch(
    client: af.AfterShipClient, upstream: FakeAfterShip
) -> None:
    good = [f"94001112062064062{i:05d}" for i in range(23)]
    upstream.know(good)
    upstream.invalid.add("12BAD")
    upstream.undetectable.add("ZZZ999")
    batch = await client.track([req(n) for n in [*good, "12BAD", "ZZZ999"]])
    assert len(batch.shipments) == 23
    assert isinstance(batch.errors[req("12BAD").key], InvalidInput)
    assert isinstance(batch.errors[req("ZZZ999").key], CarrierNotDetected)


async def test_batches_respect_max_batch(
    client: af.AfterShipClient, upstream: FakeAfterShip, fake: FakeServer
) -> None:
    many = [f"94001112062064062{i:05d}" for i in range(60)]
    upstream.know(many)
    batch = await client.track([req(n) for n in many])
    assert len(batch.shipments) == 60
    sizes = [len(c.query["tracking_numbers"].split(",")) for c in fake.calls("GET", LIST)]
    assert sizes == [25, 25, 10]


async def test_exhausted_rate_limit_headers_pause_the_next_call(
    client: af.AfterShipClient, upstream: FakeAfterShip, sleeper: RecordingSleep
) -> None:
    upstream.headers = {
        "x-ratelimit-limit": "10",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(time.time()) + 3),
    }
    await client.track([req(USPS)])
    assert sleeper.delays == []
    await client.track([req(USPS)])
    assert len(sleeper.delays) == 1
    assert 1.0 < sleeper.delays[0] <= 3.0


async def test_429_with_retry_after(
    client: af.AfterShipClient, upstream: FakeAfterShip, fake: FakeServer, sleeper: RecordingSleep
) -> None:
    meta = {"code": 429, "message": "Too many requests", "type": "TooManyRequests"}
    fake.route(
        "GET",
        LIST,
        json_reply({"meta": meta}, 429, headers={"retry-after": "0.004"}),
        upstream.list,
    )
    batch = await client.track([req(USPS)])
    assert req(USPS).key in batch.shipments
    assert sleeper.delays == [0.004]


async def test_429_forever_raises_rate_limited(
    client: af.AfterShipClient, fake: FakeServer
) -> None:
    fake.route("GET", LIST, json_reply({"meta": {"code": 429}}, 429))
    with pytest.raises(RateLimited):
        await client.track([req(USPS)])


async def test_bad_key_raises_auth_error(
    fake: FakeServer, upstream: FakeAfterShip, http: httpx.AsyncClient, sleeper: RecordingSleep
) -> None:
    client = af.AfterShipClient(
        http, api_key="nope", base_url=fake.url + "/tracking", retry=FAST_RETRY, sleep=sleeper
    )
    with pytest.raises(ProviderAuthError):
        await client.track([req(USPS)])
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    "failure",
    transient_failures(
        json_reply({"meta": {"code": 500}}, status=500),
        {"meta": {"code": 200}, "data": {"trackings": [TRACKING]}},
        {},
    ),
)
async def test_transient_failures(
    client: af.AfterShipClient, upstream: FakeAfterShip, fake: FakeServer, failure: Reply
) -> None:
    fake.route("GET", LIST, failure, upstream.list)
    assert req(USPS).key in (await client.track([req(USPS)])).shipments
    fake.route("GET", LIST, failure)
    with pytest.raises(ProviderUnavailable):
        await client.track([req(USPS)])
