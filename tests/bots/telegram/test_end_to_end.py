"""The whole stack over HTTP: PTB Application ↔ fake Bot API on 127.0.0.1, the real service,
the sandbox provider and a real SQLite file."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bots.locales import PoCatalogs
from bots.telegram_bot import StoredGroupSwitch, TelegramAdapter, build_adapter
from core.commands import CommandRouter
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.bots.telegram.conftest import FAST_LIMITS
from tests.bots.telegram.fake_bot_api import BOT_USERNAME, TOKEN, FakeBotApi, iter_buttons
from tests.fakes import FakeClock

CHAT = 5151
GROUP = -100900
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
AMBIGUOUS = "287809468872"  # a valid Purolator and a valid FedEx number
ORDER = "576000000000000001"  # sandbox shop order: postcode 00001, USPS parcel below
ORDER_PARCEL = "9400111899000000000275"


@pytest.fixture
async def bot(
    api: FakeBotApi, router: CommandRouter, db: Database
) -> AsyncIterator[TelegramAdapter]:
    adapter = build_adapter(
        TOKEN,
        router,
        base_url=api.base_url,
        limits=FAST_LIMITS,
        poll_timeout=1.0,
        group_switch=StoredGroupSwitch(db.meta),
    )
    async with adapter:
        yield adapter


def _me(chat_id: int = CHAT) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(chat_id), str(chat_id))


def _button(message: dict[str, object], label: str) -> dict[str, str]:
    return next(b for b in iter_buttons(message) if b["text"] == label)


async def test_track_in_private_chat(api: FakeBotApi, bot: TelegramAdapter) -> None:
    assert api.base_url.startswith("http://127.0.0.1:")
    api.push_text(CHAT, f"/track {NUMBER}")
    answer = await api.wait_for("sendMessage")
    assert answer.ok
    assert f"UPS {NUMBER}" in answer.params["text"]
    assert "Label created" in answer.params["text"]
    message = api.last_message(CHAT)
    assert [b["text"] for b in iter_buttons(message)] == [
        "Refresh",
        "Timeline",
        "Subscribe",
        "Open carrier page",
    ]
    assert _button(message, "Open carrier page")["url"].startswith("https://")
    first_use = list(dict.fromkeys(call.method for call in api.calls))
    assert first_use[:3] == ["getMe", "setMyCommands", "deleteWebhook"]
    assert {"getUpdates", "sendChatAction", "sendMessage"} <= set(first_use)


async def test_buttons_subscribe_refresh_in_place_and_timeline(
    api: FakeBotApi, bot: TelegramAdapter, clock: FakeClock
) -> None:
    api.push_text(CHAT, f"/track {NUMBER}")
    await api.wait_for("sendMessage")
    card = api.last_message(CHAT)

    mark = api.mark()
    api.push_callback(card, _button(card, "Subscribe")["callback_data"])
    await api.wait_for("answerCallbackQuery", after=mark)
    subscribed = await api.wait_for("sendMessage", after=mark)
    assert "Subscribed" in subscribed.params["text"]

    clock.advance(timedelta(hours=6))  # the parcel gets its first scan
    mark = api.mark()
    api.push_callback(card, _button(card, "Refresh")["callback_data"])
    await api.wait_for("answerCallbackQuery", after=mark)
    edit = await api.wait_for("editMessageText", after=mark)
    assert edit.ok and edit.params["message_id"] == card["message_id"]
    assert "In transit" in edit.params["text"]
    assert api.sent(CHAT, after=mark) == []  # edited, not re-sent

    mark = api.mark()
    api.push_callback(card, _button(card, "Timeline")["callback_data"])
    timeline = await api.wait_for("sendMessage", after=mark)
    assert "Timeline" in timeline.params["text"]


async def test_deep_link_start_answers_with_the_parcel(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    api.push_text(CHAT, f"/start track_{NUMBER}")
    answer = await api.wait_for("sendMessage")
    assert f"UPS {NUMBER}" in answer.params["text"]


async def test_ambiguous_number_offers_carriers_and_remembers_the_pick(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    api.push_text(CHAT, f"/track {AMBIGUOUS}")
    question = await api.wait_for("sendMessage")
    assert "Which one" in question.params["text"]
    choice = api.last_message(CHAT)
    assert {b["text"] for b in iter_buttons(choice)} >= {"FedEx", "Purolator"}

    mark = api.mark()
    api.push_callback(choice, _button(choice, "FedEx")["callback_data"])
    edit = await api.wait_for("editMessageText", after=mark)
    assert edit.ok and f"FedEx {AMBIGUOUS}" in edit.params["text"]

    mark = api.mark()
    api.push_text(CHAT, f"/track {AMBIGUOUS}")
    again = await api.wait_for("sendMessage", after=mark)
    assert f"FedEx {AMBIGUOUS}" in again.params["text"]


async def test_subscribed_parcel_moves_and_exactly_one_alert_is_posted(
    api: FakeBotApi, bot: TelegramAdapter, service: ParcelService, clock: FakeClock
) -> None:
    api.push_text(CHAT, f"/subscribe {NUMBER}")
    await api.wait_for("sendMessage")
    mark = api.mark()
    queued = 0
    for _ in range(24):
        clock.advance(timedelta(hours=1))
        queued = (await service.refresh.poll_due()).alerts
        if queued:
            break
    assert queued == 1
    stats = await service.flush_outbox(bot.sender)
    assert (stats.sent, stats.failed, stats.paused) == (1, 0, 0)
    alerts = api.sent(CHAT, after=mark)
    assert len(alerts) == 1
    assert "🔔" in alerts[0].params["text"]
    # Nothing is sent twice: a second flush and a poll at the same moment add nothing.
    assert (await service.flush_outbox(bot.sender)).sent == 0
    assert (await service.refresh.poll_due()).alerts == 0
    assert len(api.sent(CHAT, after=mark)) == 1


async def test_group_never_sees_order_details(api: FakeBotApi, bot: TelegramAdapter) -> None:
    member = 7001
    api.push_text(GROUP, f"/track {ORDER}", user_id=member)
    api.push_text(GROUP, f"/verify {ORDER} 00001", user_id=member)
    await api.wait_count("sendMessage", 2)
    posted = api.sent(GROUP)
    assert len(posted) == 2
    for call in posted:
        text = call.params["text"]
        assert ORDER_PARCEL not in text and "Order status" not in text
    link = _button(api.last_message(GROUP), "Open private chat")["url"]
    # Not even the link to the private chat carries the order id where others read.
    assert link == f"https://t.me/{BOT_USERNAME}"

    # The same person, in private, proves the order and sees it.
    mark = api.mark()
    api.push_text(member, f"/verify {ORDER} 00001")
    private = await api.wait_for("sendMessage", after=mark)
    assert ORDER_PARCEL in private.params["text"]

    # A tracking number in the group shows the parcel's state under a masked number.
    mark = api.mark()
    api.push_text(GROUP, f"/track {NUMBER}", user_id=member)
    status = await api.wait_for("sendMessage", after=mark)
    assert f"…{NUMBER[-4:]} — UPS" in status.params["text"]
    assert NUMBER not in status.params["text"]


async def test_flood_control_answer_is_retried_after_the_given_delay(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    api.fail_next("sendMessage", 429, retry_after=0.3)
    api.push_text(CHAT, f"/track {NUMBER}")
    await api.wait_count("sendMessage", 1)
    refused, delivered = api.find("sendMessage")
    assert refused.status == 429 and delivered.ok
    assert delivered.at - refused.at >= 0.3
    assert f"UPS {NUMBER}" in delivered.params["text"]


async def test_blocked_chat_pauses_its_alerts(
    api: FakeBotApi,
    bot: TelegramAdapter,
    service: ParcelService,
    clock: FakeClock,
    db: Database,
) -> None:
    api.push_text(CHAT, f"/subscribe {NUMBER}")
    await api.wait_for("sendMessage")
    api.blocked_chats.add(CHAT)
    queued = 0
    for _ in range(24):
        clock.advance(timedelta(hours=1))
        queued += (await service.refresh.poll_due()).alerts
        if queued:
            break
    stats = await service.flush_outbox(bot.sender)
    assert (stats.sent, stats.paused) == (0, 1)
    assert (await db.chats.get_settings(_me())).paused
    refused = api.find("sendMessage", lambda call: call.status == 403)
    assert len(refused) == 1
    # Paused: the next flush does not try again.
    clock.advance(timedelta(hours=1))
    await service.flush_outbox(bot.sender)
    assert len(api.find("sendMessage", lambda call: call.status == 403)) == 1


async def test_group_switch_survives_a_restart(
    api: FakeBotApi, router: CommandRouter, db: Database
) -> None:
    admin = 8001
    api.admins[GROUP].add(admin)

    def adapter() -> TelegramAdapter:
        return build_adapter(
            TOKEN,
            router,
            base_url=api.base_url,
            limits=FAST_LIMITS,
            poll_timeout=1.0,
            group_switch=StoredGroupSwitch(db.meta),
        )

    async with adapter():
        api.push_text(GROUP, "/groupreplies off", user_id=admin)
        await api.wait_for("sendMessage")
    assert await StoredGroupSwitch(db.meta).replies_off(str(GROUP))
    async with adapter() as second:
        mark = api.mark()
        api.push_text(GROUP, f"/track {NUMBER}", user_id=admin)
        api.push_text(CHAT, "/help")
        await api.wait_for("sendMessage", after=mark)
        assert api.sent(GROUP, after=mark) == []
        assert second.username == BOT_USERNAME


async def test_commands_are_published_in_english_and_localised(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    published = {
        call.params.get("language_code", ""): {
            item["command"]: item["description"] for item in call.params["commands"]
        }
        for call in api.calls
        if call.method == "setMyCommands" and call.params.get("scope", {}).get("type") == "default"
    }
    words = PoCatalogs()
    assert published[""]["track"] == "Where is my parcel?"
    # Each menu carries its catalog's wording (Telegram names Brazilian Portuguese "pt").
    indonesian = words("id").gettext("Where is my parcel?")
    portuguese = words("pt_BR").gettext("Tell me when it moves")
    assert published["id"]["track"] == indonesian != "Where is my parcel?"
    assert published["pt"]["subscribe"] == portuguese != "Tell me when it moves"
    assert set(published["es"]) == set(published[""])
    # One menu per language parcelbot speaks (Filipino is Telegram's "tl", Portuguese "pt").
    assert set(published) == {"", "id", "th", "vi", "ms", "tl", "es", "pt"}
    assert all(set(menu) == set(published[""]) for menu in published.values())


async def test_pasted_text_is_read_by_the_core_reader(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    """Free text over the real Bot API stack: a grouped number, a link and an e-mail with two
    numbers are read by the same core reader as every other adapter."""
    mark = api.mark()
    api.push_text(CHAT, "9400 1118 9900 0000 0002 75")
    grouped = await api.wait_for("sendMessage", after=mark)
    assert f"USPS {ORDER_PARCEL}" in grouped.params["text"]

    mark = api.mark()
    api.push_text(CHAT, "https://www.fedex.com/fedextrack/?trknbr=771200000041")
    link = await api.wait_for("sendMessage", after=mark)
    assert "FedEx 771200000041" in link.params["text"]

    mark = api.mark()
    api.push_text(
        CHAT,
        f"Your order has shipped in two boxes!\nBox 1: {NUMBER}\nBox 2: 7712 0000 0041\nThanks",
    )
    both = await api.wait_count("sendMessage", 2, after=mark)
    assert f"UPS {NUMBER}" in both[0].params["text"]
    assert "FedEx 771200000041" in both[1].params["text"]


async def test_a_number_cut_short_or_mistyped_is_never_tracked(
    api: FakeBotApi, bot: TelegramAdapter
) -> None:
    mark = api.mark()
    api.push_text(CHAT, "9400 1118 9900 0000 0000 275")
    unread = await api.wait_for("sendMessage", after=mark)
    assert "could not read" in unread.params["text"]
    assert "USPS" not in unread.params["text"]

    mark = api.mark()
    api.push_text(CHAT, "771200000042")
    typo = await api.wait_for("sendMessage", after=mark)
    assert "check digit does not match" in typo.params["text"]
    assert {b["text"] for b in iter_buttons(api.last_message(CHAT))} == {"It is J&T Express"}


async def test_plain_words_and_questions(api: FakeBotApi, bot: TelegramAdapter) -> None:
    mark = api.mark()
    api.push_text(CHAT, "Hello")
    hello = await api.wait_for("sendMessage", after=mark)
    assert "/track" in hello.params["text"]

    mark = api.mark()
    api.push_text(CHAT, "it says delivered but I did not receive it")
    answer = await api.wait_for("sendMessage", after=mark)
    assert "Marked delivered, but not there" in answer.params["text"]


async def test_an_update_that_cannot_be_read_is_logged_once_and_skipped(
    api: FakeBotApi, bot: TelegramAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # A date no clock can hold: PTB cannot parse this update at all.
    api.push_update(
        {
            "message": {
                "message_id": 5,
                "date": 10**20,
                "chat": {"id": CHAT, "type": "private"},
                "text": "my address is 12 Elm Street",
            }
        }
    )
    api.push_text(CHAT, f"/track {NUMBER}")
    answer = await api.wait_for("sendMessage")
    assert f"UPS {NUMBER}" in answer.params["text"]
    # No spin: the bad update was confirmed with the next offset like any other.
    assert len(api.find("getUpdates")) <= 4
    skipped = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(skipped) == 1
    assert all("Elm" not in r.getMessage() and r.exc_info is None for r in caplog.records)


# ------------------------------------------------------------------ /forget in a group

MEMBER, ADMIN = 7001, 7002


def _group(user: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(GROUP), str(user), is_group=True)


async def _subscriptions(db: Database) -> int:
    return len(await db.subscriptions.for_chat(_group(MEMBER)))


async def test_only_an_admin_who_confirms_can_forget_a_group(
    api: FakeBotApi, bot: TelegramAdapter, router: CommandRouter, db: Database
) -> None:
    api.admins[GROUP].add(ADMIN)
    await router.run(_group(MEMBER), "subscribe", [NUMBER])
    assert await _subscriptions(db) == 1

    # Any member: refused, nothing deleted.
    mark = api.mark()
    api.push_text(GROUP, "/forget", user_id=MEMBER)
    refused = await api.wait_for("sendMessage", after=mark)
    assert "admins" in refused.params["text"]
    assert await _subscriptions(db) == 1

    # The admin: asked first, nothing deleted yet.
    mark = api.mark()
    api.push_text(GROUP, "/forget", user_id=ADMIN)
    asked = await api.wait_for("sendMessage", after=mark)
    assert "Delete everything?" in asked.params["text"]
    assert await _subscriptions(db) == 1
    message = api.last_message(GROUP)
    yes = next(b for b in iter_buttons(message) if b["text"].startswith("Yes"))

    # A member pressing the admin's Yes: refused.
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=MEMBER)
    refused = await api.wait_for("sendMessage", after=mark)
    assert "admins" in refused.params["text"]
    assert await _subscriptions(db) == 1

    # The admin confirms: gone.
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=ADMIN)
    done = await api.wait_for("sendMessage", after=mark)
    assert "Forgotten" in done.params["text"]
    assert await _subscriptions(db) == 0

    # The same button again (stale): nothing happens to anything.
    await router.run(_group(MEMBER), "subscribe", [NUMBER])
    mark = api.mark()
    api.push_callback(message, yes["callback_data"], user_id=ADMIN)
    stale = await api.wait_for("sendMessage", after=mark)
    assert "expired" in stale.params["text"]
    assert await _subscriptions(db) == 1


async def test_a_confirmation_expires(router: CommandRouter, clock: FakeClock) -> None:
    me = ChatRef(Platform.TELEGRAM, "55", "55")
    await router.run(me, "subscribe", [NUMBER])
    asked = (await router.run(me, "forget", []))[0]
    yes = next(b for b in asked.buttons if b.label.startswith("Yes"))
    clock.advance(timedelta(minutes=3))
    late = (await router.run(me, yes.action, list(yes.args)))[0]
    assert late.title == "That button has expired"
    assert len(await router.service.list_numbers(me)) == 1
