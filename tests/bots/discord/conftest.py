"""The Discord bot against simcord's in-process Discord, with the real service and database.

The shared fixtures (``db``, ``clock``, ``service``, ``router``) come from ``tests/conftest.py``:
a real SQLite file, the sandbox provider and a clock that moves only when told to.
"""

from __future__ import annotations

import pytest
import simcord

from bots.discord_bot import DiscordSender, build_bot
from bots.discord_bot.bot import AnyBot
from core.commands import CommandRouter
from storage.db import Database
from storage.guilds import SqliteDiscordGuilds


@pytest.fixture
def guilds(db: Database) -> SqliteDiscordGuilds:
    return db.discord


@pytest.fixture
def simcord_bot(router: CommandRouter, guilds: SqliteDiscordGuilds) -> AnyBot:
    return build_bot(router, guilds=guilds)


@pytest.fixture
def sender(simcord_env: simcord.Env, guilds: SqliteDiscordGuilds) -> DiscordSender:
    return DiscordSender(simcord_env.bot, guilds)
