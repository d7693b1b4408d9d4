"""Working-day arithmetic for carriers: weekends, public holidays and time zones.

A :class:`BusinessCalendar` maps every instant to a point on a *business clock*: a number
that grows by a day's weight over each local day (1 for a full working day, a fraction for a
short Saturday round, 0 for Sundays and public holidays). Transit times measured on that clock
ignore the days the carrier does not work, and adding a duration back onto it lands on a day
the carrier works. The mapping is monotonic and invertible on working time, so
``calendar.shift(t, calendar.between(t, u))`` returns ``u`` whenever ``u`` falls on a working
day.

The calendar knows no holiday rules of its own: it is given the holiday dates, and
:func:`calendar_for_country` asks a :class:`HolidaySource` for a country's (the composition root
supplies one backed by a maintained holiday package, so the core stays standard-library only).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CALENDAR_DAYS",
    "NO_HOLIDAYS",
    "BusinessCalendar",
    "HolidaySource",
    "calendar_for_country",
    "resolve_zone",
]

_DAY_SECONDS = 86_400.0
_DAY_MEMO = 4_096  # days remembered per calendar (eleven years of days, well under 1 MiB)
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


class HolidaySource(Protocol):
    """Public holidays by country.

    ``dates`` returns the public holidays of ``country`` (ISO 3166-1 alpha-2, any case) that
    fall in ``years``, and an empty set for a country it does not know. It must be cheap to
    call again with the same arguments and must not do I/O.
    """

    def dates(self, country: str, years: Iterable[int]) -> frozenset[date]: ...


class _NoHolidays:
    """A holiday source that knows no holidays (weekends only)."""

    def dates(self, country: str, years: Iterable[int]) -> frozenset[date]:
        return frozenset()


NO_HOLIDAYS: HolidaySource = _NoHolidays()
"""No public holidays anywhere: weekends alone shape the calendar."""

DEFAULT_YEARS = range(2000, 2061)
"""The years a country calendar asks its holiday source about."""


class BusinessCalendar:
    """A carrier's working week and holidays in one local time zone.

    ``weights`` gives, Monday first, how much working time each weekday holds (1 = a full
    day). ``holidays`` hold none. Instants are aware datetimes; naive ones are rejected.
    """

    __slots__ = (
        "_cum_week",
        "_days",
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
        holidays: Iterable[date] = (),
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
        # Working time before each day, and the day's own, by ordinal: an estimate asks about
        # the same few dozen days many times over. Bounded; starts over when full.
        self._days: dict[int, tuple[float, float]] = {}
        days = sorted(set(holidays))
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
        return self._day(day.toordinal())[1]

    def is_working_day(self, day: date) -> bool:
        """True when the carrier works on ``day`` at all."""
        return self.weight(day) > 0

    def _before(self, ordinal: int) -> float:
        """Working time on the clock from its origin up to the start of day ``ordinal``."""
        return self._day(ordinal)[0]

    def _day(self, ordinal: int) -> tuple[float, float]:
        """Day ``ordinal``'s start on the clock and its weight (0 on holidays, days off)."""
        found = self._days.get(ordinal)
        if found is not None:
            return found
        # Ordinal 1 (0001-01-01) is a Monday, so ordinal - 1 counts days since a Monday.
        weeks, weekday = divmod(ordinal - 1, 7)
        holidays = self._holiday_ordinals
        index = bisect.bisect_left(holidays, ordinal)
        start = weeks * self._week_total + self._cum_week[weekday] - self._holiday_loss[index]
        holiday = index < len(holidays) and holidays[index] == ordinal
        found = (start, 0.0 if holiday else self.weights[weekday])
        if len(self._days) >= _DAY_MEMO:
            self._days.clear()
        self._days[ordinal] = found
        return found

    def clock(self, moment: datetime) -> float:
        """``moment`` on the business clock (working days since the clock's origin)."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        local = moment.astimezone(self._zone)
        start, weight = self._day(local.toordinal())
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return start + weight * seconds / _DAY_SECONDS

    def from_clock(self, value: float) -> datetime:
        """The aware UTC instant on a working day whose clock reading is ``value``.

        Readings that fall on a boundary followed by days off map to the start of the next
        working day, so a shifted instant never lands on a day the carrier does not work.
        """
        day, fraction = self._locate(value)
        # Clock readings are large floats; round away their last bits of noise.
        offset = timedelta(milliseconds=round(fraction * _DAY_SECONDS * 1000))
        naive = datetime.combine(day, time()) + offset
        # ``datetime.UTC`` (not ZoneInfo("UTC")): what storage reads back, so a stored
        # snapshot with this window is cached as it is (``storage.shipments``).
        return naive.replace(tzinfo=self._zone).astimezone(UTC)

    def local_days(self, values: Sequence[float]) -> list[float]:
        """Where each clock reading of ascending ``values`` falls in local calendar days (a
        day's ordinal plus the share of it gone), as :meth:`from_clock` places it: a cheap way
        to measure calendar spans between clock readings (days off included)."""
        out: list[float] = []
        low, start, following = 0, 0.0, 0.0
        for value in values:
            if low == 0 or value < start:
                low = self._search(value)
                start, following = self._before(low), self._before(low + 1)
            # Later readings are found by stepping on from the previous day.
            while following <= value:
                low += 1
                start, following = following, self._before(low + 1)
            day, fraction = self._place(low, value, start)
            out.append(day.toordinal() + fraction)
        return out

    def _locate(self, value: float) -> tuple[date, float]:
        """The working day holding clock reading ``value`` and the share of it gone."""
        return self._place(self._search(value), value)

    def _search(self, value: float) -> int:
        """The ordinal of the last day starting at or before clock reading ``value``."""
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
        return low

    def _place(self, ordinal: int, value: float, start: float | None = None) -> tuple[date, float]:
        """Day ``ordinal`` (starting at clock reading ``start``) and the share of it gone at
        ``value``; a reading at its end, or on a day off, is the next working day's start."""
        day = date.fromordinal(ordinal)
        first, weight = self._day(ordinal)
        if start is None:
            start = first
        fraction = (value - start) / weight if weight > 0 else 0.0
        if weight <= 0 or fraction >= 1.0 - 1e-9:
            # Float noise can leave the search on a day off just before the boundary; the
            # reading then means the start of the next working day.
            day = self.next_working_day(day + timedelta(days=1) if weight > 0 else day)
            fraction = 0.0
        return day, min(max(fraction, 0.0), 1.0)

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
    country: str,
    tz: str | tzinfo,
    *,
    saturday: float = 0.0,
    sunday: float = 0.0,
    holidays: HolidaySource = NO_HOLIDAYS,
    years: Iterable[int] = DEFAULT_YEARS,
) -> BusinessCalendar:
    """A Monday–Friday calendar (plus optional Saturday and Sunday rounds) in ``tz`` without
    the public holidays ``holidays`` knows for ``country``."""
    weights = (1.0, 1.0, 1.0, 1.0, 1.0, saturday, sunday)
    return BusinessCalendar(country, tz, weights=weights, holidays=holidays.dates(country, years))


CALENDAR_DAYS = BusinessCalendar("", "UTC", weights=_ALL_DAYS)
"""Every day counts fully and no holidays: plain elapsed days."""
