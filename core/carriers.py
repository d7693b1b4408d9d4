"""The carrier catalogue and offline carrier detection from a tracking number alone.

``detect`` reads a number the way a buyer pasted it and returns every carrier whose documented
format it fits, most likely first, each saying whether the check digit verified:

1. a verified check digit beats a format-only match, which beats a failed check digit;
2. among equals, a more specific format (fixed prefix, strict structure) beats a generic one;
3. remaining ties follow a fixed carrier priority (``PRIORITY``).

Nothing here does I/O or raises on user text: unknown input simply has no matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.carrier_formats import (
    FORMATS,
    S10_COUNTRIES,
    S10_NAMED_POSTS,
    NumberFormat,
    s10_service,
)
from core.models import Carrier, CarrierMatch, OrderId, TrackingNumber

__all__ = [
    "CARRIERS",
    "PRIORITY",
    "THAI_RANGE",
    "Readings",
    "detect",
    "format_matches",
    "get_carrier",
    "looks_like_order_id",
    "normalise",
    "plausible",
    "readings",
    "served_countries",
    "spaceless_name_at",
    "spaceless_names_in",
    "stands_out",
    "suspected_typos",
    "validate",
]

# Universal tracking page for posts whose own site has no per-number link.
_UNIVERSAL_TRACKING = "https://t.17track.net/en#nums={number}"

_MAIN_CARRIERS: tuple[Carrier, ...] = (
    Carrier(
        "ups",
        "UPS",
        "https://www.ups.com/track?loc=en_US&tracknum={number}",
        "Worldwide",
        (
            "Ground",
            "Next Day Air",
            "2nd Day Air",
            "Worldwide Express",
            "SurePost",
            "Mail Innovations",
        ),
    ),
    Carrier(
        "usps",
        "USPS",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
        "United States",
        (
            "Priority Mail",
            "Priority Mail Express",
            "First-Class Package",
            "Ground Advantage",
            "Parcel Select",
            "International",
        ),
    ),
    Carrier(
        "fedex",
        "FedEx",
        "https://www.fedex.com/fedextrack/?trknbr={number}",
        "Worldwide",
        ("Express", "Ground", "Home Delivery", "Ground Economy", "International"),
    ),
    Carrier(
        "dhl",
        "DHL",
        "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}&submit=1",
        "Worldwide",
        ("Express", "eCommerce", "Global Mail", "Parcel"),
    ),
    Carrier(
        "amazon",
        "Amazon Logistics",
        "https://track.amazon.com/tracking/{number}",
        "United States, Europe",
        ("Amazon Logistics", "Amazon Shipping"),
    ),
    Carrier(
        "royal_mail",
        "Royal Mail",
        "https://www.royalmail.com/track-your-item#/tracking-results/{number}",
        "United Kingdom",
        ("Tracked 24", "Tracked 48", "Special Delivery", "International Tracked", "Signed For"),
    ),
    Carrier(
        "canada_post",
        "Canada Post",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={number}",
        "Canada",
        ("Regular Parcel", "Expedited Parcel", "Xpresspost", "Priority", "International"),
    ),
    Carrier(
        "purolator",
        "Purolator",
        "https://www.purolator.com/en/shipping/tracker?pins={number}",
        "Canada",
        ("Ground", "Express"),
    ),
    Carrier(
        "ontrac",
        "OnTrac",
        "https://www.ontrac.com/tracking/?number={number}",
        "United States (West)",
        ("Ground", "Sunrise", "Sunrise Gold"),
    ),
    Carrier(
        "lasership",
        "LaserShip",
        "https://www.lasership.com/track/{number}",
        "United States (East)",
        ("Last-mile delivery",),
    ),
    Carrier(
        "dpd",
        "DPD",
        "https://tracking.dpd.de/status/en_US/parcel/{number}",
        "Europe",
        ("Classic", "Predict", "Express", "Pickup"),
    ),
    Carrier(
        "evri",
        "Evri",
        "https://www.evri.com/track/parcel/{number}",
        "United Kingdom",
        ("Standard", "Next Day", "ParcelShop"),
    ),
    Carrier(
        "yodel",
        "Yodel",
        "https://www.yodel.co.uk/tracking/{number}",
        "United Kingdom",
        ("Xpress", "Xpect", "Direct"),
    ),
    Carrier(
        "jt_express",
        "J&T Express",
        "https://www.jtexpress.my/tracking/{number}",
        "South-East Asia, China",
        ("Express", "EZ", "Cargo"),
    ),
    Carrier(
        "spx",
        "SPX Express",
        "https://spx.co.id/track?{number}",
        "South-East Asia, Taiwan, Latin America",
        ("Standard", "Shopee Xpress"),
    ),
    Carrier(
        "ninja_van",
        "Ninja Van",
        "https://www.ninjavan.co/en-sg/tracking?id={number}",
        "South-East Asia",
        ("Standard", "Next Day"),
    ),
    Carrier(
        "flash_express",
        "Flash Express",
        "https://www.flashexpress.co.th/fle/tracking?se={number}",
        "Thailand, Malaysia, Philippines, Laos",
        ("Standard", "Bulky"),
    ),
    Carrier(
        "kerry_express",
        "Kerry Express",
        "https://th.kerryexpress.com/en/track/?track={number}",
        "Thailand",
        ("Express", "Drop-off"),
    ),
    Carrier(
        "jne",
        "JNE",
        "https://www.jne.co.id/tracking-package?awb={number}",
        "Indonesia",
        ("REG", "YES", "OKE", "JTR"),
    ),
    Carrier(
        "sicepat",
        "SiCepat Ekspres",
        "https://www.sicepat.com/checkAwb/{number}",
        "Indonesia",
        ("REG", "BEST", "HALU", "GOKIL"),
    ),
    Carrier(
        "ghn",
        "GHN Express",
        "https://donhang.ghn.vn/?order_code={number}",
        "Vietnam",
        ("Standard", "Express"),
    ),
    Carrier(
        "ghtk",
        "GHTK",
        "https://i.ghtk.vn/{number}",
        "Vietnam",
        ("Road", "Express"),
    ),
    Carrier(
        "lbc",
        "LBC Express",
        "https://www.lbcexpress.com/track/?tracking_no={number}",
        "Philippines",
        ("Air Cargo", "Sea Cargo", "Same Day"),
    ),
    Carrier(
        "estafeta",
        "Estafeta",
        "https://www.estafeta.com/herramientas/rastreo?wayBillType=1&wayBill={number}",
        "Mexico",
        ("Dia Siguiente", "Terrestre", "Dos Dias"),
    ),
    Carrier(
        "cainiao",
        "Cainiao",
        "https://global.cainiao.com/newDetail.htm?mailNoList={number}",
        "China (cross-border)",
        ("AliExpress Standard Shipping", "Cainiao Super Economy", "Cainiao Expedited"),
    ),
    Carrier(
        "yanwen",
        "Yanwen",
        "https://track.yw56.com.cn/en/querydel?nums={number}",
        "China (cross-border)",
        ("Yanwen Special Line", "Yanwen Economy"),
    ),
    Carrier(
        "4px",
        "4PX",
        "https://track.4px.com/#/result/0/{number}",
        "China (cross-border)",
        ("4PX Singapore Post", "4PX Global Express"),
    ),
    Carrier(
        "yunexpress",
        "YunExpress",
        "https://www.yuntrack.com/parcelTracking?id={number}",
        "China (cross-border)",
        ("Global Direct Line", "Standard"),
    ),
    Carrier(
        "landmark",
        "Landmark Global",
        "https://track.landmarkglobal.com/?search={number}",
        "Worldwide (cross-border)",
        ("Cross-border e-commerce",),
    ),
    Carrier(
        "canpar",
        "Canpar",
        "https://www.canpar.com/en/tracking/track.htm?barcode={number}",
        "Canada",
        ("Ground", "Select"),
    ),
    Carrier(
        "old_dominion",
        "Old Dominion Freight Line",
        "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers={number}",
        "North America",
        ("LTL freight", "Guaranteed"),
    ),
    Carrier(
        "gofo",
        "GOFO Express",
        "https://www.gofoexpress.com/tracking.html?searchID={number}",
        "United States",
        ("Parcel",),
    ),
    Carrier(
        "speedee",
        "Spee-Dee Delivery",
        "https://www.speedeedelivery.com/track/?tracking={number}",
        "United States (Upper Midwest)",
        ("Ground",),
    ),
)

# National posts with a well-known operator name and per-number tracking page. Every other
# ISO 3166 country still gets a "post_xx" entry, named after its country.
_NATIONAL_POSTS: Mapping[str, tuple[str, str]] = {
    "AE": ("Emirates Post", ""),
    "AR": ("Correo Argentino", ""),
    "AT": ("Austrian Post", ""),
    "AU": ("Australia Post", "https://auspost.com.au/mypost/track/details/{number}"),
    "BE": ("bpost", ""),
    "BR": ("Correios", ""),
    "CH": ("Swiss Post", "https://service.post.ch/ekp-web/ui/entry/search/{number}"),
    "CN": ("China Post", ""),
    "CZ": ("Ceska posta", ""),
    "DE": (
        "Deutsche Post",
        "https://www.deutschepost.de/sendung/simpleQuery.html?form.sendungsnummer={number}",
    ),
    "DK": ("PostNord Denmark", "https://www.postnord.dk/en/track-and-trace?shipmentId={number}"),
    "ES": (
        "Correos",
        "https://www.correos.es/es/en/tools/tracker/items/details?tracking-number={number}",
    ),
    "FI": ("Posti", "https://www.posti.fi/en/tracking#/lahetys/{number}"),
    "FR": ("La Poste", "https://www.laposte.fr/outils/suivre-vos-envois?code={number}"),
    "HK": ("Hongkong Post", ""),
    "ID": ("Pos Indonesia", ""),
    "IE": ("An Post", "https://www.anpost.com/Post-Parcels/Track/History?item={number}"),
    "IL": ("Israel Post", ""),
    "IN": ("India Post", ""),
    "IT": (
        "Poste Italiane",
        "https://www.poste.it/cerca/index.html#/risultati-spedizioni/{number}",
    ),
    "JP": (
        "Japan Post",
        "https://trackings.post.japanpost.jp/services/srv/search/direct?reqCodeNo1={number}&locale=en",
    ),
    "KR": ("Korea Post", ""),
    "MX": ("Correos de Mexico", ""),
    "MY": ("Pos Malaysia", "https://tracking.pos.com.my/tracking/{number}"),
    "NL": ("PostNL", ""),
    "NO": ("Posten Norge", "https://sporing.posten.no/sporing/{number}"),
    "NZ": ("NZ Post", "https://www.nzpost.co.nz/tools/tracking/item/{number}"),
    "PH": ("PHLPost", ""),
    "PL": ("Poczta Polska", ""),
    "PT": ("CTT", ""),
    "RU": ("Russian Post", "https://www.pochta.ru/tracking?barcode={number}"),
    "SA": ("Saudi Post", ""),
    "SE": (
        "PostNord Sweden",
        "https://www.postnord.se/en/our-tools/track-and-trace?shipmentId={number}",
    ),
    "SG": ("Singapore Post", ""),
    "TH": ("Thailand Post", ""),
    "TR": ("PTT", ""),
    "TW": ("Chunghwa Post", ""),
    "UA": ("Ukrposhta", ""),
    "VN": ("Vietnam Post", ""),
    "ZA": ("South African Post Office", ""),
}


def _national_post(country_code: str, country: str) -> Carrier:
    name, url = _NATIONAL_POSTS.get(country_code, (f"{country} postal service", ""))
    return Carrier(
        code=f"post_{country_code.lower()}",
        name=name,
        url_template=url or _UNIVERSAL_TRACKING,
        region=country,
        services=("Registered", "EMS", "Parcel"),
    )


def _build_catalogue() -> dict[str, Carrier]:
    catalogue = {carrier.code: carrier for carrier in _MAIN_CARRIERS}
    for country_code, country in sorted(S10_COUNTRIES.items()):
        if country_code in S10_NAMED_POSTS:
            continue
        post = _national_post(country_code, country)
        catalogue[post.code] = post
    return catalogue


CARRIERS: Final[Mapping[str, Carrier]] = MappingProxyType(_build_catalogue())
"""Every carrier parcelbot knows, keyed by its stable lower-case code."""

PRIORITY: Final[tuple[str, ...]] = tuple(carrier.code for carrier in _MAIN_CARRIERS)
"""Tie-break order: carriers earlier in this tuple are suggested first; national posts last."""

_PRIORITY_INDEX = {code: index for index, code in enumerate(PRIORITY)}

# Extra spellings people type; names and codes are added automatically.
_ALIASES: Mapping[str, str] = {
    "unitedstatespostalservice": "usps",
    "federalexpress": "fedex",
    "dhlexpress": "dhl",
    "dhlecommerce": "dhl",
    "dhlglobalmail": "dhl",
    "amazonshipping": "amazon",
    "amzl": "amazon",
    "canadapost": "canada_post",
    "postescanada": "canada_post",
    "hermes": "evri",
    "myhermes": "evri",
    "jt": "jt_express",
    "jnt": "jt_express",
    "jandt": "jt_express",
    "jtexpress": "jt_express",
    "shopeexpress": "spx",
    "shopeeexpress": "spx",
    "shopee": "spx",
    "spx": "spx",
    "ninjavan": "ninja_van",
    "ninjaxpress": "ninja_van",  # Ninja Van's brand in Indonesia
    "flash": "flash_express",
    "kerry": "kerry_express",
    "kex": "kerry_express",
    "kexexpress": "kerry_express",
    "jalurnugraha": "jne",
    "jneexpress": "jne",
    "sicepat": "sicepat",
    "giaohangnhanh": "ghn",
    "giaohangtietkiem": "ghtk",
    "lbc": "lbc",
    "poslaju": "post_my",
    "posmalaysia": "post_my",
    "aliexpress": "cainiao",
    "aliexpressstandardshipping": "cainiao",
    "4pxexpress": "4px",
    "fourpx": "4px",
    "yunexpress": "yunexpress",
    "landmarkglobal": "landmark",
    "odfl": "old_dominion",
    "olddominion": "old_dominion",
    "gofoexpress": "gofo",
    "speedeedelivery": "speedee",
    "royalmail": "royal_mail",
    # The S10 posts that have their own entry, under their "post_xx" spelling too.
    "postgb": "royal_mail",
    "postus": "usps",
    "postca": "canada_post",
    # Posts under the names their own countries use.
    "vnpost": "post_vn",
    "buudien": "post_vn",
    "buudienvietnam": "post_vn",
    "singpost": "post_sg",
    "posindonesia": "post_id",
    "correosmexico": "post_mx",
}

# Names in scripts written without spaces between words (Thai), as buyers write them; they are
# found inside longer words too ("ส่งเคอรี่แล้ว": "sent by Kerry already").
_SPACELESS_NAMES: Mapping[str, str] = {
    "ไปรษณีย์ไทย": "post_th",
    "เคอรี่เอ็กซ์เพรส": "kerry_express",
    "เคอรี่": "kerry_express",
    "แฟลชเอ็กซ์เพรส": "flash_express",
    "แฟลช": "flash_express",
    "เจแอนด์ทีเอ็กซ์เพรส": "jt_express",
    "เจแอนด์ที": "jt_express",
    "นินจาแวน": "ninja_van",
    "ช้อปปี้เอ็กซ์เพรส": "spx",
}

THAI_RANGE = "\u0e00-\u0e7f"
"""The Thai block (letters, vowel and tone marks) as a regular-expression character range."""
_THAI = re.compile(f"[{THAI_RANGE}]")
_KEY_JUNK = re.compile(f"[^a-z0-9{THAI_RANGE}]+")


def _key(text: str) -> str:
    # Accents are folded so "Giao Hàng Tiết Kiệm" and "Correos de México" find their carriers
    # as typed without them; "đ" has no decomposition of its own. Thai letters and their vowel
    # and tone marks stay: they are the name, not an accent on it.
    folded = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    plain = "".join(char for char in folded if not unicodedata.combining(char) or _is_thai(char))
    return _KEY_JUNK.sub("", plain.replace("&", "and"))


def _is_thai(char: str) -> bool:
    return _THAI.match(char) is not None


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for code, carrier in CARRIERS.items():
        lookup.setdefault(_key(code), code)
        lookup.setdefault(_key(carrier.name), code)
        if code.startswith("post_"):
            # "China Post", "post cn", "Germany post"
            lookup.setdefault(_key(f"{carrier.region} post"), code)
    # "J&T" keys to "jandt" and "J T" to "jt"; both are aliases above.
    for alias, code in _ALIASES.items():
        lookup[alias] = code
    for name, code in _SPACELESS_NAMES.items():
        lookup[_key(name)] = code
    return lookup


_LOOKUP: Final[Mapping[str, str]] = MappingProxyType(_build_lookup())


def get_carrier(code_or_name: str) -> Carrier | None:
    """The catalogue entry for a code, display name or common alias (case-insensitive,
    accents optional, Thai names in Thai script)."""
    if not isinstance(code_or_name, str):
        return None
    code = _LOOKUP.get(_key(code_or_name))
    return CARRIERS.get(code) if code is not None else None


_SPACELESS_BY_LENGTH: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(_SPACELESS_NAMES.items(), key=lambda item: -len(item[0]))
)


def spaceless_name_at(text: str, start: int) -> tuple[Carrier, int] | None:
    """The carrier whose name in a spaceless script (Thai) begins ``text`` at ``start``, with
    where the name ends (the longest name wins), or None."""
    for name, code in _SPACELESS_BY_LENGTH:
        if text.startswith(name, start):
            return CARRIERS[code], start + len(name)
    return None


def spaceless_names_in(text: str) -> frozenset[str]:
    """Codes of the carriers named anywhere in ``text`` in a spaceless script (Thai), where
    names sit inside longer words."""
    return frozenset(code for name, code in _SPACELESS_NAMES.items() if name in text)


# --- detection ------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
_NORMALISED = re.compile(r"[0-9A-Z]{1,64}", re.ASCII)
_MAX_LENGTH = 64


def normalise(text: str) -> TrackingNumber:
    """Trim, drop spaces and dashes, upper-case: the form every number is matched in."""
    return TrackingNumber(_SEPARATORS.sub("", text).upper())


@dataclass(frozen=True, slots=True)
class _Candidate:
    sort_key: tuple[int, int, int, int]
    match: CarrierMatch
    generic: bool


_VALIDITY_RANK: Final[Mapping[bool | None, int]] = {True: 0, None: 1, False: 2}


# One pass over every pattern at once: most text fits no format, and this rejects it in a
# single regex call before the per-format loop.
_ANY_FORMAT = re.compile(
    "|".join(f"(?:{number_format.pattern.pattern})" for number_format in FORMATS), re.ASCII
)


def _candidates(number: str) -> list[_Candidate]:
    found: list[_Candidate] = []
    if _ANY_FORMAT.fullmatch(number) is None:
        return found
    for order, number_format in enumerate(FORMATS):
        if number_format.pattern.fullmatch(number) is None:
            continue
        candidate = _candidate(number, number_format, order)
        if candidate is not None:
            found.append(candidate)
    return found


def _candidate(number: str, number_format: NumberFormat, order: int) -> _Candidate | None:
    code, country = number_format.carrier, ""
    format_name = number_format.name
    if number_format.resolve is not None:
        resolved = number_format.resolve(number)
        if resolved is None:
            return None
        code, country = resolved
        service = s10_service(number)
        if service:
            format_name = f"{format_name} ({service})"
    carrier = CARRIERS.get(code)
    if carrier is None:
        return None
    valid = number_format.check(number) if number_format.check is not None else None
    sort_key = (
        _VALIDITY_RANK[valid],
        -number_format.specificity,
        _PRIORITY_INDEX.get(code, len(PRIORITY)),
        order,
    )
    match = CarrierMatch(
        carrier=carrier,
        number=TrackingNumber(number),
        check_digit_valid=valid,
        format_name=format_name,
        country=country,
    )
    return _Candidate(sort_key, match, number_format.generic)


def _ranked(number: str) -> list[_Candidate]:
    """Best candidate per carrier, most likely first."""
    best: dict[str, _Candidate] = {}
    for candidate in _candidates(number):
        code = candidate.match.carrier.code
        kept = best.get(code)
        if kept is None or candidate.sort_key < kept.sort_key:
            best[code] = candidate
    return sorted(best.values(), key=lambda candidate: candidate.sort_key)


def _prepare(text: object) -> str | None:
    if not isinstance(text, str) or len(text) > 4 * _MAX_LENGTH:
        return None
    number = normalise(text)
    if _NORMALISED.fullmatch(number) is None:
        return None
    return number


def detect(text: str, *, include_invalid: bool = True) -> list[CarrierMatch]:
    """Every carrier whose format ``text`` fits, most likely first; never raises.

    ``text`` is normalised first (see :func:`normalise`). Matches whose check digit failed
    (``check_digit_valid is False``) come last and are left out with ``include_invalid=False``;
    they are kept by default so a typo can be reported as one. Returns [] for anything that is
    not a plausible number.
    """
    try:
        number = _prepare(text)
        if number is None:
            return []
        return [
            candidate.match
            for candidate in _ranked(number)
            if include_invalid or candidate.match.check_digit_valid is not False
        ]
    except Exception:  # detection of user text must never fail the caller
        return []


def format_matches(text: str) -> list[CarrierMatch]:
    """Every format reading of ``text``, one per matching format (not one per carrier), ranked.

    ``detect`` keeps only each carrier's best reading; this shows all of them, e.g. to explain
    why a number was read the way it was. Never raises.
    """
    try:
        number = _prepare(text)
        if number is None:
            return []
        return [
            candidate.match
            for candidate in sorted(_candidates(number), key=lambda item: item.sort_key)
        ]
    except Exception:  # a diagnostic must never fail the caller
        return []


def validate(number: str, carrier_code: str) -> CarrierMatch | None:
    """The reading of ``number`` as ``carrier_code`` (a code, name or alias), if it fits.

    Used when the user names the carrier (``/track <number> <carrier>``): the result carries
    the check-digit verdict, so a failed check can be reported; None when the number fits none
    of that carrier's formats or the carrier is unknown.
    """
    carrier = get_carrier(carrier_code)
    if carrier is None:
        return None
    for match in detect(number):
        if match.carrier.code == carrier.code:
            return match
    return None


# --- order ids ------------------------------------------------------------------------------

# TikTok Shop order ids are long all-digit strings; published samples are 18 digits starting
# with "57". Ids grow over time, so a little room is left on length and the leading digits.
_ORDER_ID = re.compile(r"5\d{16,18}", re.ASCII)


def looks_like_order_id(number: str) -> bool:
    """Whether ``number`` has the shape of a TikTok Shop order id (17–19 digits, leading 5)."""
    if not isinstance(number, str) or len(number) > 4 * _MAX_LENGTH:
        return False
    return _ORDER_ID.fullmatch(normalise(number)) is not None


@dataclass(frozen=True, slots=True)
class Readings:
    """Every way to read one pasted number: as a shop order id and/or as tracking numbers."""

    order_id: OrderId | None
    matches: list[CarrierMatch]


def readings(text: str) -> Readings:
    """Both readings of ``text``: the order id (when it has that shape) and carrier matches."""
    order_id = OrderId(normalise(text)) if looks_like_order_id(text) else None
    return Readings(order_id=order_id, matches=detect(text))


# --- standing out in free text -------------------------------------------------------------

_MIN_NUMBER = 8
_ORDER_ID_OVERRIDE = 3


def stands_out(number: str) -> bool:
    """Whether ``number`` (normalised) reads as a tracking number with nothing else to go on.

    In free text only a distinctive format counts: a bare run of digits without a strong
    check digit is more often a phone number, a date or an order id, and a shop order id
    needs a format with a fixed prefix to outweigh it. A failed check digit never counts.
    """
    if len(number) < _MIN_NUMBER or not any(char.isdigit() for char in number):
        return False
    least_specificity = _ORDER_ID_OVERRIDE if looks_like_order_id(number) else 0
    return any(
        not candidate.generic
        and candidate.match.check_digit_valid is not False
        and -candidate.sort_key[1] >= least_specificity
        for candidate in _candidates(number)
    )


def plausible(matches: Sequence[CarrierMatch]) -> list[CarrierMatch]:
    """The readings worth offering: the verified ones, else those by format only (a failed
    check digit is never offered as a carrier)."""
    verified = [match for match in matches if match.check_digit_valid is True]
    return verified or [match for match in matches if match.check_digit_valid is None]


def suspected_typos(number: str) -> list[CarrierMatch]:
    """The readings of ``number`` in distinctive formats whose check digit failed, when no
    format verifies it: the number is most likely one of these with a typing slip."""
    ranked = _ranked(number)
    if any(candidate.match.check_digit_valid is True for candidate in ranked):
        return []
    return [
        candidate.match
        for candidate in ranked
        if candidate.match.check_digit_valid is False and not candidate.generic
    ]


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Regions of the catalogue that are not one country's name, as the countries they deliver in.
# "Worldwide" and cross-border services deliver anywhere, so they are not listed.
_SOUTH_EAST_ASIA = _codes("BN ID KH LA MM MY PH SG TH TL VN")
_EUROPE = _codes(
    "AD AT BE BG CH CY CZ DE DK EE ES FI FR GB GR HR HU IE IS IT LI LT LU LV MC MT NL NO PL PT "
    "RO SE SI SK SM"
)
_REGION_PARTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "south-east asia": _SOUTH_EAST_ASIA,
        "europe": _EUROPE,
        "north america": frozenset({"US", "CA", "MX"}),
        "latin america": _codes("AR BO BR CL CO CR DO EC GT HN MX NI PA PE PY SV UY VE"),
    }
)
_COUNTRY_CODES: Mapping[str, str] = MappingProxyType(
    {name.casefold(): code for code, name in S10_COUNTRIES.items()}
)


def served_countries(carrier: Carrier) -> frozenset[str] | None:
    """The countries (ISO 3166-1 alpha-2) ``carrier`` delivers in, from its catalogue region;
    None when it delivers anywhere or its region is not known well enough to judge."""
    region = carrier.region.casefold()
    if not region or "worldwide" in region or "cross-border" in region:
        return None
    codes: set[str] = set()
    for part in region.split(","):
        # "United States (West)" is the United States.
        name = re.sub(r"\s*\(.*\)\s*$", "", part).strip()
        if name in _REGION_PARTS:
            codes |= _REGION_PARTS[name]
        elif name in _COUNTRY_CODES:
            codes.add(_COUNTRY_CODES[name])
        else:
            return None
    return frozenset(codes)
