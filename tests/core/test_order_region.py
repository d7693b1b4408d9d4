"""A parcel number from a carrier that does not deliver where the order is going is flagged."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime

from core import advice, carriers
from core.models import (
    ChatRef,
    Order,
    OrderId,
    OrderStatus,
    Platform,
    TrackingNumber,
    TrackRequest,
)
from core.providers import tiktok_shop as tts
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock
from tests.providers.fake_tiktok import ORDER_LIST

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
BUYER = ChatRef(Platform.TELEGRAM, "100", "100")


def test_a_domestic_courier_outside_its_country_is_warned_about() -> None:
    note = advice.region_note("KEX1234567890", "kerry_express", "US")
    assert note is not None
    assert "Kerry Express does not deliver in United States" in note
    assert "ask the seller for the real number" in note.casefold()
    assert f"{advice.DISPUTE_AFTER_DAYS} days" in note


def test_no_warning_where_the_carrier_delivers_or_cannot_be_judged() -> None:
    assert advice.region_note("KEX1234567890", "kerry_express", "th") is None
    # UPS delivers worldwide.
    assert advice.region_note("1ZSBX1230300000263", "ups", "TH") is None
    # J&T Express serves South-East Asia and China.
    assert advice.region_note("JT0001234567890", "jt_express", "ID") is None
    # No country from the shop, or a carrier not in the catalogue: nothing to judge.
    assert advice.region_note("KEX1234567890", "kerry_express", "") is None
    assert advice.region_note("KEX1234567890", "no_such_carrier", "US") is None


def test_international_post_is_never_warned_about() -> None:
    # A UPU S10 number travels abroad and is handed to the destination's own post.
    assert advice.region_note("RB123456785GB", "royal_mail", "US") is None


def test_regions_of_the_catalogue_read_as_countries() -> None:
    served = carriers.served_countries
    assert served(carriers.CARRIERS["usps"]) == frozenset({"US"})
    jt = served(carriers.CARRIERS["jt_express"])
    assert jt is not None and {"ID", "TH", "VN", "MY", "PH", "SG", "CN"} <= jt
    assert served(carriers.CARRIERS["ups"]) is None
    # Every region in the catalogue reads as countries or as "anywhere"; none is misread.
    for carrier in carriers.CARRIERS.values():
        countries = served(carrier)
        assert countries is None or countries, carrier


def test_the_shop_says_where_an_order_is_going() -> None:
    order = tts.parse_order(ORDER_LIST["data"]["orders"][0], "shop")
    assert order is not None
    assert order.country == "US"


class OneShop:
    """An order source holding fixed orders (the shop at the network edge)."""

    name = "shop"

    def __init__(self, *orders: Order) -> None:
        self.orders = {order.order_id: order for order in orders}
        self.asked: list[OrderId] = []

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
        self.asked.extend(order_ids)
        return {oid: self.orders[oid] for oid in order_ids if oid in self.orders}


def _order(oid: str, number: str, carrier: str, country: str) -> Order:
    return Order(
        order_id=OrderId(oid),
        shop="Shop",
        status=OrderStatus.IN_TRANSIT,
        shipments=(TrackRequest(TrackingNumber(number), carrier),),
        postcode="95110",
        country=country,
    )


async def test_an_order_reply_warns_about_a_parcel_from_the_wrong_country(db: Database) -> None:
    clock = FakeClock(NOW)
    shop = OneShop(
        _order("576000000000000001", "1ZSBX1230300000263", "ups", "US"),
        _order("576000000000000002", "9400111899000000000275", "usps", "TH"),
    )
    service = ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, orders=shop, rng=random.Random(3)
    )
    fine = await service.lookup_order(BUYER, "576000000000000001", "95110")
    assert "does not deliver" not in fine.plain_text()
    odd = await service.lookup_order(BUYER, "576000000000000002", "95110")
    text = odd.plain_text()
    assert "9400111899000000000275" in text  # the parcel was looked up
    assert "USPS does not deliver in Thailand" in text
    assert odd.private
