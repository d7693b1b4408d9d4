"""The Discord adapter: slash commands, buttons, server set-up and alert delivery."""

from __future__ import annotations

from bots.discord_bot.bot import build_bot, use_discord_servers
from bots.discord_bot.cog import ParcelCog, chat_of
from bots.discord_bot.sender import DiscordSender

__all__ = ["DiscordSender", "ParcelCog", "build_bot", "chat_of", "use_discord_servers"]
