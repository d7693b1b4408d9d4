"""Public holidays for the carriers' working calendars, from the maintained ``holidays`` package.

The core counts transit time in working days but knows no holiday rules of its own: the
composition root hands it :class:`PublicHolidays`, which answers "which days of these years
are public holidays in this country" from the ``holidays`` package (moveable feasts, lunar and
Islamic calendars, substitute days and one-off bank holidays included).

National holidays only, with two carrier-specific choices in :data:`RULES`:

* ``GB``: England and Wales bank holidays (where most parcels are sorted and delivered);
  the UK-wide list lacks Easter Monday and the August bank holiday.
* ``BR``: Carnival Monday and Tuesday and Corpus Christi, optional holidays ("pontos
  facultativos") on which Correios does not deliver, on top of the national ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

__all__ = ["RULES", "CountryRule", "PublicHolidays"]


@dataclass(frozen=True, slots=True)
class CountryRule:
    """Which of the package's holidays count for a country's carriers."""

    subdivision: str | None = None
    """The region whose list stands for the country (None: the national list)."""
    optional_names: tuple[str, ...] = ()
    """Optional holidays carriers stop for too, by their English name."""


RULES: dict[str, CountryRule] = {
    "GB": CountryRule(subdivision="ENG"),
    "BR": CountryRule(optional_names=("Carnival", "Corpus Christi")),
}


@lru_cache(maxsize=1024)
def _year(country: str, year: int) -> frozenset[date]:
    # Imported at the first question, not at start-up: the package loads rules for every
    # country it knows, a tenth of the console's start-up.
    import holidays as holiday_rules

    rule = RULES.get(country, CountryRule())
    try:
        public = holiday_rules.country_holidays(country, subdiv=rule.subdivision, years=year)
    except NotImplementedError:
        # A country the package has no rules for: no holidays, only weekends.
        return frozenset()
    days = set(public)
    if rule.optional_names:
        optional = holiday_rules.country_holidays(
            country,
            subdiv=rule.subdivision,
            years=year,
            categories=("optional",),
            language="en_US",
        )
        days |= {
            day
            for day, name in optional.items()
            if any(wanted in name for wanted in rule.optional_names)
        }
    return frozenset(day for day in days if day.year == year)


class PublicHolidays:
    """A holiday source for the core's calendars, backed by the ``holidays`` package."""

    def dates(self, country: str, years: Iterable[int]) -> frozenset[date]:
        """The public holidays of ``country`` (ISO 3166-1 alpha-2) in ``years``; empty for a
        country the package does not know."""
        code = country.strip().upper()
        if len(code) != 2 or not code.isalpha():
            return frozenset()
        found: set[date] = set()
        for year in years:
            found |= _year(code, year)
        return frozenset(found)
