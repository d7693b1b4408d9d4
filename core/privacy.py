"""Who sees what: the one rule for which fields a message may carry in which context.

A message from parcelbot lands in one of four contexts:

============  ===============================================  ==========
context       where                                             shared?
============  ===============================================  ==========
``private``   a person's private chat with the bot (Telegram,  no
              the console)
``dm``        a direct message on Discord                       no
``group``     a Telegram group                                  yes
``server``    a Discord server channel                          yes
============  ===============================================  ==========

``RULES`` lists, per context, the fields a reply, alert, digest, button or report may carry.
Shared contexts never carry a tracking number, an order id, a promised date, an address or a
scan's place, a person's name (signer, recipient, the neighbour it was left with) or a scan's
free text (carriers write names and addresses in it), nor buttons or links that hold a number;
they name the parcel by its label or a masked number (``…0076``) and mention its owner.
Evidence packs (``/report``) and order details go only to private contexts.

Names of people are shown only to a chat that follows the parcel or proved its order
(``follower``): the carrier's proof of delivery is about the buyer, not about whoever knows
the number.

The builders in ``core.replies``, ``core.alerts``, ``core.digest``, ``core.report`` and the
service ask a ``View`` what they may write; adapters pick the variant for the context they post
in with ``core.replies.for_context`` and render nothing else.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.models import ChatRef, Platform

__all__ = [
    "RULES",
    "SHARED_CONTEXTS",
    "Context",
    "Field",
    "View",
    "clean",
    "context_of",
    "mask",
    "view",
]


class Context(StrEnum):
    """Where a message is read."""

    PRIVATE = "private"
    DM = "dm"
    GROUP = "group"
    SERVER = "server"


class Field(StrEnum):
    """A kind of value a message may carry."""

    NUMBER = "number"
    """The full tracking number (titles, fields, lists)."""
    MASKED_NUMBER = "masked_number"
    """The number's last four characters (``…0076``)."""
    LABEL = "label"
    """The name the owner gave the parcel."""
    ORDER = "order"
    """Order ids, order status, the shop."""
    PROMISE = "promise"
    """The shop's promised delivery date."""
    PLACE = "place"
    """Addresses and scan places (a delivery scan's place is where someone lives)."""
    PERSON = "person"
    """Names of people: signer, recipient, neighbour; the proof of delivery's detail."""
    SCAN_TEXT = "scan_text"
    """A carrier's own wording of a scan (it may hold names and addresses)."""
    NUMBER_BUTTONS = "number_buttons"
    """Buttons and links whose command or address carries the number (carrier page too)."""
    REPORT = "report"
    """Evidence packs (attachments)."""
    OWNER_MENTION = "owner_mention"
    """A mention of the person the message is about."""


_PERSONAL = frozenset(
    {
        Field.NUMBER,
        Field.LABEL,
        Field.ORDER,
        Field.PROMISE,
        Field.PLACE,
        Field.PERSON,
        Field.SCAN_TEXT,
        Field.NUMBER_BUTTONS,
        Field.REPORT,
    }
)
_SHARED = frozenset({Field.LABEL, Field.MASKED_NUMBER, Field.OWNER_MENTION})

RULES: Mapping[Context, frozenset[Field]] = {
    Context.PRIVATE: _PERSONAL,
    Context.DM: _PERSONAL,
    Context.GROUP: _SHARED,
    Context.SERVER: _SHARED,
}
"""The fields each context may carry (see the module docstring)."""

SHARED_CONTEXTS = frozenset({Context.GROUP, Context.SERVER})


def context_of(chat: ChatRef) -> Context:
    """The context a command's answer to ``chat`` is read in.

    Discord answers commands ephemerally or by DM, so a Discord chat is always ``dm`` here;
    the Discord sender asks for ``server`` itself when it posts in a channel.
    """
    if chat.is_group:
        return Context.GROUP
    return Context.DM if chat.platform is Platform.DISCORD else Context.PRIVATE


def mask(number: str) -> str:
    """``…0076``: the last four characters, enough for the owner to recognise the parcel."""
    tail = number[-4:] if len(number) > 4 else ""
    return f"…{tail}" if tail else "…"


@dataclass(frozen=True, slots=True)
class View:
    """What one message may carry: the rule applied to a context (and a reader)."""

    context: Context
    follower: bool = True
    owner: str = ""
    """The user id of the person the message is about (mentioned in shared contexts)."""

    def has(self, item: Field) -> bool:
        """Whether the message may carry ``item``."""
        if item is Field.PERSON and not self.follower:
            return False
        if item is Field.OWNER_MENTION and not self.owner:
            return False
        return item in RULES[self.context]

    @property
    def shared(self) -> bool:
        return self.context in SHARED_CONTEXTS

    def name(self, label: str, number: str) -> str:
        """How the message names a parcel: its label, else the number or its masked form."""
        label = label.strip()
        if label and self.has(Field.LABEL):
            return label
        return number if self.has(Field.NUMBER) else mask(number)

    def mention(self) -> str:
        """The owner's user id when the message should mention them, else ""."""
        return self.owner if self.has(Field.OWNER_MENTION) else ""


def view(context: Context, *, follower: bool = True, owner: str = "") -> View:
    """The rule for ``context``; ``follower`` says whether the reader follows the parcel."""
    return View(context, follower, owner)


# Bidirectional overrides and isolates reorder what a reader sees; zero-width characters hide
# text. Other format characters (emoji joiners) are harmless and kept.
_HIDDEN = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


def clean(text: str) -> str:
    """``text`` without control characters (terminal escapes, bells, bidi overrides).

    New lines stay; a tab becomes a space. Every surface (Telegram, Discord, the console)
    renders through this, so no provider's or person's text can drive a terminal or hide
    itself.
    """
    if text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif char == "\t":
            out.append(" ")
        elif char in _HIDDEN or unicodedata.category(char) in {"Cc", "Cs", "Co", "Zl", "Zp"}:
            continue
        else:
            out.append(char)
    return "".join(out)
