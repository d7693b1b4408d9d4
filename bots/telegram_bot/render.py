"""Turn the core's ``Reply`` into Telegram HTML messages with inline keyboards.

Every dynamic value goes through ``html.escape``; markup is only ever added around escaped
text. A reply longer than Telegram's 4096-character limit is split between whole blocks
(title, lines, fields), and a single block that is too long is cut at whitespace *before* it
is escaped, so no entity or tag is ever cut in half.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.errors import InvalidInput
from core.i18n import N_, _
from core.privacy import clean
from core.replies import Button, Reply, ReplyKind

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "MESSAGE_LIMIT",
    "CallbackCodec",
    "Rendered",
    "deep_link",
    "inert",
    "keyboard",
    "render",
    "render_html",
    "split_blocks",
]

MESSAGE_LIMIT = 4096
"""Telegram's limit on a message's text, counted after entity parsing in UTF-16 units."""

CALLBACK_DATA_LIMIT = 64
"""Telegram's limit on ``callback_data``, in bytes."""

_BUTTONS_PER_ROW = 2
_LONG_PREFIX = "~"
_OWNER = N_("For the parcel's owner")
_ICONS = {ReplyKind.ALERT: "🔔 ", ReplyKind.ERROR: "⚠️ ", ReplyKind.CHOICE: "❓ "}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One Telegram message: HTML text and the keyboard under it (if any)."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class _Block:
    markup: str
    visible: int


# Telegram turns bare text into live entities by itself: links (with or without a scheme),
# @mentions, #hashtags and $cashtags. A word joiner (U+2060, invisible) after the marker or
# before a dot breaks each of them. /commands stay tappable: a tap only sends the command as
# the person who taps, as if typed (and destructive ones ask for confirmation).
_AUTO_ENTITY = re.compile(r"(?<=[@#$])(?=\w)|(?<=:)(?=//)|(?<=\w)(?=\.\w)")
_JOINER = "\u2060"


def inert(text: str) -> str:
    """``text`` with no control characters and no link or mention Telegram would make of it
    (before HTML escaping, which ``_text_block`` does)."""
    return _AUTO_ENTITY.sub(_JOINER, clean(text))


def _text_block(plain: str, *, bold: bool = False, label: str = "") -> list[_Block]:
    """``plain`` escaped (bold, or after a bold ``label``), cut into pieces if too long."""
    plain, label = inert(plain), inert(label)
    head = f"<b>{html.escape(label)}:</b> " if label else ""
    overhead = _units(f"{label}: ") if label else 0
    open_tag, close_tag = ("<b>", "</b>") if bold else ("", "")
    pieces = _cut(plain, MESSAGE_LIMIT - overhead - 1)
    return [
        _Block(f"{head}{open_tag}{html.escape(piece)}{close_tag}", _units(piece) + overhead)
        for piece in pieces
    ]


def _cut(plain: str, budget: int) -> list[str]:
    """Split plain text into pieces of at most ``budget`` units, preferring whitespace."""
    pieces: list[str] = []
    rest = plain
    while _units(rest) > budget:
        # Find the longest prefix within budget (characters outside the BMP count twice).
        end = min(len(rest), budget)
        while _units(rest[:end]) > budget:
            end -= 1
        space = max(rest.rfind("\n", 0, end), rest.rfind(" ", 0, end))
        cut_at = space if space > budget // 2 else end
        pieces.append(rest[:cut_at])
        rest = rest[cut_at:].lstrip(" \n")
    pieces.append(rest)
    return pieces


def _blocks(reply: Reply) -> list[_Block]:
    blocks: list[_Block] = []
    if reply.owner.isdigit():
        # Who a message in a group is about: a mention of that person, nothing more.
        owner = html.escape(_(_OWNER))
        blocks.append(_Block(f'<a href="tg://user?id={reply.owner}">{owner}</a>', len(_(_OWNER))))
    icon = _ICONS.get(reply.kind, "")
    if reply.title:
        blocks.extend(_text_block(icon + reply.title, bold=True))
    for line in reply.lines:
        if line:
            blocks.extend(_text_block(line))
    for name, value in reply.fields:
        blocks.extend(_text_block(value, label=name))
    return blocks


def split_blocks(blocks: list[tuple[str, int]], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join ``(markup, visible length)`` blocks with newlines into messages within ``limit``."""
    messages: list[str] = []
    current: list[str] = []
    used = 0
    for markup, visible in blocks:
        extra = visible + (1 if current else 0)
        if current and used + extra > limit:
            messages.append("\n".join(current))
            current, used = [], 0
            extra = visible
        current.append(markup)
        used += extra
    if current:
        messages.append("\n".join(current))
    return messages


def render_html(reply: Reply) -> list[str]:
    """The reply's text as one or more HTML messages, each within the 4096 limit."""
    blocks = [(block.markup, block.visible) for block in _blocks(reply)]
    if not blocks:
        blocks = [(html.escape("…"), 1)]
    return split_blocks(blocks)


class CallbackCodec:
    """Encodes a button's command as ``callback_data`` and back.

    Commands that fit in 64 bytes travel as themselves (``/track 1Z… ups``); longer ones get a
    short token whose command is kept in a bounded in-memory table. A token that has fallen out
    of the table (or a restart) makes the button ask the person to send the command again.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._long: OrderedDict[str, str] = OrderedDict()

    def encode(self, command: str) -> str:
        if len(command.encode()) <= CALLBACK_DATA_LIMIT:
            return command
        token = _LONG_PREFIX + hashlib.blake2b(command.encode(), digest_size=12).hexdigest()
        self._long[token] = command
        self._long.move_to_end(token)
        while len(self._long) > self._capacity:
            self._long.popitem(last=False)
        return token

    def decode(self, data: str) -> tuple[str, list[str]]:
        """The command name and arguments a pressed button stands for."""
        command = self._long.get(data) if data.startswith(_LONG_PREFIX) else data
        if not command or not command.startswith("/") or len(command) < 2:
            raise InvalidInput(_("This button has expired. Please send the command again."))
        name, *args = command[1:].split()
        return name.lower(), args


def keyboard(buttons: tuple[Button, ...], codec: CallbackCodec) -> InlineKeyboardMarkup | None:
    """Action buttons two to a row, then each link button on a row of its own."""
    actions = [
        InlineKeyboardButton(clean(button.label), callback_data=codec.encode(button.command))
        for button in buttons
        if button.action
    ]
    links = [
        [InlineKeyboardButton(clean(button.label), url=button.url)]
        for button in buttons
        if not button.action and _is_web_url(button.url)
    ]
    rows = [actions[i : i + _BUTTONS_PER_ROW] for i in range(0, len(actions), _BUTTONS_PER_ROW)]
    rows.extend(links)
    return InlineKeyboardMarkup(rows) if rows else None


def _is_web_url(url: str) -> bool:
    # Telegram refuses other schemes; a bad link must not cost the whole message.
    return url.startswith(("https://", "http://"))


def render(reply: Reply, codec: CallbackCodec) -> list[Rendered]:
    """The reply as Telegram messages; the keyboard goes under the last one.

    ``reply.link`` becomes an "Open carrier page" button unless a button already opens it.
    """
    buttons = reply.buttons
    if reply.link and not any(button.url == reply.link for button in buttons):
        buttons = (*buttons, Button(_("Open carrier page"), url=reply.link))
    texts = render_html(reply)
    markup = keyboard(buttons, codec)
    return [
        Rendered(text, markup if index == len(texts) - 1 else None)
        for index, text in enumerate(texts)
    ]


def deep_link(username: str, payload: str = "") -> str:
    """``https://t.me/<bot>?start=<payload>``: opens the private chat with the bot."""
    base = f"https://t.me/{quote(username)}"
    return f"{base}?start={payload}" if payload else base
