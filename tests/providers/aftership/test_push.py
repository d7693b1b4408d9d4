"""AfterShip webhook bodies → ``WebhookEvent``."""

from __future__ import annotations

import pytest

from core.models import Status
from core.providers import aftership as af
from tests.providers.fake_server import load


def test_parse_webhook() -> None:
    vector = load("aftership/webhook_vectors.json")["vectors"][0]
    event = af.parse_webhook(vector["raw_body"].encode())
    assert event.event == "tracking_update"
    assert event.event_id == "a4e5c6d7-1b2c-4d3e-8f90-123456789abc"
    assert event.first_in_tag
    assert event.carrier == "usps"
    assert event.shipment().status is Status.IN_TRANSIT
    with pytest.raises(ValueError):
        af.parse_webhook(b'{"msg": {}}')
