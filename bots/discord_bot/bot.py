"""Build the Discord bot: the command cog, persistent buttons and the command sync.

The composition root calls ``build_bot`` with its dependencies and runs the result in the
shared event loop (``await bot.start(token)`` as a task, ``await bot.close()`` to stop).
Commands are synced in ``setup_hook``: globally (Discord may take a while to show changes), or
to one test server, where changes show at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bots.discord_bot.cog import (
    DISCORD_COMMANDS,
    SKIPPED_CORE_COMMANDS,
    CommandRunner,
    ParcelCog,
    answer_error,
)
from bots.discord_bot.render import COG_NAME, ActionButton
from bots.discord_bot.translator import CatalogTranslator
from core.commands import CommandSpec
from core.ports import GuildStore

__all__ = [
    "AnyBot",
    "ParcelBot",
    "ParcelTree",
    "ShardedParcelBot",
    "build_bot",
    "keep_core_commands",
    "use_discord_servers",
]

log = logging.getLogger(__name__)

AnyBot = commands.Bot | commands.AutoShardedBot
"""What ``build_bot`` returns (``AutoShardedBot`` is not a ``Bot`` subclass)."""

_DESCRIPTION_MAX = 100


class ParcelTree(app_commands.CommandTree[Any]):
    """The command tree whose ``on_error`` is the adapter's one error handler."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        wiring: _Wiring | None = getattr(self.client, "wiring", None)
        cog = self.client.get_cog(COG_NAME) if isinstance(self.client, commands.Bot) else None
        language = await cog.language_of(interaction) if isinstance(cog, ParcelCog) else ""
        await answer_error(
            interaction, error, wiring.router.voices if wiring else None, language=language
        )


@dataclass(frozen=True, slots=True)
class _Wiring:
    router: CommandRunner
    guilds: GuildStore
    test_guild_id: int | None


def keep_core_commands(
    tree: app_commands.CommandTree[Any], specs: Mapping[str, CommandSpec]
) -> None:
    """Drop slash commands the core does not have; describe the rest as the core does.

    Discord-only commands stay. A core command without a slash command is logged, except
    the ones Discord has no use for (``SKIPPED_CORE_COMMANDS``).
    """
    for command in tree.get_commands():
        if command.name in DISCORD_COMMANDS:
            continue
        spec = specs.get(command.name)
        if spec is None:
            tree.remove_command(command.name)
        elif isinstance(command, app_commands.Command) and spec.description:
            command.description = spec.description[:_DESCRIPTION_MAX]
    offered = {command.name for command in tree.get_commands()}
    for name in sorted(set(specs) - offered - SKIPPED_CORE_COMMANDS):
        log.warning("core command /%s has no Discord slash command", name)


async def _set_up(bot: AnyBot, wiring: _Wiring) -> None:
    """Add the cog and the persistent buttons, keep the commands the core has, then sync."""
    await bot.add_cog(ParcelCog(wiring.router, wiring.guilds))
    await bot.tree.set_translator(CatalogTranslator(wiring.router.voices, wiring.router.specs))
    bot.add_dynamic_items(ActionButton)
    keep_core_commands(bot.tree, wiring.router.specs)
    if wiring.test_guild_id is not None:
        guild = discord.Object(wiring.test_guild_id)
        bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
        log.info("synced %s commands to test server %s", len(synced), wiring.test_guild_id)
    else:
        synced = await bot.tree.sync()
        log.info("synced %s global commands", len(synced))


class ParcelBot(commands.Bot):
    """parcelbot on one gateway connection."""

    def __init__(self, wiring: _Wiring, **options: Any) -> None:
        super().__init__(**options)
        self._wiring = wiring

    @property
    def wiring(self) -> _Wiring:
        return self._wiring

    async def setup_hook(self) -> None:
        await _set_up(self, self._wiring)


class ShardedParcelBot(commands.AutoShardedBot):
    """parcelbot with Discord-managed sharding, for many servers."""

    def __init__(self, wiring: _Wiring, **options: Any) -> None:
        super().__init__(**options)
        self._wiring = wiring

    @property
    def wiring(self) -> _Wiring:
        return self._wiring

    async def setup_hook(self) -> None:
        await _set_up(self, self._wiring)


def build_bot(
    router: CommandRunner,
    *,
    guilds: GuildStore,
    test_guild_id: int | None = None,
    sharded: bool = False,
    shard_count: int | None = None,
    shard_ids: list[int] | None = None,
    guild_ready_timeout: float = 2.0,
) -> AnyBot:
    """The bot, ready for ``await bot.start(token)``.

    ``router`` is ``core.commands.CommandRouter``; ``guilds`` stores per-server settings
    (``storage.guilds.SqliteDiscordGuilds``). Only commands the router knows are registered.
    ``guild_ready_timeout`` is how long start-up waits for more servers after the last one.
    With ``shard_ids`` (and ``shard_count``) this process connects only those shards: several
    processes, each with its own range, share one bot's servers.
    """
    # Slash commands and buttons need no privileged intents; guilds keeps channels cached.
    intents = discord.Intents.none()
    intents.guilds = True
    options: dict[str, Any] = {
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": intents,
        "tree_cls": ParcelTree,
        "allowed_mentions": discord.AllowedMentions.none(),
        "guild_ready_timeout": guild_ready_timeout,
    }
    wiring = _Wiring(router, guilds, test_guild_id)
    if sharded or shard_ids is not None or shard_count is not None:
        if shard_ids is not None:
            options["shard_ids"] = shard_ids
        return ShardedParcelBot(wiring, shard_count=shard_count, **options)
    return ParcelBot(wiring, **options)


def use_discord_servers(api_base_url: str = "", gateway_url: str = "") -> None:
    """Point this process's Discord client at other servers (a test server); "" keeps Discord's.

    discord.py reads both from class attributes, so the choice holds for the whole process:
    the REST base (``https://discord.com/api/v10`` by default) and the gateway a single bot
    connects to (a sharded bot asks the REST API for its gateway instead).
    """
    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
