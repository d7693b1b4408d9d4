"""Alerts on Discord: the real service polls the sandbox and flushes through DiscordSender."""

from __future__ import annotations

import discord
import pytest
import simcord

from bots.discord_bot.cog import DM_CLOSED_NOTICE
from bots.discord_bot.sender import DiscordSender
from core.models import ChatRef, Platform
from core.ports import ChatUnreachable
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.replies import Attachment, Reply, ReplyKind
from core.service import ParcelService
from storage.db import Database
from storage.guilds import SqliteDiscordGuilds
from tests.bots.discord.helpers import (
    advance_until_alerts,
    bot_messages,
    embed_of,
    message_custom_ids,
    public_server,
)
from tests.fakes import FakeClock

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


def _chat(user: simcord.MemberActor | simcord.UserHandle) -> ChatRef:
    return ChatRef(Platform.DISCORD, str(user.id), str(user.id))


def _messages(channel: simcord.ChannelHandle) -> list[discord.Message]:
    return channel.history()


async def test_a_moving_parcel_sends_exactly_one_dm_per_alert(
    simcord_env: simcord.Env,
    service: ParcelService,
    clock: FakeClock,
    sender: DiscordSender,
    db: Database,
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "subscribe", number=NUMBER, label="shoes")

    stats = await advance_until_alerts(service, clock, sender)

    assert stats.sent == 1 and stats.failed == 0 and stats.paused == 0
    dms = alice.user.dm_channel.history()
    assert len(dms) == 1
    embed = embed_of(dms[0])
    assert embed.title is not None
    assert "shoes" in embed.title or NUMBER in embed.title
    assert message_custom_ids(dms[0])  # Refresh/Timeline
    # Nothing went to the server channel, and nothing is sent twice.
    assert bot_messages(general, simcord_env) == []
    again = await service.flush_outbox(sender)
    assert again.sent == 0
    assert len(alice.user.dm_channel.history()) == 1
    assert await db.outbox.pending_count() == 0


async def test_the_alert_buttons_in_a_dm_work(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "subscribe", number=NUMBER)
    await advance_until_alerts(service, clock, sender)
    alert = alice.user.dm_channel.history()[-1]

    pressed = await alice.user.click(alert, label="Timeline")

    assert pressed.response is not None
    assert not pressed.ephemeral  # the person's own DM
    assert embed_of(pressed.response).title is not None


async def test_opted_in_alerts_go_to_the_servers_channel_with_a_mention(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    simcord_env.create_guild("Shop fans")
    general, alerts = await public_server(simcord_env)
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    bob = simcord_env.guild.add_member(simcord_env.create_user("bob"))
    await alice.slash(general, "alerts", where="server")
    await alice.slash(general, "subscribe", number=NUMBER)

    stats = await advance_until_alerts(service, clock, sender)

    assert stats.sent == 1
    posted = bot_messages(alerts, simcord_env)
    assert len(posted) == 1
    assert posted[0].content == alice.mention
    assert [user.id for user in posted[0].mentions] == [alice.id]
    assert not posted[0].mention_everyone
    # Other members see it, but it carries no buttons that act on alice's parcel.
    assert alerts.history(viewer=bob)
    assert message_custom_ids(posted[0]) == []
    assert alice.user.dm_channel.history() == []


async def test_private_replies_always_go_by_dm(
    simcord_env: simcord.Env, sender: DiscordSender
) -> None:
    simcord_env.create_guild("Shop fans")
    general, alerts = await public_server(simcord_env)
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "alerts", where="server")

    await sender.send(_chat(alice), Reply("Order 576", ("Postcode 10115",), private=True))

    assert bot_messages(alerts, simcord_env) == []
    assert embed_of(alice.user.dm_channel.history()[0]).title == "Order 576"


async def test_a_private_file_goes_by_dm_with_the_embed(
    simcord_env: simcord.Env, sender: DiscordSender
) -> None:
    simcord_env.create_guild("Shop fans")
    general, alerts = await public_server(simcord_env)
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "alerts", where="server")
    pack = Attachment(f"report-{NUMBER}.md", f"# Evidence pack {NUMBER}\n".encode())

    await sender.send(_chat(alice), Reply("Evidence pack", private=True, attachment=pack))

    assert bot_messages(alerts, simcord_env) == []
    dm = alice.user.dm_channel.history()[0]
    assert embed_of(dm).title == "Evidence pack"
    assert [file.filename for file in dm.attachments] == [pack.filename]
    assert await dm.attachments[0].read() == pack.content


async def test_a_member_who_left_gets_alerts_by_dm(
    simcord_env: simcord.Env, sender: DiscordSender, guilds: SqliteDiscordGuilds
) -> None:
    simcord_env.create_guild("Shop fans")
    general, alerts = await public_server(simcord_env)
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "alerts", where="server")
    simcord_env.guild.remove_member(alice)
    await simcord_env.settle()

    await sender.send(_chat(alice), Reply("Moved", kind=ReplyKind.ALERT))

    assert bot_messages(alerts, simcord_env) == []
    assert len(alice.user.dm_channel.history()) == 1
    assert (await guilds.member(alice.id)).public_guild_id is None


def _close_dms(env: simcord.Env, user: simcord.UserHandle) -> None:
    env.inject_error(
        "POST",
        f"/channels/{user.dm_channel.id}/messages",
        status=403,
        code=50007,
        message="Cannot send messages to this user",
        times=None,
    )


async def test_closed_dms_pause_alerts_and_the_member_is_told_once(
    simcord_env: simcord.Env,
    service: ParcelService,
    clock: FakeClock,
    sender: DiscordSender,
    db: Database,
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "subscribe", number=NUMBER)
    _close_dms(simcord_env, alice.user)

    stats = await advance_until_alerts(service, clock, sender)

    assert stats.paused == 1 and stats.sent == 0
    assert (await db.chats.get_settings(_chat(alice))).paused
    notices = bot_messages(general, simcord_env)
    assert len(notices) == 1
    assert notices[0].content == f"{alice.mention} {DM_CLOSED_NOTICE}"
    assert [user.id for user in notices[0].mentions] == [alice.id]
    # Another failed delivery does not repeat the notice, in the channel or on the next command.
    with pytest.raises(ChatUnreachable) as caught:
        await sender.send(_chat(alice), Reply("Moved", kind=ReplyKind.ALERT))
    assert caught.value.permanent
    assert len(bot_messages(general, simcord_env)) == 1
    listed = await alice.slash(general, "list")
    assert listed.followups == []


async def test_closed_dms_without_a_channel_are_told_on_the_next_command(
    simcord_env: simcord.Env, sender: DiscordSender
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    _close_dms(simcord_env, alice.user)

    for _ in range(2):
        with pytest.raises(ChatUnreachable):
            await sender.send(_chat(alice), Reply("Moved", kind=ReplyKind.ALERT))

    first = await alice.slash(general, "list")
    assert [embed_of(m).title for m in first.followups] == ["Alerts on hold"]
    assert first.followups[0].ephemeral
    second = await alice.slash(general, "list")
    assert second.followups == []
    assert bot_messages(general, simcord_env) == []


async def test_dms_that_work_again_reset_the_notice(
    simcord_env: simcord.Env, sender: DiscordSender, guilds: SqliteDiscordGuilds
) -> None:
    simcord_env.create_guild()
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await guilds.set_dm_state(alice.id, closed=True, notice_sent=True)

    await sender.send(_chat(alice), Reply("Moved", kind=ReplyKind.ALERT))

    route = await guilds.member(alice.id)
    assert not route.dm_closed and not route.dm_notice_sent
