"""TikTok Shop's pure parse functions on the recorded orders."""

from __future__ import annotations

import copy

from core.models import OrderStatus
from core.providers import tiktok_shop as tts
from tests.providers.fake_tiktok import ORDER_DETAIL, ORDER_LIST


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
