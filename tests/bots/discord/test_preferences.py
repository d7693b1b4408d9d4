"""/notify and /mute on Discord decide which of the sandbox parcel's alerts reach a member."""

from __future__ import annotations

import discord
import simcord

from bots.discord_bot.sender import DiscordSender
from core.explanations import explain
from core.models import IncidentReason
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.service import ParcelService
from tests.bots.discord.helpers import embed_of, walk
from tests.fakes import FakeClock

# Label, first scan, a weather incident after about a day, then on to the destination.
STORMY = SAMPLE_NUMBERS[Scenario.WEATHER_DELAY]
CALM = SAMPLE_NUMBERS[Scenario.NORMAL]
HOURS = 60


def _titles(user: simcord.UserHandle) -> list[str]:
    messages: list[discord.Message] = user.dm_channel.history()
    return [embed_of(message).title or "" for message in messages]


def _incident_titles(name: str) -> set[str]:
    return {f"{explain(reason).title}: {name}" for reason in IncidentReason}


async def test_notify_exceptions_sends_only_incident_alerts(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    bob = simcord_env.guild.add_member(simcord_env.create_user("bob"))
    await alice.slash(general, "subscribe", number=STORMY)
    await bob.slash(general, "subscribe", number=STORMY)

    choices = await alice.autocomplete(general, "notify", "parcel", STORMY[-4:])
    assert [choice["value"] for choice in choices] == [STORMY]
    set_level = await alice.slash(general, "notify", level="exceptions")
    assert set_level.ephemeral
    assert set_level.response is not None
    assert embed_of(set_level.response).title == "Notifications: exceptions"

    await walk(service, clock, sender, hours=HOURS)

    incidents = _incident_titles(STORMY)
    everything = _titles(bob.user)  # bob kept the default: every alert
    assert any(title not in incidents for title in everything)
    expected = [title for title in everything if title in incidents]
    assert expected, "the sandbox parcel never had an incident"
    assert _titles(alice.user) == expected


async def test_notify_for_one_parcel_keeps_the_others(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    await alice.slash(general, "subscribe", number=STORMY, label="tent")
    await alice.slash(general, "subscribe", number=CALM, label="shoes")

    result = await alice.slash(general, "notify", level="off", parcel="tent")

    assert result.response is not None
    assert embed_of(result.response).title == "Notifications for tent: off"
    await walk(service, clock, sender, hours=HOURS)
    titles = _titles(alice.user)
    assert titles
    assert all(title.endswith(": shoes") for title in titles)


async def test_mute_stops_a_parcels_alerts_and_unmute_restores_them(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    general = simcord_env.create_guild().create_text_channel("general")
    alice = simcord_env.guild.add_member(simcord_env.create_user("alice"))
    bob = simcord_env.guild.add_member(simcord_env.create_user("bob"))
    await alice.slash(general, "subscribe", number=STORMY, label="tent")
    await bob.slash(general, "subscribe", number=STORMY)

    choices = await alice.autocomplete(general, "mute", "parcel", "ten")
    assert [choice["value"] for choice in choices] == [STORMY]
    muted = await alice.slash(general, "mute", parcel=STORMY)
    assert muted.ephemeral
    assert muted.response is not None
    assert embed_of(muted.response).title == "Muted tent"

    await walk(service, clock, sender, hours=HOURS // 2)
    assert _titles(bob.user), "the parcel did not move"
    assert _titles(alice.user) == []

    unmuted = await alice.slash(general, "unmute", parcel="tent")
    assert unmuted.response is not None
    assert embed_of(unmuted.response).title == "Unmuted tent"
    before = len(_titles(bob.user))
    await walk(service, clock, sender, hours=HOURS * 2)
    assert len(_titles(bob.user)) > before
    assert _titles(alice.user)
