"""The core's languages filled in: gettext catalogs from ``locales/`` and dates from Babel.

The catalogs are the ``.po`` files themselves, compiled in memory at start-up with Babel
(``read_po`` + ``write_mo``), so a fresh clone speaks every language without a build step and
can never run a stale ``.mo``. Fuzzy entries are left out (the English source is shown), as
``msgfmt`` would. ``pybabel compile`` still works for tools that want ``.mo`` files.

Babel itself is imported on first use (a date to write, a catalog to compile): a start that
speaks English and writes no date never loads it.
"""

from __future__ import annotations

import gettext
import io
import logging
from datetime import date, datetime, tzinfo
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from core.i18n import DEFAULT_LANGUAGE, DOMAIN, Voices

if TYPE_CHECKING:
    from babel import Locale

__all__ = ["LOCALES_DIR", "BabelDates", "PoCatalogs", "babel_locale", "voices"]

log = logging.getLogger(__name__)

LOCALES_DIR = Path(str(files("locales")))
"""Where the catalogs are (``locales/<language>/LC_MESSAGES/parcelbot.po``): the checkout's
folder, or the installed package's data."""

# English is written for a world-wide audience in the house style "Mon 3 Mar, 14:05": the
# British CLDR data gives day-month order and a 24-hour clock.
_BABEL_LOCALE = {"en": "en_GB"}


@cache
def babel_locale(language: str) -> Locale:
    """Babel's locale for one of our language codes."""
    from babel import Locale

    return Locale.parse(_BABEL_LOCALE.get(language, language))


class BabelDates:
    """``DateFormatter`` on Babel's CLDR data: weekday and month names, field order, clock."""

    def datetime_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        from babel.dates import format_skeleton

        local = moment.astimezone(tz)
        locale = babel_locale(language)
        day = format_skeleton("MMMEd", local, locale=locale)
        clock = format_skeleton("Hm", local, locale=locale)
        joined = str(locale.datetime_formats.get("short", "{1} {0}"))
        return f"{joined.format(clock, day)} {local.tzname()}"

    def day_text(self, day: date, language: str) -> str:
        from babel.dates import format_skeleton

        return format_skeleton("MMMEd", day, locale=babel_locale(language))

    def time_text(self, moment: datetime, tz: tzinfo, language: str) -> str:
        from babel.dates import format_skeleton

        return format_skeleton("Hm", moment.astimezone(tz), locale=babel_locale(language))

    def window_text(self, first: date, last: date, language: str) -> str:
        from babel.dates import format_interval

        return format_interval(first, last, skeleton="MMMEd", locale=babel_locale(language))


class PoCatalogs:
    """``Catalogs`` from the ``.po`` files under ``root``, compiled in memory on first use."""

    def __init__(self, root: Path = LOCALES_DIR) -> None:
        self._root = root

    def path(self, language: str) -> Path:
        return self._root / language / "LC_MESSAGES" / f"{DOMAIN}.po"

    def __call__(self, language: str) -> gettext.NullTranslations:
        if language == DEFAULT_LANGUAGE:
            return gettext.NullTranslations()
        path = self.path(language)
        if not path.is_file():
            log.warning("no catalog for %s at %s; speaking English", language, path)
            return gettext.NullTranslations()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with path.open("rb") as source:
            catalog = read_po(source, locale=language, domain=DOMAIN)
        for message in list(catalog):
            # Untranslated plural entries hold empty forms, which ``write_mo`` would keep (and
            # gettext would then show as empty text): leave them out, English is shown.
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.id and not all(forms):
                catalog.delete(message.id, message.context)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        return gettext.GNUTranslations(compiled)


def voices(root: Path | None = None) -> Voices:
    """Every supported language's speech, from the catalogs under ``root`` (default: the
    checkout's ``locales/``) and Babel's dates."""
    return Voices(PoCatalogs(root or LOCALES_DIR), BabelDates())
