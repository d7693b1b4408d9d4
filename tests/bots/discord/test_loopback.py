"""Smoke tests on a loopback fake Discord (real gateway socket and REST over 127.0.0.1).

A guard against simcord lagging behind discord.py: the same bot logs in, syncs its commands,
answers a slash command ephemerally and delivers an alert, all over real connections.
"""

from __future__ import annotations

import pytest

from bots.discord_bot import DiscordSender
from bots.discord_bot.bot import AnyBot
from core.models import ChatRef, Platform
from core.ports import ChatUnreachable
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.replies import Reply, ReplyKind
from storage.db import Database
from tests.bots.discord.fake_discord import APP_ID, FakeDiscord
from tests.bots.discord.loopback import ALICE, loopback_bot, loopback_discord

__all__ = ["loopback_bot", "loopback_discord"]  # fixtures

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


async def test_login_syncs_the_commands_and_track_answers_ephemerally(
    fake: FakeDiscord, bot: AnyBot
) -> None:
    synced = next(r for r in fake.requests if r.method == "PUT")
    assert synced.path == f"/applications/{APP_ID}/commands"
    assert {"track", "subscribe", "setup", "alerts"} <= {c["name"] for c in synced.body}

    await fake.dispatch("INTERACTION_CREATE", fake.slash(ALICE, "track", number=NUMBER))

    callback = await fake.wait_for(lambda r: r.path.startswith("/interactions/"))
    assert callback.body == {"type": 5, "data": {"flags": 64}}  # thinking, ephemeral
    answer = await fake.wait_for(lambda r: r.path.endswith("/messages/@original"))
    assert answer.method == "PATCH"
    assert answer.body["embeds"][0]["title"] == f"UPS {NUMBER}"
    custom_ids = [c["custom_id"] for c in answer.body["components"][0]["components"][:3]]
    assert custom_ids[0] == f"pb:track:{NUMBER}|ups"


async def test_the_sender_delivers_by_dm_and_reports_closed_dms(
    fake: FakeDiscord, bot: AnyBot, db: Database
) -> None:
    sender = DiscordSender(bot, db.discord)
    alice = ChatRef(Platform.DISCORD, str(ALICE), str(ALICE))
    await sender.send(alice, Reply("Out for delivery", kind=ReplyKind.ALERT))
    sent = await fake.wait_for(lambda r: r.path == f"/channels/{ALICE + 7}/messages")
    assert sent.body["embeds"][0]["title"] == "Out for delivery"

    fake.fail[f"/channels/{ALICE + 7}/messages"] = (403, 50007)
    with pytest.raises(ChatUnreachable) as caught:
        await sender.send(alice, Reply("Delivered", kind=ReplyKind.ALERT))
    assert caught.value.permanent
    assert (await db.discord.member(ALICE)).dm_closed
