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
from core.i18n import _, ngettext
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
    if len(names) == 1:
        return names[0]
    return _("{carriers} or {carrier}").format(carriers=", ".join(names[:-1]), carrier=names[-1])


def _an(word: str) -> bool:
    # English says "a UPS number" but "an Evri number" (initialisms starting with U sound like
    # "you"); the catalog has both sentences, other languages translate them alike.
    return word[:1].upper() in "AEIO"


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
        (
            _(
                "This looks like an {carrier} number but its check digit does not match — "
                "please check for a typo."
            )
            if _an(names)
            else _(
                "This looks like a {carrier} number but its check digit does not match — "
                "please check for a typo."
            )
        ).format(carrier=names)
    ]
    buttons: list[Button] = []
    fixes = sorted({fix for match in typos for fix in corrections(match)})
    mine = [fix for fix in fixes if known and fix in known]
    if len(fixes) == 1:
        lines.append(
            _("Did you mean {number}? It is the only valid number one slip away.").format(
                number=fixes[0]
            )
        )
        buttons.append(Button(_("Track {number}").format(number=fixes[0]), verb, (fixes[0],)))
    elif len(mine) == 1 and known is not None:
        label = known[mine[0]]
        lines.append(
            _("Did you mean {number} ({label}), one of yours?").format(number=mine[0], label=label)
            if label
            else _("Did you mean {number}, one of yours?").format(number=mine[0])
        )
        buttons.append(Button(_("Track {number}").format(number=mine[0]), verb, (mine[0],)))
    for match in alternatives:
        buttons.append(
            Button(
                _("It is {carrier}").format(carrier=match.carrier.name),
                verb,
                (number, match.carrier.code),
            )
        )
    if alternatives:
        lines.append(
            _(
                "It also fits {carriers}, whose numbers have no check digit: tap it if that is "
                "the carrier."
            ).format(carriers=_names(alternatives))
        )
    return Reply(
        _("Please check {number}").format(number=number),
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
    if fitting:
        names = _names(fitting)
        line = (
            _("{number} does not fit {named}'s number formats; it looks like an {carrier} number.")
            if _an(names)
            else _(
                "{number} does not fit {named}'s number formats; it looks like a {carrier} number."
            )
        ).format(number=number, named=named.name, carrier=names)
    else:
        line = _("{number} does not fit {named}'s number formats.").format(
            number=number, named=named.name
        )
    buttons = [
        Button(match.carrier.name, verb, (number, match.carrier.code))
        for match in {match.carrier.code: match for match in fitting}.values()
    ]
    buttons.append(
        Button(
            _("{carrier} anyway").format(carrier=named.name),
            verb,
            (number, named.code, INSIST_WORD),
        )
    )
    title = (
        _("Is {number} really an {carrier} number?")
        if _an(named.name)
        else _("Is {number} really a {carrier} number?")
    ).format(number=number, carrier=named.name)
    return Reply(
        title,
        (
            line,
            _("Which carrier is it? To keep {carrier}, send {command}.").format(
                carrier=named.name, command=f"/{verb} {number} {named.code} {INSIST_WORD}"
            ),
        ),
        buttons=tuple(buttons),
        kind=ReplyKind.CHOICE,
    )


def unread_sentence(pasted: str) -> str:
    """One sentence for a run that looks like a number but could not be read whole."""
    shown = pasted if len(pasted) <= 60 else pasted[:57] + "…"
    fixes = repairs(pasted)
    if len(fixes) == 1:
        return _(
            "I could not read “{text}” as one whole tracking number — did you mean "
            "{number}, with one character less or more?"
        ).format(text=shown, number=fixes[0])
    return _(
        "I could not read “{text}” as one whole tracking number; please check it against "
        "the label and send it again."
    ).format(text=shown)


def more_numbers_reply(more: int) -> Reply:
    """Numbers left out because a message held more than ``MAX_NUMBERS``."""
    return Reply(
        _("More numbers"),
        (
            ngettext(
                "I looked up the first {limit} numbers in your message; please send the "
                "other one in another message.",
                "I looked up the first {limit} numbers in your message; please send the "
                "other {count} in another message.",
                more,
            ).format(limit=MAX_NUMBERS, count=more),
        ),
    )


def number_notes(number: str, match: CarrierMatch | None) -> tuple[str, ...]:
    """Warnings to add under a tracking reply: a sample or fake-looking number, a format
    without a check digit."""
    notes: list[str] = []
    if looks_fake(number):
        notes.append(
            _(
                "⚠️ {number} looks like a sample or made-up number, not a real parcel's "
                "(fake numbers are a known seller trick). Ask the seller for the real one; if "
                "nothing scans within {days} days, open a dispute with the marketplace."
            ).format(number=number, days=DISPUTE_AFTER_DAYS)
        )
    if match is not None and match.check_digit_valid is None:
        notes.append(
            _(
                "{carrier} numbers carry no check digit, so I cannot spot a typo in them: if "
                "nothing shows up, compare the number with the label."
            ).format(carrier=match.carrier.name)
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
    return _(
        "⚠️ {carrier} does not deliver in {country}, where this order is going, so {number} "
        "may not be this order's parcel (a number from the wrong carrier is a known seller "
        "trick). Ask the seller for the real number; if nothing scans within {days} days, "
        "open a dispute with the marketplace."
    ).format(carrier=carrier.name, country=where, number=number, days=DISPUTE_AFTER_DAYS)


def faq_reply(item: faq.Topic) -> Reply:
    """The answer to one of the questions buyers ask most."""
    return Reply(_(item.title), tuple(_(line) for line in item.lines))
