"""The reader on its own: cleaning, runs of groups, links, carrier words, typos and fakes."""

from __future__ import annotations

import pytest

from core import carriers
from core.check_digits import s10
from core.reader import (
    MAX_NUMBERS,
    clean,
    corrections,
    is_help_word,
    looks_fake,
    read,
)


def numbers(text: str, *, command: bool = False) -> list[str]:
    return [pasted.number for pasted in read(text, command=command).numbers]


# --- cleaning -----------------------------------------------------------------------------------


def test_clean_brings_fullwidth_and_other_scripts_digits_to_ascii() -> None:
    assert clean("１Ｚ９９９") == "1Z999"
    arabic_indic = "".join(chr(0x660 + int(digit)) for digit in "771200000041")
    assert clean(arabic_indic) == "771200000041"
    assert clean("๗๗๑๒") == "7712"  # Thai digits


def test_clean_drops_invisible_characters_and_unifies_dashes() -> None:
    assert clean("\ufeff1Z\u200b999\u2060AA1\u00ad0") == "1Z999AA10"
    assert clean("9400\u20131112\u20140108\u2212") == "9400-1112-0108-"


def test_clean_keeps_ascii_text_untouched() -> None:
    text = "Track 1z999 please!"
    assert clean(text) is text


# --- e-mails and messages -------------------------------------------------------------------------

EMAIL = """\
Hi Sam,

Your order 576461413038785752 has shipped in two boxes!
Box 1: UPS 1Z 5R8 939 0357567127 (arrives Tuesday)
Box 2 - USPS tracking: 9400-1112-0108-0805-4830-16.
Questions? Call 1-800-555-0199 or reply before 12/31/2025.
Again, box 1 is 1Z5R89390357567127.
Return label: RB123456785GB
"""


def test_numbers_in_an_email_in_order_without_duplicates_or_the_order_id() -> None:
    reading = read(EMAIL)
    assert [p.number for p in reading.numbers] == [
        "1Z5R89390357567127",
        "9400111201080805483016",
        "RB123456785GB",
    ]
    # The carriers the e-mail names next to each number choose them.
    assert [p.carrier for p in reading.numbers] == ["ups", "usps", None]
    assert reading.unread == ()


def test_keeps_order_and_drops_duplicates() -> None:
    text = "LTN74207623N1, then YT2229521272164446; again ltn74207623n1"
    assert numbers(text) == ["LTN74207623N1", "YT2229521272164446"]


def test_plain_digit_runs_are_not_numbers_in_free_text() -> None:
    # Phone numbers, dates and a 14-digit reference fit no distinctive format.
    text = "Call 0800 123 4567, ref 60120172242323, on 2025-12-31 at 10:30."
    assert numbers(text) == []


def test_odd_text_never_fails() -> None:
    assert numbers("") == []
    assert numbers("🙂 " * 50) == []
    assert read(None).numbers == ()  # type: ignore[arg-type]


def test_a_carrier_named_in_the_message_lets_its_plain_format_count() -> None:
    sms = "Your order has shipped with J&T Express, tracking number 812345678901. Thanks!"
    reading = read(sms)
    assert [(p.number, p.carrier) for p in reading.numbers] == [("812345678901", "jt_express")]
    assert numbers("Tracking number 812345678901. Thanks!") == []


def test_more_numbers_than_the_limit_are_counted() -> None:
    many = " ".join(f"RB{serial}{s10(serial)}GB" for serial in ("12345678", "00000017", "00000024"))
    many += " 1ZSBX1230300000263 771200000041 9400111899000000000275 LTN74207623N1"
    reading = read(many)
    assert len(reading.numbers) == MAX_NUMBERS
    assert reading.more == 7 - MAX_NUMBERS


# --- groups -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("9400 1118 9900 0000 0002 75", "9400111899000000000275"),
        ("1Z SBX 123 03 0000 0263", "1ZSBX1230300000263"),
        ("7712-0000-0041", "771200000041"),
        ("7712.0000.0041", "771200000041"),
        ("RB 123 456 785 GB", "RB123456785GB"),
    ],
)
def test_printed_groups_are_joined_when_the_whole_is_valid(text: str, number: str) -> None:
    assert numbers(text) == [number]
    assert numbers(f"Tracking number: {text} (thanks)") == [number]


def test_a_run_that_is_a_valid_number_and_a_fragment_is_not_read() -> None:
    reading = read("9400 1118 9900 0000 0000 275")
    assert reading.numbers == ()
    assert reading.unread == ("9400 1118 9900 0000 0000 275",)


def test_two_whole_numbers_side_by_side_stay_two() -> None:
    assert numbers("1ZSBX1230300000263 771200000041") == ["1ZSBX1230300000263", "771200000041"]


# --- links --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "number", "carrier"),
    [
        (
            "https://www.ups.com/track?loc=en_US&tracknum=1ZSBX1230300000263&requester=ST/",
            "1ZSBX1230300000263",
            "ups",
        ),
        ("https://www.fedex.com/fedextrack/?trknbr=771200000041", "771200000041", "fedex"),
        (
            "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899000000000275",
            "9400111899000000000275",
            "usps",
        ),
        (
            "https://www.royalmail.com/track-your-item#/tracking-results/RB123456785GB",
            "RB123456785GB",
            "royal_mail",
        ),
        # A DHL waybill is too plain to stand out in text, but counts on DHL's own site.
        (
            "https://www.dhl.com/global-en/home/tracking.html?tracking-id=1234567891&submit=1",
            "1234567891",
            "dhl",
        ),
        ("t.17track.net/en#nums=1ZSBX1230300000263", "1ZSBX1230300000263", None),
    ],
)
def test_numbers_come_out_of_tracking_links(link: str, number: str, carrier: str | None) -> None:
    reading = read(f"Track it here: {link} thanks")
    assert [(p.number, p.carrier) for p in reading.numbers] == [(number, carrier)]


# --- carrier words ------------------------------------------------------------------------------


def test_a_fitting_carrier_word_chooses_the_carrier() -> None:
    pasted = read("771200000041 fedex", command=True).numbers[0]
    assert (pasted.carrier, pasted.named) == ("fedex", None)


def test_a_carrier_word_that_does_not_fit_stays_text() -> None:
    reading = read("1ZSBX1230300000263 amazon headphones", command=True)
    pasted = reading.numbers[0]
    assert pasted.carrier is None
    assert pasted.named is not None and pasted.named.code == "amazon"
    assert reading.words == "amazon headphones"


def test_insisting_on_a_carrier_keeps_it() -> None:
    pasted = read("771200000041 evri anyway", command=True).numbers[0]
    assert (pasted.carrier, pasted.named, pasted.insist) == ("evri", None, True)


def test_multi_word_carrier_names_are_read() -> None:
    pasted = read("RB123456785GB royal mail", command=True).numbers[0]
    assert pasted.carrier == "royal_mail"


# --- typos and fakes ----------------------------------------------------------------------------


def test_a_single_slip_has_its_correction() -> None:
    typo = carriers.suspected_typos("1ZSBX1230300000264")
    assert typo and typo[0].carrier.code == "ups"
    fixes = corrections(typo[0])
    assert "1ZSBX1230300000263" in fixes
    assert all(carriers.detect(fix)[0].check_digit_valid for fix in fixes)


def test_samples_and_made_up_numbers_look_fake() -> None:
    assert looks_fake("1Z999AA10123456784")
    assert looks_fake("111111111111")
    assert looks_fake("123456789012")
    assert not looks_fake("1ZSBX1230300000263")
    assert not looks_fake("771200000041")


@pytest.mark.parametrize("word", ["help", "HI", "Hello!", "start", "?", "hola", " ajuda "])
def test_plain_help_words(word: str) -> None:
    assert is_help_word(word)


@pytest.mark.parametrize("word", ["helpme", "hi there", "1Z999AA10123456784", ""])
def test_other_text_is_not_a_help_word(word: str) -> None:
    assert not is_help_word(word)
