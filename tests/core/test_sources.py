"""The named sources: one routing object decides which source tracks each carrier, and the
service reports outages by it (``core.sources``)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.models import Order, OrderId, Shipment, Status, TrackBatch, TrackingNumber, TrackRequest
from core.providers.router import ProviderRouter
from core.sources import Routing, SourceHealth, Sources


class Named:
    """A source that tracks the carriers it is given and counts ``supports`` questions."""

    max_batch = 5

    def __init__(self, name: str, carriers: Sequence[str]) -> None:
        self.name = name
        self._carriers = frozenset(carriers)
        self.asked = 0

    def supports(self, carrier: str) -> bool:
        self.asked += 1
        return carrier in self._carriers

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        return TrackBatch(
            shipments={r.key: Shipment(r.carrier, r.number, Status.IN_TRANSIT) for r in requests}
        )


def test_the_first_source_that_supports_a_carrier_tracks_it_decided_once() -> None:
    first, second = Named("a", ["ups"]), Named("b", ["ups", "usps"])
    routing = Routing([first, second])
    assert routing.source_for("ups") is first
    assert routing.source_for("usps") is second
    assert routing.source_for("dhl") is None
    asked = first.asked + second.asked
    for _ in range(3):
        assert routing.source_for("usps") is second
        assert routing.source_for("dhl") is None
    assert first.asked + second.asked == asked


def test_only_sends_every_carrier_to_its_one_source() -> None:
    sole = Named("sole", ["ups"])
    routing = Routing.only(sole)
    assert routing.source_for("ups") is sole
    assert routing.source_for("dhl") is sole


def test_routing_needs_a_source() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Routing([])


async def test_the_router_sends_numbers_where_its_routing_says() -> None:
    ups, usps = Named("a", ["ups"]), Named("b", ["usps"])
    router = ProviderRouter([ups, usps])
    assert router.routing.sources == (ups, usps)
    batch = await router.track([TrackRequest(TrackingNumber("1Z999AA10123456784"), "ups")])
    assert len(batch.shipments) == 1
    assert not router.supports("dhl")


def test_states_name_every_source_and_the_shop_by_health() -> None:
    class Shop:
        name = "shop"

        async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]:
            return {}

    health = SourceHealth(1, 1)
    sources = Sources(
        Routing([Named("a", ["ups"]), Named("b", ["usps"])]), shop=Shop(), health=health
    )
    assert sources.states() == {"a": "ok", "b": "ok", "shop": "ok"}
    health.failure("b", RuntimeError("down"))
    assert sources.states() == {"a": "ok", "b": "failing", "shop": "ok"}
    assert sources.failing == {"b"}
    assert sources.tracking("b") is sources.routing.sources[1]
    assert sources.tracking("shop") is None
