"""Tracking-number formats: what each carrier's numbers look like and how they are checked.

Each :class:`NumberFormat` is matched against a *normalised* number (upper-case ASCII letters
and digits only, no spaces or dashes). The table is written from the carriers' public format
descriptions: UPS 1Z and waybills, USPS IMpb (Publication 199), FedEx Express/Ground, GS1
SSCC-18, DHL Express waybills, Canada Post, Purolator, DPD (ISO/IEC 7064 MOD 37,36), the UPU
S10 standard, and the documented prefixes of regional and cross-border carriers.

``specificity`` orders candidates that verified equally well: a fixed prefix or a strict
structure says more about the issuer than a bare run of digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core import check_digits

__all__ = [
    "FORMATS",
    "S10_COUNTRIES",
    "S10_NAMED_POSTS",
    "S10_SERVICES",
    "NumberFormat",
    "s10_service",
]

CheckFunction = Callable[[str], bool]
"""Verifies the check character of a number that already matched the format's pattern."""

CarrierResolver = Callable[[str], tuple[str, str] | None]
"""For formats shared by many issuers (UPU S10): the carrier code and country for a number,
or None when the number names no known issuer."""


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """One documented shape of tracking number.

    ``pattern`` must match the whole normalised number. ``check`` is None when the carrier
    publishes no check digit (a match is then "format only"). ``generic`` marks formats too
    loose to pick out of a message on their own: bare digit runs with no check digit or only
    a weak one (phone numbers, dates, order numbers fit them) and short letter prefixes that
    ordinary words also start with ("IN", "TH", "BOX" + digits).
    """

    carrier: str
    name: str
    pattern: re.Pattern[str]
    check: CheckFunction | None
    specificity: int
    generic: bool = False
    resolve: CarrierResolver | None = None


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


def _trailing(
    algorithm: Callable[[str], str], start: int = 0, end: int | None = None
) -> CheckFunction:
    """A check over ``number[start:end]`` against the character right after it.

    With ``end`` None the data runs up to the last character, which is the check character.
    """

    def check(number: str) -> bool:
        stop = len(number) - 1 if end is None else end
        return algorithm(number[start:stop]) == number[stop]

    return check


# --- USPS -----------------------------------------------------------------------------------

# IMpb bodies (after any "420" + ZIP routing prefix): application identifier 91–95 followed by
# service type, mailer id, package id and a GS1 check digit, 22, 26 or 30 digits long.
_IMPB_BODY = r"9[1-5]\d{20}|9[2-5]\d{24}|94\d{28}"
_IMPB_BODY_RE = _compile(_IMPB_BODY)
_USPS_20_RE = _compile(r"\d{20}")


def _usps_legacy_check(number: str) -> bool:
    # Legacy 20-digit Delivery/Signature Confirmation numbers are printed without their "91"
    # application identifier, but the check digit was computed with it.
    return check_digits.gs1_mod10("91" + number[:19]) == number[19]


def _usps_20_check(number: str) -> bool:
    return check_digits.gs1_mod10(number[:19]) == number[19]


def _usps_body_check(body: str) -> bool:
    if _IMPB_BODY_RE.fullmatch(body) and check_digits.gs1_mod10(body[:-1]) == body[-1]:
        return True
    return _USPS_20_RE.fullmatch(body) is not None and (
        _usps_20_check(body) or _usps_legacy_check(body)
    )


def _usps_routed_check(number: str) -> bool:
    # "420" + a 5- or 9-digit ZIP is routing data, not part of the tracking number; the ZIP
    # length is not marked, so every split that leaves a well-formed body is tried.
    return any(_usps_body_check(number[3 + zip_length :]) for zip_length in (5, 9))


# --- UPU S10 --------------------------------------------------------------------------------

_COUNTRY_TABLE = (
    "AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla|"
    "AL Albania|AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria|"
    "AU Australia|AW Aruba|AX Aland Islands|AZ Azerbaijan|BA Bosnia and Herzegovina|"
    "BB Barbados|BD Bangladesh|BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|"
    "BJ Benin|BL Saint Barthelemy|BM Bermuda|BN Brunei|BO Bolivia|BQ Caribbean Netherlands|"
    "BR Brazil|BS Bahamas|BT Bhutan|BV Bouvet Island|BW Botswana|BY Belarus|BZ Belize|"
    "CA Canada|CC Cocos (Keeling) Islands|CD DR Congo|CF Central African Republic|CG Congo|"
    "CH Switzerland|CI Ivory Coast|CK Cook Islands|CL Chile|CM Cameroon|CN China|CO Colombia|"
    "CR Costa Rica|CU Cuba|CV Cape Verde|CW Curacao|CX Christmas Island|CY Cyprus|CZ Czechia|"
    "DE Germany|DJ Djibouti|DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|"
    "EC Ecuador|EE Estonia|EG Egypt|EH Western Sahara|ER Eritrea|ES Spain|ET Ethiopia|"
    "FI Finland|FJ Fiji|FK Falkland Islands|FM Micronesia|FO Faroe Islands|FR France|"
    "GA Gabon|GB United Kingdom|GD Grenada|GE Georgia|GF French Guiana|GG Guernsey|GH Ghana|"
    "GI Gibraltar|GL Greenland|GM Gambia|GN Guinea|GP Guadeloupe|GQ Equatorial Guinea|"
    "GR Greece|GS South Georgia and the South Sandwich Islands|GT Guatemala|GU Guam|"
    "GW Guinea-Bissau|GY Guyana|HK Hong Kong|HM Heard Island and McDonald Islands|"
    "HN Honduras|HR Croatia|HT Haiti|HU Hungary|ID Indonesia|IE Ireland|IL Israel|"
    "IM Isle of Man|IN India|IO British Indian Ocean Territory|IQ Iraq|IR Iran|IS Iceland|"
    "IT Italy|JE Jersey|JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|"
    "KI Kiribati|KM Comoros|KN Saint Kitts and Nevis|KP North Korea|KR South Korea|KW Kuwait|"
    "KY Cayman Islands|KZ Kazakhstan|LA Laos|LB Lebanon|LC Saint Lucia|LI Liechtenstein|"
    "LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|LY Libya|"
    "MA Morocco|MC Monaco|MD Moldova|ME Montenegro|MF Saint Martin|MG Madagascar|"
    "MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|MN Mongolia|MO Macau|"
    "MP Northern Mariana Islands|MQ Martinique|MR Mauritania|MS Montserrat|MT Malta|"
    "MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|"
    "NC New Caledonia|NE Niger|NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands|"
    "NO Norway|NP Nepal|NR Nauru|NU Niue|NZ New Zealand|OM Oman|PA Panama|PE Peru|"
    "PF French Polynesia|PG Papua New Guinea|PH Philippines|PK Pakistan|PL Poland|"
    "PM Saint Pierre and Miquelon|PN Pitcairn|PR Puerto Rico|PS Palestine|PT Portugal|"
    "PW Palau|PY Paraguay|QA Qatar|RE Reunion|RO Romania|RS Serbia|RU Russia|RW Rwanda|"
    "SA Saudi Arabia|SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore|"
    "SH Saint Helena|SI Slovenia|SJ Svalbard and Jan Mayen|SK Slovakia|SL Sierra Leone|"
    "SM San Marino|SN Senegal|SO Somalia|SR Suriname|SS South Sudan|ST Sao Tome and Principe|"
    "SV El Salvador|SX Sint Maarten|SY Syria|SZ Eswatini|TC Turks and Caicos Islands|TD Chad|"
    "TF French Southern Territories|TG Togo|TH Thailand|TJ Tajikistan|TK Tokelau|"
    "TL Timor-Leste|TM Turkmenistan|TN Tunisia|TO Tonga|TR Turkey|TT Trinidad and Tobago|"
    "TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine|UG Uganda|UM US Minor Outlying Islands|"
    "US United States|UY Uruguay|UZ Uzbekistan|VA Vatican City|"
    "VC Saint Vincent and the Grenadines|VE Venezuela|VG British Virgin Islands|"
    "VI US Virgin Islands|VN Vietnam|VU Vanuatu|WF Wallis and Futuna|WS Samoa|YE Yemen|"
    "YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe|"
)

S10_COUNTRIES: Mapping[str, str] = MappingProxyType(
    {entry[:2]: entry[3:] for entry in _COUNTRY_TABLE.split("|") if entry}
)
"""ISO 3166-1 alpha-2 code → country name, the issuers an S10 number can name."""

# The first letter of an S10 service indicator names the kind of item.
S10_SERVICES: Mapping[str, str] = MappingProxyType(
    {
        "C": "parcel",
        "E": "EMS",
        "L": "tracked letter",
        "R": "registered",
        "S": "letter",
        "U": "letter",
        "V": "insured",
        "M": "M-bag",
    }
)

S10_NAMED_POSTS: Mapping[str, str] = MappingProxyType(
    {"GB": "royal_mail", "US": "usps", "CA": "canada_post"}
)
"""National posts with their own catalogue entry rather than a "post_xx" code."""


def _s10_carrier(number: str) -> tuple[str, str] | None:
    country = number[-2:]
    name = S10_COUNTRIES.get(country)
    if name is None:
        return None
    return S10_NAMED_POSTS.get(country, f"post_{country.lower()}"), name


def s10_service(number: str) -> str:
    """The kind of item an S10 number's service indicator names, or "" when unknown."""
    return S10_SERVICES.get(number[:1], "")


# --- the table ------------------------------------------------------------------------------


def _format(
    carrier: str,
    name: str,
    pattern: str,
    check: CheckFunction | None,
    specificity: int,
    *,
    generic: bool = False,
    resolve: CarrierResolver | None = None,
) -> NumberFormat:
    return NumberFormat(
        carrier=carrier,
        name=name,
        pattern=_compile(pattern),
        check=check,
        specificity=specificity,
        generic=generic,
        resolve=resolve,
    )


# A digit somewhere ahead: alphanumeric formats must not match words.
_HAS_DIGIT = r"(?=[A-Z]*\d)"

FORMATS: tuple[NumberFormat, ...] = (
    # UPU S10: two service letters, 8 serial digits, check digit, issuing country.
    _format(
        "",
        "UPU S10",
        r"[A-Z]{2}\d{9}[A-Z]{2}",
        _trailing(check_digits.s10, 2, 10),
        4,
        resolve=_s10_carrier,
    ),
    # UPS
    _format("ups", "UPS 1Z", r"1Z[0-9A-Z]{15}\d", _trailing(check_digits.ups_mod10, 2), 5),
    _format("ups", "UPS waybill", r"[AHJKTV]\d{10}", _trailing(check_digits.ups_mod10, 1), 2),
    _format("ups", "UPS Mail Innovations", r"MI\d{6}[0-9A-Z]{1,22}", None, 3),
    # USPS
    _format(
        "usps",
        "USPS IMpb with ZIP routing",
        rf"420(?:\d{{5}}|\d{{9}})(?:{_IMPB_BODY}|\d{{20}})",
        _usps_routed_check,
        5,
    ),
    _format("usps", "USPS IMpb", _IMPB_BODY, _trailing(check_digits.gs1_mod10), 4),
    _format("usps", "USPS (20)", r"\d{20}", _usps_20_check, 2),
    _format("usps", "USPS legacy (20)", r"\d{20}", _usps_legacy_check, 2),
    # FedEx
    _format("fedex", "FedEx Ground 96 (22)", r"96\d{20}", _trailing(check_digits.gs1_mod10, 7), 4),
    _format(
        "fedex", "FedEx Ground (34)", r"96\d{32}", _trailing(check_digits.fedex_express, 20), 4
    ),
    _format(
        "fedex", "FedEx ASTRA (32)", r"3\d{31}", _trailing(check_digits.fedex_express, 16, 27), 3
    ),
    _format("fedex", "FedEx door tag", r"DT\d{12}", None, 4),
    _format("fedex", "FedEx Express (12)", r"\d{12}", _trailing(check_digits.fedex_express), 2),
    _format("fedex", "FedEx Ground (15)", r"\d{15}", _trailing(check_digits.gs1_mod10), 2),
    _format("fedex", "FedEx Ground SSCC-18", r"\d{18}", _trailing(check_digits.gs1_mod10), 2),
    _format(
        "fedex", "FedEx Express (34)", r"[0-8]\d{33}", _trailing(check_digits.fedex_express, 20), 2
    ),
    _format("fedex", "FedEx Ground Economy (20)", r"\d{20}", _trailing(check_digits.gs1_mod10), 1),
    # DHL
    _format("dhl", "DHL Global Mail", r"GM\d{16,22}", None, 3),
    _format("dhl", "DHL Express piece ID", r"J[A-Z]{2,3}\d{9,10}", None, 2),
    _format(
        "dhl",
        "DHL eCommerce",
        rf"(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY){_HAS_DIGIT}[0-9A-Z]{{10,39}}",
        None,
        1,
        generic=True,
    ),
    _format(
        "dhl",
        "DHL Express waybill",
        r"\d{10,11}",
        _trailing(check_digits.dhl_mod7),
        1,
        generic=True,
    ),
    _format("dhl", "DHL eCommerce (14)", r"\d{14}", None, 0, generic=True),
    # Amazon
    _format("amazon", "Amazon Logistics", r"TB[ACM]\d{12}", None, 4),
    _format("amazon", "Amazon Shipping international", r"[AFC]\d{10}", None, 1),
    # OnTrac: the leading letter counts in the check as UPS folds letters (C→4, D→5).
    _format("ontrac", "OnTrac", r"[CD]\d{14}", _trailing(check_digits.ups_mod10), 4),
    # LaserShip (now part of OnTrac)
    _format("lasership", "LaserShip 1LS (18)", r"1LS7[12]\d{2}01[1-4]\d{6}1", None, 5),
    _format("lasership", "LaserShip 1LSCX", r"1LSCX[0-9A-Z]{10}", None, 5),
    _format("lasership", "LaserShip 1LS (15)", r"1LS7[12]\d{10}", None, 4),
    _format("lasership", "LaserShip L", r"L[AIEHNX][1-3]\d{7}", None, 3),
    # Canada
    _format("canada_post", "Canada Post (16)", r"\d{16}", _trailing(check_digits.gs1_mod10), 2),
    _format("purolator", "Purolator (12)", r"[0-5]\d{11}", _trailing(check_digits.luhn), 3),
    _format("purolator", "Purolator PIN", r"[A-Z]{3}\d{9}", None, 1, generic=True),
    _format("canpar", "Canpar (22)", r"[CDKLSUXZ]\d{21}", None, 2),
    # Europe
    _format(
        "dpd", "DPD parcel (28)", r"\d{27}[0-9A-Z]", _trailing(check_digits.iso7064_mod37_36), 3
    ),
    _format(
        "dpd", "DPD parcel (14)", r"\d{14}[0-9A-Z]", _trailing(check_digits.iso7064_mod37_36), 2
    ),
    _format("yodel", "Yodel", r"J?JD\d{16}", None, 3),
    _format("evri", "Evri", r"H(?=[A-Z]*\d)[0-9A-Z]{15}", None, 1),
    _format("evri", "Evri (16)", r"\d{16}", None, 0, generic=True),
    _format("landmark", "Landmark Global LTN", r"LTN\d{8,10}N\d", None, 5),
    # Cross-border and Asia
    _format("yunexpress", "YunExpress", r"YT\d{16}", None, 3),
    _format("cainiao", "Cainiao LP", r"LP\d{14,16}", None, 3),
    _format("cainiao", "Cainiao CN", r"CN[A-Z]{2,4}\d{9,16}", None, 2),
    _format("yanwen", "Yanwen", r"[A-Z]{2}\d{9}YP", None, 4),
    _format("4px", "4PX", r"4PX\d{10,18}(?:CN)?", None, 4),
    _format("jt_express", "J&T Express (Indonesia)", r"J[PXB]\d{10}", None, 3),
    _format("jt_express", "J&T Express (China)", r"JT\d{13}", None, 3),
    _format("jt_express", "J&T Express (12)", r"[6-9]\d{11}", None, 0, generic=True),
    _format(
        "spx", "SPX Express", r"SPX(?:ID|TH|VN|MY|PH|SG|TW|BR|MX|CO|CL)\d{9,16}[0-9A-Z]?", None, 4
    ),
    _format(
        "ninja_van", "Ninja Van", rf"NV(?:SG|MY|ID|PH|TH|VN){_HAS_DIGIT}[0-9A-Z]{{8,20}}", None, 4
    ),
    _format("flash_express", "Flash Express", r"TH\d{2}(?=[A-Z]*\d)[0-9A-Z]{8,11}", None, 2),
    _format(
        "kerry_express",
        "Kerry Express",
        rf"(?:KEX|KER|KBK|KRTH){_HAS_DIGIT}[0-9A-Z]{{7,15}}",
        None,
        3,
    ),
    # Estafeta's 22-character waybills and 10-digit codes, JNE's and SiCepat's digit-only airway
    # bills and LBC's numbers carry no check digit and no fixed prefix: as formats they would
    # outrank a mistyped USPS, DHL or FedEx number, so those carriers are recognised by name or
    # link only.
    # Correos (Spain) domestic Paq codes: 23 characters, "P" and a service letter first and a
    # letter last; international items use S10.
    _format("post_es", "Correos domestic (23)", r"P[A-Z](?=[0-9A-Z]*\d)[0-9A-Z]{20}[A-Z]", None, 2),
    # North American freight and regional couriers
    _format(
        "old_dominion",
        "Old Dominion PRO",
        r"(?:77[78]|072|780)\d{8}",
        _trailing(check_digits.luhn),
        3,
    ),
    _format("old_dominion", "Old Dominion guaranteed", r"80\d{9}", _trailing(check_digits.luhn), 3),
    _format("gofo", "GOFO Express", r"GFUS\d{14}", None, 5),
    _format("speedee", "Spee-Dee", r"SP\d{18}", None, 3),
)
"""Every known format. Order within the table only breaks exact ties."""
