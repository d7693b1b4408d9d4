"""Check-digit algorithms used by parcel tracking numbers.

Every function takes the *data* part of a number (without its check character) as an
upper-case ASCII string and returns the check character the carrier would print, so a caller
verifies a number with ``compute(data) == check``. The functions never raise for input made of
the characters they document; anything else raises ``ValueError`` (callers only pass strings
already matched by a format's regular expression).
"""

from __future__ import annotations

__all__ = [
    "ALPHANUMERIC",
    "dhl_mod7",
    "fedex_express",
    "gs1_mod10",
    "iso7064_mod37_36",
    "luhn",
    "s10",
    "ups_mod10",
]

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
"""The 36 symbols of ISO/IEC 7064 MOD 37,36, in value order."""

_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_FEDEX_WEIGHTS = (1, 3, 7)


def _digit(char: str) -> int:
    if "0" <= char <= "9":
        return ord(char) - 48
    raise ValueError(f"not a digit: {char!r}")


def gs1_mod10(data: str) -> str:
    """GS1 / USPS / Canada Post modulo 10: weights 3,1,3,1… counted from the rightmost digit."""
    total = 0
    for position, char in enumerate(reversed(data)):
        total += _digit(char) * (3 if position % 2 == 0 else 1)
    return str(-total % 10)


def _ups_value(char: str) -> int:
    # UPS folds letters onto digits: A→2, B→3, … I→0, J→1, K→2 and so on.
    if "0" <= char <= "9":
        return ord(char) - 48
    if "A" <= char <= "Z":
        return (ord(char) - ord("A") + 2) % 10
    raise ValueError(f"not alphanumeric: {char!r}")


def ups_mod10(data: str) -> str:
    """UPS-style modulo 10: weights 1,2,1,2… from the left, letters folded onto digits.

    Used by UPS 1Z numbers (the 15 characters after ``1Z``), UPS waybills and OnTrac.
    """
    total = 0
    for position, char in enumerate(data):
        total += _ups_value(char) * (1 if position % 2 == 0 else 2)
    return str(-total % 10)


def fedex_express(data: str) -> str:
    """FedEx Express: weights 1,3,7 repeating from the rightmost digit; sum mod 11, then mod 10."""
    total = 0
    for position, char in enumerate(reversed(data)):
        total += _digit(char) * _FEDEX_WEIGHTS[position % 3]
    return str(total % 11 % 10)


def luhn(data: str) -> str:
    """Luhn (ISO/IEC 7812): double every second digit from the right, summing digits."""
    total = 0
    for position, char in enumerate(reversed(data)):
        value = _digit(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str(-total % 10)


def dhl_mod7(data: str) -> str:
    """DHL Express waybills: the remainder of the whole number divided by 7."""
    if not data.isascii() or not data.isdigit():
        raise ValueError(f"not a number: {data!r}")
    return str(int(data) % 7)


def s10(data: str) -> str:
    """UPU S10: weights 8,6,4,2,3,5,9,7 over the 8 serial digits; 11 minus the sum mod 11.

    A result of 10 is printed as 0 and 11 as 5.
    """
    if len(data) != len(_S10_WEIGHTS):
        raise ValueError(f"S10 serial must have 8 digits: {data!r}")
    total = sum(_digit(char) * weight for char, weight in zip(data, _S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        return "0"
    if check == 11:
        return "5"
    return str(check)


def iso7064_mod37_36(data: str) -> str:
    """ISO/IEC 7064 hybrid MOD 37,36 over digits and letters (DPD parcel numbers)."""
    product = 36
    for char in data:
        value = ALPHANUMERIC.find(char)
        if value < 0:
            raise ValueError(f"not alphanumeric: {char!r}")
        product = (product + value) % 36 or 36
        product = product * 2 % 37
    return ALPHANUMERIC[(37 - product) % 36]
