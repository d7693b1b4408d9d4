"""Fixtures for tests on the loopback fake Discord: ``fake`` (the server) and ``bot`` (the real
bot logged in to it). Import both into a test module to use them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from bots.discord_bot import build_bot
from bots.discord_bot.bot import AnyBot
from core.commands import CommandRouter
from storage.db import Database
from tests.bots.discord.fake_discord import FakeDiscord

__all__ = ["ALICE", "loopback_bot", "loopback_discord"]

ALICE = 900_000_000_000_000_555


@pytest.fixture(name="fake")
async def loopback_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(members=[(ALICE, "alice")])
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
    )
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(name="bot")
async def loopback_bot(
    fake: FakeDiscord, router: CommandRouter, db: Database
) -> AsyncIterator[AnyBot]:
    client = build_bot(router, guilds=db.discord, guild_ready_timeout=0.05)
    await client.login("fake-token")
    running = asyncio.create_task(client.connect(reconnect=False))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield client
    finally:
        await client.close()
        # A payload discord.py cannot parse kills the connection task: fail loudly then.
        await asyncio.wait_for(running, 5)
