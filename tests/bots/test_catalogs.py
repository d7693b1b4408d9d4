"""The gettext catalogs: current with the code, complete where declared, and consistent.

* the template (``locales/parcelbot.pot``) holds exactly the messages the code marks;
* every language's catalog holds exactly the template's messages (``pybabel update`` ran);
* languages in ``core.i18n.COMPLETE_LANGUAGES`` have no missing and no fuzzy translation;
* in every language, each translation uses the same ``{placeholders}`` as its English source,
  formats without error and has as many plural forms as the language's ``Plural-Forms``;
* no message is marked inside an f-string, where the extractor does not see it (on the Python
  versions the project supports) and it would silently stay in English.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bots.locales import LOCALES_DIR, PoCatalogs
from core.i18n import COMPLETE_LANGUAGES, DEFAULT_LANGUAGE, DOMAIN, LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [language for language in LANGUAGES if language != DEFAULT_LANGUAGE]
KEYWORDS = {**DEFAULT_KEYWORDS, "locale_str": None, "NC_": ((1, "c"), 2)}

MessageKey = tuple[str | tuple[str, ...], str | None]


@cache
def template() -> Catalog:
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("rb") as source:
        return read_po(source)


@cache
def catalog(language: str) -> Catalog:
    with PoCatalogs().path(language).open("rb") as source:
        return read_po(source, locale=language)


def keys(messages: Iterable[Message]) -> set[MessageKey]:
    return {
        (tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id, m.context)
        for m in messages
        if m.id
    }


def forms(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, (list, tuple)):
        return tuple(message.string)
    return (message.string or "",)


def sources(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, (list, tuple)) else (str(message.id),)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def untranslated(language_catalog: Catalog) -> list[str]:
    """Messages with a missing (or partly missing) or a fuzzy translation."""
    problems = []
    for message in language_catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {sources(message)[0]!r}")
        elif not all(forms(message)):
            problems.append(f"missing: {sources(message)[0]!r}")
    return problems


def placeholder_problems(language_catalog: Catalog) -> list[str]:
    """Translations whose placeholders differ from the source's, that do not format, or
    with the wrong number of plural forms."""
    problems = []
    plurals = language_catalog.num_plurals
    for message in language_catalog:
        if not message.id or not any(forms(message)):
            continue
        texts = sources(message)
        need = set.intersection(*(placeholders(text) for text in texts))
        allowed = set.union(*(placeholders(text) for text in texts))
        if len(texts) > 1 and len(forms(message)) != plurals:
            problems.append(f"{len(forms(message))} plural forms, not {plurals}: {texts[0]!r}")
        for form in forms(message):
            try:
                used = placeholders(form)
                form.format(**dict.fromkeys(allowed, "x"))
            except (ValueError, KeyError, IndexError) as err:
                problems.append(f"does not format ({err}): {form!r}")
                continue
            if not need <= used <= allowed:
                problems.append(f"placeholders {sorted(used)} instead of {sorted(need)}: {form!r}")
    return problems


def test_the_template_lists_every_message_the_code_marks() -> None:
    method_map = [("core/**.py", "python"), ("bots/**.py", "python")]
    found: set[MessageKey] = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, keywords=KEYWORDS
    ):
        ids = tuple(message) if isinstance(message, (list, tuple)) else message
        if isinstance(ids, tuple) and len(ids) == 1:
            ids = ids[0]
        found.add((ids, context))
    pot = keys(template())
    assert not found - pot, "run the extract command in the README: not in the template"
    assert not pot - found, "run the extract command in the README: no longer in the code"


def marked_inside_f_strings(source: str) -> list[str]:
    """Literal messages passed to a gettext keyword inside an f-string's ``{...}``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.JoinedStr):
            continue
        for part in node.values:
            if not isinstance(part, ast.FormattedValue):
                continue
            for inner in ast.walk(part.value):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Name)
                    and inner.func.id in KEYWORDS
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                    and isinstance(inner.args[0].value, str)
                ):
                    found.append(inner.args[0].value)
    return found


def test_messages_marked_inside_f_strings_reach_the_template_too() -> None:
    offenders = {
        str(path.relative_to(ROOT)): found
        for folder in ("core", "bots")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (found := marked_inside_f_strings(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "mark the message outside the f-string, then run the extract command"


def test_the_f_string_check_finds_a_marked_literal_and_spares_a_variable() -> None:
    source = 'row = f"| {_(\'Shop\')} | {shop} |"\nnote = f"<@{user}> {_(NOTICE)}"\n'
    assert marked_inside_f_strings(source) == ["Shop"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalog_holds_exactly_the_templates_messages(language: str) -> None:
    po = catalog(language)
    assert keys(po) == keys(template()), "run the update command in the README"
    assert not po.obsolete, "obsolete entries: run the update command in the README"


def test_complete_languages_have_no_missing_or_fuzzy_translation() -> None:
    problems = {
        language: untranslated(catalog(language))
        for language in COMPLETE_LANGUAGES
        if language != DEFAULT_LANGUAGE
    }
    assert {language: found for language, found in problems.items() if found} == {}


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_and_plural_forms(language: str) -> None:
    assert placeholder_problems(catalog(language)) == []


def test_every_language_is_declared_with_a_catalog() -> None:
    assert set(COMPLETE_LANGUAGES) <= set(LANGUAGES)
    assert LANGUAGES[0] == DEFAULT_LANGUAGE
    for language in TRANSLATED:
        assert PoCatalogs().path(language).is_file(), language
        assert catalog(language).locale is not None


def test_the_checks_catch_missing_fuzzy_and_mismatched_translations() -> None:
    sample = Catalog(locale="id")
    sample.add("Status: {status}", "Status: {status}")
    sample.add("Delivered", "")
    sample.add("Refresh", "Segarkan", flags=["fuzzy"])
    sample.add("Last scan: {scan}", "Pindaian terakhir: {pindai}")
    sample.add("Order {order}", "Pesanan {order")
    sample.add(("{count} day ago", "{count} days ago"), ("{count} hari lalu", "x"))
    assert untranslated(sample) == ["missing: 'Delivered'", "fuzzy: 'Refresh'"]
    problems = placeholder_problems(sample)
    assert any("pindai" in problem for problem in problems)
    assert any("does not format" in problem and "Pesanan" in problem for problem in problems)
    assert any("2 plural forms, not 1" in problem for problem in problems)
    assert not any("Status" in problem for problem in problems)


def test_a_translation_is_used_and_an_untranslated_plural_falls_back_to_english(
    tmp_path: Path,
) -> None:
    po = Catalog(locale="id", domain=DOMAIN)
    po.add("Refresh", "Segarkan")
    po.add(("{count} day ago", "{count} days ago"), ("", ""))
    po.add("Delivered", "Terkirim", flags=["fuzzy"])
    folder = tmp_path / "id" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / f"{DOMAIN}.po").open("wb") as out:
        write_po(out, po)
    words = PoCatalogs(tmp_path)("id")
    assert words.gettext("Refresh") == "Segarkan"
    assert words.ngettext("{count} day ago", "{count} days ago", 3) == "{count} days ago"
    assert words.gettext("Delivered") == "Delivered"  # fuzzy: not trusted
