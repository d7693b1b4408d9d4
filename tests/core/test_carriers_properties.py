"""Property tests: check digits catch single-digit changes; detection never raises."""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import check_digits
from core.carrier_formats import FORMATS, NumberFormat
from core.carriers import (
    CARRIERS,
    detect,
    format_matches,
    get_carrier,
    looks_like_order_id,
    readings,
    validate,
)

DIGITS = string.digits
ALNUM = string.digits + string.ascii_uppercase


@dataclass(frozen=True, slots=True)
class Built:
    """A valid number, where its checked digits sit, and which changes its check can't see."""

    number: str
    checked: range
    data_start: int
    blind: Callable[[int, str, str], bool]


def _never(position: int, old: str, new: str) -> bool:
    return False


def _ups_blind(data_start: int) -> Callable[[int, str, str], bool]:
    # Weights 1,2: on a doubled position a change of 5 adds 10, invisible modulo 10.
    def blind(position: int, old: str, new: str) -> bool:
        doubled = (position - data_start) % 2 == 1
        return doubled and abs(int(old) - int(new)) == 5

    return blind


def _mod7_blind(position: int, old: str, new: str) -> bool:
    # Changing a digit by 7 changes the number by a multiple of 7.
    return abs(int(old) - int(new)) == 7


Builder = Callable[[st.DataObject], Built]


def _digits(source: st.DataObject, size: int) -> str:
    return source.draw(st.text(DIGITS, min_size=size, max_size=size))


def _gs1(prefix_size: int, data_size: int, lead: str = "") -> Builder:
    """``lead`` + random digits; the GS1 check covers the last ``data_size`` of them."""

    def build(source: st.DataObject) -> Built:
        head = lead + _digits(source, prefix_size - len(lead))
        data = _digits(source, data_size)
        number = head + data + check_digits.gs1_mod10(data)
        return Built(number, range(prefix_size, len(number)), prefix_size, _never)

    return build


def _fedex(head_size: int, tail_size: int = 0, lead: str = "", data_size: int = 11) -> Builder:
    def build(source: st.DataObject) -> Built:
        head = lead + _digits(source, head_size - len(lead))
        data = _digits(source, data_size)
        check = check_digits.fedex_express(data)
        # Remainders 0 and 10 both print as 0: a change between them is invisible.
        assume(check != "0")
        number = head + data + check + _digits(source, tail_size)
        return Built(number, range(head_size, head_size + data_size + 1), head_size, _never)

    return build


def _luhn(lead_choices: tuple[str, ...], size: int) -> Builder:
    def build(source: st.DataObject) -> Built:
        lead = source.draw(st.sampled_from(lead_choices))
        data = lead + _digits(source, size - 1 - len(lead))
        number = data + check_digits.luhn(data)
        return Built(number, range(len(number)), 0, _never)

    return build


def _ups_1z(source: st.DataObject) -> Built:
    data = source.draw(st.text(ALNUM, min_size=15, max_size=15))
    number = "1Z" + data + check_digits.ups_mod10(data)
    return Built(number, range(2, 18), 2, _ups_blind(2))


def _ups_waybill(source: st.DataObject) -> Built:
    data = _digits(source, 9)
    number = source.draw(st.sampled_from("AHJKTV")) + data + check_digits.ups_mod10(data)
    return Built(number, range(1, 11), 1, _ups_blind(1))


def _ontrac(source: st.DataObject) -> Built:
    data = source.draw(st.sampled_from("CD")) + _digits(source, 13)
    number = data + check_digits.ups_mod10(data)
    return Built(number, range(1, 15), 0, _ups_blind(0))


def _dhl(source: st.DataObject) -> Built:
    data = _digits(source, source.draw(st.sampled_from((9, 10))))
    number = data + check_digits.dhl_mod7(data)
    return Built(number, range(len(number)), 0, _mod7_blind)


def _dpd(size: int) -> Builder:
    def build(source: st.DataObject) -> Built:
        data = _digits(source, size)
        number = data + check_digits.iso7064_mod37_36(data)
        return Built(number, range(len(number)), 0, _never)

    return build


def _s10(source: st.DataObject) -> Built:
    serial = _digits(source, 8)
    check = check_digits.s10(serial)
    # Remainders 0 and 6 both print as 5: a change between them is invisible.
    assume(check != "5")
    service = source.draw(st.text(string.ascii_uppercase, min_size=2, max_size=2))
    country = source.draw(st.sampled_from(("GB", "US", "CN", "DE", "TH", "CV")))
    return Built(service + serial + check + country, range(2, 11), 2, _never)


def _usps_impb(source: st.DataObject) -> Built:
    size = source.draw(st.sampled_from((22, 26, 30)))
    lead = "94" if size == 30 else source.draw(st.sampled_from(("92", "93", "94", "95")))
    data = lead + _digits(source, size - 3)
    number = data + check_digits.gs1_mod10(data)
    return Built(number, range(len(number)), 0, _never)


def _usps_routed(source: st.DataObject) -> Built:
    body = _usps_impb(source)
    routing = "420" + _digits(source, 5)
    number = routing + body.number

    # The ZIP is routing data outside the check digit; only the body is checked. Its length
    # (5 or 9) is not marked, so a changed digit is invisible when the changed number also
    # reads as a 9-digit ZIP followed by a different body that passes its own check.
    def blind(position: int, old: str, new: str) -> bool:
        changed = number[:position] + new + number[position + 1 :]
        return _usps_body_reads(changed[3 + 9 :])

    return Built(number, range(8, 8 + len(body.number)), 8, blind)


def _usps_body_reads(body: str) -> bool:
    return any(
        _accepts(CHECKED_FORMATS[name], body)
        for name in ("USPS IMpb", "USPS (20)", "USPS legacy (20)")
    )


def _usps_legacy(source: st.DataObject) -> Built:
    data = _digits(source, 19)
    number = data + check_digits.gs1_mod10("91" + data)
    return Built(number, range(20), 0, _never)


BUILDERS: dict[str, Builder] = {
    "UPU S10": _s10,
    "UPS 1Z": _ups_1z,
    "UPS waybill": _ups_waybill,
    "USPS IMpb with ZIP routing": _usps_routed,
    "USPS IMpb": _usps_impb,
    "USPS (20)": _gs1(0, 19),
    "USPS legacy (20)": _usps_legacy,
    "FedEx Ground 96 (22)": _gs1(7, 14, lead="96"),
    "FedEx Ground (34)": _fedex(20, lead="96", data_size=13),
    "FedEx ASTRA (32)": _fedex(16, tail_size=4, lead="3"),
    "FedEx Express (12)": _fedex(0),
    "FedEx Ground (15)": _gs1(0, 14),
    "FedEx Ground SSCC-18": _gs1(0, 17),
    "FedEx Express (34)": _fedex(20, lead="1", data_size=13),
    "FedEx Ground Economy (20)": _gs1(0, 19),
    "DHL Express waybill": _dhl,
    "OnTrac": _ontrac,
    "Canada Post (16)": _gs1(0, 15),
    "Purolator (12)": _luhn(("0", "1", "2", "3", "4", "5"), 12),
    "DPD parcel (28)": _dpd(27),
    "DPD parcel (14)": _dpd(14),
    "Old Dominion PRO": _luhn(("777", "778", "072", "780"), 11),
    "Old Dominion guaranteed": _luhn(("80",), 11),
}

CHECKED_FORMATS: dict[str, NumberFormat] = {f.name: f for f in FORMATS if f.check is not None}


def test_every_check_digit_format_has_a_property() -> None:
    assert set(BUILDERS) == set(CHECKED_FORMATS)


def _accepts(number_format: NumberFormat, number: str) -> bool:
    assert number_format.check is not None
    return number_format.pattern.fullmatch(number) is not None and number_format.check(number)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(BUILDERS)))
def test_a_generated_number_verifies(data: st.DataObject, name: str) -> None:
    built = BUILDERS[name](data)
    assert _accepts(CHECKED_FORMATS[name], built.number)
    assert any(
        m.check_digit_valid
        for m in format_matches(built.number)
        if m.format_name == name or m.format_name.startswith(f"{name} (")
    )


@settings(max_examples=400, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(BUILDERS)))
def test_one_changed_digit_fails_the_check(data: st.DataObject, name: str) -> None:
    built = BUILDERS[name](data)
    positions = [i for i in built.checked if built.number[i].isdigit()]
    position = data.draw(st.sampled_from(positions))
    old = built.number[position]
    new = data.draw(st.sampled_from([d for d in DIGITS if d != old]))
    assume(not built.blind(position, old, new))
    changed = built.number[:position] + new + built.number[position + 1 :]
    assert not _accepts(CHECKED_FORMATS[name], changed), (built.number, changed)


def test_the_blind_spots_are_real() -> None:
    # What the algorithms cannot see, shown once so the assumptions above are not hiding bugs.
    ups = "1Z5R89390357567127"
    ups_blind = ups[:5] + str((int(ups[5]) + 5) % 10) + ups[6:]  # a doubled position
    assert check_digits.ups_mod10(ups_blind[2:17]) == ups_blind[17]
    dhl = "3318810025"
    dhl_blind = "3318810" + "7" + "25"  # 0 → 7 changes the number by a multiple of 7
    assert check_digits.dhl_mod7(dhl_blind[:-1]) == dhl_blind[-1] == dhl[-1]
    routed = "420" + "00000" + "92219100000000000000000006"  # ZIP 00000, a 26-digit body
    assert _accepts(CHECKED_FORMATS["USPS IMpb"], routed[8:])
    routed_blind = routed[:15] + "6" + routed[16:]  # its 26-digit body no longer checks...
    assert not _accepts(CHECKED_FORMATS["USPS IMpb"], routed_blind[8:])
    # ...but ZIP 000009221 followed by a 22-digit body does.
    assert _accepts(CHECKED_FORMATS["USPS IMpb"], routed_blind[12:])


TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=ALNUM + " -", max_size=80),
    st.text(alphabet=ALNUM.lower() + " -\u2013\n\t.,#:", max_size=200),
    st.binary(max_size=100).map(lambda raw: raw.decode("latin-1")),
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_detection_never_raises(text: str) -> None:
    matches = detect(text)
    assert all(m.carrier.code in CARRIERS for m in matches)
    assert len({m.carrier.code for m in matches}) == len(matches)
    ranks = [{True: 0, None: 1, False: 2}[m.check_digit_valid] for m in matches]
    assert ranks == sorted(ranks)
    format_matches(text)
    readings(text)
    looks_like_order_id(text)
    get_carrier(text)
    validate(text, "ups")
    validate("1Z5R89390357567127", text)
