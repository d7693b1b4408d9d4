"""Carrier names as buyers write them in every language parcelbot speaks: in their own script
(Thai), with their accents (Vietnamese, Spanish) and under their local brands, looked up alone,
named after a number, and named anywhere in a message."""

from __future__ import annotations

import pytest

from core import reader
from core.carriers import get_carrier

NAMES = [
    # language, as typed, carrier code
    ("th", "ไปรษณีย์ไทย", "post_th"),
    ("th", "เคอรี่", "kerry_express"),
    ("th", "เคอรี่ เอ็กซ์เพรส", "kerry_express"),
    ("th", "แฟลช", "flash_express"),
    ("th", "แฟลช เอ็กซ์เพรส", "flash_express"),
    ("th", "เจแอนด์ที", "jt_express"),
    ("th", "นินจาแวน", "ninja_van"),
    ("vi", "Giao Hàng Nhanh", "ghn"),
    ("vi", "Giao Hàng Tiết Kiệm", "ghtk"),
    ("vi", "Bưu điện Việt Nam", "post_vn"),
    ("vi", "VNPost", "post_vn"),
    ("id", "Ninja Xpress", "ninja_van"),
    ("id", "Pos Indonesia", "post_id"),
    ("id", "J&T", "jt_express"),
    ("ms", "Pos Laju", "post_my"),
    ("ms", "Pos Malaysia", "post_my"),
    ("fil", "PHLPost", "post_ph"),
    ("fil", "LBC Express", "lbc"),
    ("es", "Correos de México", "post_mx"),
    ("es", "Correos", "post_es"),
    ("pt_BR", "Correios", "post_br"),
    ("en", "Shopee Express", "spx"),
    ("en", "SingPost", "post_sg"),
]

# Fits J&T's 12-digit format and FedEx's: the buyer's word decides, or is reported as not
# fitting the number.
NUMBER = "612345678901"


@pytest.mark.parametrize(("language", "name", "code"), NAMES)
def test_a_carrier_is_found_by_its_name_in_each_language(
    language: str, name: str, code: str
) -> None:
    carrier = get_carrier(name)
    assert carrier is not None, (language, name)
    assert carrier.code == code, (language, name)


@pytest.mark.parametrize(("language", "name", "code"), NAMES)
def test_a_carrier_named_after_the_number_is_read(language: str, name: str, code: str) -> None:
    (pasted,) = reader.read(f"{NUMBER} {name}", command=True).numbers
    said = pasted.carrier or (pasted.named.code if pasted.named is not None else None)
    assert said == code, (language, name)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("th", f"ส่งกับเจแอนด์ทีค่ะ เลขพัสดุ {NUMBER}"),
        ("th", f"เลขพัสดุเจแอนด์ที{NUMBER}"),
        ("vi", f"đơn gửi bằng J&T Express mã {NUMBER}"),
        ("id", f"resi J&T saya {NUMBER}"),
        ("es", f"lo envió J&T, guía {NUMBER}"),
    ],
)
def test_a_carrier_named_anywhere_in_a_message_picks_between_fitting_carriers(
    language: str, text: str
) -> None:
    (pasted,) = reader.read(text).numbers
    assert pasted.carrier == "jt_express", (language, text)
