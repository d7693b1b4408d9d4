"""/forget in a Telegram group needs an admin and a confirmation; stale buttons do nothing
(PTB Application ↔ fake Bot API on 127.0.0.1, the real service and a real SQLite file)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bots.telegram_bot import StoredGroupSwitch, TelegramAdapter, build_adapter
from core.commands import CommandRouter
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from storage.db import Database
from tests.bots.telegram.conftest import FAST_LIMITS
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi, iter_buttons
from tests.fakes import FakeClock

GROUP = -100900
MEMBER, ADMIN = 7001, 7002
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


@pytest.fixture
async def bot(
    api: FakeBotApi, router: CommandRouter, db: Database
) -> AsyncIterator[TelegramAdapter]:
    adapter = build_adapter(
        TOKEN,
        router,
        base_url=api.base_url,
        limits=FAST_LIMITS,
        poll_timeout=1.0,
        group_switch=StoredGroupSwitch(db.meta),
    )
    async with adapter:
        yield adapter


def _group(user: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(GROUP), str(user), is_group=True)


async def _subscriptions(db: Database) -> int:
    return len(await db.subscriptions.for_chat(_group(MEMBER)))


async def test_only_an_admin_who_confirms_can_forget_a_group(
    api: FakeBotApi, bot: TelegramAdapter, router: CommandRouter, db: Database
) -> None:
    api.admins[GROUP].add(ADMIN)
    await router.run(_group(MEMBER), "subscribe", [NUMBER])
    assert await _subscriptions(db) == 1

    # Any member: refused, nothing deleted.
    mark = api.mark()
    api.push_text(GROUP, "/forget", user_id=MEMBER)
    refused = await api.wait_for("sendMessage", after=mark)
    assert "admins" in refused.params["text"]
    assert await _subscriptions(db) == 1

    # The admin: asked first, nothing deleted yet.
    mark = api.mark()
    api.push_text(GROUP, "/forget", user_id=ADMIN)
    asked = await api.wait_for("sendMessage", after=mark)
    assert "Delete everything?" in asked.params["text"]
    assert await _subscriptions(db) == 1
    message = api.last_message(GROUP)
    yes = next(b for b in iter_buttons(message) if b["text"].startswith("Yes"))

    # A member pressing the admin's Yes: refused.
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=MEMBER)
    refused = await api.wait_for("sendMessage", after=mark)
    assert "admins" in refused.params["text"]
    assert await _subscriptions(db) == 1

    # The admin confirms: gone.
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=ADMIN)
    done = await api.wait_for("sendMessage", after=mark)
    assert "Forgotten" in done.params["text"]
    assert await _subscriptions(db) == 0

    # The same button again (stale): nothing happens to anything.
    await router.run(_group(MEMBER), "subscribe", [NUMBER])
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=ADMIN)
    stale = await api.wait_for("sendMessage", after=mark)
    assert "expired" in stale.params["text"]
    assert await _subscriptions(db) == 1


async def test_a_confirmation_expires(router: CommandRouter, clock: FakeClock) -> None:
    me = ChatRef(Platform.TELEGRAM, "55", "55")
    await router.run(me, "subscribe", [NUMBER])
    asked = (await router.run(me, "forget", []))[0]
    yes = next(b for b in asked.buttons if b.label.startswith("Yes"))
    clock.advance(timedelta(minutes=3))
    late = (await router.run(me, yes.action, list(yes.args)))[0]
    assert late.title == "That button has expired"
    assert len(await router.service.list_numbers(me)) == 1
