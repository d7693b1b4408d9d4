"""Faults stay where they happen on Discord: one DM answering 5xx and one refusing (403) while
a hundred other members get their alerts, through the real discord.py over loopback.

discord.py retries a 5xx itself (sleeping 1, 3, 5, 7 s between five tries); the sender bounds
that with its own timeout, the flusher then backs that chat off on its own schedule, and a 403
parks the chat at once. Nobody else waits for either.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bots.discord_bot import DiscordSender
from bots.discord_bot.bot import AnyBot
from bots.notifier import PlatformNotifier
from core.models import (
    ChatRef,
    Platform,
)
from core.service import ParcelService
from storage.db import Database
from tests.bots.discord.fake_discord import FakeDiscord
from tests.bots.discord.loopback import loopback_bot, loopback_discord
from tests.fakes import FakeClock
from tests.outbox_helpers import queue_alerts

__all__ = ["loopback_bot", "loopback_discord"]  # fixtures

GOOD = [900_000_000_000_010_000 + i for i in range(100)]
BROKEN = 900_000_000_000_020_001
CLOSED = 900_000_000_000_020_002
PER_CHAT = 3


def _dm(user_id: int) -> str:
    # The fake gives each member's DM channel the id user id + 7.
    return f"/channels/{user_id + 7}/messages"


async def _queue(db: Database, clock: FakeClock, users: list[int]) -> None:
    chats = [ChatRef(Platform.DISCORD, str(user), str(user)) for user in users]
    await queue_alerts(db, chats, PER_CHAT, clock.now())


async def test_a_dm_answering_5xx_and_one_refusing_hold_back_no_one(  # noqa: PLR0917 - fixtures
    fake: FakeDiscord,
    bot: AnyBot,
    db: Database,
    clock: FakeClock,
    service: ParcelService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.fail[_dm(BROKEN)] = (500, 0)
    fake.fail[_dm(CLOSED)] = (403, 50007)
    await _queue(db, clock, [BROKEN, CLOSED, *GOOD])
    notifier = PlatformNotifier({Platform.DISCORD: DiscordSender(bot, db.discord, timeout=2.5)})
    caplog.set_level(logging.INFO)

    stats = await service.flush_outbox(notifier)

    posts = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
    # Every other member got all of their alerts, in order, each once.
    for user_id in GOOD:
        texts = [r.body["embeds"][0]["description"] for r in posts if r.path == _dm(user_id)]
        assert len(texts) == PER_CHAT, user_id
        assert texts == sorted(texts)
    assert stats.sent == PER_CHAT * len(GOOD)
    # discord.py's own retries of the 5xx were cut short: two tries, not five, one alert only.
    assert 1 <= sum(1 for r in posts if r.path == _dm(BROKEN)) <= 2
    assert stats.failed == 1
    # The closed DMs were tried once and the chat is parked, with one log line.
    assert sum(1 for r in posts if r.path == _dm(CLOSED)) == 1
    closed = ChatRef(Platform.DISCORD, str(CLOSED), str(CLOSED))
    assert (await db.chats.get_settings(closed)).paused
    assert sum(1 for r in caplog.records if "parked" in r.getMessage()) == 1
    # Nothing was lost: both chats' alerts still wait.
    assert await db.outbox.pending_count() == 2 * PER_CHAT
    # The broken chat waits for its own backoff; nobody is retried before it has passed.
    again = await service.flush_outbox(notifier)
    assert again.messages == 0 and again.failed == 0
    clock.advance(timedelta(minutes=2))
    fake.fail.pop(_dm(BROKEN))
    later = await service.flush_outbox(notifier)
    assert later.sent == PER_CHAT
