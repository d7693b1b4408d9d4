"""Telegram through the real python-telegram-bot stack (loopback fake Bot API): the user's
``language_code`` picks the chat's language, it is stored, and a later alert arrives in it;
a language chosen with ``/language`` wins over the app's, for alerts too. The catalogs are
written by the test (``tests.i18n_helpers.SAMPLE``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bots.telegram_bot import TelegramAdapter, build_adapter
from core.commands import CommandRouter
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.bots.telegram.conftest import FAST_LIMITS
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.fakes import FakeClock
from tests.i18n_helpers import ALERT_TITLES, SAMPLE, sample_voices

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


@pytest.fixture
def voiced(db: Database, clock: FakeClock, tmp_path: Path) -> ParcelService:
    return ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, voices=sample_voices(tmp_path)
    )


@pytest.fixture
async def telegram(api: FakeBotApi, voiced: ParcelService) -> AsyncIterator[TelegramAdapter]:
    adapter = build_adapter(
        TOKEN, CommandRouter(voiced), base_url=api.base_url, limits=FAST_LIMITS, poll_timeout=1.0
    )
    async with adapter:
        yield adapter


def _telegram_chat(chat_id: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(chat_id), str(chat_id))


async def _first_alert(service: ParcelService, clock: FakeClock) -> None:
    for _ in range(48):
        clock.advance(timedelta(hours=1))
        if (await service.refresh.poll_due()).alerts:
            return
    raise AssertionError("no alert in two days")


async def test_telegram_language_code_picks_the_language_and_the_alert_arrives_in_it(
    api: FakeBotApi,
    telegram: TelegramAdapter,
    voiced: ParcelService,
    clock: FakeClock,
    db: Database,
) -> None:
    indonesian, spanish = 6101, 6102
    api.push_text(indonesian, f"/subscribe {NUMBER} sepatu", language_code="id")
    api.push_text(spanish, f"/subscribe {NUMBER} zapatos", language_code="es-419")
    await api.wait_count("sendMessage", 2)
    said = {int(call.params["chat_id"]): call.params["text"] for call in api.find("sendMessage")}
    assert "Dilanggan “sepatu” — saya kabari saat paket bergerak." in said[indonesian]
    assert "Suscrito “zapatos”: te aviso cuando se mueva." in said[spanish]
    # The language is stored with the chat: alerts have no message to read it from.
    assert (await db.chats.get_settings(_telegram_chat(indonesian))).language == "id"
    assert (await db.chats.get_settings(_telegram_chat(spanish))).language == "es"

    mark = api.mark()
    await _first_alert(voiced, clock)
    stats = await voiced.flush_outbox(telegram.sender)
    assert stats.sent == 2 and stats.failed == 0
    alert_id = api.sent(indonesian, after=mark)[0].params["text"]
    alert_es = api.sent(spanish, after=mark)[0].params["text"]
    assert any(title in alert_id for title in ALERT_TITLES["id"]), alert_id
    assert any(title in alert_es for title in ALERT_TITLES["es"]), alert_es
    assert "Segarkan" in str(api.sent(indonesian, after=mark)[0].params.get("reply_markup"))


async def test_a_chosen_language_stays_whatever_the_app_speaks(
    api: FakeBotApi, telegram: TelegramAdapter, db: Database
) -> None:
    person = 6201
    api.push_text(person, "/language th", language_code="id")
    chosen = await api.wait_for("sendMessage")
    assert "ภาษา: ไทย" in chosen.params["text"]
    mark = api.mark()
    api.push_text(person, "/list", language_code="id")
    listed = await api.wait_for("sendMessage", after=mark)
    assert "ยังไม่มีพัสดุ" in listed.params["text"]
    settings = await db.chats.get_settings(_telegram_chat(person))
    assert (settings.language, settings.language_chosen) == ("th", True)

    # /language without a name offers every language as a button.
    mark = api.mark()
    api.push_text(person, "/language")
    offer = await api.wait_for("sendMessage", after=mark)
    assert "Bahasa Indonesia" in str(offer.params.get("reply_markup"))


async def test_the_adapters_own_words_follow_the_groups_language(
    api: FakeBotApi, telegram: TelegramAdapter
) -> None:
    # An evidence pack is private: in a group the adapter points to the private chat, in the
    # group's language (its first member's app spoke Spanish).
    api.push_text(-100777, f"/report {NUMBER}", user_id=6301, language_code="es")
    pointer = await api.wait_for("sendMessage")
    assert SAMPLE["es"]["Let's continue in private"] in pointer.params["text"]


async def test_a_language_chosen_over_the_apps_is_the_one_later_alerts_arrive_in(
    api: FakeBotApi, telegram: TelegramAdapter, voiced: ParcelService, clock: FakeClock
) -> None:
    person = 6401
    api.push_text(person, "/language th", language_code="id")
    await api.wait_for("sendMessage")
    mark = api.mark()
    api.push_text(person, f"/subscribe {NUMBER} รองเท้า", language_code="id")
    subscribed = await api.wait_for("sendMessage", after=mark)
    assert "ติดตาม “รองเท้า” แล้ว" in subscribed.params["text"]

    mark = api.mark()
    await _first_alert(voiced, clock)
    stats = await voiced.flush_outbox(telegram.sender)
    assert stats.sent == 1 and stats.failed == 0
    alert = api.sent(person, after=mark)[0].params["text"]
    assert any(title in alert for title in ALERT_TITLES["th"]), alert
    assert not any(title in alert for title in ALERT_TITLES["id"]), alert
    assert "รีเฟรช" in str(api.sent(person, after=mark)[0].params.get("reply_markup"))
