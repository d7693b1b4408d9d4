"""The same commands and buttons when the bot runs as an AutoShardedBot."""

from __future__ import annotations

import discord
import pytest
import simcord

from bots.discord_bot import build_bot
from bots.discord_bot.bot import AnyBot
from core.commands import CommandRouter
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from storage.guilds import SqliteDiscordGuilds
from tests.bots.discord.helpers import embed_of

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


@pytest.fixture
def simcord_bot(router: CommandRouter, guilds: SqliteDiscordGuilds) -> AnyBot:
    return build_bot(router, guilds=guilds, sharded=True, shard_count=2)


async def test_sharded_bot_answers_commands_and_buttons_on_every_shard(
    simcord_env: simcord.Env, simcord_bot: AnyBot
) -> None:
    assert isinstance(simcord_bot, discord.AutoShardedClient)
    for shard in (0, 1):
        guild = simcord_env.create_guild(f"Shard {shard}", shard_id=shard)
        channel = guild.create_text_channel("general")
        member = guild.add_member(simcord_env.create_user(f"member{shard}"))
        tracked = await member.slash(channel, "track", number=NUMBER)
        assert tracked.response is not None
        pressed = await member.click(tracked.response, label="Subscribe")
        assert pressed.response is not None
        assert "I will tell you" in (embed_of(pressed.response).description or "")
