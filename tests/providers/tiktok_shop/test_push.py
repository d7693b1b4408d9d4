"""TikTok Shop webhook bodies → ``WebhookEvent`` → the core's ``ShopPush``."""

from __future__ import annotations

import json

import pytest

from core.models import OrderId, OrderStatus, ShopPush, ShopPushKind
from core.providers import tiktok_shop as tts
from tests.providers.fake_server import load


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


def test_a_push_becomes_the_orders_and_packages_it_names() -> None:
    vectors = {v["name"]: v for v in load("tiktok_shop/webhook_signature_vectors.json")["vectors"]}
    split = tts.shop_push(
        tts.parse_webhook(vectors["synthetic_package_update_split"]["raw_body"].encode())
    )
    # Both packages name the same order: it is read once.
    assert split == ShopPush(
        ShopPushKind.ORDER,
        "7494049642642441621",
        (OrderId("576486316948490001"),),
        ("1153132168123859123", "1153132168123859124"),
    )
    status = tts.shop_push(tts.parse_webhook(vectors["ecomphp_sample"]["raw_body"].encode()))
    assert status == ShopPush(
        ShopPushKind.ORDER, "7494726673780148744", (OrderId("576684019603311365"),)
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (6, ShopPushKind.DEAUTHORISED),
        (7, ShopPushKind.AUTH_EXPIRING),
        (2, ShopPushKind.OTHER),
        (11, ShopPushKind.ORDER),
    ],
)
def test_push_types_map_to_the_cores_kinds(kind: int, expected: ShopPushKind) -> None:
    body = json.dumps({"type": kind, "shop_id": "1", "data": {}}).encode()
    assert tts.shop_push(tts.parse_webhook(body)).kind is expected
