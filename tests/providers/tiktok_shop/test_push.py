"""TikTok Shop webhook bodies → ``WebhookEvent``."""

from __future__ import annotations

import pytest

from core.models import OrderStatus
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
