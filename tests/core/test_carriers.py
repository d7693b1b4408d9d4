"""The carrier catalogue, detection ranking, overrides, order ids and free-text extraction."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from core import check_digits
from core.carrier_formats import FORMATS, S10_COUNTRIES
from core.carriers import (
    CARRIERS,
    PRIORITY,
    Readings,
    detect,
    format_matches,
    get_carrier,
    looks_like_order_id,
    normalise,
    readings,
    served_countries,
    validate,
)
from core.models import Carrier, CarrierMatch

REQUIRED_CODES = (
    *("ups", "usps", "fedex", "dhl", "amazon", "ontrac", "lasership", "canada_post"),
    *("purolator", "dpd", "yodel", "evri", "royal_mail", "landmark", "yunexpress"),
    *("jt_express", "spx", "ninja_van", "flash_express", "kerry_express", "cainiao"),
    *("yanwen", "4px", "canpar", "old_dominion", "gofo", "speedee"),
    *("jne", "sicepat", "ghn", "ghtk", "lbc", "estafeta", "post_my", "post_es"),
)


def codes(matches: list[CarrierMatch]) -> list[str]:
    return [m.carrier.code for m in matches]


def with_check(data: str, algorithm: str = "gs1") -> str:
    compute = {
        "gs1": check_digits.gs1_mod10,
        "fedex": check_digits.fedex_express,
        "luhn": check_digits.luhn,
    }[algorithm]
    return data + compute(data)


def s10_number(serial: str, service: str = "RR", country: str = "CN") -> str:
    return f"{service}{serial}{check_digits.s10(serial)}{country}"


# --- catalogue ------------------------------------------------------------------------------


def test_catalogue_has_every_required_carrier() -> None:
    missing = [code for code in REQUIRED_CODES if code not in CARRIERS]
    assert missing == []
    assert all(code in CARRIERS for code in PRIORITY)


def test_catalogue_is_read_only_and_keyed_by_lower_case_codes() -> None:
    for code, carrier in CARRIERS.items():
        assert isinstance(carrier, Carrier)
        assert carrier.code == code == code.lower()
        assert carrier.name and carrier.region and carrier.services
    with pytest.raises(TypeError):
        CARRIERS["new"] = CARRIERS["ups"]  # type: ignore[index]


def test_every_national_post_is_in_the_catalogue_with_its_country() -> None:
    named = {"GB": "royal_mail", "US": "usps", "CA": "canada_post"}
    for country_code, country in S10_COUNTRIES.items():
        if country_code in named:
            assert f"post_{country_code.lower()}" not in CARRIERS
            assert get_carrier(f"post_{country_code.lower()}") == CARRIERS[named[country_code]]
        else:
            assert CARRIERS[f"post_{country_code.lower()}"].region == country
    assert CARRIERS["post_cn"].name == "China Post"
    assert CARRIERS["post_de"].name == "Deutsche Post"
    assert CARRIERS["post_cv"].name == "Cape Verde postal service"


@pytest.mark.parametrize("code", sorted(CARRIERS))
def test_every_carrier_links_to_a_tracking_page(code: str) -> None:
    carrier = CARRIERS[code]
    assert "{number}" in carrier.url_template
    url = carrier.tracking_url("AB123456785CN")
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.netloc
    assert "AB123456785CN" in url
    assert "{" not in url


def test_south_east_asian_and_latin_american_carriers_serve_their_markets() -> None:
    markets = {
        "jne": {"ID"},
        "sicepat": {"ID"},
        "ghn": {"VN"},
        "ghtk": {"VN"},
        "lbc": {"PH"},
        "estafeta": {"MX"},
        "post_my": {"MY"},
        "post_es": {"ES"},
    }
    for code, countries in markets.items():
        assert served_countries(CARRIERS[code]) == frozenset(countries), code
    assert {"ID", "TH", "VN", "MY", "PH"} <= (served_countries(CARRIERS["jt_express"]) or set())


def test_pos_malaysia_and_correos_numbers_link_to_their_own_tracking_pages() -> None:
    pos = s10_number("12345678", "EE", "MY")
    match = detect(pos)[0]
    assert (match.carrier.code, match.check_digit_valid) == ("post_my", True)
    assert match.carrier.tracking_url(pos) == f"https://tracking.pos.com.my/tracking/{pos}"
    paq = detect("PQ4F6P0703673180128001V")[0]
    assert (paq.carrier.code, paq.check_digit_valid) == ("post_es", None)
    assert "correos.es" in paq.carrier.tracking_url("PQ4F6P0703673180128001V")


def test_every_format_names_a_catalogued_carrier() -> None:
    for number_format in FORMATS:
        assert number_format.carrier in CARRIERS or number_format.resolve is not None


# --- get_carrier ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("ups", "ups"),
        ("UPS", "ups"),
        (" FedEx ", "fedex"),
        ("Royal Mail", "royal_mail"),
        ("royal_mail", "royal_mail"),
        ("J&T", "jt_express"),
        ("J&T Express", "jt_express"),
        ("jnt", "jt_express"),
        ("Shopee Xpress", "spx"),
        ("Ninja Van", "ninja_van"),
        ("Hermes", "evri"),
        ("canada post", "canada_post"),
        ("China Post", "post_cn"),
        ("china_post", "post_cn"),
        ("post_cn", "post_cn"),
        ("Deutsche Post", "post_de"),
        ("4PX", "4px"),
        ("AliExpress", "cainiao"),
        ("Spee-Dee Delivery", "speedee"),
        ("JNE", "jne"),
        ("SiCepat", "sicepat"),
        ("Giao Hang Nhanh", "ghn"),
        ("Giao Hàng Tiết Kiệm", "ghtk"),
        ("LBC", "lbc"),
        ("Estafeta", "estafeta"),
        ("Pos Laju", "post_my"),
        ("Pos Malaysia", "post_my"),
        ("Correos", "post_es"),
        ("KEX", "kerry_express"),
    ],
)
def test_get_carrier_accepts_codes_names_and_aliases(text: str, code: str) -> None:
    carrier = get_carrier(text)
    assert carrier is not None
    assert carrier.code == code


@pytest.mark.parametrize("text", ["", "   ", "pigeon", "post_xx", "&&&"])
def test_get_carrier_unknown_is_none(text: str) -> None:
    assert get_carrier(text) is None


# --- detect ---------------------------------------------------------------------------------


def test_normalise_strips_spaces_dashes_and_case() -> None:
    assert normalise("  1z 5r8-939\u20130357567127\n") == "1Z5R89390357567127"


def test_detect_ups_with_spaces_and_lower_case() -> None:
    matches = detect(" 1z 5r8 939 0357567127 ")
    assert codes(matches) == ["ups"]
    assert matches[0].number == "1Z5R89390357567127"
    assert matches[0].check_digit_valid is True
    assert matches[0].format_name == "UPS 1Z"


def test_detect_names_the_issuing_post_of_an_s10_number() -> None:
    number = s10_number("12345678", "EE", "DE")
    [match] = detect(number)
    assert match.carrier.code == "post_de"
    assert match.country == "Germany"
    assert match.format_name == "UPU S10 (EMS)"
    assert match.check_digit_valid is True
    assert match.carrier.tracking_url(number).endswith(number)


def test_s10_goes_to_the_named_posts_of_the_uk_us_and_canada() -> None:
    assert codes(detect(s10_number("12345678", "RB", "GB"))) == ["royal_mail"]
    assert codes(detect(s10_number("12345678", "EA", "US"))) == ["usps"]
    assert codes(detect(s10_number("12345678", "CP", "CA"))) == ["canada_post"]


def test_s10_with_unknown_country_is_not_a_match() -> None:
    assert detect("RB123456785XX") == []


def test_verified_check_digit_beats_format_only() -> None:
    # 18 digits: a FedEx SSCC-18 with a verified GS1 check digit, nothing else fits.
    number = with_check("57646141303878575")
    assert detect(number)[0].check_digit_valid is True


def test_failed_check_digits_come_last_and_can_be_left_out() -> None:
    # A Canada Post number with a wrong check digit: Evri's plain 16 digits (format only)
    # first, then the failed Canada Post reading, reported so a typo can be pointed out.
    good = with_check("007393800054929")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    matches = detect(bad)
    assert codes(matches) == ["evri", "canada_post"]
    assert [m.check_digit_valid for m in matches] == [None, False]
    assert codes(detect(bad, include_invalid=False)) == ["evri"]
    assert codes(detect(good))[0] == "canada_post"


def test_more_specific_format_wins_between_two_verified_readings() -> None:
    # USPS 420 + ZIP routing vs FedEx 34: both verify, the routed IMpb is more specific.
    number = "4201002334249200190132607600833457"
    assert codes(detect(number))[0] == "usps"


def test_collisions_return_every_candidate() -> None:
    # A 12-digit number starting 0–5 that passes both Luhn (Purolator) and FedEx's check.
    number = next(
        candidate
        for candidate in (with_check(f"{n:011d}", "luhn") for n in range(10_000_000_000, 10**11))
        if check_digits.fedex_express(candidate[:11]) == candidate[11]
    )
    matches = detect(number)
    assert codes(matches)[:2] == ["purolator", "fedex"]
    assert all(m.check_digit_valid for m in matches[:2])


def test_format_only_ties_follow_carrier_priority() -> None:
    # Flash Express (Thailand) and DHL eCommerce both accept this TH-prefixed number.
    matches = detect("TH20011G6WX89A")
    assert codes(matches) == ["flash_express", "dhl"]
    assert all(m.check_digit_valid is None for m in matches)


def test_one_match_per_carrier_but_format_matches_lists_all() -> None:
    number = "GM2951173225174494"
    assert codes(detect(number)) == ["dhl"]
    names = [m.format_name for m in format_matches(number)]
    assert names == ["DHL Global Mail", "DHL eCommerce"]


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("JP1234567890", "jt_express"),
        ("SPXID012345678901", "spx"),
        ("NVSGSHOPE000123456", "ninja_van"),
        ("KEX0123456789", "kerry_express"),
        ("LP00123456789012", "cainiao"),
        ("UG123456789YP", "yanwen"),
        ("4PX3000123456789CN", "4px"),
        ("YT2229521272164446", "yunexpress"),
        ("LTN74207623N1", "landmark"),
        ("TBA000000000000", "amazon"),
        ("1LS717793482164", "lasership"),
        ("DT123456789012", "fedex"),
        ("MI123456000123456789", "ups"),
    ],
)
def test_format_only_carriers(number: str, code: str) -> None:
    matches = detect(number)
    assert matches[0].carrier.code == code
    assert matches[0].check_digit_valid is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hello", "----", "1Z", "🙂📦", "1Z5R8939035756712７", "x" * 10_000, "<b>1</b>"],
)
def test_detect_returns_nothing_for_non_numbers(text: str) -> None:
    assert detect(text) == []


def test_detect_tolerates_non_strings() -> None:
    assert detect(None) == []  # type: ignore[arg-type]
    assert detect(12345678901) == []  # type: ignore[arg-type]


# --- validate (user override) ---------------------------------------------------------------


def test_validate_returns_the_reading_for_the_named_carrier() -> None:
    match = validate("1Z5R89390357567127", "UPS")
    assert match is not None
    assert match.carrier.code == "ups"
    assert match.check_digit_valid is True


def test_validate_picks_the_requested_carrier_of_a_collision() -> None:
    number = "4201002334249200190132607600833457"
    fedex = validate(number, "fedex")
    assert fedex is not None
    assert fedex.carrier.code == "fedex"
    assert fedex.format_name == "FedEx Express (34)"


def test_validate_reports_a_failed_check_digit() -> None:
    match = validate("1Z5R89390357567128", "ups")
    assert match is not None
    assert match.check_digit_valid is False


def test_validate_accepts_names_for_s10_posts() -> None:
    match = validate(s10_number("87654321", "RR", "GB"), "Royal Mail")
    assert match is not None
    assert match.carrier.code == "royal_mail"
    assert match.country == "United Kingdom"


@pytest.mark.parametrize(
    ("number", "carrier"),
    [("1Z5R89390357567127", "fedex"), ("1Z5R89390357567127", "pigeon"), ("", "ups")],
)
def test_validate_none_when_the_number_does_not_fit(number: str, carrier: str) -> None:
    assert validate(number, carrier) is None


# --- order ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("576461413038785752", True),
        ("577828281214600000", True),
        (" 5764 6141 3038 7857 52 ", True),
        ("57646141303878575", True),
        ("5764614130387857521", True),
        ("5764614130387857", False),
        ("57646141303878575212", False),
        ("676461413038785752", False),
        ("1Z5R89390357567127", False),
        ("", False),
    ],
)
def test_looks_like_order_id(text: str, expected: bool) -> None:
    assert looks_like_order_id(text) is expected


def test_readings_give_both_order_id_and_tracking_reading() -> None:
    # This TikTok Shop sample order id also passes the FedEx SSCC-18 check digit.
    both = readings("576461413038785752")
    assert isinstance(both, Readings)
    assert both.order_id == "576461413038785752"
    assert codes(both.matches) == ["fedex"]
    assert both.matches[0].check_digit_valid is True


def test_readings_of_a_plain_tracking_number_have_no_order_id() -> None:
    plain = readings("1Z5R89390357567127")
    assert plain.order_id is None
    assert codes(plain.matches) == ["ups"]
