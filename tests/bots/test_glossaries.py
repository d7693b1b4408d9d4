"""Each language's glossary (``locales/<language>/GLOSSARY.md``) is what its catalog says.

A glossary fixes one word per status and per incident so that a parcel's state reads the same
in the status line, the stage bar, alerts and ``/explain``. The catalogs must use exactly the
glossary's word for every status and incident title; a translator changing one must change the
other. Languages are checked once their catalog is complete (``COMPLETE_LANGUAGES``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bots.locales import LOCALES_DIR, PoCatalogs
from core.i18n import COMPLETE_LANGUAGES, DEFAULT_LANGUAGE, LANGUAGES

TRANSLATED = [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]
CHECKED = [language for language in COMPLETE_LANGUAGES if language != DEFAULT_LANGUAGE]

# The glossary sections whose rows name catalog messages (the English column, less a note in
# brackets such as "(stage)").
SECTIONS = ("## Statuses", "## What went wrong")
_ROW = re.compile(r"^\|\s*(?P<english>[^|]+?)\s*\|\s*(?P<translation>[^|]+?)\s*\|")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


def glossary_path(language: str) -> Path:
    return LOCALES_DIR / language / "GLOSSARY.md"


def read_fixed_words(text: str) -> dict[str, str]:
    """English status or incident title → the glossary's (first bold) translation."""
    words: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line
            continue
        if not section.startswith(SECTIONS):
            continue
        row = _ROW.match(line)
        if row is None or row["english"] in {"English", "---"} or set(row["english"]) <= {"-"}:
            continue
        bold = _BOLD.search(row["translation"])
        if bold is not None:
            words[_NOTE.sub("", row["english"])] = bold.group(1)
    return words


@cache
def fixed_words(language: str) -> dict[str, str]:
    return read_fixed_words(glossary_path(language).read_text(encoding="utf-8"))


@cache
def catalog(language: str) -> Catalog:
    with PoCatalogs().path(language).open("rb") as source:
        return read_po(source, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_translated_language_has_a_glossary_with_the_status_words(language: str) -> None:
    assert glossary_path(language).is_file(), language
    words = fixed_words(language)
    for english in ("Delivered", "In transit", "Out for delivery", "Held at customs"):
        assert english in words, (language, english)


@pytest.mark.parametrize("language", CHECKED)
def test_the_catalog_uses_the_glossary_word_for_each_status_and_incident(language: str) -> None:
    po = catalog(language)
    words = fixed_words(language)
    checked = {english: po.get(english) for english in words}
    assert [english for english, message in checked.items() if message is None] == []
    differing = {
        english: (message.string, words[english])
        for english, message in checked.items()
        if message is not None and message.string != words[english]
    }
    assert differing == {}


def test_the_glossary_reader_finds_rows_and_leaves_out_notes() -> None:
    sample = (
        "## Things\n| parcel | **paket** | x | y |\n"
        "## Statuses (status line)\n| English | Indonesian | Usage | Avoid |\n|---|---|---|---|\n"
        "| Ordered (stage) | **Dipesan** | Stage bar. | |\n"
        "| Delivered | **Terkirim** / **Sampai** | note | Diterima |\n"
        "## Arrival window\n| today | **hari ini** | | |\n"
    )
    assert read_fixed_words(sample) == {"Ordered": "Dipesan", "Delivered": "Terkirim"}
