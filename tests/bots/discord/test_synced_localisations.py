"""The slash commands the running bot syncs to Discord carry every language's localisations:
the bot installs the catalog translator before it syncs (loopback fake Discord, real
discord.py, the shipped catalogs)."""

from __future__ import annotations

from typing import Any

from bots.discord_bot.bot import AnyBot
from bots.locales import PoCatalogs
from tests.bots.discord.fake_discord import FakeDiscord, body_list
from tests.bots.discord.loopback import loopback_bot, loopback_discord

__all__ = ["loopback_bot", "loopback_discord"]  # fixtures

# Discord's locales for the languages it has (none for Malay or Filipino).
DISCORD_LOCALES = {
    "id": "id",
    "th": "th",
    "vi": "vi",
    "es-ES": "es",
    "es-419": "es",
    "pt-BR": "pt_BR",
}


def _synced(fake: FakeDiscord) -> dict[str, dict[str, Any]]:
    (put,) = [r for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    return {command["name"]: command for command in body_list(put.body)}


async def test_synced_commands_carry_the_catalogs_words_in_every_discord_locale(
    fake: FakeDiscord, bot: AnyBot
) -> None:
    commands = _synced(fake)
    assert {"track", "language", "notify"} <= set(commands)
    track = commands["track"]
    words = PoCatalogs()
    for locale, language in DISCORD_LOCALES.items():
        described = track["description_localizations"][locale]
        assert described == words(language).gettext(track["description"]) != track["description"]
    number = next(option for option in track["options"] if option["name"] == "number")
    assert set(DISCORD_LOCALES) <= set(number["description_localizations"])
    level = next(option for option in commands["notify"]["options"] if option["name"] == "level")
    for choice in level["choices"]:
        assert set(DISCORD_LOCALES) <= set(choice["name_localizations"]), choice
