"""The sandbox shop: known order ids, their parcels, ownership details and moving statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.carriers import detect
from core.errors import ProviderUnavailable
from core.models import OrderId, OrderStatus, Status
from core.providers.sandbox import (
    SAMPLE_ORDERS,
    SandboxProvider,
    SandboxShop,
    Scenario,
    scenario_of,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SPEED = 1440.0


class Clock:
    """A clock whose time the test sets."""

    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def test_sample_orders_look_like_shop_orders() -> None:
    assert len(SAMPLE_ORDERS) >= 5
    for order_id, spec in SAMPLE_ORDERS.items():
        assert order_id == spec.order_id
        assert len(order_id) == 18 and order_id.isdigit() and order_id.startswith("57")
        assert len(spec.postcode) == 5 and spec.postcode.isdigit()
        assert len(spec.phone_last4) == 4 and spec.phone_last4.isdigit()
        for parcel in spec.parcels:
            best = detect(parcel.number)[0]
            assert best.carrier.code == parcel.carrier
            assert best.check_digit_valid is True
    sizes = {len(spec.parcels) for spec in SAMPLE_ORDERS.values()}
    assert {0, 1, 2} <= sizes


async def test_known_orders_found_and_unknown_absent() -> None:
    shop = SandboxShop(Clock(), speed=SPEED)
    assert shop.name == "sandbox-shop"
    ids = [
        OrderId("576000000000000001"),
        OrderId("576000000000000002"),
        OrderId("579999999999999999"),
    ]
    found = await shop.get_orders(ids)
    assert set(found) == set(ids[:2])
    one = found[ids[0]]
    assert one.shop and one.postcode == SAMPLE_ORDERS[ids[0]].postcode
    assert one.placed_at is not None and one.promised_by is not None
    assert one.placed_at < T0 < one.promised_by
    assert len(found[ids[1]].shipments) == 2
    assert await shop.get_orders([]) == {}


async def test_unshipped_order_keeps_its_own_status() -> None:
    found = await SandboxShop(Clock()).get_orders([OrderId("576000000000000004")])
    order = found[OrderId("576000000000000004")]
    assert order.status is OrderStatus.AWAITING_SHIPMENT and order.shipments == ()


async def test_order_parcels_are_already_on_their_way_at_first_lookup() -> None:
    clock = Clock()
    shop, provider = SandboxShop(clock, speed=SPEED), SandboxProvider(clock, speed=SPEED)
    order = (await shop.get_orders([OrderId("576000000000000001")]))[OrderId("576000000000000001")]
    assert order.status is OrderStatus.IN_TRANSIT
    (req,) = order.shipments
    assert req.first_seen == T0 - timedelta(days=1) / SPEED
    assert scenario_of(req.number) is Scenario.NORMAL
    batch = await provider.track(order.shipments)
    shipment = batch.shipments[req.key]
    assert shipment.status is Status.IN_TRANSIT and len(shipment.events) > 2


async def test_order_status_follows_its_parcels_and_times_stay_anchored() -> None:
    clock = Clock()
    shop = SandboxShop(clock, speed=SPEED)
    oid = OrderId("576000000000000002")
    first = (await shop.get_orders([oid]))[oid]
    assert first.status is OrderStatus.IN_TRANSIT
    clock.current = T0 + timedelta(days=10) / SPEED
    later = (await shop.get_orders([oid]))[oid]
    assert later.status is OrderStatus.DELIVERED
    assert (later.placed_at, later.promised_by, later.shipments) == (
        first.placed_at,
        first.promised_by,
        first.shipments,
    )


async def test_awaiting_collection_until_the_first_scan() -> None:
    oid = OrderId("576000000000000005")
    order = (await SandboxShop(Clock()).get_orders([oid]))[oid]
    assert order.status is OrderStatus.AWAITING_COLLECTION


async def test_same_clock_same_orders() -> None:
    clock = Clock(T0 + timedelta(hours=5))
    ids = list(SAMPLE_ORDERS)
    assert await SandboxShop(clock).get_orders(ids) == await SandboxShop(clock).get_orders(ids)


async def test_shop_outage_and_contract() -> None:
    shop = SandboxShop(Clock())
    shop.unavailable = True
    with pytest.raises(ProviderUnavailable):
        await shop.get_orders([OrderId("576000000000000001")])
    ports = pytest.importorskip("core.ports", exc_type=ImportError)
    assert isinstance(shop, ports.OrderSource)
