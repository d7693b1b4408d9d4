"""Fuzz: labels and provider texts full of markdown, HTML, mentions, links and control
characters go through every renderer (Discord, Telegram, console) and nothing live survives."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.console_bot import render as console_render
from bots.discord_bot.render import render as discord_render
from bots.telegram_bot.render import CallbackCodec
from bots.telegram_bot.render import render as telegram_render
from core.alerts import alert_reply
from core.models import (
    Alert,
    AlertKind,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from core.privacy import Context, view
from core.replies import Reply, shipment_reply, timeline_reply

NASTY = [
    "[a](https://x.io)",
    "[Claim refund](https://evil.example/r)",
    "[x](<https://e.io>)",
    "<#123456789012345678>",
    "</refund:123456789>",
    "<t:1767225600:R>",
    "<@123>",
    "<@&456>",
    "<:pepe:789>",
    "@everyone",
    "@here",
    "# Heading",
    "-# tiny",
    "- item",
    "1. item",
    "> quote",
    "**bold**",
    "__u__",
    "~~s~~",
    "||spoiler||",
    "`code`",
    "```block```",
    "\\",
    "<b>bold</b>",
    '<a href="https://evil.example">x</a>',
    "&amp;",
    "&lt;b&gt;",
    "<tg-spoiler>s</tg-spoiler>",
    "/forget",
    "/start@parcel_bot",
    "@parcel_bot",
    "#hashtag",
    "$USD",
    "evil.example",
    "www.evil.example/r",
    "http://evil.example",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x1b[31m",
    "\x07",
    "\x00",
    "\r",
    "\u202e",
    "\u2066",
    "\u200b",
    "\x9b",
    "\n",
    " ",
    "word",
]

texts = st.lists(st.sampled_from(NASTY) | st.text(max_size=6), max_size=8).map("".join)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]")


def _discord_live(text: str) -> list[str]:
    """Markdown or tokens Discord would act on in ``text`` (escapes honoured)."""
    found: list[str] = []
    plain: list[tuple[str, bool]] = []  # (char, escaped)
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and not text[index + 1].isalnum():
            plain.append((text[index + 1], True))
            index += 2
            continue
        plain.append((char, False))
        index += 1
    line_start = True
    for pos, (char, escaped) in enumerate(plain):
        following = "".join(c for c, _ in plain[pos + 1 : pos + 3])
        if not escaped:
            if char in "*_~`|<>@":
                found.append(char)
            if char == "]" and following.lstrip().startswith("("):
                found.append("](")
            if char == ":" and following == "//":
                found.append("://")
            if line_start and (char in "#-+" or (char.isdigit() and _numbered(plain, pos))):
                found.append(f"line start {char}")
        if char == "\n":
            line_start = True
        elif not (line_start and char == " "):
            line_start = False
    return found


def _numbered(plain: list[tuple[str, bool]], pos: int) -> bool:
    end = pos
    while end < len(plain) and plain[end][0].isdigit() and not plain[end][1]:
        end += 1
    return end < len(plain) and plain[end][0] in ".)" and not plain[end][1]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


# Links and mentions (``/commands`` are left tappable on purpose: see ``render.inert``).
_TG_LIVE = re.compile(r"://|(?<![\w\u2060])[@#$]\w|\w\.\w")


def _telegram_live(markup: str) -> list[str]:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    found = [
        tag
        for tag, attrs in parser.tags
        if tag != "b"
        and not (tag == "a" and all(v and v.startswith("tg://user?id=") for _, v in attrs))
    ]
    visible = html.unescape("".join(parser.text))
    found.extend(match.group(0) for match in _TG_LIVE.finditer(visible))
    return found


def _replies(text: str) -> list[Reply]:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    event = TrackingEvent(now, Status.IN_TRANSIT, text, text)
    shipment = Shipment("ups", TrackingNumber("1ZSBX1230300000076"), Status.IN_TRANSIT, (event,))
    alert = Alert(AlertKind.MOVED, shipment.key, "k", event=event)
    replies = [Reply(text, (text,), fields=((text, text),))]
    for context in Context:
        seen = view(context, owner="42")
        replies.append(alert_reply(alert, shipment, label=text, seen=seen))
        replies.append(shipment_reply(shipment, label=text, seen=seen))
        replies.append(timeline_reply(shipment, seen=seen, label=text))
    return replies


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_nothing_live_survives_any_renderer(text: str) -> None:
    for reply in _replies(text):
        embed = discord_render(reply).embed
        parts = [embed.title or "", embed.description or ""]
        for field in embed.fields:
            parts.extend((field.name or "", field.value or ""))
        for part in parts:
            if part == "\u200b":
                continue  # Discord's own placeholder for an empty field
            assert not _CONTROL.search(part), part
            assert not _discord_live(part), (part, _discord_live(part))
        for message in telegram_render(reply, CallbackCodec()):
            assert not _CONTROL.search(message.text)
            assert not _telegram_live(message.text), (message.text, _telegram_live(message.text))
        shown = console_render(reply)
        assert not _CONTROL.search(shown), repr(shown)
        assert all(unicodedata.category(c) not in {"Cc", "Cs"} or c == "\n" for c in shown)
