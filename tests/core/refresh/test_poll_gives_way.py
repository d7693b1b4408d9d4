"""A poll cycle lets other tasks (chat commands) run between slices of its per-parcel work.

Counted by interleavings, never timed: with ``core.cooperative.SLICE`` at zero every slice
is one item, so a task that counts its own turns must have run between any two items of each
loop that gives way."""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import core.refresh
import storage.codec
import storage.subscriptions
from core import cooperative
from core.eta import news as eta_news
from core.models import (
    Shipment,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackingNumber,
    TrackRequest,
)
from core.providers.sandbox import SandboxProvider
from core.providers.sandbox import provider as sandbox_provider
from core.providers.sandbox.journey import build_visible
from core.refresh import Refresher
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat
from tests.turns import SteppedClock, Turns

PARCELS = 12


class Watched:
    """The turns ``turns`` had counted at each call of the per-parcel steps watched."""

    def __init__(self) -> None:
        self.turns = Turns()
        self.pairs: list[int] = []
        self.decode: list[int] = []


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Watched:
    """Watches ``Refresher._pairs`` (one alerting parcel's per-chat alerts) and the decoding
    of one subscriber row (``storage.subscriptions``)."""
    found = Watched()
    pairs = Refresher._pairs
    decode = storage.codec.subscription_from_row

    def watched_pairs(self: Refresher, *args: Any, **kwargs: Any) -> Any:
        found.pairs.append(found.turns.count)
        return pairs(self, *args, **kwargs)

    def watched_decode(row: Any) -> Any:
        found.decode.append(found.turns.count)
        return decode(row)

    monkeypatch.setattr(Refresher, "_pairs", watched_pairs)
    monkeypatch.setattr(storage.subscriptions, "subscription_from_row", watched_decode)
    return found


def strictly_rising(seen: list[int]) -> bool:
    return all(later > earlier for earlier, later in itertools.pairwise(seen))


async def _seeded(db: Database, clock: FakeClock) -> None:
    """``PARCELS`` parcels with a label only, each followed by its own chat; two days later
    every one of them has new scans (and alerts) in the sandbox."""
    writes = []
    for index in range(PARCELS):
        number = TrackingNumber(f"1ZGIVE{index:012d}")
        shipment = Shipment(
            carrier="ups",
            number=number,
            status=Status.INFO_RECEIVED,
            checked_at=clock.now(),
            first_seen=clock.now(),
        )
        writes.append(SnapshotWrite(shipment, clock.now()))
    await db.shipments.save_many(writes)
    for index, write in enumerate(writes):
        await db.subscriptions.add(
            Subscription(chat=chat(f"give{index}"), key=write.shipment.key, created_at=clock.now())
        )
    clock.current += timedelta(days=2)


async def _poll(tmp_path: Path, watched: Watched) -> None:
    clock = FakeClock()
    async with Database.open(tmp_path / "give.sqlite3", clock=clock) as db:
        await _seeded(db, clock)
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(3)
        )
        watched.pairs.clear()
        watched.decode.clear()
        with watched.turns:
            stats = await service.refresh.poll_due(PARCELS)
    assert stats.checked == PARCELS
    assert stats.alerts > 0


async def test_a_poll_gives_way_between_alerting_parcels_and_subscriber_rows(
    tmp_path: Path, watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is one item
    await _poll(tmp_path, watched)
    # Every parcel's subscriber row decoded and every alerting parcel's per-chat alerts worked
    # out in a turn of its own: the counting task ran between any two of them.
    assert len(watched.decode) == PARCELS
    assert strictly_rising(watched.decode)
    assert len(watched.pairs) == PARCELS
    assert strictly_rising(watched.pairs)


async def test_with_slices_longer_than_the_cycle_the_counts_stand_still(
    tmp_path: Path, watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: what the test above tells apart."""
    monkeypatch.setattr(cooperative, "SLICE", 3600.0)
    await _poll(tmp_path, watched)
    assert len(watched.pairs) == PARCELS
    assert len(set(watched.pairs)) == 1
    assert len(set(watched.decode)) == 1


async def test_a_poll_gives_way_between_short_calls_to_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source that answers without waiting (the sandbox) is asked in calls shorter than a
    slice, each with a loop of its own: back to back they still give way once per slice, as
    one long loop would."""
    clock = SteppedClock().install(monkeypatch)
    turns = Turns()
    built: list[int] = []

    def timed_build(*args: Any, **kwargs: Any) -> Any:
        built.append(turns.count)
        clock.now += cooperative.SLICE * 0.3  # a call of three parcels is shorter than a slice
        return build_visible(*args, **kwargs)

    monkeypatch.setattr(sandbox_provider, "build_visible", timed_build)
    fake = FakeClock()
    async with Database.open(tmp_path / "calls.sqlite3", clock=fake) as db:
        await _seeded(db, fake)
        provider = SandboxProvider(fake)
        provider.max_batch = 3
        service = ParcelService(provider=provider, store=db, clock=fake, rng=random.Random(3))
        with turns:
            stats = await service.refresh.poll_due(PARCELS)
    assert stats.checked == PARCELS
    assert stats.calls == PARCELS // 3
    assert len(built) == PARCELS
    # Four parcels take longer than a slice: the counting task ran within any four in a row.
    assert all(later > earlier for earlier, later in zip(built, built[4:], strict=False))


class Instant:
    """A source that answers every call from memory, without ever waiting: each call is longer
    than a slice on the stepped clock."""

    name = "instant"
    max_batch = 1

    def __init__(self, clock: SteppedClock, turns: Turns, inner: SandboxProvider) -> None:
        self._clock = clock
        self._turns = turns
        self._inner = inner
        self.calls: list[int] = []

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        self.calls.append(self._turns.count)
        self._clock.now += cooperative.SLICE * 1.5
        # The sandbox's answer, taken without letting its own loop give way.
        return await _without_giving_way(self._inner.track(requests))


async def _without_giving_way(work: Coroutine[Any, Any, TrackBatch]) -> TrackBatch:
    try:
        work.send(None)
    except StopIteration as done:
        result: TrackBatch = done.value
        return result
    work.close()
    raise AssertionError("the sandbox waited for something")


async def test_a_poll_gives_way_between_calls_to_a_source_that_never_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SteppedClock().install(monkeypatch)
    # The sandbox's own loop never gives way here: only the poll's can.
    monkeypatch.setattr(sandbox_provider, "Breather", lambda: _never)
    turns = Turns()
    fake = FakeClock()
    async with Database.open(tmp_path / "instant.sqlite3", clock=fake) as db:
        await _seeded(db, fake)
        source = Instant(clock, turns, SandboxProvider(fake))
        service = ParcelService(provider=source, store=db, clock=fake, rng=random.Random(3))
        with turns:
            stats = await service.refresh.poll_due(PARCELS)
    assert stats.checked == PARCELS
    assert len(source.calls) == PARCELS
    assert all(later > earlier for earlier, later in itertools.pairwise(source.calls))


async def _never() -> None:
    return None


async def test_a_poll_gives_way_while_it_judges_quiet_parcels_and_encodes_what_chats_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is one item
    turns = Turns()
    judged: list[int] = []
    told: list[int] = []
    lateness_judged = eta_news.lateness_judged

    def watched_judged(shipment: Shipment) -> bool:
        # Per-chat news asks too; only the cycle's pass over parcels without alerts counts.
        if sys._getframe(1).f_code.co_name == "_judged_per_chat":
            judged.append(turns.count)
        return lateness_judged(shipment)

    def watched_told(moment: datetime) -> str:
        told.append(turns.count)
        return storage.codec.time_to_text(moment)

    monkeypatch.setattr(eta_news, "lateness_judged", watched_judged)
    monkeypatch.setattr(storage.subscriptions, "time_to_text", watched_told)
    clock = FakeClock()
    async with Database.open(tmp_path / "quiet.sqlite3", clock=clock) as db:
        await _seeded(db, clock)
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(3)
        )
        told.clear()
        with turns:
            first = await service.refresh.poll_due(PARCELS)
            told_first = list(told)
            judged.clear()
            # A day on, every parcel is due again; whatever has no new scan is judged quietly.
            clock.current += timedelta(days=1)
            second = await service.refresh.poll_due(PARCELS)
    assert first.checked == second.checked == PARCELS
    assert len(told_first) >= 2
    assert strictly_rising(told_first)
    assert len(judged) >= 2
    assert strictly_rising(judged)


async def test_a_poll_gives_way_while_it_makes_its_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is one item
    turns = Turns()
    made: list[int] = []

    def watched_request(*args: Any) -> TrackRequest:
        made.append(turns.count)
        return TrackRequest(*args)

    monkeypatch.setattr(core.refresh, "TrackRequest", watched_request)
    clock = FakeClock()
    async with Database.open(tmp_path / "requests.sqlite3", clock=clock) as db:
        await _seeded(db, clock)
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(3)
        )
        with turns:
            stats = await service.refresh.poll_due(PARCELS)
    assert stats.checked == PARCELS
    assert len(made) == PARCELS
    assert strictly_rising(made)
