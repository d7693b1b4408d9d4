"""The Discord adapter: slash commands, buttons, server set-up and alert delivery.

Inside: ``bot`` (the client and its servers), ``cog`` (slash commands and buttons → the core's
commands), ``render`` (``Reply`` → embeds and views), ``sender`` (the ``Notifier`` for Discord
channels), ``translator`` (command names and descriptions per language).

What it may import: discord.py and the core (``core.commands``, models, ports, replies, errors,
privacy, i18n); never storage, a provider or another chat adapter.
"""

from __future__ import annotations

from bots.discord_bot.bot import build_bot, use_discord_servers
from bots.discord_bot.cog import ParcelCog, chat_of
from bots.discord_bot.sender import DiscordSender

__all__ = ["DiscordSender", "ParcelCog", "build_bot", "chat_of", "use_discord_servers"]
