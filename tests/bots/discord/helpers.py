"""Small helpers shared by the Discord tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord
import simcord

from bots.discord_bot.sender import DiscordSender
from core.service import FlushStats, ParcelService
from tests.fakes import FakeClock

__all__ = [
    "action_custom_ids",
    "advance_until_alerts",
    "bot_messages",
    "embed_of",
    "message_custom_ids",
    "public_server",
    "walk",
]


def embed_of(message: Any) -> discord.Embed:
    """The one embed of a message or interaction response."""
    embeds: list[discord.Embed] = message.embeds
    assert len(embeds) == 1, embeds
    return embeds[0]


def action_custom_ids(components: list[dict[str, Any]]) -> list[str]:
    """The custom ids of the command buttons (link buttons have none)."""
    ids: list[str] = []
    for row in components:
        for item in row.get("components", []):
            if item.get("custom_id"):
                ids.append(item["custom_id"])
    return ids


def message_custom_ids(message: discord.Message) -> list[str]:
    """The custom ids of a posted message's command buttons."""
    ids: list[str] = []
    for row in message.components:
        for item in getattr(row, "children", []):
            custom_id = getattr(item, "custom_id", None)
            if custom_id:
                ids.append(str(custom_id))
    return ids


async def advance_until_alerts(
    service: ParcelService, clock: FakeClock, sender: DiscordSender, *, max_hours: int = 48
) -> FlushStats:
    """Move the clock an hour at a time until a poll queues alerts, then flush them once."""
    for _ in range(max_hours):
        clock.advance(timedelta(hours=1))
        stats = await service.refresh.poll_due()
        if stats.alerts:
            return await service.flush_outbox(sender)
    raise AssertionError("the parcel never moved")


async def walk(
    service: ParcelService, clock: FakeClock, sender: DiscordSender, *, hours: int
) -> int:
    """Move the clock an hour at a time, polling and flushing as the scheduler would.

    Returns how many alerts the polls queued in all (for every subscriber).
    """
    queued = 0
    for _ in range(hours):
        clock.advance(timedelta(hours=1))
        queued += (await service.refresh.poll_due()).alerts
        await service.flush_outbox(sender)
    return queued


def bot_messages(channel: simcord.ChannelHandle, env: simcord.Env) -> list[discord.Message]:
    """What the bot posted in ``channel``."""
    assert env.bot.user is not None
    return [m for m in channel.history() if m.author.id == env.bot.user.id]


async def public_server(env: simcord.Env) -> tuple[simcord.ChannelHandle, simcord.ChannelHandle]:
    """A server whose admin set an alerts channel and allowed public alerts: (general, alerts)."""
    guild = env.guild
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    role = guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(env.create_user("admin"), roles=[role])
    await admin.slash(general, "setup alerts-channel", channel=alerts)
    await admin.slash(general, "setup allow-public", state="on")
    return general, alerts
