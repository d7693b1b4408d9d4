"""Small helpers shared by the Discord tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord

from bots.discord_bot.sender import DiscordSender
from core.service import FlushStats, ParcelService
from tests.fakes import FakeClock

__all__ = [
    "action_custom_ids",
    "advance_until_alerts",
    "embed_of",
    "message_custom_ids",
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
        stats = await service.poll_due()
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
        queued += (await service.poll_due()).alerts
        await service.flush_outbox(sender)
    return queued
