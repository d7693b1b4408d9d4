"""Reply → embed, buttons and file: escaping, Discord's limits and persistent custom ids."""

from __future__ import annotations

import discord

from bots.discord_bot.render import ActionButton, decode_custom_id, encode_custom_id, render
from core.replies import Attachment, Button, Reply, ReplyKind


def test_custom_ids_round_trip() -> None:
    button = Button("Refresh", "track", ("1Z999AA10123456784", "ups"))
    custom_id = encode_custom_id(button)
    assert custom_id == "pb:track:1Z999AA10123456784|ups"
    assert decode_custom_id(custom_id) == ("track", ["1Z999AA10123456784", "ups"])
    assert decode_custom_id("pb:list:") == ("list", [])
    assert decode_custom_id("someone-elses:button") is None


def test_commands_that_do_not_fit_a_custom_id_are_left_out() -> None:
    assert encode_custom_id(Button("Long", "track", ("X" * 120,))) is None
    assert encode_custom_id(Button("Pipe", "track", ("a|b",))) is None
    assert encode_custom_id(Button("Bad", "Track Now", ())) is None
    rendered = render(Reply("t", buttons=(Button("Long", "track", ("X" * 120,)),)))
    assert rendered.view is None


def test_values_are_escaped_so_scans_cannot_ping_or_format() -> None:
    reply = Reply(
        "**Parcel** @everyone",
        ("Left with <@&123456789012345678> at _door_",),
        fields=(("Note", "@here"),),
    )
    embed = render(reply).embed
    assert embed.title is not None and "\\@everyone" in embed.title
    assert "\\*\\*Parcel\\*\\*" in embed.title
    assert embed.description is not None
    assert "\\<\\@&" in embed.description  # the token's opening bracket is escaped
    assert "\\_door\\_" in embed.description
    assert embed.fields[0].value == "\\@here"


def test_long_replies_fit_discords_limits() -> None:
    reply = Reply(
        "T" * 400,
        tuple(f"scan {index} " + "x" * 200 for index in range(100)),
        fields=tuple((f"f{index}", "v" * 2000) for index in range(30)),
    )
    embed = render(reply).embed
    assert embed.title is not None and len(embed.title) == 256
    assert embed.description is not None and len(embed.description) <= 4096
    assert embed.description.endswith("…")
    assert len(embed.fields) <= 25
    assert all(len(field.value or "") <= 1024 for field in embed.fields)
    assert len(embed) <= 6000


def test_buttons_links_and_files() -> None:
    reply = Reply(
        "UPS 1Z",
        buttons=(
            Button("Refresh", "track", ("1Z", "ups")),
            Button("Open carrier page", url="https://example.com/1Z"),
        ),
        link="https://example.com/1Z",
        kind=ReplyKind.SHIPMENT,
        attachment=Attachment("report.md", b"# Report"),
    )
    rendered = render(reply)
    assert rendered.embed.url == "https://example.com/1Z"
    assert rendered.view is not None
    children = rendered.view.children
    assert isinstance(children[0], ActionButton)
    assert children[0].item.custom_id == "pb:track:1Z|ups"
    assert isinstance(children[1], discord.ui.Button) and children[1].url == reply.link
    assert len(children) == 2  # the link is not repeated
    assert rendered.file is not None and rendered.file.filename == "report.md"

    public = render(reply, actions=False)
    assert public.view is not None
    assert [
        child.url for child in public.view.children if isinstance(child, discord.ui.Button)
    ] == ["https://example.com/1Z"]
