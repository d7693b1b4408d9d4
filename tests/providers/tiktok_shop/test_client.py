"""TikTok Shop client over real HTTP against a loopback fake that checks every signature."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import ProviderAuthError, ProviderUnavailable, RateLimited
from core.models import OrderId, OrderStatus, Status, TrackingNumber, TrackRequest
from core.providers import tiktok_shop as tts
from tests.fakes import FakeClock
from tests.providers.conftest import FastOptions, RecordingSleep, transient_failures
from tests.providers.fake_server import FakeServer, Recorded, Reply, json_reply
from tests.providers.fake_tiktok import (
    APP_KEY,
    APP_SECRET,
    NEW_TOKEN,
    NOW,
    ORDER,
    SHOPS,
    SHOPS_PATH,
    FakeTikTok,
    error_reply,
    serve_shops,
    tokens,
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
