"""Working-day arithmetic for carriers: weekends, public holidays and time zones.

A :class:`BusinessCalendar` maps every instant to a point on a *business clock*: a number
that grows by a day's weight over each local day (1 for a full working day, a fraction for a
short Saturday round, 0 for Sundays and public holidays). Transit times measured on that clock
ignore the days the carrier does not work, and adding a duration back onto it lands on a day
the carrier works. The mapping is monotonic and invertible on working time, so
``calendar.shift(t, calendar.between(t, u))`` returns ``u`` whenever ``u`` falls on a working
day.

Holiday rules are public facts (national holidays only; regional ones are ignored):

* ``BR``: New Year, Carnival Monday and Tuesday, Good Friday, Tiradentes (21 Apr), Labour Day,
  Corpus Christi, Independence (7 Sep), Our Lady Aparecida (12 Oct), All Souls (2 Nov),
  Republic (15 Nov), Black Consciousness (20 Nov, national from 2024), Christmas.
* ``US``: the federal holidays the postal service observes, moved to Friday/Monday when they
  fall on a weekend.
* ``GB``: England and Wales bank holidays.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CALENDAR_DAYS",
    "BusinessCalendar",
    "calendar_for_country",
    "easter_sunday",
    "holidays",
    "resolve_zone",
]

_DAY_SECONDS = 86_400.0
# Monday-first weights; a calendar never has a week with no working time at all.
_MON_FRI = (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)
_ALL_DAYS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def resolve_zone(tz: str | tzinfo) -> tzinfo:
    """A ``tzinfo`` for a zone name (UTC when the name is unknown) or the zone itself."""
    if not isinstance(tz, str):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday, by the anonymous Gregorian computus."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (0 = Monday) of a month; ``n = -1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """US rule: a Saturday holiday is observed on Friday, a Sunday one on Monday."""
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _brazil(year: int) -> set[date]:
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),
        easter - timedelta(days=48),  # Carnival Monday
        easter - timedelta(days=47),  # Carnival Tuesday
        easter - timedelta(days=2),  # Good Friday
        date(year, 4, 21),
        date(year, 5, 1),
        easter + timedelta(days=60),  # Corpus Christi
        date(year, 9, 7),
        date(year, 10, 12),
        date(year, 11, 2),
        date(year, 11, 15),
        date(year, 12, 25),
    }
    if year >= 2024:
        days.add(date(year, 11, 20))
    return days


def _united_states(year: int) -> set[date]:
    days = {
        _observed(date(year, 1, 1)),
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 10, 0, 2),  # Columbus Day
        _observed(date(year, 11, 11)),
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),
    }
    if year >= 2021:
        days.add(_observed(date(year, 6, 19)))
    return days


def _great_britain(year: int) -> set[date]:
    easter = easter_sunday(year)
    new_year = date(year, 1, 1)
    while new_year.weekday() >= 5:
        new_year += timedelta(days=1)
    christmas, boxing = date(year, 12, 25), date(year, 12, 26)
    # A weekend Christmas or Boxing Day is substituted by the next free weekdays.
    substitutes: list[date] = []
    for day in (christmas, boxing):
        if day.weekday() < 5:
            substitutes.append(day)
            continue
        candidate = day + timedelta(days=1)
        while candidate.weekday() >= 5 or candidate in substitutes or candidate == boxing:
            candidate += timedelta(days=1)
        substitutes.append(candidate)
    return {
        new_year,
        easter - timedelta(days=2),
        easter + timedelta(days=1),
        _nth_weekday(year, 5, 0, 1),
        _nth_weekday(year, 5, 0, -1),
        _nth_weekday(year, 8, 0, -1),
        *substitutes,
    }


_RULES: dict[str, Callable[[int], set[date]]] = {
    "BR": _brazil,
    "US": _united_states,
    "GB": _great_britain,
}


@lru_cache(maxsize=256)
def _holidays_cached(country: str, year: int) -> frozenset[date]:
    rule = _RULES.get(country.upper())
    return frozenset(rule(year)) if rule else frozenset()


def holidays(country: str, years: Iterable[int]) -> frozenset[date]:
    """National public holidays of ``country`` (ISO code) in ``years``; empty when unknown."""
    found: set[date] = set()
    for year in years:
        found |= _holidays_cached(country, year)
    return frozenset(found)


class BusinessCalendar:
    """A carrier's working week and holidays in one local time zone.

    ``weights`` gives, Monday first, how much working time each weekday holds (1 = a full
    day). Holidays hold none. Instants are aware datetimes; naive ones are rejected.
    """

    __slots__ = (
        "_cum_week",
        "_holiday_loss",
        "_holiday_ordinals",
        "_week_total",
        "_zone",
        "country",
        "weights",
    )

    def __init__(
        self,
        country: str = "",
        tz: str | tzinfo = "UTC",
        *,
        weights: tuple[float, ...] = _MON_FRI,
        years: range = range(2000, 2061),
        extra_holidays: Iterable[date] = (),
    ) -> None:
        if len(weights) != 7 or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError("weights must be seven non-negative numbers with a positive sum")
        self.country = country.upper()
        self.weights = tuple(float(w) for w in weights)
        self._zone = resolve_zone(tz)
        self._week_total = sum(self.weights)
        self._cum_week = [0.0]
        for weight in self.weights:
            self._cum_week.append(self._cum_week[-1] + weight)
        days = sorted(set(holidays(self.country, years)) | set(extra_holidays))
        # Only holidays that would otherwise be worked change the clock.
        self._holiday_ordinals: list[int] = []
        self._holiday_loss: list[float] = [0.0]
        for day in days:
            lost = self.weights[day.weekday()]
            if lost > 0:
                self._holiday_ordinals.append(day.toordinal())
                self._holiday_loss.append(self._holiday_loss[-1] + lost)

    @property
    def zone(self) -> tzinfo:
        """The local time zone the calendar's days are counted in."""
        return self._zone

    def is_holiday(self, day: date) -> bool:
        """True when ``day`` is a public holiday on a day that would otherwise be worked."""
        index = bisect.bisect_left(self._holiday_ordinals, day.toordinal())
        return (
            index < len(self._holiday_ordinals) and self._holiday_ordinals[index] == day.toordinal()
        )

    def weight(self, day: date) -> float:
        """How much working time ``day`` holds (0 on holidays and days off)."""
        return 0.0 if self.is_holiday(day) else self.weights[day.weekday()]

    def is_working_day(self, day: date) -> bool:
        """True when the carrier works on ``day`` at all."""
        return self.weight(day) > 0

    def _before(self, ordinal: int) -> float:
        """Working time on the clock from its origin up to the start of day ``ordinal``."""
        # Ordinal 1 (0001-01-01) is a Monday, so ordinal - 1 counts days since a Monday.
        weeks, weekday = divmod(ordinal - 1, 7)
        total = weeks * self._week_total + self._cum_week[weekday]
        return total - self._holiday_loss[bisect.bisect_left(self._holiday_ordinals, ordinal)]

    def clock(self, moment: datetime) -> float:
        """``moment`` on the business clock (working days since the clock's origin)."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        local = moment.astimezone(self._zone)
        ordinal = local.toordinal()
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return self._before(ordinal) + self.weight(local.date()) * seconds / _DAY_SECONDS

    def from_clock(self, value: float) -> datetime:
        """The aware UTC instant on a working day whose clock reading is ``value``.

        Readings that fall on a boundary followed by days off map to the start of the next
        working day, so a shifted instant never lands on a day the carrier does not work.
        """
        # Binary search for the last day starting at or before ``value``.
        low = 1
        high = date(9999, 12, 31).toordinal()
        guess = int(value * 7 / self._week_total) + 1
        low, high = max(low, guess - 60), min(high, guess + 60)
        while self._before(low) > value:
            low = max(1, low - 365)
        while self._before(high) <= value:
            high += 365
        while high - low > 1:
            middle = (low + high) // 2
            if self._before(middle) <= value:
                low = middle
            else:
                high = middle
        day = date.fromordinal(low)
        weight = self.weight(day)
        fraction = (value - self._before(low)) / weight if weight > 0 else 0.0
        if weight <= 0 or fraction >= 1.0 - 1e-9:
            # Float noise can leave the search on a day off just before the boundary; the
            # reading then means the start of the next working day.
            day = self.next_working_day(day + timedelta(days=1) if weight > 0 else day)
            fraction = 0.0
        fraction = min(max(fraction, 0.0), 1.0)
        # Clock readings are large floats; round away their last bits of noise.
        offset = timedelta(milliseconds=round(fraction * _DAY_SECONDS * 1000))
        naive = datetime.combine(day, time()) + offset
        return naive.replace(tzinfo=self._zone).astimezone(ZoneInfo("UTC"))

    def between(self, start: datetime, end: datetime) -> float:
        """Working days from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        return self.clock(end) - self.clock(start)

    def shift(self, start: datetime, days: float) -> datetime:
        """The instant ``days`` working days after ``start`` (aware UTC)."""
        return self.from_clock(self.clock(start) + days)

    def next_working_day(self, day: date) -> date:
        """``day`` itself when worked, else the next day the carrier works."""
        current = day
        while not self.is_working_day(current):
            current += timedelta(days=1)
        return current

    def __repr__(self) -> str:
        return f"BusinessCalendar(country={self.country!r}, zone={self._zone!s})"


def calendar_for_country(
    country: str, tz: str | tzinfo, *, saturday: float = 0.0
) -> BusinessCalendar:
    """A Monday–Friday calendar with the country's holidays (and an optional Saturday round)."""
    weights = (1.0, 1.0, 1.0, 1.0, 1.0, saturday, 0.0)
    return BusinessCalendar(country, tz, weights=weights)


CALENDAR_DAYS = BusinessCalendar("", "UTC", weights=_ALL_DAYS)
"""Every day counts fully and no holidays: plain elapsed days."""
