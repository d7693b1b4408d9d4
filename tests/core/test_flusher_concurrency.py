"""The outbox flusher drains chats side by side: a chat that waits, hangs or keeps failing holds
back only itself; a chat that keeps failing is parked after a bounded number of tries; a stop
lets the message in flight finish and be marked."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from core.commands import CommandRouter
from core.config import ServiceConfig
from core.models import (
    ChatRef,
    ShipmentKey,
    TrackingNumber,
)
from core.ports import ChatUnreachable
from core.providers.sandbox import SandboxProvider
from core.replies import Reply
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat
from tests.outbox_helpers import queue_alerts

KEY = ShipmentKey("ups", TrackingNumber("1ZTESTCONCUR00001"))


async def _queue(db: Database, clock: FakeClock, chats: list[ChatRef], count: int) -> None:
    await queue_alerts(db, chats, count, clock.now(), key=KEY)


class GatedNotifier:
    """Holds sends to chosen chats until released; fails or hangs others on request."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.hang: set[str] = set()
        self.failing: set[str] = set()
        self.started: list[str] = []
        self._changed = asyncio.Condition()

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        async with self._changed:
            self.started.append(chat.chat_key)
            self._changed.notify_all()
        if chat.chat_key in self.failing:
            raise ChatUnreachable("platform answered 500", permanent=False)
        if chat.chat_key in self.hang:
            await asyncio.Event().wait()
        gate = self.gates.get(chat.chat_key)
        if gate is not None:
            await gate.wait()
        async with self._changed:
            self.sent.append((chat.chat_key, reply.lines[0] if reply.lines else reply.title))
            self._changed.notify_all()

    async def wait_until(self, ready: Callable[[], bool]) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(ready)

    def count(self, who: ChatRef) -> int:
        return sum(1 for key, _ in self.sent if key == who.chat_key)


def _service(db: Database, clock: FakeClock, **config: object) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        config=ServiceConfig(**config),  # type: ignore[arg-type]
        rng=random.Random(7),
    )


async def test_a_chat_waiting_for_its_turn_never_blocks_another(
    db: Database, clock: FakeClock
) -> None:
    slow, others = chat("slow"), [chat(f"c{i}") for i in range(20)]
    await _queue(db, clock, [slow, *others], 3)
    service = _service(db, clock)
    notifier = GatedNotifier()
    gate = notifier.gates[slow.chat_key] = asyncio.Event()
    flush = asyncio.create_task(service.flush_outbox(notifier))
    # Every other chat gets all three alerts while the slow chat's first send still waits.
    await notifier.wait_until(lambda: all(notifier.count(who) == 3 for who in others))
    assert notifier.count(slow) == 0
    gate.set()
    stats = await flush
    assert notifier.count(slow) == 3
    assert stats.sent == 63
    # Each chat still gets its alerts in the order they were queued.
    for who in [slow, *others]:
        texts = [text for key, text in notifier.sent if key == who.chat_key]
        assert texts == sorted(texts)


async def test_a_send_that_hangs_times_out_and_is_retried_later(
    db: Database, clock: FakeClock
) -> None:
    stuck, fine = chat("stuck"), chat("fine")
    await _queue(db, clock, [stuck, fine], 2)
    service = _service(db, clock, send_timeout=timedelta(seconds=0.2))
    notifier = GatedNotifier()
    notifier.hang.add(stuck.chat_key)
    stats = await service.flush_outbox(notifier)
    assert notifier.count(fine) == 2
    assert stats.failed == 1
    # The stuck chat's second alert waits behind the first, for the chat's own backoff.
    assert notifier.started.count(stuck.chat_key) == 1
    assert await db.outbox.pending_count() == 2
    notifier.hang.clear()
    clock.advance(timedelta(minutes=5))
    await service.flush_outbox(notifier)
    assert notifier.count(stuck) == 2
    assert await db.outbox.pending_count() == 0


async def test_a_failing_chat_backs_off_alone_then_is_parked_and_told_when_it_writes(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    bad, good = chat("bad"), chat("good")
    await _queue(db, clock, [bad], 2)
    service = _service(db, clock, max_send_attempts=4)
    notifier = GatedNotifier()
    notifier.failing.add(bad.chat_key)
    caplog.set_level(logging.INFO, logger="core.flusher")
    for _ in range(40):
        await service.flush_outbox(notifier)
        # Another chat's alerts go out at once whatever the failing chat does.
        await _queue(db, clock, [good], 1)
        await service.flush_outbox(notifier)
        clock.advance(timedelta(minutes=30))
    # Bounded: four tries of the first alert, none of the second, then the chat is parked.
    assert notifier.started.count(bad.chat_key) == 4
    assert (await db.chats.get_settings(bad)).paused
    parked = [r for r in caplog.records if "parked" in r.getMessage()]
    assert len(parked) == 1
    assert notifier.count(good) >= 1
    # Nothing is lost: both alerts wait, and come as one digest once the person writes.
    assert await db.outbox.pending_count() == 2
    notifier.failing.clear()
    await CommandRouter(service).run(bad, "start", [])
    stats = await service.flush_outbox(notifier)
    assert (stats.messages, stats.sent) == (1, 2)
    assert await db.outbox.pending_count() == 0


async def test_stopping_lets_the_send_in_flight_finish_and_be_marked(
    db: Database, clock: FakeClock
) -> None:
    one = chat("one")
    await _queue(db, clock, [one], 3)
    service = _service(db, clock)
    notifier = GatedNotifier()
    gate = notifier.gates[one.chat_key] = asyncio.Event()
    flush = asyncio.create_task(service.flush_outbox(notifier))
    await notifier.wait_until(lambda: bool(notifier.started))
    stopping = asyncio.create_task(service.stop_delivery(grace=5.0))
    await asyncio.sleep(0.05)
    gate.set()
    await stopping
    await flush
    # The message in flight went out and was marked; nothing else was started.
    assert notifier.count(one) == 1
    assert await db.outbox.pending_count() == 2


async def test_the_delivery_loop_sends_what_a_poll_queued_without_waiting_for_its_interval(
    db: Database, clock: FakeClock
) -> None:
    one = chat("one")
    service = _service(db, clock)
    notifier = GatedNotifier()
    runner = asyncio.create_task(service.run_delivery(notifier, interval=3600))
    try:
        await asyncio.sleep(0.05)
        await _queue(db, clock, [one], 2)
        service.wake_delivery()
        await notifier.wait_until(lambda: notifier.count(one) == 2)
    finally:
        await service.stop_delivery(grace=1.0)
        await runner


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_no_more_sends_are_in_flight_than_the_concurrency_allows(
    db: Database, clock: FakeClock, concurrency: int
) -> None:
    # What a sender killed mid-send repeats is what was in flight: never more than this.
    chats = [chat(f"c{i}") for i in range(8)]
    await _queue(db, clock, chats, 2)
    service = _service(db, clock, send_concurrency=concurrency)
    notifier = GatedNotifier()
    for who in chats:
        notifier.gates[who.chat_key] = asyncio.Event()
    flush = asyncio.create_task(service.flush_outbox(notifier))
    await notifier.wait_until(lambda: len(notifier.started) == concurrency)
    await asyncio.sleep(0.1)  # room for a further send to start, were one allowed
    assert len(notifier.started) == concurrency
    for who in chats:
        notifier.gates[who.chat_key].set()
    stats = await flush
    assert stats.sent == 16
    assert len(notifier.started) == 16
    assert await db.outbox.pending_count() == 0
