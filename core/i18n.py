"""The language parcelbot speaks in a chat: gettext catalogs and a date formatter, per call.

Every user-facing sentence in the core is written as ``_("… {name} …").format(name=…)`` (or
``ngettext`` where a count appears, ``N_`` for tables translated later) and looked up in the
*active* ``Speech`` when the text is built. A ``Speech`` bundles one language's stdlib
``gettext`` translations with a ``DateFormatter`` (a port: Babel, injected by the composition
root, since the core imports only the standard library).

Which speech is active is a ``contextvars`` value, so concurrent chats never mix languages:
entry points (the command router, the alert flusher, an adapter answering a chat) wrap their
work in ``voices.speaking(language)``. With nothing active the core speaks English with plain
``strftime`` dates (``ENGLISH``), which is also what tests that never choose a language see.

Catalogs live in ``locales/<language>/LC_MESSAGES/parcelbot.po`` (domain ``DOMAIN``).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Protocol

__all__ = [
    "COMPLETE_LANGUAGES",
    "DEFAULT_LANGUAGE",
    "DOMAIN",
    "ENGLISH",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "NC_",
    "N_",
    "DateFormatter",
    "PlainDates",
    "Speech",
    "Voices",
    "_",
    "current",
    "format_datetime",
    "format_day",
    "format_time",
    "format_window",
    "in_english",
    "language",
    "match_language",
    "ngettext",
    "pgettext",
]

DOMAIN = "parcelbot"
"""The gettext domain: ``parcelbot.po`` / ``parcelbot.pot``."""

DEFAULT_LANGUAGE = "en"

LANGUAGES: tuple[str, ...] = ("en", "id", "th", "vi", "ms", "fil", "es", "pt_BR")
"""Every language parcelbot speaks (gettext/CLDR codes); English is the source language."""

COMPLETE_LANGUAGES: tuple[str, ...] = ("en", "id", "th", "vi", "ms", "fil", "es", "pt_BR")
"""Languages whose catalog is fully translated and reviewed. The catalog checks (no missing or
fuzzy entries) run for exactly these; a language is added here when its translation is done."""

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "id": "Bahasa Indonesia",
    "th": "ไทย",
    "vi": "Tiếng Việt",
    "ms": "Bahasa Melayu",
    "fil": "Filipino",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
}
"""Each language's name in itself, for ``/language``."""

# What people and platforms call our languages: IETF tags (Telegram's language_code, Discord's
# locale), ISO 639 codes and the languages' own names, lower case, "-" for "_".
_ALIASES: dict[str, str] = {
    "in": "id",  # the old ISO code some Android phones still report
    "indonesia": "id",
    "bahasa": "id",
    "bahasa indonesia": "id",
    "indonesian": "id",
    "thai": "th",
    "ไทย": "th",
    "ภาษาไทย": "th",
    "vietnamese": "vi",
    "tiếng việt": "vi",
    "tieng viet": "vi",
    "malay": "ms",
    "melayu": "ms",
    "bahasa melayu": "ms",
    "tl": "fil",
    "tagalog": "fil",
    "filipino": "fil",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "portuguese": "pt_BR",
    "português": "pt_BR",
    "portugues": "pt_BR",
    "pt": "pt_BR",
    "english": "en",
}


def match_language(code: str | None) -> str | None:
    """The supported language ``code`` names (``pt-BR``, ``es-419``, ``en_US``, ``tl``,
    ``Español``…), or None when it names none of ours."""
    if not code:
        return None
    text = " ".join(code.strip().lower().replace("_", "-").split())
    if not text:
        return None
    by_lower = {lang.lower().replace("_", "-"): lang for lang in LANGUAGES}
    if text in by_lower:
        return by_lower[text]
    if text in _ALIASES:
        return _ALIASES[text]
    base = text.split("-", 1)[0]
    return by_lower.get(base) or _ALIASES.get(base)


class DateFormatter(Protocol):
    """Dates and times in a language's own words (month and weekday names, order, clock).

    Implementations must accept every code in ``LANGUAGES`` and return non-empty text.
    ``moment`` is aware; it is shown in ``tz``.
    """

    def datetime_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        """Day and time with the zone's short name: ``Mon 3 Mar, 14:05 WIB``."""
        ...

    def day_text(self, day: date, language: str) -> str:
        """A day with weekday and month: ``Mon 3 Mar``."""
        ...

    def time_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        """A time of day: ``14:05``."""
        ...

    def window_text(self, first: date, last: date, language: str) -> str:
        """A span of days, naming shared parts once: ``Thu 10 – Mon 14 Dec``."""
        ...


class PlainDates:
    """English dates from ``strftime``: the formatter when none was injected (and in tests)."""

    def datetime_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        local = moment.astimezone(tz)
        return f"{self.day_text(local.date(), language)}, {local:%H:%M} {local.tzname()}"

    def day_text(self, day: date, language: str) -> str:
        return f"{day:%a} {day.day} {day:%b}"

    def time_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        return f"{moment.astimezone(tz):%H:%M}"

    def window_text(self, first: date, last: date, language: str) -> str:
        if (first.year, first.month) == (last.year, last.month):
            return f"{first:%a} {first.day} – {self.day_text(last, language)}"
        return f"{self.day_text(first, language)} – {self.day_text(last, language)}"


@dataclass(frozen=True, slots=True)
class Speech:
    """One language's words and dates."""

    language: str
    translations: gettext.NullTranslations = field(default_factory=gettext.NullTranslations)
    dates: DateFormatter = field(default_factory=PlainDates)


ENGLISH = Speech(DEFAULT_LANGUAGE)
"""What the core speaks when no language is active."""

_active: ContextVar[Speech] = ContextVar("parcelbot_speech", default=ENGLISH)


@contextmanager
def in_english() -> Iterator[None]:
    """Speak the source language for the body (texts compared with what was stored)."""
    token = _active.set(ENGLISH)
    try:
        yield
    finally:
        _active.reset(token)


def current() -> Speech:
    """The active speech."""
    return _active.get()


def language() -> str:
    """The active language's code."""
    return _active.get().language


def _(message: str) -> str:
    """``message`` in the active language."""
    return _active.get().translations.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a counted message the active language uses for ``count``."""
    return _active.get().translations.ngettext(singular, plural, count)


def format_datetime(moment: datetime, tz: tzinfo) -> str:
    """``moment`` as day and time in ``tz``, in the active language."""
    speech = _active.get()
    return speech.dates.datetime_text(moment, tz, speech.language)


def format_day(day: date) -> str:
    """A day with weekday and month, in the active language."""
    speech = _active.get()
    return speech.dates.day_text(day, speech.language)


def format_time(moment: datetime, tz: tzinfo) -> str:
    """A time of day in ``tz``, in the active language."""
    speech = _active.get()
    return speech.dates.time_text(moment, tz, speech.language)


def format_window(first: date, last: date) -> str:
    """A span of days, in the active language."""
    speech = _active.get()
    return speech.dates.window_text(first, last, speech.language)


def pgettext(context: str, message: str) -> str:
    """``message`` in the active language, as meant in ``context`` (e.g. a command's name)."""
    return _active.get().translations.pgettext(context, message)


def NC_(context: str, message: str) -> str:  # noqa: N802 - marks for the catalog, like N_
    """Marks ``message`` with ``context`` for the catalog without translating it."""
    return message


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Marks ``message`` for the catalog without translating it (for tables translated at
    the moment they are shown, with ``_``)."""
    return message


Catalogs = Callable[[str], gettext.NullTranslations]
"""The translations for a language code (a port: filled from ``locales/`` at start-up)."""


class Voices:
    """Every language's ``Speech``, made once each, and the switch between them.

    ``catalogs`` gives a language's translations; ``dates`` formats its dates. Unknown or
    empty language codes speak ``DEFAULT_LANGUAGE``.
    """

    def __init__(self, catalogs: Catalogs | None = None, dates: DateFormatter | None = None):
        self._catalogs = catalogs
        self._dates: DateFormatter = dates or PlainDates()
        self._made: dict[str, Speech] = {}

    def speech(self, code: str | None) -> Speech:
        """The speech for ``code`` (matched with ``match_language``)."""
        lang = match_language(code) or DEFAULT_LANGUAGE
        made = self._made.get(lang)
        if made is None:
            words = (
                self._catalogs(lang) if self._catalogs is not None else gettext.NullTranslations()
            )
            made = self._made[lang] = Speech(lang, words, self._dates)
        return made

    @contextmanager
    def speaking(self, code: str | None) -> Iterator[Speech]:
        """Make ``code``'s speech the active one for the body (restored afterwards)."""
        speech = self.speech(code)
        token = _active.set(speech)
        try:
            yield speech
        finally:
            _active.reset(token)
