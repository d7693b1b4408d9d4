"""Where carriers deliver and on which days: the inputs of each carrier's working calendar.

A carrier's transit time is counted on the calendar of the country the parcel is delivered in
when the carrier delivers there (J&T Express in Malaysia works Malaysian holidays, UPS in Mexico
Mexican ones), else on its home market's. :data:`MARKETS` lists each carrier's markets, home
first; :data:`WORK_WEEKS` the days it delivers, Monday first, as each carrier states on its
public service pages. Carriers not listed deliver Monday to Friday.

J&T Express and Flash Express advertise deliveries every day of the year in their markets.
The other South-East Asian express carriers are counted Monday to Saturday, the week most of
them advertise (Sunday rounds in big cities are not counted); the posts and Estafeta on
weekdays with a short Saturday round. These are stated service weeks, not measured ones:
learned history corrects the transit times counted on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["COUNTRY_ZONES", "MARKETS", "WORK_WEEKS", "calendar_country", "work_week"]

COUNTRY_ZONES: Mapping[str, str] = MappingProxyType(
    {
        "US": "America/New_York",
        "BR": "America/Sao_Paulo",
        "GB": "Europe/London",
        "DE": "Europe/Berlin",
        "CA": "America/Toronto",
        "ID": "Asia/Jakarta",
        "TH": "Asia/Bangkok",
        "VN": "Asia/Ho_Chi_Minh",
        "MY": "Asia/Kuala_Lumpur",
        "PH": "Asia/Manila",
        "SG": "Asia/Singapore",
        "ES": "Europe/Madrid",
        "MX": "America/Mexico_City",
    }
)
"""The time zone most of a country's parcels are delivered in (its capital's)."""


def _worldwide(home: str) -> tuple[str, ...]:
    """Every country in :data:`COUNTRY_ZONES`, ``home`` first."""
    return (home, *(country for country in COUNTRY_ZONES if country != home))


MARKETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # The worldwide express networks deliver in each of these countries through their own
        # local companies (UPS Mexico, FedEx Brasil, DHL Express Indonesia…), so their last
        # mile keeps the destination's holidays.
        "ups": _worldwide("US"),
        "fedex": _worldwide("US"),
        "dhl": _worldwide("DE"),
        "jt_express": ("ID", "MY", "PH", "TH", "VN", "SG"),
        "spx": ("ID", "MY", "PH", "TH", "VN", "SG", "BR", "MX"),
        "ninja_van": ("SG", "MY", "ID", "PH", "TH", "VN"),
        "flash_express": ("TH", "MY", "PH"),
        "kerry_express": ("TH",),
        "jne": ("ID",),
        "sicepat": ("ID",),
        "ghn": ("VN",),
        "ghtk": ("VN",),
        "lbc": ("PH",),
        "post_my": ("MY",),
        "post_es": ("ES",),
        "post_th": ("TH",),
        "post_id": ("ID",),
        "post_vn": ("VN",),
        "post_ph": ("PH",),
        "post_sg": ("SG",),
        "post_mx": ("MX",),
        "estafeta": ("MX",),
    }
)
"""Countries each carrier delivers in, its home market first."""

_EVERY_DAY = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
_SIX_DAYS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0)
_SATURDAY_ROUND = (1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.0)

WORK_WEEKS: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "jt_express": _EVERY_DAY,
        "flash_express": _EVERY_DAY,
        "spx": _SIX_DAYS,
        "ninja_van": _SIX_DAYS,
        "kerry_express": _SIX_DAYS,
        "jne": _SIX_DAYS,
        "sicepat": _SIX_DAYS,
        "ghn": _SIX_DAYS,
        "ghtk": _SIX_DAYS,
        "lbc": _SIX_DAYS,
        "post_my": _SATURDAY_ROUND,
        "post_es": _SATURDAY_ROUND,
        "estafeta": _SATURDAY_ROUND,
    }
)
"""How much of each weekday a carrier delivers on, Monday first (1 = a full day). Monday to
Friday are always full days; only the weekend varies."""

_WEEKDAYS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0)


def work_week(carrier: str) -> tuple[float, ...]:
    """The days ``carrier`` (a catalogue code) delivers on, Monday first."""
    return WORK_WEEKS.get(carrier, _WEEKDAYS)


def calendar_country(carrier: str, destination: str, home: str = "") -> str:
    """The country whose holidays count for a parcel of ``carrier`` going to ``destination``.

    The destination (an ISO code) when the carrier delivers there; else the carrier's home
    market, else ``home`` (the country of its published transit times); "" when unknown.
    """
    markets = MARKETS.get(carrier, ())
    wanted = destination.strip().upper()
    if wanted and wanted in markets:
        return wanted
    if markets:
        return markets[0]
    return home
