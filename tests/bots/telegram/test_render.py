"""Rendering replies as Telegram HTML: escaping, safe splitting, keyboards, callback data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.telegram_bot.render import (
    CALLBACK_DATA_LIMIT,
    MESSAGE_LIMIT,
    CallbackCodec,
    deep_link,
    render,
    render_html,
)
from core.errors import InvalidInput
from core.replies import Button, Reply, ReplyKind
from tests.bots.telegram.fake_bot_api import FakeBotApi, visible_text


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _refused(markup: str) -> str | None:
    return FakeBotApi()._check_text(markup, "HTML")


def test_every_value_is_escaped() -> None:
    reply = Reply(
        "<script>&",
        ("a < b & c > d", '"quoted"'),
        fields=(("<Name>", "<value>"),),
        kind=ReplyKind.ALERT,
    )
    (text,) = render_html(reply)
    assert text.startswith("<b>🔔 &lt;script&gt;&amp;</b>")
    assert "a &lt; b &amp; c &gt; d" in text
    assert "<b>&lt;Name&gt;:</b> &lt;value&gt;" in text
    assert _refused(text) is None
    assert visible_text(text).splitlines()[1] == "a < b & c > d"


def test_long_reply_splits_between_lines_within_the_limit() -> None:
    lines = tuple(f"line {i} & <more>" + "é" * 50 for i in range(300))
    texts = render_html(Reply("Title", lines))
    assert len(texts) > 1
    shown = [visible_text(text) for text in texts]
    assert all(_units(part) <= MESSAGE_LIMIT for part in shown)
    assert all(_refused(text) is None for text in texts)
    assert "\n".join(shown).splitlines() == ["Title", *lines]


def test_one_giant_line_is_cut_at_whitespace_before_escaping() -> None:
    words = " ".join(["&amp;<b>"] * 2000)  # 17,999 characters, every one needing escapes
    texts = render_html(Reply("", (words,)))
    assert len(texts) >= 5
    for text in texts:
        assert _refused(text) is None
        assert _units(visible_text(text)) <= MESSAGE_LIMIT
    joined = " ".join(visible_text(text) for text in texts)
    assert joined == words


def test_astral_characters_count_twice() -> None:
    texts = render_html(Reply("", ("📦" * 3000,)))  # 6,000 UTF-16 units
    assert len(texts) == 2
    assert all(_units(visible_text(text)) <= MESSAGE_LIMIT for text in texts)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(min_size=0, max_size=900), min_size=1, max_size=12),
    st.text(max_size=200),
)
def test_any_text_renders_to_messages_telegram_accepts(lines: list[str], title: str) -> None:
    texts = render_html(Reply(title, tuple(lines)))
    for text in texts:
        assert _refused(text) in (None, "Bad Request: message text is empty")
        assert _units(visible_text(text)) <= MESSAGE_LIMIT


def test_keyboard_rows_link_button_and_bad_schemes() -> None:
    reply = Reply(
        "x",
        buttons=(
            Button("Refresh", "track", ("1Z", "ups")),
            Button("Timeline", "history", ("1Z",)),
            Button("Subscribe", "subscribe", ("1Z",)),
            Button("Evil", url="javascript:alert(1)"),
        ),
        link="https://carrier.example/track?n=1Z&x=<y>",
    )
    ((message),) = render(reply, CallbackCodec())
    assert message.keyboard is not None
    rows = message.keyboard.inline_keyboard
    assert [[b.text for b in row] for row in rows] == [
        ["Refresh", "Timeline"],
        ["Subscribe"],
        ["Open carrier page"],
    ]
    assert rows[2][0].url == "https://carrier.example/track?n=1Z&x=<y>"


def test_long_commands_travel_as_tokens() -> None:
    codec = CallbackCodec(capacity=2)
    short = "/track 1Z999AA10123456784 ups"
    assert codec.encode(short) == short
    long = "/subscribe 1Z999AA10123456784 ups " + "birthday present for grandma " * 3
    token = codec.encode(long)
    assert len(token.encode()) <= CALLBACK_DATA_LIMIT
    assert codec.decode(token) == ("subscribe", long.split()[1:])
    codec.encode("/x " + "a" * 80)
    codec.encode("/y " + "b" * 80)  # the first token falls out of the table
    with pytest.raises(InvalidInput):
        codec.decode(token)
    with pytest.raises(InvalidInput):
        codec.decode("not a command")


def test_deep_links() -> None:
    assert deep_link("parcel_bot", "track_1") == "https://t.me/parcel_bot?start=track_1"
    assert deep_link("parcel_bot") == "https://t.me/parcel_bot"
