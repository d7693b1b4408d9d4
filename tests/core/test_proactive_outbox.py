"""The outbox flusher: retries with backoff, parked chats, digests, settling unwanted alerts."""

from __future__ import annotations

from datetime import timedelta

from core.commands import CommandRouter
from core.models import (
    ChatRef,
    ShipmentKey,
    Subscription,
    TrackingNumber,
)
from core.ports import ChatUnreachable
from core.replies import Reply
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import TimedNotifier, outbox_rows
from tests.fakes import FakeClock, RecordingNotifier, chat
from tests.outbox_helpers import queue_alerts

KEY = ShipmentKey("ups", TrackingNumber("1ZTESTOUTBOX00001"))


async def _queue(db: Database, clock: FakeClock, chats: list[ChatRef], count: int) -> None:
    """A followed parcel and ``count`` ``moved`` alerts for each chat, in one snapshot write."""
    await queue_alerts(db, chats, count, clock.now(), key=KEY)


async def test_transient_failures_back_off_exponentially_then_deliver_once(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    me = chat("flaky")
    await _queue(db, clock, [me], 1)
    notifier = RecordingNotifier(flaky={me.chat_key: 3})
    waits: list[timedelta] = []
    start = clock.now()
    for _ in range(3):
        stats = await service.flush_outbox(notifier)
        assert stats.failed == 1
        # Nothing is due until the backoff has passed.
        assert (await service.flush_outbox(notifier)).messages == 0
        entry_due = None
        for _ in range(10_000):
            clock.advance(timedelta(seconds=5))
            if await db.outbox.due(clock.now(), 10):
                entry_due = clock.now()
                break
        assert entry_due is not None
        waits.append(entry_due - start)
        start = entry_due
    assert waits[1] > waits[0] * 1.8 and waits[2] > waits[1] * 1.8
    stats = await service.flush_outbox(notifier)
    assert stats.sent == 1
    assert len(notifier.to(me)) == 1
    assert await db.outbox.pending_count() == 0


async def test_blocked_chat_is_parked_and_resumes_with_one_digest_when_it_talks(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    router = CommandRouter(service)
    gone, other = chat("gone"), chat("other")
    await _queue(db, clock, [gone, other], 3)
    notifier = TimedNotifier(clock, blocked={gone.chat_key})
    stats = await service.flush_outbox(notifier)
    assert stats.paused == 1
    assert len(notifier.to(other)) == 3
    assert (await db.chats.get_settings(gone)).paused
    clock.advance(timedelta(hours=5))
    assert (await service.flush_outbox(notifier)).messages == 0
    assert await db.outbox.pending_count() == 3
    # The person unblocks the bot and says anything: the parked alerts come as one digest.
    notifier.blocked.clear()
    await router.run(gone, "start", [])
    assert not (await db.chats.get_settings(gone)).paused
    stats = await service.flush_outbox(notifier)
    assert (stats.messages, stats.digests, stats.sent) == (1, 1, 3)
    (_at, digest), *_ = notifier.to(gone)
    assert digest.title == "3 updates while I could not reach you"
    assert await db.outbox.pending_count() == 0


async def test_a_broken_notifier_does_not_lose_alerts_or_stop_other_chats(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    bad, good = chat("bad"), chat("good")
    await _queue(db, clock, [bad, good], 2)
    notifier = TimedNotifier(clock, broken={bad.chat_key})
    stats = await service.flush_outbox(notifier)
    assert stats.sent == 2 and stats.failed == 1
    notifier.broken.clear()
    clock.advance(timedelta(hours=3))
    await service.flush_outbox(notifier)
    assert len(notifier.to(bad)) == 2
    assert await db.outbox.pending_count() == 0


class _CheckingNotifier:
    """Asserts, while "sending", that the alert is still unsent in the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen_pending: list[int] = []

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        self.seen_pending.append(await self.db.outbox.pending_count())


async def test_an_alert_is_marked_sent_only_after_the_notifier_returned(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    await _queue(db, clock, [chat("one")], 3)
    notifier = _CheckingNotifier(db)
    await service.flush_outbox(notifier)
    assert notifier.seen_pending == [3, 2, 1]
    assert await db.outbox.pending_count() == 0


async def test_alerts_no_longer_wanted_are_settled_without_sending(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    router = CommandRouter(service)
    muted, quitter, keen = chat("muted"), chat("quitter"), chat("keen")
    await _queue(db, clock, [muted, quitter, keen], 2)
    await router.run(muted, "mute", [KEY.number])
    await router.run(quitter, "unsubscribe", [KEY.number])
    notifier = RecordingNotifier()
    stats = await service.flush_outbox(notifier)
    assert stats.dropped == 4 and stats.sent == 2
    assert [c.chat_key for c, _ in notifier.sent] == [keen.chat_key] * 2
    assert await db.outbox.pending_count() == 0
    await router.run(muted, "unmute", [KEY.number])
    assert not (await db.subscriptions.get(muted, KEY) or Subscription(muted, KEY)).muted


async def test_quiet_hours_hold_then_send_everything_due_as_one_digest(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    router = CommandRouter(service)
    me = chat("night")
    # The fake clock starts at 09:00 UTC: make that the middle of the night.
    await router.run(me, "quiet", ["08:00-10:00", "UTC"])
    await _queue(db, clock, [me], 4)
    notifier = TimedNotifier(clock)
    stats = await service.flush_outbox(notifier)
    assert stats.held == 4 and stats.messages == 0
    clock.advance(timedelta(minutes=59))
    assert (await service.flush_outbox(notifier)).messages == 0
    clock.advance(timedelta(minutes=1))
    stats = await service.flush_outbox(notifier)
    assert (stats.messages, stats.digests, stats.sent) == (1, 1, 4)
    rows = await outbox_rows(db.path)
    assert all(row.sent_at is not None for row in rows)
    (_at, digest), *_ = notifier.to(me)
    assert digest.title == "4 updates during your quiet hours"
    assert "Tracking update" in digest.lines[0]


async def test_permanent_and_temporary_unreachable_are_told_apart(
    service: ParcelService, db: Database, clock: FakeClock
) -> None:
    me = chat("slow")
    await _queue(db, clock, [me], 1)

    class FloodControl:
        async def send(self, chat: ChatRef, reply: Reply) -> None:
            raise ChatUnreachable("flood", permanent=False, retry_after=600)

    stats = await service.flush_outbox(FloodControl())
    assert stats.failed == 1 and stats.paused == 0
    assert not (await db.chats.get_settings(me)).paused
    clock.advance(timedelta(seconds=599))
    assert await db.outbox.due(clock.now(), 10) == []
    clock.advance(timedelta(seconds=1))
    assert len(await db.outbox.due(clock.now(), 10)) == 1
