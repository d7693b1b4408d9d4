"""Handlers through the real PTB Application, against the fake Bot API (in-memory transport)."""

from __future__ import annotations

import logging

import pytest

from bots.telegram_bot import TelegramAdapter
from core.commands import COMMANDS
from core.errors import InvalidInput, ShipmentNotFound
from core.models import ChatRef
from core.replies import Attachment, Button, Reply
from tests.bots.telegram.conftest import RecordingRouter
from tests.bots.telegram.fake_bot_api import BOT_USERNAME, FakeBotApi, iter_buttons

CHAT = 4242
GROUP = -100777


def _card(number: str) -> Reply:
    return Reply(
        f"UPS {number}",
        ("Status: In transit", "Last scan: <Depot> & co"),
        fields=(("Carrier", "UPS"),),
        buttons=(
            Button("Refresh", "track", (number, "ups")),
            Button("Timeline", "history", (number, "ups")),
            Button("Subscribe", "subscribe", (number, "ups")),
        ),
        link=f"https://www.ups.com/track?tracknum={number}",
    )


async def _track(chat: ChatRef, args: list[str]) -> list[Reply]:
    return [_card(args[0])]


async def test_commands_are_published_for_everyone_and_the_switch_for_admins(
    api: FakeBotApi, memory_bot: TelegramAdapter
) -> None:
    default = [c["command"] for c in api.commands["default:"]]
    assert default == [spec.name for spec in COMMANDS]
    assert {"start", "track", "subscribe", "unsubscribe", "list", "history", "help"} <= set(default)
    admins = [c["command"] for c in api.commands["all_chat_administrators:"]]
    assert admins[-1] == "groupreplies"
    assert memory_bot.username == BOT_USERNAME


async def test_track_reply_is_escaped_html_with_keyboard(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    fake_router.scripts["track"] = _track
    api.push_text(CHAT, "/track 1Z999AA10123456784")
    call = await api.wait_for("sendMessage")
    assert fake_router.calls[0][1:] == ("track", ["1Z999AA10123456784"])
    assert call.params["parse_mode"] == "HTML"
    assert "Last scan: &lt;Depot&gt; &amp; co" in call.params["text"]
    assert "<b>UPS 1Z999AA10123456784</b>" in call.params["text"]
    message = api.last_message(CHAT)
    labels = [b["text"] for b in iter_buttons(message)]
    assert labels == ["Refresh", "Timeline", "Subscribe", "Open carrier page"]
    datas = [b.get("callback_data") for b in iter_buttons(message)]
    assert datas[0] == "/track 1Z999AA10123456784 ups"
    # "typing…" was shown while the (slow) track command ran, before the answer.
    action = api.find("sendChatAction")[0]
    assert action.params["action"] == "typing"
    assert api.calls.index(action) < api.calls.index(call)


async def test_bare_number_goes_to_handle_text(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    fake_router.scripts["<text>"] = _track
    api.push_text(CHAT, "1Z999AA10123456784")
    await api.wait_for("sendMessage")
    assert fake_router.calls == [(fake_router.calls[0][0], "<text>", ["1Z999AA10123456784"])]
    chat = fake_router.calls[0][0]
    assert (chat.chat_id, chat.user_id, chat.is_group) == (str(CHAT), str(CHAT), False)


async def test_refresh_button_edits_in_place_and_answers_the_query(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    presses = 0

    async def track(chat: ChatRef, args: list[str]) -> list[Reply]:
        nonlocal presses
        presses += 1
        card = _card(args[0])
        return [Reply(card.title, (*card.lines, f"check {presses}"), buttons=card.buttons)]

    fake_router.scripts["track"] = track
    api.push_text(CHAT, "/track 1Z999AA10123456784")
    await api.wait_for("sendMessage")
    message = api.last_message(CHAT)
    mark = api.mark()
    api.push_callback(message, next(iter_buttons(message))["callback_data"])
    await api.wait_for("answerCallbackQuery", after=mark)
    edit = await api.wait_for("editMessageText", after=mark)
    assert edit.ok and edit.params["message_id"] == message["message_id"]
    assert "check 2" in edit.params["text"]
    assert api.sent(CHAT, after=mark) == []


async def test_refresh_without_change_is_not_an_error(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    fake_router.scripts["track"] = _track
    api.push_text(CHAT, "/track 1Z999AA10123456784")
    await api.wait_for("sendMessage")
    message = api.last_message(CHAT)
    mark = api.mark()
    api.push_callback(message, "/track 1Z999AA10123456784 ups")
    edit = await api.wait_for("editMessageText", after=mark)
    assert not edit.ok  # Telegram: "message is not modified"
    # Updates are handled in order: once the next command is answered, the press is done.
    api.push_text(CHAT, "/frob")
    barrier = await api.wait_for("sendMessage", after=mark)
    assert api.sent(CHAT, after=mark) == [barrier]


async def test_timeline_button_sends_a_new_message(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    fake_router.scripts["track"] = _track

    async def history(chat: ChatRef, args: list[str]) -> list[Reply]:
        return [Reply(f"Timeline — {args[0]}", ("Mon: picked up",))]

    fake_router.scripts["history"] = history
    api.push_text(CHAT, "/track 1Z999AA10123456784")
    await api.wait_for("sendMessage")
    mark = api.mark()
    api.push_callback(api.last_message(CHAT), "/history 1Z999AA10123456784 ups")
    sent = await api.wait_for("sendMessage", after=mark)
    assert "Timeline" in sent.params["text"]
    assert api.find("editMessageText", after=mark) == []


async def test_tracking_error_is_one_sentence_and_other_errors_are_generic(
    api: FakeBotApi,
    fake_router: RecordingRouter,
    memory_bot: TelegramAdapter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def missing(chat: ChatRef, args: list[str]) -> list[Reply]:
        raise ShipmentNotFound()

    async def broken(chat: ChatRef, args: list[str]) -> list[Reply]:
        raise RuntimeError("database on fire")

    fake_router.scripts["track"] = missing
    fake_router.scripts["list"] = broken
    api.push_text(CHAT, "/track 1Z999AA10123456784")
    first = await api.wait_for("sendMessage")
    assert "The carrier has no record of this number yet." in first.params["text"]
    with caplog.at_level(logging.ERROR, logger="bots.telegram_bot"):
        mark = api.mark()
        api.push_text(CHAT, "/list")
        second = await api.wait_for("sendMessage", after=mark)
    assert "something went wrong on my side" in second.params["text"]
    assert "database on fire" not in second.params["text"]
    assert "database on fire" in caplog.text  # the traceback went to the log
    assert "Traceback" in caplog.text


async def test_unknown_command_and_alias_reach_the_router(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    api.push_text(CHAT, "/frobnicate now")
    sent = await api.wait_for("sendMessage")
    assert "I don&#x27;t know the command /frobnicate." in sent.params["text"]
    assert fake_router.calls[-1][1:] == ("frobnicate", ["now"])
    # Commands for another bot in a group are not ours.
    mark = api.mark()
    api.push_text(GROUP, "/track@other_bot 1Z999AA10123456784", user_id=CHAT)
    api.push_text(GROUP, f"/frob@{BOT_USERNAME}", user_id=CHAT)
    await api.wait_for("sendMessage", after=mark)
    assert [call[1] for call in fake_router.calls] == ["frobnicate", "frob"]


async def test_deep_link_start_payload_reaches_the_router(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    async def start(chat: ChatRef, args: list[str]) -> list[Reply]:
        return [_card(args[0].removeprefix("track_"))]

    fake_router.scripts["start"] = start
    api.push_text(CHAT, "/start track_1Z999AA10123456784")
    sent = await api.wait_for("sendMessage")
    assert fake_router.calls[0][1:] == ("start", ["track_1Z999AA10123456784"])
    assert "1Z999AA10123456784" in sent.params["text"]


async def test_private_reply_in_group_becomes_a_deep_link(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    async def order(chat: ChatRef, args: list[str]) -> list[Reply]:
        return [Reply("Order 576000000000000001", ("Ship to Jane Doe, 10115 Berlin",),
                      private=True)]  # fmt: skip

    fake_router.scripts["track"] = order
    api.push_text(GROUP, "/track 576000000000000001", user_id=CHAT)
    sent = await api.wait_for("sendMessage")
    assert int(sent.params["chat_id"]) == GROUP
    assert "Jane" not in sent.params["text"] and "10115" not in sent.params["text"]
    button = next(iter_buttons(api.last_message(GROUP)))
    # Not even the link to the private chat carries the order id where others read.
    assert button["url"] == f"https://t.me/{BOT_USERNAME}"
    chat = fake_router.calls[0][0]
    assert chat.is_group and chat.user_id == str(CHAT) and chat.chat_id == str(GROUP)


async def test_group_admin_switches_replies_off_and_on(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    fake_router.scripts["track"] = _track
    admin, member = 501, 502
    api.admins[GROUP].add(admin)

    api.push_text(GROUP, "/groupreplies off", user_id=member)
    refused = await api.wait_for("sendMessage")
    assert "Only group admins" in refused.params["text"]

    mark = api.mark()
    api.push_text(GROUP, "/groupreplies off", user_id=admin)
    assert "stay quiet" in (await api.wait_for("sendMessage", after=mark)).params["text"]

    mark = api.mark()
    api.push_text(GROUP, "/track 1Z999AA10123456784", user_id=member)
    api.push_text(GROUP, "/groupreplies off", user_id=member)  # silent while off, too
    api.push_text(GROUP, "/groupreplies on", user_id=admin)
    back_on = await api.wait_for("sendMessage", after=mark)
    assert "again" in back_on.params["text"]
    assert len(api.sent(GROUP, after=mark)) == 1
    assert all(call[1] != "track" for call in fake_router.calls)

    api.push_text(GROUP, "/track 1Z999AA10123456784", user_id=member)
    await api.wait_for("sendMessage", lambda c: "UPS" in c.params["text"], after=mark)


async def test_long_reply_is_split_and_attachment_sent(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    async def report(chat: ChatRef, args: list[str]) -> list[Reply]:
        lines = tuple(f"{i:04d} <scan> & more " + "x" * 60 for i in range(200))
        return [
            Reply(
                "Report",
                lines,
                buttons=(Button("Refresh", "track", ("1Z",)),),
                attachment=Attachment("report.md", b"# evidence\n"),
            )
        ]

    fake_router.scripts["list"] = report
    api.push_text(CHAT, "/list")
    document = await api.wait_for("sendDocument")
    assert document.files["document"]["content"] == b"# evidence\n"
    assert document.files["document"]["filename"] == "report.md"
    texts = api.sent(CHAT)
    assert len(texts) >= 4 and all(call.ok for call in texts)
    assert all("reply_markup" not in call.params for call in texts[:-1])
    assert "reply_markup" in texts[-1].params
    joined = "".join(api.messages[(CHAT, c.result["message_id"])]["text"] for c in texts)
    assert joined.count("<scan> & more") == 200


async def test_an_error_quoting_input_carries_no_live_link_or_mention(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter
) -> None:
    async def quoting(chat: ChatRef, args: list[str]) -> list[Reply]:
        raise InvalidInput("I don't know the carrier “https://evil.example @admin”. Send /help.")

    fake_router.scripts["track"] = quoting
    api.push_text(CHAT, "/track x")
    text = (await api.wait_for("sendMessage")).params["text"]
    assert "https://evil" not in text and "@admin" not in text
    assert "/help" in text  # the bot's own command hint stays tappable
