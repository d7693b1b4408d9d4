"""The sandbox shop: sample orders whose parcels play sandbox journeys, and ``SandboxShop``,
an ``OrderSource`` over them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from core.errors import ProviderUnavailable
from core.models import Order, OrderId, OrderStatus, Status, TrackingNumber, TrackRequest
from core.providers.sandbox.journey import as_utc, build_shipment
from core.providers.sandbox.scenarios import SAMPLES, Scenario

if TYPE_CHECKING:
    # Only the Clock protocol's shape is needed; importing ports at run time would pull in
    # the reply layer for nothing.
    from core.ports import Clock

__all__ = ["SAMPLE_ORDERS", "SandboxOrder", "SandboxParcel", "SandboxShop", "build_order"]


@dataclass(frozen=True, slots=True)
class SandboxParcel:
    """A parcel of a sandbox order whose journey had run ``shipped_ago`` (virtual time) when
    the order was first looked up."""

    number: TrackingNumber
    carrier: str
    shipped_ago: timedelta = timedelta()


@dataclass(frozen=True, slots=True)
class SandboxOrder:
    """A sandbox shop order. Times are virtual and relative to the order's first lookup.

    ``status`` is used while the order has no parcels; with parcels it follows them. The
    postcode and phone digits are made up, for demonstrating the ownership check.
    """

    order_id: OrderId
    status: OrderStatus
    parcels: tuple[SandboxParcel, ...]
    placed_ago: timedelta
    promised_in: timedelta
    postcode: str
    phone_last4: str


def _order(
    suffix: int,
    status: OrderStatus,
    parcels: tuple[tuple[Scenario, str, float], ...],
    placed_days_ago: float,
    promised_in_days: float,
) -> SandboxOrder:
    order_id = OrderId(f"57600000000000000{suffix}")
    return SandboxOrder(
        order_id=order_id,
        status=status,
        parcels=tuple(
            SandboxParcel(TrackingNumber(SAMPLES[scenario][carrier]), carrier, timedelta(days=ago))
            for scenario, carrier, ago in parcels
        ),
        placed_ago=timedelta(days=placed_days_ago),
        promised_in=timedelta(days=promised_in_days),
        postcode=f"0000{suffix}",
        phone_last4=f"000{suffix}",
    )


SAMPLE_ORDERS: Mapping[OrderId, SandboxOrder] = MappingProxyType(
    {
        order.order_id: order
        for order in (
            _order(1, OrderStatus.IN_TRANSIT, ((Scenario.NORMAL, "usps", 1),), 2, 5),
            _order(
                2,
                OrderStatus.IN_TRANSIT,
                (
                    (Scenario.OUT_FOR_DELIVERY_SIGNED, "fedex", 1),
                    (Scenario.LEFT_AT_DOOR, "usps", 0.5),
                ),
                2,
                4,
            ),
            _order(3, OrderStatus.IN_TRANSIT, ((Scenario.CUSTOMS_DUTIES, "fedex", 2),), 4, 10),
            _order(4, OrderStatus.AWAITING_SHIPMENT, (), 1, 6),
            _order(
                5, OrderStatus.AWAITING_COLLECTION, ((Scenario.NOT_YET_ACTIVE, "usps", 0),), 1, 6
            ),
            _order(6, OrderStatus.DELIVERED, ((Scenario.PICKUP_POINT, "usps", 6),), 8, -1),
            _order(7, OrderStatus.IN_TRANSIT, ((Scenario.WEATHER_DELAY, "fedex", 1),), 2, 3),
        )
    }
)
"""Sandbox shop orders by id (18 digits starting 57). Ids not listed are unknown to the shop.

::

    576000000000000001  one USPS parcel (normal), a day under way at the first lookup
    576000000000000002  two parcels: FedEx (signed for) and USPS (left at the door)
    576000000000000003  FedEx from abroad: customs hold, duties due, then delivered
    576000000000000004  not shipped yet: awaiting shipment, no parcels
    576000000000000005  label created but never scanned: awaiting collection
    576000000000000006  already collected at a pickup point: delivered
    576000000000000007  FedEx weather delay: arrives after the shop's promised date

Order ``…00N`` has the made-up postcode ``0000N`` and phone ending ``000N``.
"""


def build_order(spec: SandboxOrder, anchor: datetime, now: datetime, speed: float) -> Order:
    """The ``Order`` for ``spec`` first looked up at ``anchor``, as seen at ``now``.

    Each parcel's ``TrackRequest.first_seen`` is set so its journey had run ``shipped_ago``
    at ``anchor``. With parcels, the status follows them: all delivered → delivered, any
    physically scanned → in transit, else awaiting collection. Pure.
    """
    anchor, now = as_utc(anchor), as_utc(now)
    requests = tuple(
        TrackRequest(parcel.number, parcel.carrier, anchor - parcel.shipped_ago / speed)
        for parcel in spec.parcels
    )
    status = spec.status
    if requests:
        states = [
            build_shipment(request, request.first_seen or anchor, now, speed)
            for request in requests
        ]
        if all(state.status is Status.DELIVERED for state in states):
            status = OrderStatus.DELIVERED
        elif any(state.shipped_at is not None for state in states):
            status = OrderStatus.IN_TRANSIT
        else:
            status = OrderStatus.AWAITING_COLLECTION
    return Order(
        order_id=spec.order_id,
        shop="Sandbox Shop",
        status=status,
        shipments=requests,
        placed_at=anchor - spec.placed_ago / speed,
        promised_by=anchor + spec.promised_in / speed,
        postcode=spec.postcode,
        phone_last4=spec.phone_last4,
    )


class SandboxShop:
    """An ``OrderSource`` serving ``SAMPLE_ORDERS``; unknown ids are simply absent.

    An order's times are anchored at the first time this instance is asked for it, and
    ``speed`` should match the ``SandboxProvider``'s so promises line up with journeys.
    Setting ``unavailable`` makes ``get_orders`` raise ``ProviderUnavailable``.
    """

    name = "sandbox-shop"

    def __init__(self, clock: Clock, speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError("speed must be a positive number")
        self._clock = clock
        self.speed = speed
        self.unavailable = False
        self._anchors: dict[OrderId, datetime] = {}

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
        """The known orders among ``order_ids``."""
        if self.unavailable:
            raise ProviderUnavailable(provider=self.name)
        now = self._clock.now()
        found: dict[OrderId, Order] = {}
        for order_id in order_ids:
            spec = SAMPLE_ORDERS.get(OrderId(order_id.strip()))
            if spec is not None:
                anchor = self._anchors.setdefault(spec.order_id, now)
                found[order_id] = build_order(spec, anchor, now, self.speed)
        return found
