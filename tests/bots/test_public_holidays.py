"""Public holidays of every destination country, checked against dates known from the calendar."""

from __future__ import annotations

from datetime import date

import pytest

from bots.public_holidays import PublicHolidays

HOLIDAYS = PublicHolidays()


@pytest.mark.parametrize(
    ("country", "day", "what"),
    [
        ("ID", date(2024, 4, 10), "Idul Fitri 1445 H"),
        ("ID", date(2024, 4, 11), "Idul Fitri, second day"),
        ("ID", date(2025, 3, 31), "Idul Fitri 1446 H"),
        ("ID", date(2024, 3, 11), "Nyepi"),
        ("ID", date(2024, 8, 17), "Hari Kemerdekaan"),
        ("TH", date(2024, 4, 13), "Songkran"),
        ("TH", date(2024, 4, 14), "Songkran"),
        ("TH", date(2024, 4, 15), "Songkran"),
        ("TH", date(2024, 4, 16), "Songkran, in lieu of the weekend"),
        ("TH", date(2024, 12, 5), "King Bhumibol's birthday"),
        ("VN", date(2024, 2, 10), "Tết Nguyên Đán 2024"),
        ("VN", date(2024, 2, 14), "Tết, fifth day"),
        ("VN", date(2025, 1, 29), "Tết Nguyên Đán 2025"),
        ("VN", date(2024, 9, 2), "Quốc khánh"),
        ("MY", date(2024, 4, 10), "Hari Raya Aidilfitri"),
        ("MY", date(2024, 8, 31), "Hari Merdeka"),
        ("MY", date(2024, 2, 10), "Chinese New Year"),
        ("PH", date(2024, 3, 28), "Maundy Thursday"),
        ("PH", date(2024, 3, 29), "Good Friday"),
        ("PH", date(2024, 6, 12), "Independence Day"),
        ("PH", date(2024, 12, 30), "Rizal Day"),
        ("SG", date(2024, 8, 9), "National Day"),
        ("SG", date(2024, 10, 31), "Deepavali"),
        ("SG", date(2024, 2, 10), "Chinese New Year"),
        ("GB", date(2022, 6, 2), "Spring bank holiday, moved for the Platinum Jubilee"),
        ("GB", date(2022, 6, 3), "Platinum Jubilee bank holiday"),
        ("GB", date(2022, 9, 19), "State funeral of Queen Elizabeth II"),
        ("GB", date(2023, 5, 8), "Coronation of King Charles III"),
        ("GB", date(2024, 4, 1), "Easter Monday (England and Wales)"),
        ("GB", date(2024, 8, 26), "Summer bank holiday (England and Wales)"),
        ("US", date(2024, 11, 28), "Thanksgiving"),
        ("US", date(2020, 7, 3), "Independence Day, observed on Friday"),
        ("US", date(2024, 6, 19), "Juneteenth"),
        ("ES", date(2024, 10, 12), "Fiesta Nacional de España"),
        ("ES", date(2024, 12, 6), "Día de la Constitución"),
        ("MX", date(2024, 9, 16), "Día de la Independencia"),
        ("MX", date(2024, 11, 18), "Revolución, third Monday of November"),
        ("BR", date(2017, 2, 27), "Carnival Monday"),
        ("BR", date(2017, 2, 28), "Carnival Tuesday"),
        ("BR", date(2017, 4, 21), "Tiradentes"),
        ("BR", date(2017, 6, 15), "Corpus Christi"),
        ("BR", date(2024, 11, 20), "Consciência Negra, national from 2024"),
    ],
)
def test_known_public_holidays(country: str, day: date, what: str) -> None:
    assert day in HOLIDAYS.dates(country, [day.year]), f"{country} {day}: {what}"


@pytest.mark.parametrize(
    ("country", "day", "why"),
    [
        ("ID", date(2024, 4, 9), "a joint leave day (cuti bersama), not a public holiday"),
        ("TH", date(2024, 4, 17), "the day after Songkran"),
        ("GB", date(2024, 3, 17), "St Patrick's Day is Northern Ireland's only"),
        ("GB", date(2024, 8, 5), "Scotland's summer bank holiday"),
        ("BR", date(2017, 11, 20), "Consciência Negra was not national before 2024"),
        ("BR", date(2017, 3, 1), "Ash Wednesday is a half day"),
        ("US", date(2024, 11, 29), "the day after Thanksgiving"),
    ],
)
def test_days_that_are_not_holidays(country: str, day: date, why: str) -> None:
    assert day not in HOLIDAYS.dates(country, [day.year]), f"{country} {day}: {why}"


def test_several_years_at_once_and_only_those_years() -> None:
    days = HOLIDAYS.dates("vn", range(2024, 2026))
    assert {date(2024, 2, 10), date(2025, 1, 29)} <= days
    assert {day.year for day in days} == {2024, 2025}


@pytest.mark.parametrize("country", ["ZZ", "", "GBR", "1A", "QQ"])
def test_unknown_countries_have_no_holidays(country: str) -> None:
    assert HOLIDAYS.dates(country, [2024]) == frozenset()
