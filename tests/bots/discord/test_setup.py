"""Server set-up: only admins choose the alerts channel; members opt in; leaving forgets."""

from __future__ import annotations

import discord
import pytest
import simcord

from bots.discord_bot.bot import AnyBot
from core.models import GuildSettings
from storage.guilds import SqliteDiscordGuilds
from tests.bots.discord.helpers import embed_of


def _admin(env: simcord.Env, name: str = "admin") -> simcord.MemberActor:
    role = env.guild.create_role("mods", permissions=discord.Permissions(manage_guild=True))
    return env.guild.add_member(env.create_user(name), roles=[role])


@pytest.fixture
def guild(simcord_env: simcord.Env) -> simcord.GuildHandle:
    return simcord_env.create_guild("Shop fans")


async def test_setup_is_not_offered_to_members(
    simcord_env: simcord.Env, guild: simcord.GuildHandle, guilds: SqliteDiscordGuilds
) -> None:
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    member = guild.add_member(simcord_env.create_user("member"))
    with pytest.raises(simcord.SetupError, match="default-member-permissions"):
        await member.slash(general, "setup alerts-channel", channel=alerts)
    assert await guilds.get(guild.id) == GuildSettings(guild.id)


async def test_setup_refuses_members_even_when_the_command_is_opened_to_them(
    simcord_env: simcord.Env,
    simcord_bot: AnyBot,
    guild: simcord.GuildHandle,
    guilds: SqliteDiscordGuilds,
) -> None:
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    member = guild.add_member(simcord_env.create_user("member"))
    commands = await simcord_bot.tree.fetch_commands()
    setup = next(command for command in commands if command.name == "setup")
    guild.set_command_permissions(setup, {member: True})

    result = await member.slash(general, "setup alerts-channel", channel=alerts)

    assert result.ephemeral
    assert result.response is not None
    assert "Manage Server" in result.response.content
    assert len(simcord_env.errors) == 1
    assert await guilds.get(guild.id) == GuildSettings(guild.id)


async def test_admin_sets_the_alerts_channel_and_allows_public_alerts(
    simcord_env: simcord.Env, guild: simcord.GuildHandle, guilds: SqliteDiscordGuilds
) -> None:
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    admin = _admin(simcord_env)

    first = await admin.slash(general, "setup alerts-channel", channel=alerts)
    second = await admin.slash(general, "setup allow-public", state="on")

    assert first.ephemeral and second.ephemeral
    assert second.response is not None
    assert "#parcel-alerts" in (embed_of(second.response).description or "")
    assert await guilds.get(guild.id) == GuildSettings(guild.id, alerts.id, True)

    await admin.slash(general, "setup allow-public", state="off")
    assert not (await guilds.get(guild.id)).public_alerts


async def test_members_opt_in_only_where_the_server_allows_it(
    simcord_env: simcord.Env, guild: simcord.GuildHandle, guilds: SqliteDiscordGuilds
) -> None:
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    alice = guild.add_member(simcord_env.create_user("alice"))

    refused = await alice.slash(general, "alerts", where="server")
    assert refused.response is not None
    assert "/setup" in refused.response.content
    assert len(simcord_env.errors) == 1
    assert (await guilds.member(alice.id)).public_guild_id is None

    admin = _admin(simcord_env)
    await admin.slash(general, "setup alerts-channel", channel=alerts)
    await admin.slash(general, "setup allow-public", state="on")
    accepted = await alice.slash(general, "alerts", where="server")
    assert accepted.ephemeral
    assert (await guilds.member(alice.id)).public_guild_id == guild.id

    await alice.slash(general, "alerts", where="dm")
    assert (await guilds.member(alice.id)).public_guild_id is None


async def test_removing_the_bot_deletes_the_servers_settings(
    simcord_env: simcord.Env, guild: simcord.GuildHandle, guilds: SqliteDiscordGuilds
) -> None:
    general = guild.create_text_channel("general")
    alerts = guild.create_text_channel("parcel-alerts")
    admin = _admin(simcord_env)
    alice = guild.add_member(simcord_env.create_user("alice"))
    await admin.slash(general, "setup alerts-channel", channel=alerts)
    await admin.slash(general, "setup allow-public", state="on")
    await alice.slash(general, "alerts", where="server")
    other = simcord_env.create_guild("Other server")
    await guilds.save(GuildSettings(other.id, 42, True))

    # Kicking the bot: Discord sends GUILD_DELETE (simcord's backend models the removal).
    simcord_env.backend.remove_guild(guild.id)
    await simcord_env.settle()

    assert await guilds.get(guild.id) == GuildSettings(guild.id)
    assert (await guilds.member(alice.id)).public_guild_id is None
    assert await guilds.get(other.id) == GuildSettings(other.id, 42, True)
