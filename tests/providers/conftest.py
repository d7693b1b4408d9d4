"""Fixtures for the HTTP provider tests: a loopback fake server, a real httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.providers._http import RetryPolicy, create_http_client
from tests.providers.fake_server import FakeServer


class RecordingSleep:
    """Stands in for ``asyncio.sleep`` in retry paths: records the delay, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# Fast but real: several attempts, tiny waits.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, jitter=0.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeServer]:
    server = FakeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with create_http_client(timeout=2.0, connect_timeout=1.0) as client:
        yield client


@pytest.fixture
def sleeper() -> RecordingSleep:
    return RecordingSleep()
