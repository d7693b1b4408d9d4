"""Server channels carry no tracking numbers and no live markup (real discord.py over simcord,
real service, sandbox parcels)."""

from __future__ import annotations

import json

import discord
import simcord

from bots.discord_bot.cog import describe_error
from bots.discord_bot.render import escape
from bots.discord_bot.sender import DiscordSender
from core.errors import InvalidInput
from core.models import Alert, AlertKind, ChatRef, Platform, SnapshotWrite
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.bots.discord.helpers import advance_until_alerts, bot_messages, embed_of, public_server
from tests.fakes import FakeClock

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


async def _opted_in(
    env: simcord.Env,
) -> tuple[simcord.MemberActor, simcord.ChannelHandle, simcord.ChannelHandle]:
    """alice, who chose to get her alerts in the server's alerts channel; the server's
    general channel; the alerts channel."""
    env.create_guild("Shop fans")
    general, alerts = await public_server(env)
    alice = env.guild.add_member(env.create_user("alice"))
    await alice.slash(general, "alerts", where="server")
    return alice, general, alerts


def _everything(message: discord.Message) -> str:
    return message.content + json.dumps([e.to_dict() for e in message.embeds], ensure_ascii=False)


async def test_a_public_alert_names_an_unlabelled_parcel_by_its_masked_number(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    alice, general, alerts = await _opted_in(simcord_env)
    await alice.slash(general, "subscribe", number=NUMBER)

    await advance_until_alerts(service, clock, sender)

    posted = bot_messages(alerts, simcord_env)
    assert len(posted) == 1
    assert NUMBER not in _everything(posted[0])
    title = embed_of(posted[0]).title or ""
    assert f"…{NUMBER[-4:]}" in title
    assert posted[0].content == alice.mention


async def test_a_public_digest_lists_labels_not_numbers(
    simcord_env: simcord.Env,
    service: ParcelService,
    sender: DiscordSender,
    db: Database,
) -> None:
    alice, general, alerts = await _opted_in(simcord_env)
    await alice.slash(general, "subscribe", number=NUMBER, label="shoes")
    chat = ChatRef(Platform.DISCORD, str(alice.id), str(alice.id))
    stored = await db.shipments.get_many([s.key for s in await db.subscriptions.for_chat(chat)])
    shipment = next(iter(stored.values()))
    held = tuple(
        (chat, Alert(kind, shipment.key, f"digest-{kind}", event=shipment.last_event))
        for kind in (AlertKind.MOVED, AlertKind.OUT_FOR_DELIVERY)
    )
    await db.shipments.save_many([SnapshotWrite(shipment, None, held)])
    await db.outbox.hold_chat(chat.chat_key)

    await service.flush_outbox(sender)

    posted = bot_messages(alerts, simcord_env)
    assert len(posted) == 1
    text = _everything(posted[0])
    assert "2 updates" in text and "shoes" in text
    assert NUMBER not in text


async def test_a_label_cannot_plant_a_live_link_or_token_in_a_channel(
    simcord_env: simcord.Env, service: ParcelService, clock: FakeClock, sender: DiscordSender
) -> None:
    alice, general, alerts = await _opted_in(simcord_env)
    label = "[a](https://x.io) [Claim refund](https://evil.example/r)"
    assert len(label) == 56
    await alice.slash(general, "subscribe", number=NUMBER, label=label)

    await advance_until_alerts(service, clock, sender)

    posted = bot_messages(alerts, simcord_env)
    assert len(posted) == 1
    title = embed_of(posted[0]).title or ""
    # Both links are broken: their "](" and "://" are escaped; nothing else is live.
    assert "](https://" not in title and "://" not in title.replace("\\://", "")
    assert title.count("\\](") == 2


def test_discord_tokens_are_inert() -> None:
    for token in ("<#123456789>", "</refund:123>", "<t:1767225600:R>", "<@123>", "<@&9>"):
        escaped = escape(f"see {token}")
        assert token not in escaped and "\\<" in escaped
    assert escape("# Heading").startswith("\\#")
    assert escape("-# small").startswith("\\-")
    assert escape("1. first").startswith("1\\.")
    assert escape("> quote").startswith("\\>")


def test_an_error_sentence_is_shown_as_typed() -> None:
    """Error sentences can quote what someone typed: on Discord they are escaped too."""
    error = InvalidInput("I don't know the carrier “[x](https://e.io) @everyone”.")
    shown = escape(describe_error(error))
    assert "[x\\](https\\://e.io)" in shown and "\\@everyone" in shown
