"""Every word a reply says comes from the catalogs: with a pseudo-translation of the whole
template (each letter of each message accented), no plain English word may be left in any
reply or alert. A sentence built in code without ``_()`` shows up here as English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bots.locales import LOCALES_DIR, BabelDates, PoCatalogs
from core import carriers, explanations, faq
from core.commands import CommandRouter, error_text
from core.errors import TrackingError
from core.i18n import DOMAIN, LANGUAGE_NAMES, Voices
from core.models import ChatRef, Platform, Preference, ShipmentKey, TrackingNumber
from core.privacy import Context
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, SandboxShop, Scenario
from core.reader import INSIST_WORD
from core.replies import Reply, for_context
from core.service import ParcelService
from storage.db import Database
from tests.bots.test_every_language import LABEL, _replies
from tests.fakes import FakeClock

SANDBOX = SAMPLE_NUMBERS[Scenario.NORMAL]
_ACCENTED = dict(zip("abcdefghijklmnopqrstuvwxyz", "àƀçðéƒğĥîĵķĺɱñöþʠŕšţüṽŵẋýž", strict=True))
# Placeholders, commands and links stay as they are; every other word is accented.
_TOKEN = re.compile(r"\{[^}]*\}|/[\w-]+|https?://\S+|[A-Za-z]+")
_ENGLISH = re.compile(r"(?<![\w/{])[A-Za-z]{4,}(?![\w}])")
# Words the test's own data brings (scans, places, labels, shop) and names that are not
# translated (carriers, status codes, zones, the product's name).
_DATA = "Label created Scan at the hub Jakarta Surabaya sneakers gift Shop porch parcelbot Asia"


def pseudo(text: str) -> str:
    def accent(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.startswith(("{", "/", "http")):
            return word
        return "".join(
            _ACCENTED[char.lower()].upper() if char.isupper() else _ACCENTED.get(char, char)
            for char in word
        )

    return _TOKEN.sub(accent, text)


def _pseudo_voices(root: Path) -> Voices:
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("rb") as source:
        template = read_po(source)
    catalog = Catalog(locale="id", domain=DOMAIN)  # one plural form
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            catalog.add(message.id, (pseudo(message.id[1]),), context=message.context)
        else:
            catalog.add(message.id, pseudo(message.id), context=message.context)
    folder = root / "id" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / f"{DOMAIN}.po").open("wb") as out:
        write_po(out, catalog)
    return Voices(PoCatalogs(root), BabelDates())


def _allowed() -> set[str]:
    # INSIST_WORD is command syntax: people type it after the carrier, in any language.
    words = set(_DATA.split()) | set(re.findall(r"[A-Za-z]+", LABEL)) | {INSIST_WORD}
    for carrier in carriers.CARRIERS.values():
        words.update(re.findall(r"[A-Za-z]+", carrier.name))
    for code in (*explanations.known_codes(), *(topic.key for topic in faq.TOPICS)):
        words.update(code.split("_"))
    return {word.lower() for word in words}


def _texts(reply: Reply) -> Iterator[str]:
    yield reply.title
    yield from reply.lines
    for name, value in reply.fields:
        yield name
        yield value
    for button in reply.buttons:
        yield button.label


def test_no_reply_or_alert_has_a_word_outside_the_catalogs(
    service: ParcelService, tmp_path: Path
) -> None:
    voices = _pseudo_voices(tmp_path)
    allowed = _allowed()
    leaks: dict[str, str] = {}
    router = CommandRouter(service)
    with voices.speaking("id"):
        for reply in _replies(router):
            for variant in (reply, for_context(reply, Context.SERVER)):
                for text in _texts(variant) if variant is not None else ():
                    for word in _ENGLISH.findall(text):
                        if word.lower() not in allowed:
                            leaks.setdefault(word, text)
    assert leaks == {}, "\n".join(f"{w}: {t}" for w, t in leaks.items())


@pytest.mark.parametrize("text", ["Status: {status}", "Send /help or see https://x.io/a"])
def test_the_pseudo_translation_keeps_placeholders_commands_and_links(text: str) -> None:
    shown = pseudo(text)
    assert not _ENGLISH.findall(shown.replace("/help", "").replace("https://x.io/a", ""))
    assert ("{status}" in shown) or ("/help" in shown and "https://x.io/a" in shown)


SCRIPT = [
    "/help",
    "hi",
    f"/track {SANDBOX}",
    f"/subscribe {SANDBOX} gift",
    "/list",
    f"/history {SANDBOX}",
    "/notify",
    "/notify milestones",
    f"/notify exceptions {SANDBOX}",
    f"/mute {SANDBOX}",
    f"/unmute {SANDBOX}",
    "/quiet 22:00-07:00 Asia/Jakarta",
    "/quiet off",
    "/explain",
    "/explain stale",
    "/explain customs",
    "/explain klingon",
    "/orders",
    f"/report {SANDBOX}",
    "/verify 576000000000000001",
    "/verify 576000000000000001 00000",
    "/language",
    "/frobnicate",
    "/track",
    "/track 12",
    "/track <b>1Z</b>",
    f"/track {SANDBOX} dhl",
    "/notify loud",
    "/quiet 25:00-07:00",
    "/mute nothing-like-this",
    "it says delivered but I did not receive it",
    "where is it",
    "/forget",
    "/forget cancel x",
]


async def test_no_conversation_answer_has_a_word_outside_the_catalogs(
    db: Database, clock: FakeClock, tmp_path: Path
) -> None:
    service = ParcelService(
        provider=SandboxProvider(clock),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        voices=_pseudo_voices(tmp_path),
    )
    router = CommandRouter(service)
    me = ChatRef(Platform.TELEGRAM, "77", "77", language="id")
    said: list[tuple[str, str]] = []
    for line in SCRIPT:
        async with router.speaking(me):
            try:
                replies = await router.handle_text(me, line)
            except TrackingError as err:
                replies = [Reply(error_text(err))]
        said.extend((line, text) for reply in replies for text in _texts(reply))
    # The carrier's own scan texts and places are shown as the carrier wrote them; the
    # /notify levels and language names are what people type and choose.
    (parcel,) = (
        await db.shipments.get_many([ShipmentKey("ups", TrackingNumber(SANDBOX))])
    ).values()
    scans = " ".join(f"{event.description} {event.location}" for event in parcel.events)
    allowed = _allowed() | {word.lower() for word in re.findall(r"[A-Za-z]+", scans)}
    allowed |= {level.value for level in Preference}
    names = " ".join(LANGUAGE_NAMES.values())
    allowed |= {word.lower() for word in re.findall(r"[A-Za-z]+", names)}
    # The pseudo-translation is what was spoken (so an empty conversation cannot pass).
    assert sum(bool(re.search("[àéîöü]", text)) for _, text in said) > len(SCRIPT)
    leaks: dict[str, str] = {}
    for line, text in said:
        for word in _ENGLISH.findall(text):
            if word.lower() not in allowed:
                leaks.setdefault(word, f"{line} -> {text}")
    assert leaks == {}, "\n".join(f"{w}: {t}" for w, t in leaks.items())
