"""Slash commands, buttons and server set-up: Discord interactions in, core commands out.

Every command runs for the person who invoked it (``chat_of``), wherever they are: a Discord
"chat" is one person, so nobody's parcels are ever listed to another member. Replies in server
channels are ephemeral; in the bot's DMs they are normal messages. Errors are turned into
text in exactly one place, ``answer_error`` (the command tree's ``on_error``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, Literal, Protocol

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bots.discord_bot.render import COG_NAME, escape, render
from core.commands import CommandSpec, error_text
from core.errors import InvalidInput, TrackingError
from core.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Voices, _, match_language, ngettext
from core.models import ChatRef, GuildSettings, Platform
from core.ports import GuildStore
from core.replies import Reply, ReplyKind

__all__ = [
    "DISCORD_COMMANDS",
    "DM_CLOSED_NOTICE",
    "SKIPPED_CORE_COMMANDS",
    "CommandRunner",
    "NumberSource",
    "ParcelCog",
    "answer_error",
    "chat_of",
    "describe_error",
]

log = logging.getLogger(__name__)

DISCORD_COMMANDS = frozenset({"setup", "alerts"})
"""Commands that exist only on Discord (the others mirror the core's command list)."""

SKIPPED_CORE_COMMANDS = frozenset({"start"})
"""Core commands with no slash command: /start opens Telegram deep links, which Discord lacks."""

DM_CLOSED_NOTICE = N_(
    "I could not send you a direct message, so your parcel alerts are on hold. "
    "To fix it, open this server's menu → Privacy Settings and allow direct messages, "
    "then use any parcelbot command. If this server has an alerts channel, "
    "/alerts where:server posts your alerts there instead."
)

_GENERIC_ERROR = N_("Something went wrong on my side. Please try again in a moment.")
_AUTOCOMPLETE_MAX = 25
_CHOICE_NAME_MAX = 100


class NumberSource(Protocol):
    """The service's listing of a chat's active parcels, for autocomplete."""

    async def list_numbers(self, chat: ChatRef) -> list[tuple[str, str]]: ...


class CommandRunner(Protocol):
    """``core.commands.CommandRouter`` as the cog uses it."""

    @property
    def specs(self) -> Mapping[str, CommandSpec]: ...

    @property
    def service(self) -> NumberSource: ...

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]: ...

    @property
    def voices(self) -> Voices: ...

    def speaking(self, chat: ChatRef) -> AbstractAsyncContextManager[str]: ...


def chat_of(user: discord.abc.User, language: str = "") -> ChatRef:
    """The core's chat for a Discord user: one person, the same in every server and in DMs.
    ``language`` is the locale the interaction reports (``interaction_language``)."""
    return ChatRef(Platform.DISCORD, str(user.id), str(user.id), is_group=False, language=language)


def interaction_language(interaction: discord.Interaction[Any]) -> str:
    """The locale an interaction reports: the server's in a server channel (when the server
    set one), else the person's Discord app's."""
    if interaction.guild_id is not None and interaction.guild_locale is not None:
        return str(interaction.guild_locale.value)
    return str(interaction.locale.value)


def _ephemeral(interaction: discord.Interaction[Any]) -> bool:
    """Replies are ephemeral everywhere except the person's own DM with the bot."""
    return not (interaction.guild_id is None and isinstance(interaction.channel, discord.DMChannel))


def _args(*values: str | None) -> list[str]:
    return [value.strip() for value in values if value and value.strip()]


def describe_error(error: BaseException) -> str:
    """The one sentence a Discord user sees for ``error``; unexpected errors are logged."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, TrackingError):
        return error_text(error)
    if isinstance(error, app_commands.MissingPermissions):
        return _("You need the Manage Server permission to change this server's settings.")
    if isinstance(error, app_commands.NoPrivateMessage):
        return _("This command only works in a server.")
    if isinstance(error, app_commands.CommandOnCooldown):
        wait = max(1, round(error.retry_after))
        return ngettext(
            "Please wait {count} second and try again.",
            "Please wait {count} seconds and try again.",
            wait,
        ).format(count=wait)
    if isinstance(error, app_commands.TransformerError):
        return _("One of the options is not valid here. Please pick it from the list.")
    if isinstance(error, app_commands.CheckFailure):
        return _("You cannot use this command here.")
    log.error("unexpected error in a Discord interaction", exc_info=error)
    return _(_GENERIC_ERROR)


async def answer_error(
    interaction: discord.Interaction[Any],
    error: BaseException,
    voices: Voices | None = None,
    language: str = "",
) -> None:
    """Tell the user what went wrong, ephemerally, whatever state the interaction is in.

    Worded in ``language`` (the chat's; default: the interaction's locale) with ``voices``
    (English without)."""
    # The sentence may quote what the person typed: shown as typed, never as markup.
    with (voices or Voices()).speaking(language or interaction_language(interaction)):
        text = escape(describe_error(error))
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True)
        elif not interaction.extras.get("answered"):
            await interaction.edit_original_response(content=text, embed=None, view=None)
        else:
            await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException:
        # The interaction token expired or Discord is down: nothing more we can say.
        log.warning("could not deliver an error message for interaction %s", interaction.id)


async def deliver(
    interaction: discord.Interaction[Any], replies: Sequence[Reply], *, ephemeral: bool
) -> None:
    """Send replies as the interaction's answer: the first one, then follow-ups."""
    for reply in replies:
        rendered = render(reply)
        kwargs: dict[str, Any] = {"embed": rendered.embed}
        if rendered.view is not None:
            kwargs["view"] = rendered.view
        if not interaction.response.is_done():
            if rendered.file is not None:
                kwargs["file"] = rendered.file
            await interaction.response.send_message(ephemeral=ephemeral, **kwargs)
        elif not interaction.extras.get("answered"):
            if rendered.file is not None:
                kwargs["attachments"] = [rendered.file]
            await interaction.edit_original_response(**kwargs)
        else:
            if rendered.file is not None:
                kwargs["file"] = rendered.file
            await interaction.followup.send(ephemeral=ephemeral, **kwargs)
        interaction.extras["answered"] = True


class ParcelCog(commands.Cog, name=COG_NAME):
    """parcelbot's slash commands, action buttons and per-server set-up."""

    def __init__(self, router: CommandRunner, guilds: GuildStore) -> None:
        self._router = router
        self._guilds = guilds
        # The language each server was last stored with, so a locale is written once.
        self._guild_languages: dict[int, str] = {}

    async def _remember_guild_language(self, interaction: discord.Interaction[Any]) -> None:
        """Store the server's locale: alerts posted in its channel are worded in it."""
        guild_id, locale = interaction.guild_id, interaction.guild_locale
        language = match_language(locale.value) if locale is not None else None
        if guild_id is None or language is None:
            return
        if self._guild_languages.get(guild_id) == language:
            return
        settings = await self._guilds.get(guild_id)
        if settings.language != language:
            await self._guilds.save(replace(settings, language=language))
        self._guild_languages[guild_id] = language

    # ------------------------------------------------------------------ plumbing

    async def run_command(
        self, interaction: discord.Interaction[Any], name: str, args: Sequence[str]
    ) -> None:
        """Run core command ``name`` for the invoking user and answer with its replies.

        TrackingErrors propagate to the tree's ``on_error`` (``answer_error``).
        """
        ephemeral = _ephemeral(interaction)
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        user = interaction.user
        chat = chat_of(user, interaction_language(interaction))
        await self._remember_guild_language(interaction)
        # Everything said on the way out (the adapter's notices, button labels) is in the
        # chat's language too.
        async with self._router.speaking(chat):
            replies = list(await self._router.run(chat, name, list(args)))
            # /forget deletes the member's alert route itself, once confirmed (core's forget).
            if name == "subscribe" and interaction.guild_id is not None and interaction.channel_id:
                await self._guilds.remember_home(
                    user.id, interaction.guild_id, interaction.channel_id
                )
            replies.extend(await self._pending_notice(user.id))
            await deliver(interaction, replies, ephemeral=ephemeral)

    async def _language(self, chat: ChatRef) -> str:
        """The chat's language (stored by the core), for the adapter's own words; "" when
        it cannot be read (the database is down: the apology must still go out)."""
        try:
            async with self._router.speaking(chat) as language:
                return language
        except TrackingError:
            return ""

    async def language_of(self, interaction: discord.Interaction[Any]) -> str:
        """The language to answer ``interaction``'s user in ("" when unknown)."""
        return await self._language(chat_of(interaction.user, interaction_language(interaction)))

    async def run_action(
        self, interaction: discord.Interaction[Any], action: str, args: list[str]
    ) -> None:
        """A button press: run its command for the person who pressed it (never the author)."""
        try:
            if action not in self._router.specs:
                raise InvalidInput(_("This button no longer works. Please use the slash command."))
            await self.run_command(interaction, action, args)
        except Exception as err:  # every error gets the one error answer
            chat = chat_of(interaction.user, interaction_language(interaction))
            await answer_error(interaction, err, self._router.voices, await self._language(chat))

    async def _pending_notice(self, user_id: int) -> list[Reply]:
        """The closed-DMs notice, once, when it could not be posted in a channel."""
        route = await self._guilds.member(user_id)
        if not route.dm_closed or route.dm_notice_sent:
            return []
        await self._guilds.set_dm_state(user_id, closed=True, notice_sent=True)
        return [Reply(_("Alerts on hold"), (_(DM_CLOSED_NOTICE),), kind=ReplyKind.ERROR)]

    async def _parcel_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The user's own parcels whose number or label contains what they typed."""
        wanted = current.strip().casefold()
        numbers = await self._router.service.list_numbers(chat_of(interaction.user))
        choices: list[app_commands.Choice[str]] = []
        for number, label in numbers:
            if wanted and wanted not in number.casefold() and wanted not in label.casefold():
                continue
            name = f"{label} — {number}" if label else number
            choices.append(app_commands.Choice(name=name[:_CHOICE_NAME_MAX], value=number))
            if len(choices) >= _AUTOCOMPLETE_MAX:
                break
        return choices

    # ------------------------------------------------------------------ core commands

    @app_commands.command(name="track", description=locale_str("Where is my parcel?"))
    @app_commands.describe(
        number=locale_str("Tracking number or order id"),
        carrier=locale_str("The carrier, if I guess wrong (e.g. ups)"),
    )
    async def track(
        self, interaction: discord.Interaction[Any], number: str, carrier: str | None = None
    ) -> None:
        await self.run_command(interaction, "track", _args(number, carrier))

    @app_commands.command(name="subscribe", description=locale_str("Tell me when it moves"))
    @app_commands.describe(
        number=locale_str("Tracking number"),
        carrier=locale_str("The carrier, if I guess wrong (e.g. ups)"),
        label=locale_str("A name for it, e.g. birthday present"),
    )
    async def subscribe(
        self,
        interaction: discord.Interaction[Any],
        number: str,
        carrier: str | None = None,
        label: str | None = None,
    ) -> None:
        await self.run_command(interaction, "subscribe", _args(number, carrier, label))

    @app_commands.command(
        name="unsubscribe", description=locale_str("Stop the updates for a parcel")
    )
    @app_commands.describe(parcel=locale_str("Tracking number or label"))
    async def unsubscribe(self, interaction: discord.Interaction[Any], parcel: str) -> None:
        await self.run_command(interaction, "unsubscribe", _args(parcel))

    @app_commands.command(name="list", description=locale_str("Your parcels, active and archived"))
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        await self.run_command(interaction, "list", [])

    @app_commands.command(name="history", description=locale_str("The full timeline of a parcel"))
    @app_commands.describe(parcel=locale_str("Tracking number or label"))
    async def history(self, interaction: discord.Interaction[Any], parcel: str) -> None:
        await self.run_command(interaction, "history", _args(parcel))

    @app_commands.command(name="notify", description=locale_str("Which alerts you get"))
    @app_commands.describe(
        level=locale_str("Which alerts"), parcel=locale_str("Only for this parcel (default: all)")
    )
    @app_commands.choices(
        level=[
            # TRANSLATORS: the /notify levels as Discord lists them (the value stays English).
            app_commands.Choice(name=locale_str("all: every scan and problem"), value="all"),
            app_commands.Choice(name=locale_str("milestones and problems"), value="milestones"),
            app_commands.Choice(name=locale_str("only problems"), value="exceptions"),
            app_commands.Choice(name=locale_str("off"), value="off"),
        ]
    )
    async def notify(
        self,
        interaction: discord.Interaction[Any],
        level: app_commands.Choice[str],
        parcel: str | None = None,
    ) -> None:
        await self.run_command(interaction, "notify", _args(level.value, parcel))

    @app_commands.command(name="mute", description=locale_str("Silence one parcel's alerts"))
    @app_commands.describe(parcel=locale_str("Tracking number or label"))
    async def mute(self, interaction: discord.Interaction[Any], parcel: str) -> None:
        await self.run_command(interaction, "mute", _args(parcel))

    @app_commands.command(name="unmute", description=locale_str("Turn one parcel's alerts back on"))
    @app_commands.describe(parcel=locale_str("Tracking number or label"))
    async def unmute(self, interaction: discord.Interaction[Any], parcel: str) -> None:
        await self.run_command(interaction, "unmute", _args(parcel))

    @app_commands.command(name="quiet", description=locale_str("Hold alerts overnight"))
    @app_commands.describe(
        hours=locale_str("e.g. 22:00-07:00 Asia/Jakarta, or off (leave empty to see your settings)")
    )
    async def quiet(self, interaction: discord.Interaction[Any], hours: str | None = None) -> None:
        await self.run_command(interaction, "quiet", (hours or "").split())

    @app_commands.command(
        name="explain", description=locale_str("What a status means and what to do")
    )
    @app_commands.describe(code=locale_str("A status or problem, e.g. customs_hold"))
    async def explain(self, interaction: discord.Interaction[Any], code: str) -> None:
        await self.run_command(interaction, "explain", _args(code))

    @app_commands.command(name="report", description=locale_str("An evidence pack for a claim"))
    @app_commands.describe(parcel=locale_str("Tracking number or label"))
    async def report(self, interaction: discord.Interaction[Any], parcel: str) -> None:
        await self.run_command(interaction, "report", _args(parcel))

    @app_commands.command(
        name="orders", description=locale_str("Your order history and who runs late")
    )
    async def orders(self, interaction: discord.Interaction[Any]) -> None:
        await self.run_command(interaction, "orders", [])

    @app_commands.command(name="verify", description=locale_str("Prove an order is yours"))
    @app_commands.describe(
        order_id=locale_str("The order id"),
        proof=locale_str("Delivery postcode or last 4 digits of the phone number"),
    )
    async def verify(
        self, interaction: discord.Interaction[Any], order_id: str, proof: str
    ) -> None:
        await self.run_command(interaction, "verify", _args(order_id, proof))

    @app_commands.command(
        name="forget", description=locale_str("Delete everything stored about you")
    )
    async def forget(self, interaction: discord.Interaction[Any]) -> None:
        await self.run_command(interaction, "forget", [])

    @app_commands.command(name="language", description=locale_str("Choose the language I write in"))
    @app_commands.describe(choice=locale_str("The language (leave empty to see the choices)"))
    @app_commands.choices(
        choice=[app_commands.Choice(name=LANGUAGE_NAMES[code], value=code) for code in LANGUAGES]
    )
    async def language(
        self,
        interaction: discord.Interaction[Any],
        choice: app_commands.Choice[str] | None = None,
    ) -> None:
        await self.run_command(interaction, "language", _args(choice.value if choice else None))

    @app_commands.command(name="help", description=locale_str("What I can do"))
    async def help_(self, interaction: discord.Interaction[Any]) -> None:
        await self.run_command(interaction, "help", [])

    @track.autocomplete("number")
    @subscribe.autocomplete("number")
    @unsubscribe.autocomplete("parcel")
    @history.autocomplete("parcel")
    @notify.autocomplete("parcel")
    @mute.autocomplete("parcel")
    @unmute.autocomplete("parcel")
    @report.autocomplete("parcel")
    async def parcel_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._parcel_choices(interaction, current)

    # ------------------------------------------------------------------ where alerts go

    @app_commands.command(
        name="alerts", description=locale_str("Get your parcel alerts by DM or here")
    )
    @app_commands.describe(
        where=locale_str("By direct message, or in this server's alerts channel")
    )
    @app_commands.choices(
        where=[
            app_commands.Choice(name=locale_str("By direct message"), value="dm"),
            app_commands.Choice(name=locale_str("In this server's alerts channel"), value="server"),
        ]
    )
    async def alerts(
        self, interaction: discord.Interaction[Any], where: app_commands.Choice[str]
    ) -> None:
        user_id = interaction.user.id
        if where.value == "dm":
            await self._guilds.set_public_guild(user_id, None)
            reply = Reply(
                _("Alerts by DM"), (_("Your parcel alerts will come by direct message."),)
            )
        else:
            if interaction.guild_id is None:
                raise InvalidInput(_("Use this in the server whose alerts channel you want."))
            settings = await self._guilds.get(interaction.guild_id)
            if not settings.public_alerts:
                raise InvalidInput(
                    _(
                        "This server does not post alerts in a channel. An admin can turn it on "
                        "with /setup alerts-channel and /setup allow-public."
                    )
                )
            await self._guilds.set_public_guild(user_id, interaction.guild_id)
            reply = Reply(
                _("Alerts in this server"),
                (
                    _(
                        "Your parcel alerts will be posted in {channel} with a mention. Order "
                        "details still come only to you."
                    ).format(channel=_channel_name(interaction, settings.alerts_channel_id)),
                ),
            )
        await deliver(interaction, [reply], ephemeral=_ephemeral(interaction))

    # ------------------------------------------------------------------ server set-up

    setup = app_commands.Group(
        name="setup",
        description=locale_str("Where this server's shared parcel alerts go (admins)"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @setup.command(
        name="alerts-channel", description=locale_str("Channel for members' opted-in alerts")
    )
    @app_commands.describe(channel=locale_str("The channel (leave empty to stop posting alerts)"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_alerts_channel(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None
    ) -> None:
        guild = interaction.guild
        if guild is None or interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        if channel is not None:
            mine = channel.permissions_for(guild.me)
            if not (mine.view_channel and mine.send_messages and mine.embed_links):
                raise InvalidInput(
                    _(
                        "I cannot post in {channel}. Give me View Channel, Send Messages and "
                        "Embed Links there, then try again."
                    ).format(channel=f"#{channel.name}")
                )
        settings = await self._guilds.get(interaction.guild_id)
        settings = replace(settings, alerts_channel_id=channel.id if channel else None)
        await self._guilds.save(settings)
        await deliver(
            interaction,
            [_settings_reply(settings, _channel_name(interaction, settings.alerts_channel_id))],
            ephemeral=True,
        )

    @setup.command(
        name="allow-public", description=locale_str("Allow members' alerts in the alerts channel")
    )
    @app_commands.describe(state=locale_str("on: members may opt in; off: alerts go by DM only"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_allow_public(
        self, interaction: discord.Interaction[Any], state: Literal["on", "off"]
    ) -> None:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        settings = await self._guilds.get(interaction.guild_id)
        settings = replace(settings, allow_public=state == "on")
        await self._guilds.save(settings)
        await deliver(
            interaction,
            [_settings_reply(settings, _channel_name(interaction, settings.alerts_channel_id))],
            ephemeral=True,
        )

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed from a server (or it was deleted): forget its settings."""
        await self._guilds.delete_guild(guild.id)
        log.info("left server %s; its settings were deleted", guild.id)


def _channel_name(interaction: discord.Interaction[Any], channel_id: int | None) -> str:
    """``#name`` of a channel of the interaction's server. Replies are plain text rendered
    inert (``render.escape``), so a channel is named rather than linked."""
    guild = interaction.guild
    channel = guild.get_channel(channel_id) if guild is not None and channel_id else None
    return f"#{channel.name}" if channel is not None else _("the alerts channel")


def _settings_reply(settings: GuildSettings, channel_name: str) -> Reply:
    channel = channel_name if settings.alerts_channel_id else _("none")
    lines = [
        _("Alerts channel: {channel}").format(channel=channel),
        _("Public alerts: on") if settings.allow_public else _("Public alerts: off"),
    ]
    if settings.public_alerts:
        lines.append(_("Members can now choose /alerts where:server to get alerts there."))
    else:
        lines.append(_("Alerts go to members by direct message."))
    return Reply(_("Server settings"), tuple(lines))
