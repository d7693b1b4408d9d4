"""TikTok Shop client over real HTTP against a loopback fake that checks every signature."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.errors import ProviderAuthError, ProviderUnavailable, RateLimited
from core.models import OrderId, OrderStatus, Status, TrackingNumber, TrackRequest
from core.providers import tiktok_shop as tts
from tests.fakes import FakeClock
from tests.providers.conftest import FastOptions, RecordingSleep, transient_failures
from tests.providers.fake_server import Answer, FakeServer, Recorded, Reply, json_reply, load

APP_KEY = "test_app_key"
APP_SECRET = "test_app_secret"
ORDER = "576486316948490001"
NEW_TOKEN = "TTP_access_new_xxx"
ERRORS = {c["name"]: c for c in load("tiktok_shop/errors.json")["cases"]}
ORDER_DETAIL = load("tiktok_shop/get_order_detail_202309.in_transit.json")["body"]
ORDER_LIST = load("tiktok_shop/get_order_list_202309.json")["body"]
SHOPS = load("tiktok_shop/get_authorized_shops_202309.json")["body"]
TRACKING = load("tiktok_shop/get_tracking_202309.json")["body"]
PACKAGE = load("tiktok_shop/get_package_detail_202309.json")["body"]
REFRESH = load("tiktok_shop/token_refresh.json")["body"]
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
SHOPS_PATH = "/authorization/202309/shops"


def error_reply(case: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """The recorded error envelope ``case`` of errors.json, answered with ``status``."""
    return json_reply(ERRORS[case]["body"], status, headers)


def serve_shops(fake: FakeServer, *answers: Answer) -> None:
    fake.route("GET", SHOPS_PATH, *answers)


class FakeTikTok:
    """Checks signature, timestamp and token like the real API, then serves fixtures."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.valid_tokens = {"TTP_access_old"}
        self.refreshes: list[Recorded] = []
        self.bad_signatures = 0
        self.shops = self.api(lambda r: SHOPS)

    def install(self, server: FakeServer) -> None:
        server.route("GET", SHOPS_PATH, self.shops)
        server.route("GET", "/order/202309/orders", self.api(self._orders))
        server.route("POST", "/order/202309/orders/search", self.api(self._search))
        server.route(
            "GET", f"/fulfillment/202309/orders/{ORDER}/tracking", self.api(lambda r: TRACKING)
        )
        server.route(
            "GET", "/fulfillment/202309/packages/1153132168123859123", self.api(lambda r: PACKAGE)
        )
        server.route("GET", "/api/v2/token/refresh", self.refresh)

    def check(self, request: Recorded) -> Reply | None:
        expected = tts.sign(APP_SECRET, request.path, request.query, request.body)
        if request.query.get("sign") != expected or request.query.get("app_key") != APP_KEY:
            self.bad_signatures += 1
            return error_reply("invalid_sign", 401)
        skew = self.clock.now().timestamp() - int(request.query["timestamp"])
        if not -30 <= skew <= 300:
            return error_reply("invalid_sign", 401)
        if request.headers.get("x-tts-access-token") not in self.valid_tokens:
            return error_reply("access_token_expired", 401)
        scoped = not request.path.startswith("/authorization/")
        if scoped and request.query.get("shop_cipher") != "TTP_abcdefghijklmnopqrstuv":
            return json_reply({"code": 106013, "message": "missing shop_cipher", "data": None})
        if not scoped and "shop_cipher" in request.query:
            return json_reply({"code": 36009004, "message": "unexpected shop_cipher", "data": None})
        return None

    def api(self, produce: Any) -> Any:
        def answer(request: Recorded) -> Reply:
            refused = self.check(request)
            return refused if refused is not None else json_reply(produce(request))

        return answer

    def refresh(self, request: Recorded) -> Reply:
        self.refreshes.append(request)
        if request.query.get("refresh_token") != "TTP_refresh_xxx":
            return json_reply({"code": 36004, "message": "invalid refresh token", "data": None})
        self.valid_tokens = {NEW_TOKEN}
        return json_reply(REFRESH)

    @staticmethod
    def _orders(request: Recorded) -> dict[str, Any]:
        ids = request.query["ids"].split(",")
        assert len(ids) <= tts.MAX_ORDER_IDS
        body = copy.deepcopy(ORDER_DETAIL)
        body["data"]["orders"] = [o for o in body["data"]["orders"] if o["id"] in ids]
        return body  # type: ignore[no-any-return]

    @staticmethod
    def _search(request: Recorded) -> dict[str, Any]:
        assert request.json()["update_time_ge"] == 1767000000
        body = copy.deepcopy(ORDER_LIST)
        if request.query.get("page_token") != "page2":
            body["data"]["orders"] = body["data"]["orders"][:2]
            body["data"]["next_page_token"] = "page2"
        else:
            body["data"]["orders"] = body["data"]["orders"][2:]
        return body  # type: ignore[no-any-return]


def tokens(expires_in: timedelta) -> tts.TokenSet:
    return tts.TokenSet(
        access_token="TTP_access_old",
        access_expires_at=NOW + expires_in,
        refresh_token="TTP_refresh_xxx",
        refresh_expires_at=NOW + timedelta(days=300),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def shop(fake: FakeServer, clock: FakeClock) -> FakeTikTok:
    fake_shop = FakeTikTok(clock)
    fake_shop.install(fake)
    return fake_shop


class Saved:
    def __init__(self) -> None:
        self.tokens: list[tts.TokenSet] = []

    async def __call__(self, tokens: tts.TokenSet) -> None:
        self.tokens.append(tokens)


@pytest.fixture
def saved() -> Saved:
    return Saved()


MakeClient = Callable[[timedelta], tts.TikTokShopClient]


@pytest.fixture
def make_client(
    fake: FakeServer,
    shop: FakeTikTok,
    http: httpx.AsyncClient,
    saved: Saved,
    fast_options: FastOptions,
) -> MakeClient:
    """A client against the fake shop whose access token expires ``expires_in`` from now."""

    def make(expires_in: timedelta) -> tts.TikTokShopClient:
        return tts.TikTokShopClient(
            http,
            app_key=APP_KEY,
            app_secret=APP_SECRET,
            tokens=tokens(expires_in),
            on_token_refresh=saved,
            api_base=fake.url,
            auth_base=fake.url,
            **fast_options,
        )

    return make


@pytest.fixture
def client(make_client: MakeClient) -> tts.TikTokShopClient:
    return make_client(timedelta(days=5))


async def test_get_orders_discovers_the_cipher_and_maps_the_order(
    client: tts.TikTokShopClient, fake: FakeServer, shop: FakeTikTok
) -> None:
    orders = await client.get_orders([OrderId(ORDER), OrderId("576486316948499999")])
    assert list(orders) == [ORDER]
    order = orders[OrderId(ORDER)]
    assert order.status is OrderStatus.IN_TRANSIT
    assert order.shop == "7494049642642441621"
    assert order.shipments == (
        TrackRequest(
            TrackingNumber("9400111206206406260787"),
            "usps",
            first_seen=datetime.fromtimestamp(1767000000, UTC),
        ),
    )
    assert order.placed_at == datetime.fromtimestamp(1766880000, UTC)
    assert order.promised_by == datetime.fromtimestamp(1767657600, UTC)
    assert order.postcode == "95110"
    assert order.phone_last4 == "1234"
    assert shop.bad_signatures == 0
    assert len(fake.calls("GET", SHOPS_PATH)) == 1
    await client.get_orders([OrderId(ORDER)])
    assert len(fake.calls("GET", SHOPS_PATH)) == 1


async def test_more_than_50_ids_are_split(client: tts.TikTokShopClient, fake: FakeServer) -> None:
    ids = [OrderId(str(576486316948490001 + i)) for i in range(120)]
    orders = await client.get_orders(ids)
    assert list(orders) == [ORDER]
    sizes = [len(r.query["ids"].split(",")) for r in fake.calls("GET", "/order/202309/orders")]
    assert sizes == [50, 50, 20]


async def test_token_near_expiry_is_refreshed_first_and_persisted(
    make_client: MakeClient, fake: FakeServer, shop: FakeTikTok, saved: Saved
) -> None:
    client = make_client(timedelta(hours=2))
    orders = await client.get_orders([OrderId(ORDER)])
    assert OrderId(ORDER) in orders
    assert len(shop.refreshes) == 1
    query = shop.refreshes[0].query
    assert query["grant_type"] == "refresh_token"
    assert query["app_key"] == APP_KEY
    assert "sign" not in query
    assert [t.access_token for t in saved.tokens] == [NEW_TOKEN]
    fresh = saved.tokens[0]
    assert fresh.access_expires_at == datetime.fromtimestamp(1767830400, UTC)
    assert fresh.refresh_expires_at == datetime.fromtimestamp(1798761600, UTC)
    assert client.tokens is fresh
    assert "TTP_access" not in repr(fresh)
    api_calls = [r for r in fake.requests if r.path != "/api/v2/token/refresh"]
    assert {r.headers["x-tts-access-token"] for r in api_calls} == {NEW_TOKEN}


async def test_expired_token_is_refreshed_then_the_call_retried_once(
    client: tts.TikTokShopClient, shop: FakeTikTok, fake: FakeServer, saved: Saved
) -> None:
    # The seller's token was revoked early: the API says "expired" although the clock disagrees.
    shop.valid_tokens = {"something_else"}
    real_refresh = shop.refresh

    def refresh(request: Recorded) -> Reply:
        reply = real_refresh(request)
        shop.valid_tokens = {NEW_TOKEN}
        return reply

    fake.route("GET", "/api/v2/token/refresh", refresh)
    orders = await client.get_orders([OrderId(ORDER)])
    assert OrderId(ORDER) in orders
    assert len(shop.refreshes) == 1
    assert [t.access_token for t in saved.tokens] == [NEW_TOKEN]


async def test_expired_token_twice_is_an_auth_error(
    client: tts.TikTokShopClient, shop: FakeTikTok, fake: FakeServer
) -> None:
    serve_shops(fake, error_reply("access_token_expired", 401))
    with pytest.raises(ProviderAuthError) as caught:
        await client.get_orders([OrderId(ORDER)])
    assert len(shop.refreshes) == 1
    assert "renewed" in caught.value.user_message


async def test_refused_refresh_is_an_auth_error(
    make_client: MakeClient, fake: FakeServer, saved: Saved
) -> None:
    client = make_client(timedelta(hours=1))
    fake.route("GET", "/api/v2/token/refresh", json_reply({"code": 36004, "data": None}))
    with pytest.raises(ProviderAuthError):
        await client.get_orders([OrderId(ORDER)])
    assert saved.tokens == []


async def test_bad_signature_answer_is_an_auth_error_without_retry(
    client: tts.TikTokShopClient, fake: FakeServer
) -> None:
    serve_shops(fake, error_reply("invalid_sign", 401))
    with pytest.raises(ProviderAuthError):
        await client.shops()
    assert len(fake.calls("GET", SHOPS_PATH)) == 1


async def test_invalid_app_key_is_an_auth_error(
    client: tts.TikTokShopClient, fake: FakeServer
) -> None:
    serve_shops(fake, error_reply("invalid_app_key", 400))
    with pytest.raises(ProviderAuthError):
        await client.shops()


async def test_ambiguous_code_with_a_parameter_message_is_not_an_auth_error(
    client: tts.TikTokShopClient, fake: FakeServer
) -> None:
    body = {"code": 36009004, "message": "Invalid parameter: page_size", "data": None}
    serve_shops(fake, json_reply(body, 400))
    with pytest.raises(ProviderUnavailable):
        await client.shops()


async def test_429_with_retry_after_then_success(
    client: tts.TikTokShopClient, fake: FakeServer, shop: FakeTikTok, sleeper: RecordingSleep
) -> None:
    serve_shops(fake, error_reply("rate_limited", 429, {"Retry-After": "0.003"}), shop.shops)
    assert [s.cipher for s in await client.shops()] == ["TTP_abcdefghijklmnopqrstuv"]
    assert sleeper.delays == [0.003]


async def test_rate_limit_code_in_a_200_envelope_is_retried(
    client: tts.TikTokShopClient, fake: FakeServer, shop: FakeTikTok
) -> None:
    serve_shops(fake, error_reply("rate_limited"), shop.shops)
    assert len(await client.shops()) == 1


async def test_rate_limited_every_time(client: tts.TikTokShopClient, fake: FakeServer) -> None:
    serve_shops(fake, error_reply("rate_limited", 429))
    with pytest.raises(RateLimited):
        await client.shops()


@pytest.mark.parametrize(
    "failure",
    [
        *transient_failures(
            json_reply({"code": 36009003, "message": "internal"}, status=500), SHOPS, SHOPS
        ),
        pytest.param(json_reply({}, status=503), id="503"),
    ],
)
async def test_transient_failures(
    client: tts.TikTokShopClient, fake: FakeServer, shop: FakeTikTok, failure: Reply
) -> None:
    serve_shops(fake, failure, shop.shops)
    assert len(await client.shops()) == 1
    serve_shops(fake, failure)
    with pytest.raises(ProviderUnavailable):
        await client.shops()


async def test_search_pages_feed_the_tracking_number_index(
    client: tts.TikTokShopClient, fake: FakeServer, shop: FakeTikTok
) -> None:
    entries = await client.index_updated(
        updated_from=datetime.fromtimestamp(1767000000, UTC), page_size=2
    )
    assert entries == [
        tts.IndexEntry(
            TrackingNumber("9400111206206406260787"),
            "usps",
            "7494049642642441621",
            OrderId("576486316948490001"),
            "1153132168123859123",
        ),
        tts.IndexEntry(
            TrackingNumber("1Z5R89390357567127"),
            "ups",
            "7494049642642441621",
            OrderId("576486316948490002"),
            "1153132168123859200",
        ),
    ]
    searches = fake.calls("POST", "/order/202309/orders/search")
    assert [s.query.get("page_token") for s in searches] == [None, "page2"]
    assert searches[0].query["sort_field"] == "update_time"
    assert searches[0].body == b'{"update_time_ge":1767000000}'
    assert shop.bad_signatures == 0


async def test_get_tracking_events_oldest_first(client: tts.TikTokShopClient) -> None:
    events = await client.get_tracking(OrderId(ORDER))
    assert [e.time for e in events] == [
        datetime.fromtimestamp(t, UTC) for t in (1767000000, 1767050000, 1767225590)
    ]
    assert events[-1].description == "Your package is in transit to the next facility."
    assert {e.status for e in events} == {Status.IN_TRANSIT}


async def test_get_package(client: tts.TikTokShopClient) -> None:
    package = await client.get_package("1153132168123859123")
    assert package.number == "9400111206206406260787"
    assert package.carrier == "usps"
    assert package.order_ids == (OrderId(ORDER),)
    assert package.status == "FULFILLING"


async def test_search_with_a_search_page(client: tts.TikTokShopClient) -> None:
    page = await client.search_page(updated_from=datetime.fromtimestamp(1767000000, UTC))
    assert page.next_page_token == "page2"
    assert page.total_count == 3
    assert set(page.orders) == {"576486316948490001", "576486316948490002"}


def test_order_without_tracking_has_no_shipments() -> None:
    pending = tts.parse_order(ORDER_LIST["data"]["orders"][2], "shop")
    assert pending is not None
    assert pending.status is OrderStatus.AWAITING_SHIPMENT
    assert pending.shipments == ()


def test_multi_package_order_uses_line_items() -> None:
    raw = copy.deepcopy(ORDER_DETAIL["data"]["orders"][0])
    second = copy.deepcopy(raw["line_items"][0])
    second.update(
        id="2", package_id="p2", tracking_number="1Z5R8939 0357567127", shipping_provider_name="UPS"
    )
    raw["line_items"].append(second)
    order = tts.parse_order(raw, "shop")
    assert order is not None
    assert [(r.number, r.carrier) for r in order.shipments] == [
        ("9400111206206406260787", "usps"),
        ("1Z5R89390357567127", "ups"),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UNPAID", OrderStatus.UNPAID),
        ("ON_HOLD", OrderStatus.ON_HOLD),
        ("AWAITING_SHIPMENT", OrderStatus.AWAITING_SHIPMENT),
        ("PARTIALLY_SHIPPING", OrderStatus.PARTIALLY_SHIPPING),
        ("AWAITING_COLLECTION", OrderStatus.AWAITING_COLLECTION),
        ("IN_TRANSIT", OrderStatus.IN_TRANSIT),
        ("DELIVERED", OrderStatus.DELIVERED),
        ("COMPLETED", OrderStatus.COMPLETED),
        ("CANCELLED", OrderStatus.CANCELLED),
        ("CANCEL", OrderStatus.CANCELLED),
    ],
)
def test_order_statuses(raw: str, expected: OrderStatus) -> None:
    assert tts.map_order_status(raw) is expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("USPS", "usps"),
        ("UPS", "ups"),
        ("UPS SurePost", "ups"),
        ("FedEx Ground", "fedex"),
        ("J&T Express", "jt_express"),
        ("DHL eCommerce", "dhl"),
        ("Amazon Logistics", "amazon"),
        ("Groups Delivery", ""),
        ("", ""),
    ],
)
def test_shipping_provider_names(name: str, code: str) -> None:
    assert tts.carrier_for_provider(name) == code


def test_parse_webhook_vectors() -> None:
    vectors = load("tiktok_shop/webhook_signature_vectors.json")["vectors"]
    event = tts.parse_webhook(vectors[2]["raw_body"].encode())
    assert event.type == 1
    assert event.notification_id == "7400000000000000001"
    assert event.order_status is OrderStatus.IN_TRANSIT
    split = tts.parse_webhook(vectors[3]["raw_body"].encode())
    assert split.type == 4
    assert split.package_ids
    with pytest.raises(ValueError):
        tts.parse_webhook(b"[]")
