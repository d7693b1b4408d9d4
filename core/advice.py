"""What parcelbot says about a number that is not quite right: typos, fakes, carriers that do
not fit, and pasted text it could not read whole.

Pure functions from readings (``core.reader``) to ``Reply`` objects and sentences; the router
and the service decide when to use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from core import carriers, faq
from core.carrier_formats import S10_COUNTRIES
from core.models import Carrier, CarrierMatch, TrackingNumber
from core.reader import INSIST_WORD, MAX_NUMBERS, corrections, looks_fake, repairs
from core.replies import Button, Reply, ReplyKind

__all__ = [
    "DISPUTE_AFTER_DAYS",
    "faq_reply",
    "mismatch_reply",
    "more_numbers_reply",
    "number_notes",
    "region_note",
    "typo_reply",
    "unread_sentence",
]

DISPUTE_AFTER_DAYS: Final = 7
"""Days without a first scan after which a buyer should open a dispute over a fake number."""


def _names(matches: Sequence[CarrierMatch]) -> str:
    names = list(dict.fromkeys(match.carrier.name for match in matches))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _article(word: str) -> str:
    # "a UPS number", "an Evri number": initialisms starting with U sound like "you".
    return "an" if word[:1].upper() in "AEIO" else "a"


def typo_reply(
    number: TrackingNumber,
    typos: Sequence[CarrierMatch],
    *,
    alternatives: Sequence[CarrierMatch] = (),
    known: Mapping[str, str] | None = None,
    verb: str = "track",
) -> Reply:
    """A number that fits a carrier's format but fails its check digit.

    Offers the one-character correction when exactly one exists (or exactly one of the chat's
    own parcels is one slip away), and the carriers whose formats have no check digit.
    """
    names = _names(typos)
    lines = [
        f"This looks like {_article(names)} {names} number but its check digit does not "
        "match — please check for a typo."
    ]
    buttons: list[Button] = []
    fixes = sorted({fix for match in typos for fix in corrections(match)})
    mine = [fix for fix in fixes if known and fix in known]
    if len(fixes) == 1:
        lines.append(f"Did you mean {fixes[0]}? It is the only valid number one slip away.")
        buttons.append(Button(f"Track {fixes[0]}", verb, (fixes[0],)))
    elif len(mine) == 1 and known is not None:
        label = known[mine[0]]
        lines.append(f"Did you mean {mine[0]}{f' ({label})' if label else ''}, one of yours?")
        buttons.append(Button(f"Track {mine[0]}", verb, (mine[0],)))
    for match in alternatives:
        buttons.append(Button(f"It is {match.carrier.name}", verb, (number, match.carrier.code)))
    if alternatives:
        lines.append(
            f"It also fits {_names(alternatives)}, whose numbers have no check digit: "
            "tap it if that is the carrier."
        )
    return Reply(
        f"Please check {number}",
        tuple(lines),
        buttons=tuple(buttons),
        kind=ReplyKind.CHOICE if buttons else ReplyKind.ERROR,
    )


def mismatch_reply(
    number: TrackingNumber,
    named: Carrier,
    fitting: Sequence[CarrierMatch],
    *,
    verb: str = "track",
) -> Reply:
    """The buyer named a carrier whose formats the number does not fit: say so and ask."""
    line = f"{number} does not fit {named.name}'s number formats"
    if fitting:
        names = _names(fitting)
        line += f"; it looks like {_article(names)} {names} number."
    else:
        line += "."
    buttons = [
        Button(match.carrier.name, verb, (number, match.carrier.code))
        for match in {match.carrier.code: match for match in fitting}.values()
    ]
    buttons.append(Button(f"{named.name} anyway", verb, (number, named.code, INSIST_WORD)))
    return Reply(
        f"Is {number} really {_article(named.name)} {named.name} number?",
        (
            line,
            f"Which carrier is it? To keep {named.name}, send "
            f"/{verb} {number} {named.code} {INSIST_WORD}.",
        ),
        buttons=tuple(buttons),
        kind=ReplyKind.CHOICE,
    )


def unread_sentence(pasted: str) -> str:
    """One sentence for a run that looks like a number but could not be read whole."""
    shown = pasted if len(pasted) <= 60 else pasted[:57] + "…"
    fixes = repairs(pasted)
    if len(fixes) == 1:
        return (
            f"I could not read “{shown}” as one whole tracking number — did you mean "
            f"{fixes[0]}, with one character less or more?"
        )
    return (
        f"I could not read “{shown}” as one whole tracking number; please check it against "
        "the label and send it again."
    )


def more_numbers_reply(more: int) -> Reply:
    """Numbers left out because a message held more than ``MAX_NUMBERS``."""
    return Reply(
        "More numbers",
        (
            f"I looked up the first {MAX_NUMBERS} numbers in your message; please send the "
            f"other {more} in another message.",
        ),
    )


def number_notes(number: str, match: CarrierMatch | None) -> tuple[str, ...]:
    """Warnings to add under a tracking reply: a sample or fake-looking number, a format
    without a check digit."""
    notes: list[str] = []
    if looks_fake(number):
        notes.append(
            f"⚠️ {number} looks like a sample or made-up number, not a real parcel's "
            "(fake numbers are a known seller trick). Ask the seller for the real one; if "
            f"nothing scans within {DISPUTE_AFTER_DAYS} days, open a dispute with the "
            "marketplace."
        )
    if match is not None and match.check_digit_valid is None:
        notes.append(
            f"{match.carrier.name} numbers carry no check digit, so I cannot spot a typo in "
            "them: if nothing shows up, compare the number with the label."
        )
    return tuple(notes)


def region_note(number: str, carrier_code: str, country: str) -> str | None:
    """A warning when ``carrier_code``'s parcels never reach ``country`` (ISO 3166-1 alpha-2,
    where the order is going): a number from a carrier that does not deliver there is a known
    sign of a fake. None when the carrier delivers there, anywhere, or it cannot be told.

    International post (UPU S10 numbers) is handed to the destination's own post, so a foreign
    post's number is never warned about.
    """
    carrier = carriers.get_carrier(carrier_code)
    code = country.strip().upper()
    if carrier is None or not code:
        return None
    served = carriers.served_countries(carrier)
    if served is None or code in served:
        return None
    matches = [m for m in carriers.detect(number) if m.carrier.code == carrier.code]
    if any(m.country for m in matches):  # read through its issuing country: S10 post
        return None
    where = S10_COUNTRIES.get(code, code)
    return (
        f"⚠️ {carrier.name} does not deliver in {where}, where this order is going, so "
        f"{number} may not be this order's parcel (a number from the wrong carrier is a known "
        "seller trick). Ask the seller for the real number; if nothing scans within "
        f"{DISPUTE_AFTER_DAYS} days, open a dispute with the marketplace."
    )


def faq_reply(item: faq.Topic) -> Reply:
    """The answer to one of the questions buyers ask most."""
    return Reply(item.title, item.lines)
