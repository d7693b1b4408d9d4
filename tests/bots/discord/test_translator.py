"""Slash commands localised from the catalogs: names, descriptions and choices per locale."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bots.discord_bot import ParcelCog
from bots.discord_bot.bot import build_bot
from bots.discord_bot.translator import SLASH_NAME, CatalogTranslator
from bots.locales import BabelDates, PoCatalogs
from core.commands import CommandRouter
from core.i18n import DOMAIN, Voices
from core.service import ParcelService
from storage.db import Database


def _voices(root: Path) -> Voices:
    catalog = Catalog(locale="id", domain=DOMAIN)
    catalog.add("track", "lacak", context=SLASH_NAME)
    catalog.add("subscribe", "Ikuti Paket", context=SLASH_NAME)  # not a valid Discord name
    catalog.add("Where is my parcel?", "Di mana paket saya?")
    catalog.add("Tell me when it moves", "Kabari saat paket bergerak")  # the core's wording
    catalog.add("Tracking number or order id", "Nomor resi atau nomor pesanan")
    catalog.add("only problems", "hanya masalah")
    catalog.add("Choose which alerts you get", "x" * 101)  # too long for Discord: English
    folder = root / "id" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / f"{DOMAIN}.po").open("wb") as out:
        write_po(out, catalog)
    return Voices(PoCatalogs(root), BabelDates())


async def test_commands_carry_the_catalogs_localisations(
    service: ParcelService, db: Database, tmp_path: Path
) -> None:
    router = CommandRouter(service)
    bot = build_bot(router, guilds=db.discord)
    try:
        await bot.add_cog(ParcelCog(router, db.discord))
        translator = CatalogTranslator(_voices(tmp_path), router.specs)
        payloads = {
            command.name: await command.get_translated_payload(bot.tree, translator)
            for command in bot.tree.get_commands()
        }
    finally:
        await bot.close()
    track = payloads["track"]
    assert track["name_localizations"] == {"id": "lacak"}
    assert track["description_localizations"] == {"id": "Di mana paket saya?"}
    number = next(option for option in track["options"] if option["name"] == "number")
    assert number["description_localizations"] == {"id": "Nomor resi atau nomor pesanan"}
    subscribe = payloads["subscribe"]
    # A translated name Discord would refuse keeps the English name; the description is the
    # core's own command description, translated.
    assert subscribe["name_localizations"] == {}
    assert subscribe["description_localizations"] == {"id": "Kabari saat paket bergerak"}
    level = next(option for option in payloads["notify"]["options"] if option["name"] == "level")
    problems = next(choice for choice in level["choices"] if choice["value"] == "exceptions")
    assert problems["name_localizations"] == {"id": "hanya masalah"}
    assert payloads["notify"]["description_localizations"] == {}
    # Locales parcelbot does not speak, and English ones, get nothing.
    assert all(set(p.get("description_localizations") or {}) <= {"id"} for p in payloads.values())
