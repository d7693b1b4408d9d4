"""17TRACK push bodies → ``PushEvent``."""

from __future__ import annotations

import pytest

from core.models import Status
from core.providers import seventeen_track as st
from tests.providers.fake_server import load

USPS = "9400111206206406260787"


def test_parse_push_vectors() -> None:
    vectors = load("seventeen_track/webhook_vectors.json")["vectors"]
    updated = st.parse_push(vectors[0]["raw_body"].encode())
    assert updated.event == "TRACKING_UPDATED"
    assert updated.number == USPS
    assert updated.carrier == "usps"
    shipment = updated.shipment()
    assert shipment is not None
    assert shipment.status is Status.IN_TRANSIT
    stopped = st.parse_push(vectors[1]["raw_body"].encode())
    assert stopped.event == "TRACKING_STOPPED"
    assert stopped.shipment() is None
    with pytest.raises(ValueError):
        st.parse_push(b'{"event":"x"}')


def test_push_carrier_comes_back_from_our_tag() -> None:
    body = (
        b'{"event":"TRACKING_STOPPED","data":{"number":"LX1","carrier":99999,"tag":"pb:lasership"}}'
    )
    assert st.parse_push(body).carrier == "lasership"
