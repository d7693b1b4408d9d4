"""Turn a platform-neutral ``Reply`` into a Discord embed, buttons and an optional file.

Every value from the core is escaped (markdown and mentions) and cut to Discord's limits, so a
carrier's scan text can never ping a role or break the layout. Action buttons are persistent:
their ``custom_id`` encodes the command they stand for, so they keep working after a restart.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

import discord
from discord.ext import commands

from core.i18n import _
from core.privacy import clean
from core.replies import Button, Reply, ReplyKind

__all__ = [
    "COG_NAME",
    "ActionButton",
    "ActionHandler",
    "Rendered",
    "decode_custom_id",
    "encode_custom_id",
    "escape",
    "render",
]

log = logging.getLogger(__name__)

COG_NAME = "Parcels"
"""The name the command cog is registered under; action buttons find their handler by it."""

# Discord limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
_TITLE_MAX = 256
_DESCRIPTION_MAX = 4096
_FIELD_NAME_MAX = 256
_FIELD_VALUE_MAX = 1024
_FIELDS_MAX = 25
_EMBED_TOTAL_MAX = 6000
_BUTTON_LABEL_MAX = 80
_CUSTOM_ID_MAX = 100
_BUTTONS_MAX = 25

_PREFIX = "pb"
_ARG_SEPARATOR = "|"
_TEMPLATE = re.compile(r"pb:(?P<action>[a-z][a-z0-9_]{0,31}):(?P<args>[^\n]*)")

_COLOURS: dict[ReplyKind, discord.Colour] = {
    ReplyKind.INFO: discord.Colour.blurple(),
    ReplyKind.SHIPMENT: discord.Colour.blue(),
    ReplyKind.TIMELINE: discord.Colour.dark_teal(),
    ReplyKind.ALERT: discord.Colour.orange(),
    ReplyKind.ERROR: discord.Colour.red(),
    ReplyKind.CHOICE: discord.Colour.gold(),
    ReplyKind.ORDER: discord.Colour.green(),
}


class ActionHandler(Protocol):
    """Runs the command an action button stands for, for the person who pressed it."""

    async def run_action(
        self, interaction: discord.Interaction[Any], action: str, args: list[str]
    ) -> None: ...


def encode_custom_id(button: Button) -> str | None:
    """``pb:<action>:<arg>|<arg>``, or None when it would not fit Discord's 100 characters."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", button.action):
        return None
    if any(_ARG_SEPARATOR in arg or "\n" in arg for arg in button.args):
        return None
    custom_id = f"{_PREFIX}:{button.action}:{_ARG_SEPARATOR.join(button.args)}"
    return custom_id if len(custom_id) <= _CUSTOM_ID_MAX else None


def decode_custom_id(custom_id: str) -> tuple[str, list[str]] | None:
    """The (action, args) a custom id encodes, or None when it is not one of ours."""
    match = _TEMPLATE.fullmatch(custom_id)
    if match is None:
        return None
    raw = match["args"]
    return match["action"], raw.split(_ARG_SEPARATOR) if raw else []


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """A button that runs ``/<action> <args…>`` for whoever presses it."""

    def __init__(self, label: str, action: str, args: list[str], custom_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=clean(label)[:_BUTTON_LABEL_MAX] or action,
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id,
            )
        )
        self.action = action
        self.args = args

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ActionButton:
        decoded = decode_custom_id(match.group(0))
        action, args = decoded if decoded is not None else (match["action"], [])
        label = getattr(item, "label", None) or action
        return cls(str(label), action, args, match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client = interaction.client
        handler = (
            client.get_cog(COG_NAME)
            if isinstance(client, commands.Bot | commands.AutoShardedBot)
            else None
        )
        if handler is None:
            await interaction.response.send_message(
                _("This button is not available right now. Please use the slash command."),
                ephemeral=True,
            )
            return
        runner: ActionHandler = handler  # type: ignore[assignment]
        await runner.run_action(interaction, self.action, list(self.args))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply ready for Discord: keyword arguments for ``send``/``edit``."""

    embed: discord.Embed
    view: discord.ui.View | None
    file: discord.File | None


# Discord's markdown lets a backslash make any ASCII punctuation literal. Escaped: every
# character that starts inline markup (emphasis, code, spoilers, ``<@…>``/``<#…>``/
# ``</cmd:id>``/``<t:…>``/``<:emoji:id>`` tokens, quotes, mentions), the ``](`` of every
# masked link, the ``://`` of every bare link, and the marker that starts a heading, list or
# subtext line. What is left is inert text.
_INLINE = re.compile(r"([\\*_~`|<>@])|\](?=\s*\()|:(?=//)")
_LINE_START = re.compile(r"^(\s*)(#|-|\+)", re.MULTILINE)
_NUMBERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


def _escape_inline(match: re.Match[str]) -> str:
    return "\\" + match.group(0)


def escape(text: str) -> str:
    """Text shown as-is: no markdown, no links, no mentions or other tokens, no control
    characters (``core.privacy.clean``)."""
    text = _INLINE.sub(_escape_inline, clean(text))
    text = _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return _NUMBERED.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _embed(reply: Reply) -> discord.Embed:
    title = _cut(escape(reply.title), _TITLE_MAX) or None
    lines: list[str] = []
    size = 0
    for line in reply.lines:
        text = escape(line)
        # Keep whole lines while they fit; a timeline can be long, the newest part comes last.
        if size + len(text) + 1 > _DESCRIPTION_MAX - 2:
            lines.append("…")
            break
        lines.append(text)
        size += len(text) + 1
    embed = discord.Embed(
        title=title,
        description="\n".join(lines) or None,
        colour=_COLOURS.get(reply.kind, discord.Colour.blurple()),
        url=reply.link or None,
    )
    total = len(title or "") + len(embed.description or "")
    for name, value in reply.fields[:_FIELDS_MAX]:
        name_text = _cut(escape(name), _FIELD_NAME_MAX) or "\u200b"
        value_text = _cut(escape(value), _FIELD_VALUE_MAX) or "\u200b"
        if total + len(name_text) + len(value_text) > _EMBED_TOTAL_MAX:
            break
        total += len(name_text) + len(value_text)
        embed.add_field(name=name_text, value=value_text, inline=len(value_text) <= 40)
    return embed


def _view(reply: Reply, *, actions: bool) -> discord.ui.View | None:
    view = discord.ui.View(timeout=None)
    urls: set[str] = set()
    for button in reply.buttons:
        if len(view.children) >= _BUTTONS_MAX:
            break
        if button.url:
            urls.add(button.url)
            view.add_item(
                discord.ui.Button(
                    label=_cut(clean(button.label), _BUTTON_LABEL_MAX), url=button.url
                )
            )
            continue
        if not actions:
            continue
        custom_id = encode_custom_id(button)
        if custom_id is None:
            log.warning("button %r dropped: its command does not fit a custom id", button.action)
            continue
        view.add_item(ActionButton(button.label, button.action, list(button.args), custom_id))
    if reply.link and reply.link not in urls and len(view.children) < _BUTTONS_MAX:
        view.add_item(discord.ui.Button(label=_("Carrier page"), url=reply.link))
    return view if view.children else None


def render(reply: Reply, *, actions: bool = True) -> Rendered:
    """The embed, buttons and file for ``reply``.

    ``actions=False`` leaves out the command buttons (for messages other members can see:
    a button there would let them act on someone else's parcel).
    """
    attachment = reply.attachment
    file = (
        discord.File(io.BytesIO(attachment.content), filename=attachment.filename)
        if attachment is not None
        else None
    )
    return Rendered(_embed(reply), _view(reply, actions=actions), file)
