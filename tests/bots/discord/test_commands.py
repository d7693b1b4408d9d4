"""Slash commands, autocomplete and buttons through discord.py's real command tree."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

import discord
import pytest
import simcord

from bots.discord_bot import DiscordSender, ParcelCog, build_bot
from bots.discord_bot.bot import keep_core_commands
from core.commands import CommandRouter
from core.errors import InvalidInput
from core.i18n import Voices
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.replies import Button, Reply
from core.service import ParcelService
from storage.db import Database
from storage.guilds import SqliteDiscordGuilds
from tests.bots.discord.helpers import action_custom_ids, embed_of

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
OTHER = SAMPLE_NUMBERS[Scenario.LEFT_AT_DOOR]
THIRD = SAMPLE_NUMBERS[Scenario.WEATHER_DELAY]


def _chat(member: simcord.MemberActor) -> ChatRef:
    return ChatRef(Platform.DISCORD, str(member.id), str(member.id))


@pytest.fixture
def channel(simcord_env: simcord.Env) -> simcord.ChannelHandle:
    return simcord_env.create_guild("Shop fans").create_text_channel("general")


def _member(env: simcord.Env, name: str) -> simcord.MemberActor:
    return env.guild.add_member(env.create_user(name))


async def test_track_answers_only_the_asker_with_an_embed_and_buttons(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    bob = _member(simcord_env, "bob")

    result = await alice.slash(channel, "track", number=NUMBER)

    assert result.ephemeral
    assert result.response is not None
    embed = embed_of(result.response)
    assert embed.title == f"UPS {NUMBER}"
    assert embed.description is not None
    assert "[Shipped]" in embed.description  # the stage bar
    assert "Last scan:" in embed.description
    assert "Arrives" in embed.description  # the arrival window
    assert embed.url is not None and NUMBER in embed.url  # the carrier's page
    assert action_custom_ids(result.response.components) == [
        f"pb:track:{NUMBER}|ups",
        f"pb:history:{NUMBER}|ups",
        f"pb:subscribe:{NUMBER}|ups",
    ]
    # Nobody else in the channel can see it.
    assert channel.history(viewer=bob) == []


async def test_commands_in_the_bots_dm_are_plain_messages(simcord_env: simcord.Env) -> None:
    simcord_env.create_guild()
    alice = simcord_env.create_user("alice")
    result = await alice.slash("track", number=NUMBER)
    assert result.response is not None
    assert not result.ephemeral
    assert embed_of(result.response).title == f"UPS {NUMBER}"


async def test_autocomplete_offers_only_the_users_own_parcels(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    bob = _member(simcord_env, "bob")
    await alice.slash(channel, "subscribe", number=NUMBER, label="running shoes")
    await alice.slash(channel, "subscribe", number=OTHER, label="lamp")
    await bob.slash(channel, "subscribe", number=THIRD, label="bob's secret")

    everything = await alice.autocomplete(channel, "unsubscribe", "parcel", "")
    assert {choice["value"] for choice in everything} == {NUMBER, OTHER}
    assert {choice["name"] for choice in everything} == {
        f"running shoes — {NUMBER}",
        f"lamp — {OTHER}",
    }
    by_label = await alice.autocomplete(channel, "history", "parcel", "SHOE")
    assert [choice["value"] for choice in by_label] == [NUMBER]
    by_number = await alice.autocomplete(channel, "track", "number", OTHER[-6:])
    assert [choice["value"] for choice in by_number] == [OTHER]
    assert await alice.autocomplete(channel, "history", "parcel", "secret") == []
    theirs = await bob.autocomplete(channel, "unsubscribe", "parcel", "")
    assert [choice["value"] for choice in theirs] == [THIRD]


async def test_button_press_runs_the_command_for_the_person_who_pressed(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle, db: Database
) -> None:
    alice = _member(simcord_env, "alice")
    tracked = await alice.slash(channel, "track", number=NUMBER)
    assert tracked.response is not None

    pressed = await alice.click(tracked.response, label="Subscribe")

    assert pressed.ephemeral
    assert pressed.response is not None
    embed = embed_of(pressed.response)
    assert embed.description is not None
    assert "I will tell you when it moves" in embed.description
    subs = await db.subscriptions.for_chat(_chat(alice))
    assert [sub.key.number for sub in subs] == [NUMBER]

    timeline = await alice.click(tracked.response, label="Timeline")
    assert timeline.response is not None
    shown = embed_of(timeline.response)
    assert shown.colour == discord.Colour.dark_teal()  # a timeline reply
    assert "Shipping label created" in (shown.description or "")


async def test_other_members_cannot_reach_someone_elses_buttons(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    bob = _member(simcord_env, "bob")
    tracked = await alice.slash(channel, "track", number=NUMBER)
    assert tracked.response is not None
    with pytest.raises(simcord.SetupError):
        await bob.click(tracked.response, label="Subscribe")


async def test_a_tracking_error_is_one_ephemeral_sentence(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    result = await alice.slash(channel, "track", number="<script>")
    assert result.ephemeral
    assert result.response is not None
    text = result.response.content
    assert "letters and digits" in text
    assert "Traceback" not in text
    # The error went through the tree's on_error, the adapter's one error handler.
    errors = simcord_env.errors
    assert len(errors) == 1
    original = errors[0]
    if isinstance(original, discord.app_commands.CommandInvokeError):
        original = original.original
    assert isinstance(original, InvalidInput)


async def test_an_unexpected_error_is_logged_and_answered_generically(
    simcord_env: simcord.Env,
    channel: simcord.ChannelHandle,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = _member(simcord_env, "alice")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(db.subscriptions, "for_chat", broken)
    result = await alice.slash(channel, "list")
    assert result.response is not None
    assert result.response.content == (
        "Something went wrong on my side. Please try again in a moment."
    )
    assert "database exploded" in caplog.text
    assert len(simcord_env.errors) == 1


async def test_every_core_command_but_start_is_offered(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle, router: CommandRouter
) -> None:
    alice = _member(simcord_env, "alice")
    offered = set(alice.available_commands(channel))
    core = set(router.specs)
    assert {"notify", "quiet", "mute", "unmute", "report", "orders", "verify"} <= core
    # Every core command is a slash command, except /start (Telegram's deep links).
    assert core - {"start"} <= offered
    assert "start" not in offered
    # Plus the Discord-only ones; /setup is for admins only.
    assert offered - core == {"alerts"}
    assert not any(name.startswith("setup") for name in offered)
    role = simcord_env.guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    admin = simcord_env.guild.add_member(simcord_env.create_user("admin"), roles=[role])
    admin_offered = set(admin.available_commands(channel))
    assert {"setup alerts-channel", "setup allow-public"} <= admin_offered


class _SlimRouter:
    """The real router with some commands missing, as an older core would be."""

    def __init__(self, router: CommandRouter, *, drop: set[str]) -> None:
        self._router = router
        self.specs = {name: spec for name, spec in router.specs.items() if name not in drop}

    @property
    def service(self) -> ParcelService:
        return self._router.service

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        return await self._router.run(chat, name, args)

    @property
    def voices(self) -> Voices:
        return self._router.voices

    def speaking(self, chat: ChatRef) -> AbstractAsyncContextManager[str]:
        return self._router.speaking(chat)


async def test_a_core_without_a_command_gets_no_slash_command(
    router: CommandRouter, guilds: SqliteDiscordGuilds, caplog: pytest.LogCaptureFixture
) -> None:
    slim = _SlimRouter(router, drop={"report", "notify", "mute"})
    bot = build_bot(slim, guilds=guilds)
    await bot.add_cog(ParcelCog(slim, guilds))

    keep_core_commands(bot.tree, slim.specs)

    names = {command.name for command in bot.tree.get_commands()}
    assert not names & {"report", "notify", "mute", "start"}
    assert {"track", "unmute", "quiet", "orders", "alerts", "setup"} <= names
    track = bot.tree.get_command("track")
    assert track is not None and track.description == router.specs["track"].description
    # Every core command has a slash command except /start, so nothing is reported missing.
    assert "has no Discord slash command" not in caplog.text


async def test_report_is_an_ephemeral_markdown_file(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    bob = _member(simcord_env, "bob")
    await alice.slash(channel, "subscribe", number=NUMBER, label="shoes")

    choices = await alice.autocomplete(channel, "report", "parcel", "sho")
    assert [choice["value"] for choice in choices] == [NUMBER]
    result = await alice.slash(channel, "report", parcel=NUMBER)

    assert result.ephemeral
    assert result.response is not None
    assert embed_of(result.response).title == "Evidence pack: shoes"
    files = result.response.attachments
    assert len(files) == 1
    assert files[0].filename.endswith(".md")
    content = (await files[0].read()).decode()
    assert NUMBER in content
    assert channel.history(viewer=bob) == []


async def test_report_in_the_bots_dm_is_a_file_message(simcord_env: simcord.Env) -> None:
    simcord_env.create_guild()
    alice = simcord_env.create_user("alice")
    await alice.slash("subscribe", number=NUMBER)
    result = await alice.slash("report", parcel=NUMBER)
    assert result.response is not None
    assert not result.ephemeral
    assert [file.filename[-3:] for file in result.response.attachments] == [".md"]


async def test_a_report_button_answers_with_the_file(
    simcord_env: simcord.Env, sender: DiscordSender
) -> None:
    simcord_env.create_guild()
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await sender.send(
        _chat(alice),
        Reply("Did it arrive?", buttons=(Button("Report a problem", "report", (NUMBER, "ups")),)),
    )
    alert = alice.user.dm_channel.history()[-1]

    pressed = await alice.user.click(alert, label="Report a problem")

    assert pressed.response is not None
    files = pressed.response.attachments
    assert len(files) == 1
    assert NUMBER in (await files[0].read()).decode()


async def test_orders_lists_the_users_parcels_only(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    bob = _member(simcord_env, "bob")
    await alice.slash(channel, "subscribe", number=NUMBER)
    await bob.slash(channel, "subscribe", number=THIRD)

    result = await alice.slash(channel, "orders")

    assert result.ephemeral
    assert result.response is not None
    embed = embed_of(result.response)
    assert embed.title == "Your order history"
    assert NUMBER in (embed.description or "")
    assert THIRD not in (embed.description or "")


async def test_quiet_hours_are_set_and_shown(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    result = await alice.slash(channel, "quiet", hours="22:00-07:00 Asia/Jakarta")
    assert result.response is not None
    assert embed_of(result.response).title == "Quiet hours set"
    shown = await alice.slash(channel, "quiet")
    assert shown.response is not None
    assert "22:00" in (embed_of(shown.response).description or "")
    off = await alice.slash(channel, "quiet", hours="off")
    assert off.response is not None
    assert embed_of(off.response).title == "Quiet hours off"


async def test_help_lists_the_commands(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle
) -> None:
    alice = _member(simcord_env, "alice")
    result = await alice.slash(channel, "help")
    assert result.response is not None
    assert "/track" in (embed_of(result.response).description or "")


async def test_forget_also_deletes_where_alerts_go(
    simcord_env: simcord.Env,
    channel: simcord.ChannelHandle,
    guilds: SqliteDiscordGuilds,
    db: Database,
) -> None:
    alice = _member(simcord_env, "alice")
    await alice.slash(channel, "subscribe", number=NUMBER)
    assert (await guilds.member(alice.id)).home_channel_id == channel.id

    result = await alice.slash(channel, "forget")

    # Asked first: nothing is deleted until the person confirms.
    assert result.response is not None
    assert embed_of(result.response).title == "Delete everything?"
    assert (await guilds.member(alice.id)).home_channel_id == channel.id
    confirmed = await alice.click(result.response, label="Yes, delete everything")

    assert confirmed.response is not None
    assert embed_of(confirmed.response).title == "Forgotten"
    assert (await guilds.member(alice.id)).home_channel_id is None
    assert await db.subscriptions.for_chat(_chat(alice)) == []


async def test_a_stale_forget_button_deletes_nothing(
    simcord_env: simcord.Env, channel: simcord.ChannelHandle, sender: DiscordSender, db: Database
) -> None:
    alice = _member(simcord_env, "alice")
    await alice.slash(channel, "subscribe", number=NUMBER)
    # An old message whose button stands for a bare /forget (``pb:forget:``).
    await sender.send(_chat(alice), Reply("Old", buttons=(Button("Forget me", "forget", ()),)))
    old = alice.user.dm_channel.history()[-1]

    pressed = await alice.user.click(old, label="Forget me")

    assert pressed.response is not None
    assert embed_of(pressed.response).title == "Delete everything?"
    assert len(await db.subscriptions.for_chat(_chat(alice))) == 1
    # An old confirmation (after a restart, or used once already) does nothing either.
    await sender.send(
        _chat(alice),
        Reply("Older", buttons=(Button("Yes", "forget", ("confirm", "tokenfromlastweek")),)),
    )
    stale = await alice.user.click(alice.user.dm_channel.history()[-1], label="Yes")
    assert stale.response is not None
    assert embed_of(stale.response).title == "That button has expired"
    assert len(await db.subscriptions.for_chat(_chat(alice))) == 1
