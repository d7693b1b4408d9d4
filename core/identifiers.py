"""Turning what a buyer typed into a tracking number or an order id.

Normalisation trims the text, drops spaces and dashes and upper-cases it. Anything that cannot
be an identifier is rejected with one ``InvalidInput`` sentence saying what was wrong and what
a valid input looks like.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from core import carriers
from core.errors import InvalidInput
from core.i18n import N_, _
from core.models import CarrierMatch, OrderId, TrackingNumber
from core.reader import EXAMPLE_NUMBER, clean

__all__ = [
    "EXAMPLE",
    "MAX_RAW_LENGTH",
    "MAX_TRACKING_LENGTH",
    "MIN_TRACKING_LENGTH",
    "Identifier",
    "check_text",
    "normalise",
    "parse_identifier",
]

EXAMPLE = f"/track {EXAMPLE_NUMBER}"
MAX_RAW_LENGTH = 120
"""Longer input is refused before any work is done on it."""
MIN_TRACKING_LENGTH = 6
MAX_TRACKING_LENGTH = 40

_SEPARATORS = str.maketrans("", "", " -\u00a0\t")
_MARKUP = set("<>&\"'`;=(){}[]\\$|*%")


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier and every way it can be read.

    ``order_id`` is set when the text has the shape of a shop order id; ``matches`` lists the
    carriers whose formats fit, most likely first. Both may be set at once.
    """

    text: TrackingNumber
    order_id: OrderId | None
    matches: tuple[CarrierMatch, ...]


def check_text(raw: str, *, what: str = N_("message"), limit: int = 4096) -> str:
    """Refuse text no command should accept: too long or with control characters.

    Zero-width characters, the byte-order mark and direction marks are removed first and the
    text is brought to Unicode NFKC (``reader.clean``): they arrive with copied text and are
    never meant. Returns the text stripped of surrounding white space.
    """
    raw = clean(raw)
    if len(raw) > limit:
        raise InvalidInput(
            _("That {what} is too long ({length} characters); please send at most {limit}.").format(
                what=_(what), length=len(raw), limit=limit
            )
        )
    for char in raw:
        if char in "\t\n\r":
            continue
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co"}:
            raise InvalidInput(
                _(
                    "That {what} contains invisible control characters; please type it again."
                ).format(what=_(what))
            )
    return raw.strip()


def normalise(raw: str) -> str:
    """Trim, drop spaces and dashes, upper-case. Does no validation."""
    return raw.strip().translate(_SEPARATORS).upper()


def parse_identifier(raw: str) -> Identifier:
    """Read a tracking number or an order id out of ``raw``.

    Raises ``InvalidInput`` for empty, over-long, markup, emoji or control-character input.
    A number no carrier claims is still returned (with no matches): the caller decides
    whether the user named the carrier.
    """
    text = check_text(raw, what=N_("tracking number"), limit=MAX_RAW_LENGTH)
    if not text:
        raise InvalidInput(
            _("Please add a tracking number or order id, for example {example}.").format(
                example=EXAMPLE
            )
        )
    if any(char in _MARKUP for char in text):
        raise InvalidInput(
            _(
                "Tracking numbers contain only letters and digits; please remove symbols such "
                "as < > ' or ; and try again, for example {example}."
            ).format(example=EXAMPLE)
        )
    number = normalise(text)
    if not number.isascii() or not number.isalnum():
        raise InvalidInput(
            _(
                "Tracking numbers contain only the letters A–Z and digits; please check what "
                "you pasted, for example {example}."
            ).format(example=EXAMPLE)
        )
    if len(number) < MIN_TRACKING_LENGTH:
        raise InvalidInput(
            _(
                "“{number}” is too short for a tracking number or order id; they have at least "
                "{minimum} characters."
            ).format(number=number, minimum=MIN_TRACKING_LENGTH)
        )
    if len(number) > MAX_TRACKING_LENGTH:
        raise InvalidInput(
            _(
                "That is {length} characters long, too long for a tracking number; they have at "
                "most {maximum}."
            ).format(length=len(number), maximum=MAX_TRACKING_LENGTH)
        )
    order_id = OrderId(number) if carriers.looks_like_order_id(number) else None
    return Identifier(TrackingNumber(number), order_id, tuple(carriers.detect(number)))
