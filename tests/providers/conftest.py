"""Fixtures for the HTTP provider tests: a loopback fake server, a real httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypedDict

import httpx
import pytest

from core.models import ProofKind, Shipment, Status, TrackingNumber, TrackRequest
from core.providers.http import RetryPolicy, create_http_client
from tests.fakes import FakeClock
from tests.providers.fake_server import Reply, html_page, json_reply, slow, truncated


class RecordingSleep:
    """Stands in for ``asyncio.sleep`` in retry paths: records the delay, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# Fast but real: several attempts, tiny waits.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, jitter=0.0)


class FastOptions(TypedDict):
    """The keyword arguments every HTTP client under test takes for quick, observable retries."""

    retry: RetryPolicy
    sleep: RecordingSleep
    clock: FakeClock
    timeout: float


def req(number: str, carrier: str = "usps") -> TrackRequest:
    return TrackRequest(TrackingNumber(number), carrier)


def transient_failures(server_error: Reply, document: Any, late: Any) -> list[Any]:
    """Answers worth retrying: a 5xx, an HTML page with 200, truncated JSON, a late answer.

    ``document`` is what gets truncated; ``late`` is the JSON that arrives after the timeout.
    """
    return [
        pytest.param(server_error, id="500"),
        pytest.param(html_page(200), id="html-200"),
        pytest.param(truncated(document), id="truncated-json"),
        pytest.param(slow(0.5, json_reply(late)), id="timeout"),
    ]


def assert_delivered(shipment: Shipment, at: datetime, proof: ProofKind) -> None:
    assert shipment.status is Status.DELIVERED
    assert shipment.delivered_at == at
    assert shipment.proof is not None
    assert shipment.proof.kind is proof


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client(timeout=2.0, connect_timeout=1.0) as client:
        yield client


@pytest.fixture
def sleeper() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def fast_options(sleeper: RecordingSleep, clock: FakeClock) -> FastOptions:
    return FastOptions(retry=FAST_RETRY, sleep=sleeper, clock=clock, timeout=0.2)
