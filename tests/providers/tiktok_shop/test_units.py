"""TikTok Shop's vocabulary → ours: order statuses and shipping-provider names."""

from __future__ import annotations

import pytest

from core.models import OrderStatus
from core.providers import tiktok_shop as tts


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
