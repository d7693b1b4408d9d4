"""The README's Discord invite asks for exactly the permissions its table explains."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_invite_url_scopes_and_permissions_match_the_table() -> None:
    section = README[README.index("### Inviting the Discord bot") :]
    url = re.search(r"https://discord\.com/oauth2/authorize\S+", section)
    assert url is not None
    query = parse_qs(urlsplit(url.group(0)).query)
    assert query["scope"] == ["bot applications.commands"]
    table = re.findall(r"^\| ([A-Z][A-Za-z ]+?) \| ", section, re.MULTILINE)
    flags = [name.lower().replace(" ", "_") for name in table if name != "permission"]
    assert flags, "no permission table"
    wanted = discord.Permissions(**dict.fromkeys(flags, True))
    assert int(query["permissions"][0]) == wanted.value
    # What /setup alerts-channel demands in the channel is part of the invite.
    channel_needs = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
    assert channel_needs.is_subset(wanted)
