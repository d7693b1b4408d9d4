"""Dates, weekdays, arrival windows and counted words in the chat's language, through the
shipped catalogs and Babel, with times shown in the chat's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.i18n import LANGUAGES, format_datetime, format_day, format_time, format_window, ngettext
from tests.conftest import VOICES

# Sunday 1 March 2026, 18:30 UTC: already Monday 2 March in Jakarta and Bangkok (UTC+7).
LATE_SUNDAY = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
JAKARTA = ZoneInfo("Asia/Jakarta")
MEXICO_CITY = ZoneInfo("America/Mexico_City")

DATES = [
    # language, the moment in Jakarta, Monday 2 March, the window 10–14 December
    ("en", "Mon 2 Mar, 01:30 WIB", "Mon 2 Mar", "Thu 10 Dec – Mon 14 Dec"),
    ("id", "Sen, 2 Mar 01.30 WIB", "Sen, 2 Mar", "Kam, 10 Des–Sen, 14 Des"),
    ("th", "จันทร์ 2 มี.ค. 01:30 น. WIB", "จันทร์ 2 มี.ค.", "พฤหัส 10 – จันทร์ 14 ธ.ค."),
    ("vi", "1:30 Thứ 2, 2 thg 3 WIB", "Thứ 2, 2 thg 3", "Thứ 5, 10 thg 12 – Thứ 2, 14 thg 12"),
    ("ms", "Isn, 2 Mac, 01:30 WIB", "Isn, 2 Mac", "Kha, 10 Dis – Isn, 14 Dis"),
    ("fil", "Lun, Mar 2, 01:30 WIB", "Lun, Mar 2", "Huw, Dis 10 – Lun, Dis 14"),
    ("es", "lun, 2 mar, 1:30 WIB", "lun, 2 mar", "jue, 10 dic – lun, 14 dic"),
    (
        "pt_BR",
        "seg., 2 de mar. 01:30 WIB",
        "seg., 2 de mar.",
        "qui., 10 de dez. – seg., 14 de dez.",
    ),
]


def plain(text: str) -> str:
    """``text`` with Babel's thin and no-break spaces as plain ones."""
    return " ".join(text.split())


def test_every_language_has_its_dates_checked() -> None:
    assert {language for language, *_ in DATES} == set(LANGUAGES)


@pytest.mark.parametrize(("language", "moment", "day", "window"), DATES)
def test_dates_weekdays_and_windows_in_the_chats_language_and_zone(
    language: str, moment: str, day: str, window: str
) -> None:
    with VOICES.speaking(language):
        # The day is the chat's: Sunday evening in UTC is Monday morning in Jakarta.
        assert plain(format_datetime(LATE_SUNDAY, JAKARTA)) == moment
        assert plain(format_day(date(2026, 3, 2))) == day
        assert plain(format_window(date(2026, 12, 10), date(2026, 12, 14))) == window


def test_the_same_moment_in_another_zone_is_another_day_and_time() -> None:
    with VOICES.speaking("es"):
        assert plain(format_datetime(LATE_SUNDAY, MEXICO_CITY)) == "dom, 1 mar, 12:30 CST"
        assert plain(format_time(LATE_SUNDAY, MEXICO_CITY)) == "12:30"


PLURALS = [
    # language, count, "{count} day ago" in that language
    ("en", 1, "1 day ago"),
    ("en", 0, "0 days ago"),
    ("en", 3, "3 days ago"),
    ("es", 1, "hace 1 día"),
    ("es", 3, "hace 3 días"),
    ("pt_BR", 0, "há 0 dia"),
    ("pt_BR", 1, "há 1 dia"),
    ("pt_BR", 3, "há 3 dias"),
]


@pytest.mark.parametrize(("language", "count", "said"), PLURALS)
def test_counted_words_take_the_languages_plural_form(language: str, count: int, said: str) -> None:
    with VOICES.speaking(language):
        text = ngettext("{count} day ago", "{count} days ago", count).format(count=count)
    assert text == said
