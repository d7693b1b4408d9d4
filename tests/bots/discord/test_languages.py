"""Discord's locales pick the chat's language (loopback fake Discord, real discord.py): the
server's locale in a server channel, the person's app's locale where the server set none;
the language is stored for the alerts that follow. Catalogs: ``tests.i18n_helpers.SAMPLE``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.discord_bot.bot import AnyBot
from core.commands import CommandRouter
from core.models import ChatRef, Platform
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.bots.discord.fake_discord import GUILD_ID, FakeDiscord
from tests.bots.discord.loopback import ALICE, loopback_bot, loopback_discord
from tests.fakes import FakeClock
from tests.i18n_helpers import SAMPLE, sample_voices

__all__ = ["loopback_bot", "loopback_discord"]  # fixtures

ALICE_CHAT = ChatRef(Platform.DISCORD, str(ALICE), str(ALICE))


@pytest.fixture
def service(db: Database, clock: FakeClock, tmp_path: Path) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, voices=sample_voices(tmp_path)
    )


@pytest.fixture
def router(service: ParcelService) -> CommandRouter:
    return CommandRouter(service)


async def _answer_title(fake: FakeDiscord, payload: dict[str, object]) -> str:
    await fake.dispatch("INTERACTION_CREATE", payload)
    answer = await fake.wait_for(
        lambda r: r.path.endswith("/messages/@original") and r.body.get("embeds")
    )
    fake.requests.clear()
    return str(answer.body["embeds"][0]["title"])


async def test_the_servers_locale_answers_in_a_server_channel(
    fake: FakeDiscord, bot: AnyBot, db: Database
) -> None:
    payload = fake.slash(ALICE, "list", locale="id", guild_locale="es-ES")
    assert await _answer_title(fake, payload) == SAMPLE["es"]["No parcels yet"]
    assert (await db.chats.get_settings(ALICE_CHAT)).language == "es"
    # The server's language is kept too: alerts posted in its channel are worded in it.
    assert (await db.discord.get(GUILD_ID)).language == "es"


async def test_the_persons_locale_answers_where_the_server_set_none(
    fake: FakeDiscord, bot: AnyBot, db: Database
) -> None:
    payload = fake.slash(ALICE, "list", locale="id", guild_locale=None)
    assert await _answer_title(fake, payload) == SAMPLE["id"]["No parcels yet"]
    # A language chosen with /language stays whatever the next interaction reports.
    await fake.dispatch("INTERACTION_CREATE", fake.slash(ALICE, "language", choice="th"))
    await fake.wait_for(lambda r: r.path.endswith("/messages/@original"))
    fake.requests.clear()
    payload = fake.slash(ALICE, "list", locale="es-ES", guild_locale=None)
    assert await _answer_title(fake, payload) == SAMPLE["th"]["No parcels yet"]
    settings = await db.chats.get_settings(ALICE_CHAT)
    assert (settings.language, settings.language_chosen) == ("th", True)
