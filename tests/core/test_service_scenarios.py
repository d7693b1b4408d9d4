"""Every sandbox scenario walked through the real service, storage and outbox.

A chat subscribes, the clock moves in one-hour steps for two weeks, and every poll and flush
runs as the scheduler would run them. Each change must reach the chat exactly once.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from core.models import IncidentReason, Status
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario, journey
from core.replies import ReplyKind
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier, chat

END_STATES: dict[Scenario, tuple[Status, IncidentReason | None]] = {
    Scenario.NOT_YET_ACTIVE: (Status.INFO_RECEIVED, IncidentReason.NEVER_HANDED_OVER),
    Scenario.NORMAL: (Status.DELIVERED, None),
    Scenario.OUT_FOR_DELIVERY_SIGNED: (Status.DELIVERED, None),
    Scenario.LEFT_AT_DOOR: (Status.DELIVERED, None),
    Scenario.FAILED_ATTEMPT: (Status.DELIVERED, None),
    Scenario.WEATHER_DELAY: (Status.DELIVERED, None),
    Scenario.ADDRESS_ISSUE: (Status.DELIVERED, None),
    Scenario.CUSTOMS_DUTIES: (Status.DELIVERED, None),
    Scenario.PICKUP_POINT: (Status.DELIVERED, None),
    Scenario.RETURNED: (Status.EXCEPTION, IncidentReason.RETURNED),
    Scenario.LOST: (Status.EXCEPTION, IncidentReason.LOST),
}


def test_every_scenario_has_an_expected_end_state() -> None:
    assert set(END_STATES) == set(Scenario)


@pytest.mark.parametrize("scenario", list(Scenario))
async def test_scenario_walk_alerts_each_change_once(
    scenario: Scenario,
    service: ParcelService,
    db: Database,
    clock: FakeClock,
    notifier: RecordingNotifier,
) -> None:
    number = SAMPLE_NUMBERS[scenario]
    me = chat("buyer-1")
    first = await service.track(me, number)
    assert first.kind is ReplyKind.SHIPMENT
    assert "▸" in first.lines[0]
    await service.subscribe(me, number, "shoes")

    seen_keys: list[str] = []
    for _ in range(14 * 24):
        clock.advance(timedelta(hours=1))
        await service.refresh.poll_due()
        await service.flush_outbox(notifier)
        # The same moment polled again never produces anything new.
        again = await service.refresh.poll_due()
        assert again.alerts == 0
    sent = notifier.to(me)
    for _chat, reply in notifier.sent:
        assert reply.kind is ReplyKind.ALERT
    rows = await db.outbox.pending_count()
    assert rows == 0
    seen_keys = [reply.title + "|" + "\n".join(reply.lines) for reply in sent]
    duplicates = [text for text, count in Counter(seen_keys).items() if count > 1]
    assert not duplicates, duplicates

    subs = await db.subscriptions.for_chat(me)
    stored = await db.shipments.get(subs[0].key)
    assert stored is not None
    status, incident = END_STATES[scenario]
    assert stored.status is status
    assert stored.incident is incident
    assert stored.status is journey(number).steps[-1].status
    if scenario is not Scenario.NOT_YET_ACTIVE:
        # At least one alert for the change that ended the journey.
        assert sent, "no alert for a parcel that moved"
    final = await service.track(me, number)
    assert final.kind is ReplyKind.SHIPMENT


async def test_two_chats_on_one_parcel_poll_once_and_both_hear(
    service: ParcelService, db: Database, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    number = SAMPLE_NUMBERS[Scenario.NORMAL]
    alice, bob = chat("alice"), chat("bob")
    await service.subscribe(alice, number)
    await service.subscribe(bob, number, "gift")
    for _ in range(6 * 24):
        clock.advance(timedelta(hours=1))
        await service.refresh.poll_due()
        await service.flush_outbox(notifier)
    assert notifier.to(alice)
    assert len(notifier.to(alice)) == len(notifier.to(bob))


async def test_blocked_chat_is_paused_and_nothing_is_lost(
    service: ParcelService, db: Database, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    number = SAMPLE_NUMBERS[Scenario.NORMAL]
    me = chat("blocker")
    await service.subscribe(me, number)
    notifier.blocked.add(me.chat_key)
    for _ in range(5 * 24):
        clock.advance(timedelta(hours=1))
        await service.refresh.poll_due()
        await service.flush_outbox(notifier)
    assert notifier.to(me) == []
    assert (await db.chats.get_settings(me)).paused
    assert await db.outbox.pending_count() > 0


async def test_unsubscribed_parcel_is_no_longer_polled(
    service: ParcelService, clock: FakeClock, notifier: RecordingNotifier
) -> None:
    number = SAMPLE_NUMBERS[Scenario.NORMAL]
    me = chat("quitter")
    await service.subscribe(me, number)
    await service.unsubscribe(me, number)
    clock.advance(timedelta(days=1))
    stats = await service.refresh.poll_due()
    assert stats.checked == 0
    assert notifier.sent == []


async def test_forget_deletes_the_chat_and_nothing_else(
    service: ParcelService, db: Database
) -> None:
    mine, theirs = chat("me"), chat("them")
    await service.subscribe(mine, SAMPLE_NUMBERS[Scenario.NORMAL])
    await service.subscribe(theirs, SAMPLE_NUMBERS[Scenario.LOST])
    asked = await service.forget(mine)
    assert len(await db.subscriptions.for_chat(mine)) == 1  # asked first, nothing deleted
    answer, token = asked.buttons[0].args
    reply = await service.forget(mine, answer, token)
    assert "deleted" in reply.lines[0]
    assert await db.subscriptions.for_chat(mine) == []
    assert len(await db.subscriptions.for_chat(theirs)) == 1
