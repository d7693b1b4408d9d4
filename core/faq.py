"""The questions buyers ask most, answered in plain words (``/explain <topic>`` or free text).

Each :class:`Topic` has a key (``/explain not_active``), the phrases that name it in a
buyer's own words, and an answer: what is going on and what to do. ``match`` finds the topic a
message asks about; it only looks for whole words and phrases, so it never fires on a part of
a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["TOPICS", "Topic", "match", "topic"]


@dataclass(frozen=True, slots=True)
class Topic:
    """One question: its key, the phrases that ask it, a title and the answer's lines."""

    key: str
    phrases: tuple[str, ...]
    title: str
    lines: tuple[str, ...]


TOPICS: Final[tuple[Topic, ...]] = (
    Topic(
        "delivered_not_received",
        (
            "delivered but",
            "says delivered",
            "marked delivered",
            "marked as delivered",
            "shows delivered",
            "delivered not received",
            "not received",
            "didn't receive",
            "did not receive",
            "never received",
            "never arrived",
            "never got",
        ),
        "Marked delivered, but not there",
        (
            "Look around your door, in your mailbox, with neighbours and at your building's "
            "reception or mailroom; carriers sometimes scan a parcel as delivered a day early.",
            "Still missing after a day: tell the seller and ask the carrier for the proof of "
            "delivery (photo, signature or GPS point); /report builds an evidence pack.",
            "Open a claim with the marketplace within its deadline; keep the tracking history.",
        ),
    ),
    Topic(
        "not_active",
        (
            "not active",
            "not activated",
            "no tracking info",
            "no tracking information",
            "no information",
            "no info",
            "not scanned",
            "no scans",
            "no scan",
            "label created",
            "pre shipment",
            "pre-shipment",
            "awaiting item",
            "not found",
            "no record",
            "tracking doesn't work",
            "tracking does not work",
            "invalid tracking",
        ),
        "Tracking not active yet",
        (
            "In the first 48 hours after the seller ships this is normal: labels often show no "
            "scans for 24–48 hours, until the carrier picks the parcel up.",
            "After 48 hours with nothing, ask the seller to confirm the number and the carrier: "
            "a number that never scans can be a mistake or a fake.",
            "If the seller cannot give a number that scans, open a dispute with the marketplace.",
        ),
    ),
    Topic(
        "not_updating",
        (
            "not updating",
            "not updated",
            "no update",
            "no updates",
            "not moving",
            "stuck",
            "hasn't moved",
            "has not moved",
            "not changed",
            "hasn't changed",
            "same status",
            "stopped moving",
            "stopped updating",
        ),
        "Tracking not updating",
        (
            "Parcels are scanned at hubs, not along the road: a long trip (a flight, a ship, a "
            "truck across the country) or customs can show nothing new for days.",
            "Cross-border parcels often go quiet for 5–10 days between leaving the origin "
            "country and the first scan at the destination.",
            "If nothing changes for longer than that, ask the seller to have the carrier trace "
            "it; I tell you when a parcel goes quiet for longer than usual.",
        ),
    ),
    Topic(
        "peak_season",
        (
            "peak season",
            "peak",
            "holiday",
            "holidays",
            "christmas",
            "black friday",
            "cyber monday",
            "singles day",
            "11.11",
            "12.12",
            "chinese new year",
            "lunar new year",
            "ramadan",
            "lebaran",
            "busy season",
        ),
        "Peak-season delays",
        (
            "Around big sales and holidays (11.11, Black Friday, Christmas, Lunar New Year, "
            "Ramadan) carriers handle several times their usual volume: expect 2–7 extra days.",
            "Scans may lag behind the parcel itself, so tracking can look stuck while it moves.",
            "Late parcels in peak season usually still arrive; contact the seller if it is more "
            "than a week past the promised date.",
        ),
    ),
    Topic(
        "damaged",
        ("damaged", "damage", "broken", "crushed", "smashed", "wet", "torn", "dented"),
        "Damaged parcel",
        (
            "Take photos of the box, the label and the item before you throw anything away.",
            "Report it to the seller at once (many marketplaces give only a few days); the "
            "seller files the claim with the carrier.",
            "If you can, refuse a visibly damaged parcel at the door and ask the driver to note "
            "it.",
        ),
    ),
    Topic(
        "change_address",
        (
            "change address",
            "change the address",
            "change my address",
            "change delivery address",
            "address change",
            "update address",
            "update my address",
            "wrong address",
            "redirect",
            "reroute",
        ),
        "Changing the address after shipping",
        (
            "Once a parcel has shipped, only the carrier can change where it goes, and usually "
            "only the sender may ask: contact the seller first.",
            "Many carriers let you redirect to a pickup point or another day on their site "
            "with the tracking number.",
            "If the address was wrong, say so early: a parcel returned to the seller takes weeks.",
        ),
    ),
    Topic(
        "update_frequency",
        (
            "how often",
            "how frequently",
            "update frequency",
            "when will it update",
            "when does it update",
            "refresh",
        ),
        "How often tracking updates",
        (
            "I check the parcels you follow regularly, more often as they get close to you, "
            "and tell you when they move; /subscribe to a number to get that.",
            "The carrier itself only knows what its scanners saw: a new line appears at each "
            "hub, not continuously.",
        ),
    ),
    Topic(
        "estimate_accuracy",
        (
            "how accurate",
            "accuracy",
            "accurate",
            "estimate",
            "estimated",
            "eta",
            "estimated delivery",
            "when will it arrive",
            "when will it come",
            "how long",
        ),
        "How accurate the estimates are",
        (
            "The carrier's own date is shown when it gives one; otherwise I estimate a window "
            "from how parcels on similar routes have travelled.",
            "Estimates get better as the parcel moves: early in a cross-border trip the window "
            "is wide, once it is in your country it narrows to a few days.",
            "Delays from customs, weather or peak season are not in any estimate; I tell you "
            "when a parcel runs late.",
        ),
    ),
)
"""Every topic, most specific first: the first topic whose phrase appears wins."""

_BY_KEY: Final = {item.key: item for item in TOPICS}
_JUNK = re.compile(r"[^\w.'&-]+")


def _words(text: str) -> str:
    return " " + " ".join(_JUNK.sub(" ", text.casefold().replace("’", "'")).split()) + " "


_PHRASES: Final = tuple((item, tuple(_words(phrase) for phrase in item.phrases)) for item in TOPICS)


def topic(key: str) -> Topic | None:
    """The topic with this key (``not_active``, ``peak-season``…), or None."""
    return _BY_KEY.get(re.sub(r"[\s\-]+", "_", key.strip().casefold()))


def match(text: str) -> Topic | None:
    """The topic ``text`` asks about (by key or by a phrase in it), or None."""
    found = topic(text)
    if found is not None:
        return found
    words = _words(text[:500])
    for item, phrases in _PHRASES:
        if any(phrase in words for phrase in phrases):
            return item
    return None
