"""A chat's language: chosen with /language, kept in groups, and a console conversation in
three languages.

The catalogs here are written by the test (``tests.i18n_helpers.SAMPLE``), so what a reply
says in each language is known whatever the shipped catalogs hold today.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bots.server_languages import ServerLanguages
from core.commands import CommandRouter
from core.errors import InvalidInput
from core.models import ChatRef, GuildSettings, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.bots.processes import run_console
from tests.fakes import FakeClock, RecordingNotifier
from tests.i18n_helpers import ALERT_TITLES, SAMPLE, sample_voices, write_catalogs

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


@pytest.fixture
def voiced(db: Database, clock: FakeClock, tmp_path: Path) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, voices=sample_voices(tmp_path)
    )


async def test_an_unknown_language_is_refused_with_the_choices(voiced: ParcelService) -> None:
    router = CommandRouter(voiced)
    chat = ChatRef(Platform.CONSOLE, "c", "u")
    with pytest.raises(InvalidInput, match="Tiếng Việt"):
        await router.run(chat, "language", ["klingon"])
    replies = await router.run(chat, "language", ["Español"])
    assert replies[0].title == "Idioma: Español"


async def test_a_group_keeps_its_first_language(voiced: ParcelService, db: Database) -> None:
    router = CommandRouter(voiced)
    first = ChatRef(Platform.TELEGRAM, "-5", "1", is_group=True, language="es")
    other = ChatRef(Platform.TELEGRAM, "-5", "2", is_group=True, language="id")
    await router.run(first, "help", [])
    replies = await router.run(other, "list", [])
    assert (await db.chats.get_settings(first)).language == "es"
    assert replies[0].title == "Aún no hay paquetes"


CONSOLE = [
    # language, how it is chosen, a free-text question, a word of its weekday names (Babel)
    ("id", "Bahasa Indonesia", "paket saya tidak update", r"\b(Sen|Sel|Rab|Kam|Jum|Sab|Min),"),
    ("es", "español", "mi paquete no se actualiza", r"\b(lun|mar|mié|jue|vie|sáb|dom),"),
    ("th", "ไทย", "พัสดุไม่อัปเดตเลย", r"(จันทร์|อังคาร|พุธ|พฤหัส|ศุกร์|เสาร์|อาทิตย์)"),
]


def _console(db: Path, locales: Path, script: str) -> str:
    return run_console(db, script, PARCELBOT_LOCALES_DIR=str(locales))


@pytest.mark.parametrize(("language", "name", "question", "weekday"), CONSOLE)
def test_a_console_conversation_in_three_languages(
    tmp_path: Path, language: str, name: str, question: str, weekday: str
) -> None:
    locales = write_catalogs(tmp_path / "locales")
    db = tmp_path / "console.sqlite3"
    said = SAMPLE[language]
    out = _console(
        db,
        locales,
        f"/language {name}\n/subscribe {NUMBER} gift\n{question}\n/advance 1d\n",
    )
    assert str(said["Language: {language}"]).split("{", 1)[0] in out
    assert (
        str(said["Subscribed “{label}” — I will tell you when it moves."]).format(label="gift")
        in out
    )
    assert re.search(weekday, out), out  # dates in the language's own words
    assert "Tracking not updating" in out  # the question, asked in the language, understood
    alerts = out.split("\n🔔 ")[1:]
    assert alerts, out
    assert any(block.startswith(ALERT_TITLES[language]) for block in alerts), alerts
    # The choice is stored: a restarted console still speaks it.
    again = _console(db, locales, "/list\n")
    assert str(said["Your parcels"]) in again
    assert again.startswith(
        str(said["parcelbot console — the sandbox carrier is running (no keys needed)."])
    )


async def test_an_alert_posted_in_a_server_channel_is_worded_in_the_servers_language(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """A member reads their alerts in Indonesian; the ones posted in the Spanish-speaking
    server's alerts channel (the shared variant) are in Spanish."""
    member = ChatRef(Platform.DISCORD, "424242", "424242", language="id")
    await db.discord.save(GuildSettings(77, alerts_channel_id=5, allow_public=True, language="es"))
    await db.discord.set_public_guild(424242, 77)
    service = ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        voices=sample_voices(tmp_path),
        shared_languages=ServerLanguages(db.discord),
    )
    router = CommandRouter(service)
    await router.run(member, "subscribe", [NUMBER])
    notifier = RecordingNotifier()
    for _ in range(48):
        clock.advance(timedelta(hours=1))
        if (await service.refresh.poll_due()).alerts:
            break
    await service.flush_outbox(notifier)
    (alert,) = notifier.to(member)
    assert alert.title.startswith(ALERT_TITLES["id"]), alert.title
    assert alert.shared is not None
    assert alert.shared.title.startswith(ALERT_TITLES["es"]), alert.shared.title
    # A server that allows no public alerts is not where the member's alerts are read.
    await db.discord.save(GuildSettings(77, alerts_channel_id=5, allow_public=False, language="es"))
    assert await ServerLanguages(db.discord).shared_language(member) == ""
