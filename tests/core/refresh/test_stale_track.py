"""Stale but useful: when the source fails, hangs or is marked failing, ``/track`` of a stored
parcel answers at once from the stored snapshot and says how old it is and why."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from core.config import ServiceConfig
from core.errors import ProviderUnavailable
from core.models import TrackBatch, TrackRequest
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


class Flaky:
    """The sandbox behind a switch: "ok", "raise" (an outage) or "hang" (never answers)."""

    name = "17track"
    max_batch = 40

    def __init__(self, clock: FakeClock) -> None:
        self._inner = SandboxProvider(clock)
        self.mode = "ok"
        self.calls = 0

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        self.calls += 1
        if self.mode == "raise":
            raise ProviderUnavailable(provider=self.name)
        if self.mode == "hang":
            await asyncio.Event().wait()
        return await self._inner.track(requests)


@pytest.fixture
def flaky(clock: FakeClock) -> Flaky:
    return Flaky(clock)


@pytest.fixture
def stale_service(db: Database, clock: FakeClock, flaky: Flaky) -> ParcelService:
    config = ServiceConfig(
        fail_after_calls=2,
        stale_deadline=timedelta(seconds=0.3),
        fresh_deadline=timedelta(seconds=0.5),
    )
    return ParcelService(provider=flaky, store=db, clock=clock, config=config, rng=random.Random(3))


async def test_a_hanging_source_gives_the_stored_answer_within_the_deadline(
    stale_service: ParcelService, clock: FakeClock, flaky: Flaky
) -> None:
    me = chat("stale")
    first = await stale_service.track(me, NUMBER)
    clock.advance(timedelta(minutes=8))
    flaky.mode = "hang"
    async with asyncio.timeout(5):  # a guard only; the deadline is 0.3 s
        reply = await stale_service.track(me, NUMBER)
    assert reply.title == first.title
    text = reply.plain_text()
    assert "Last checked 8 minutes ago" in text
    assert "not answering right now" in text


async def test_a_source_marked_failing_is_not_asked_for_a_stored_parcel(
    stale_service: ParcelService, clock: FakeClock, flaky: Flaky
) -> None:
    me = chat("failing")
    await stale_service.track(me, NUMBER)
    flaky.mode = "raise"
    clock.advance(timedelta(minutes=6))
    # Failures answer from the stored snapshot too, and mark the source failing.
    for _ in range(2):
        reply = await stale_service.track(me, NUMBER)
        assert "not answering right now" in reply.plain_text()
        clock.advance(timedelta(minutes=1))
    assert "17track" in stale_service.failing_sources
    asked = flaky.calls
    reply = await stale_service.track(me, NUMBER)
    assert flaky.calls == asked
    assert "Last checked 8 minutes ago" in reply.plain_text()


async def test_without_a_stored_snapshot_a_failure_is_still_one_sentence(
    stale_service: ParcelService, flaky: Flaky
) -> None:
    flaky.mode = "hang"
    with pytest.raises(ProviderUnavailable):
        async with asyncio.timeout(30):
            await stale_service.track(chat("new"), NUMBER)
