"""Helpers for the proactive tests: a time-stamping notifier, a clock walk, outbox rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiosqlite

from core.models import Alert, ChatRef, ShipmentKey, TrackBatch, TrackRequest
from core.ports import ChatUnreachable, TrackingProvider
from core.replies import Reply
from core.service import ParcelService
from storage.codec import alert_from_json
from tests.fakes import FakeClock

__all__ = [
    "OutboxRow",
    "RecordingProvider",
    "TimedNotifier",
    "health_changes",
    "outbox_rows",
    "walk",
]


@dataclass
class TimedNotifier:
    """Records (time, chat, reply) of every message; can block chats or fail them."""

    clock: FakeClock
    sent: list[tuple[datetime, ChatRef, Reply]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        if chat.chat_key in self.blocked:
            raise ChatUnreachable("blocked", permanent=True)
        if chat.chat_key in self.broken:
            raise RuntimeError("platform outage")
        self.sent.append((self.clock.now(), chat, reply))

    def to(self, who: ChatRef) -> list[tuple[datetime, Reply]]:
        return [(at, reply) for at, target, reply in self.sent if target.chat_key == who.chat_key]


async def walk(
    service: ParcelService,
    notifier: TimedNotifier,
    clock: FakeClock,
    *,
    hours: int,
    step: timedelta = timedelta(hours=1),
    repeat_check: bool = True,
) -> None:
    """Advance the clock in ``step``s, polling and flushing as the scheduler would.

    With ``repeat_check`` a second poll at the same moment must queue nothing new.
    """
    end = clock.now() + timedelta(hours=hours)
    while clock.now() < end:
        clock.advance(step)
        await service.refresh.poll_due()
        await service.flush_outbox(notifier)
        if repeat_check:
            again = await service.refresh.poll_due()
            assert again.alerts == 0, "a repeat poll queued alerts again"


@dataclass(frozen=True)
class OutboxRow:
    chat_key: str
    alert: Alert
    created_at: datetime
    sent_at: datetime | None


async def outbox_rows(path: str) -> list[OutboxRow]:
    """Every outbox row, read with a separate connection (the file is in WAL mode)."""
    async with aiosqlite.connect(path) as conn:
        rows = await conn.execute_fetchall(
            "SELECT chat_key, alert, created_at, sent_at FROM outbox ORDER BY id"
        )
    return [
        OutboxRow(
            chat_key,
            alert_from_json(alert),
            datetime.fromisoformat(created_at),
            None if sent_at is None else datetime.fromisoformat(sent_at),
        )
        for chat_key, alert, created_at, sent_at in rows
    ]


class RecordingProvider:
    """Wraps a provider: claims only some carriers, records every batch it is asked for."""

    def __init__(
        self, name: str, carriers: Sequence[str], max_batch: int, inner: TrackingProvider
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self._carriers = frozenset(carriers)
        self._inner = inner
        self.calls: list[list[ShipmentKey]] = []

    def supports(self, carrier: str) -> bool:
        return carrier in self._carriers

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        assert len(requests) <= self.max_batch, "batch larger than max_batch"
        self.calls.append([request.key for request in requests])
        return await self._inner.track(requests)


def health_changes(records: Iterable[logging.LogRecord]) -> list[str]:
    """WARNING-or-worse lines about a source failing or recovering, from every logger, in
    order, with the chaos tests' own "outage starts" marker among them."""
    return [
        message
        for record in records
        if record.levelno >= logging.WARNING
        and (
            (message := record.getMessage()) == "outage starts"
            or "failing" in message
            or "recovered" in message
        )
    ]
