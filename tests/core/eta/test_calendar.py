"""Working-day arithmetic: weekends, national holidays, Saturday rounds and time zones.

Holidays come from the holiday source the composition root uses (``bots.public_holidays``);
the calendar itself only counts the dates it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bots.public_holidays import PublicHolidays
from core.eta import calendar as calendar_module
from core.eta.calendar import (
    CALENDAR_DAYS,
    NO_HOLIDAYS,
    BusinessCalendar,
    calendar_for_country,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOLIDAYS = PublicHolidays()


class RecordingHolidays:
    """A holiday source with fixed dates that records what it was asked."""

    def __init__(self, days: dict[str, frozenset[date]]) -> None:
        self.days = days
        self.asked: list[tuple[str, tuple[int, ...]]] = []

    def dates(self, country: str, years: Iterable[int]) -> frozenset[date]:
        wanted = tuple(years)
        self.asked.append((country, wanted))
        return frozenset(d for d in self.days.get(country, frozenset()) if d.year in wanted)


def local(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SAO_PAULO)


def test_the_calendar_skips_exactly_the_holidays_its_source_gives() -> None:
    source = RecordingHolidays({"XX": frozenset({date(2024, 5, 1), date(2024, 5, 4)})})
    cal = calendar_for_country("XX", "UTC", holidays=source, years=range(2023, 2026))
    assert source.asked == [("XX", (2023, 2024, 2025))]
    assert cal.is_holiday(date(2024, 5, 1))
    assert not cal.is_working_day(date(2024, 5, 1))
    # A Saturday holiday changes nothing for a carrier that does not work Saturdays.
    assert not cal.is_holiday(date(2024, 5, 4))
    tuesday = datetime(2024, 4, 30, 12, tzinfo=UTC)
    assert cal.shift(tuesday, 1) == datetime(2024, 5, 2, 12, tzinfo=UTC)


def test_without_a_source_only_weekends_are_off() -> None:
    cal = calendar_for_country("BR", SAO_PAULO)
    assert NO_HOLIDAYS.dates("BR", [2017]) == frozenset()
    assert cal.is_working_day(date(2017, 4, 21))  # Tiradentes, unknown without a source


def test_saturday_and_sunday_rounds() -> None:
    cal = calendar_for_country("ID", "Asia/Jakarta", saturday=1.0, sunday=1.0, holidays=HOLIDAYS)
    assert cal.is_working_day(date(2024, 4, 7))  # a Sunday
    assert not cal.is_working_day(date(2024, 4, 10))  # Idul Fitri


def test_friday_plus_one_working_day_is_monday() -> None:
    cal = calendar_for_country("BR", SAO_PAULO, holidays=HOLIDAYS)
    friday = local(2017, 11, 10, 15)
    assert cal.shift(friday, 1).astimezone(SAO_PAULO) == local(2017, 11, 13, 15)


def test_holiday_is_skipped() -> None:
    cal = calendar_for_country("BR", SAO_PAULO, holidays=HOLIDAYS)
    # Thursday 20 April 2017; Friday 21 April is Tiradentes.
    thursday = local(2017, 4, 20, 10)
    assert cal.shift(thursday, 1).astimezone(SAO_PAULO) == local(2017, 4, 24, 10)
    assert cal.between(thursday, local(2017, 4, 24, 10)) == pytest.approx(1.0)


def test_weekend_delivery_counts_as_next_working_morning() -> None:
    cal = calendar_for_country("BR", SAO_PAULO, holidays=HOLIDAYS)
    friday_noon = local(2017, 11, 10, 12)
    sunday = local(2017, 11, 12, 18)
    assert cal.between(friday_noon, sunday) == pytest.approx(0.5)


def test_saturday_round_counts_partly() -> None:
    cal = calendar_for_country("BR", SAO_PAULO, saturday=0.5, holidays=HOLIDAYS)
    friday = local(2017, 11, 10, 0)
    monday = local(2017, 11, 13, 0)
    assert cal.between(friday, monday) == pytest.approx(1.5)


def test_calendar_days_are_elapsed_days() -> None:
    start = datetime(2024, 1, 5, 8, tzinfo=UTC)
    assert CALENDAR_DAYS.between(start, start + timedelta(days=3.25)) == pytest.approx(3.25)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        CALENDAR_DAYS.clock(datetime(2024, 1, 1))


def test_weights_must_allow_work() -> None:
    with pytest.raises(ValueError, match="weights"):
        BusinessCalendar("BR", "UTC", weights=(0, 0, 0, 0, 0, 0, 0))


def test_shift_lands_in_the_carriers_zone_across_dst() -> None:
    # Brazil's clocks went forward on 15 October 2017; working time still adds up.
    cal = calendar_for_country("BR", SAO_PAULO, holidays=HOLIDAYS)
    start = local(2017, 10, 13, 9)
    end = cal.shift(start, 1)
    assert end.astimezone(SAO_PAULO).date() == date(2017, 10, 16)
    assert end.tzinfo is not None
    assert end.utcoffset() == timedelta(0)


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1)),
    days=st.floats(min_value=0, max_value=60),
)
# Carnival Tuesday in Brazil after a part-worked Saturday: float noise once sent this back
# to the Sunday before.
@example(start=datetime(2025, 3, 4), days=0.0)
def test_shift_and_between_are_inverse(start: datetime, days: float) -> None:
    cal = calendar_for_country("BR", SAO_PAULO, saturday=0.3, holidays=HOLIDAYS)
    aware = start.replace(tzinfo=UTC)
    moved = cal.shift(aware, days)
    assert moved >= aware - timedelta(seconds=1)
    assert cal.between(aware, moved) == pytest.approx(days, abs=1e-6)
    assert cal.is_working_day(moved.astimezone(SAO_PAULO).date())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=40.0), min_size=1, max_size=25))
def test_local_days_place_readings_where_from_clock_does(offsets: list[float]) -> None:
    # From late November across Christmas and New Year (holidays, Saturday rounds), inside
    # one daylight-saving period.
    cal = calendar_for_country("BR", SAO_PAULO, saturday=0.3, holidays=HOLIDAYS)
    origin = cal.clock(local(2017, 11, 20, 9))
    readings = [origin + offset for offset in sorted(offsets)]
    for reading, placed in zip(readings, cal.local_days(readings), strict=True):
        moment = cal.from_clock(reading).astimezone(SAO_PAULO)
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        expected = moment.toordinal() + (moment - midnight).total_seconds() / 86_400
        assert placed == pytest.approx(expected, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1)),
        min_size=1,
        max_size=40,
    )
)
def test_a_calendar_answers_the_same_however_much_it_remembers(moments: list[datetime]) -> None:
    # One calendar asked everything in turn (its memory of days warm, and, kept small here,
    # emptied again and again) against a fresh one per question.
    warm = calendar_for_country("BR", SAO_PAULO, saturday=0.3, holidays=HOLIDAYS)
    with mock.patch.object(calendar_module, "_DAY_MEMO", 16):
        _compare_with_fresh_calendars(warm, moments)
    assert len(warm._days) <= 16


def _compare_with_fresh_calendars(warm: BusinessCalendar, moments: list[datetime]) -> None:
    for moment in moments:
        aware = moment.replace(tzinfo=UTC)
        cold = calendar_for_country("BR", SAO_PAULO, saturday=0.3, holidays=HOLIDAYS)
        day = aware.astimezone(SAO_PAULO).date()
        assert warm.clock(aware) == cold.clock(aware)
        assert warm.weight(day) == cold.weight(day)
        assert warm.weight(day) == (0.0 if cold.is_holiday(day) else cold.weights[day.weekday()])
        assert warm.shift(aware, 3.5) == cold.shift(aware, 3.5)
