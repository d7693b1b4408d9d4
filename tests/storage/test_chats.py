"""ChatRepository (settings, pauses, carrier picks) and the meta key/value table."""

from __future__ import annotations

from core.models import ChatSettings, Platform, Preference
from storage.db import Database
from tests.storage.helpers import chat


async def test_settings_default_until_saved(store: Database) -> None:
    assert await store.chats.get_settings(chat()) == ChatSettings()
    mine = ChatSettings(
        preference=Preference.EXCEPTIONS,
        timezone="Asia/Tokyo",
        quiet_start="22:00",
        quiet_end="07:30",
        paused=False,
    )
    await store.chats.save_settings(chat(), mine)
    assert await store.chats.get_settings(chat()) == mine
    assert await store.chats.get_settings(chat("2")) == ChatSettings()
    # Same chat id on another platform is another chat.
    assert await store.chats.get_settings(chat(platform=Platform.DISCORD)) == ChatSettings()


async def test_save_replaces_every_setting(store: Database) -> None:
    await store.chats.save_settings(chat(), ChatSettings(timezone="Asia/Tokyo", paused=True))
    await store.chats.save_settings(chat(), ChatSettings(preference=Preference.OFF))
    assert await store.chats.get_settings(chat()) == ChatSettings(preference=Preference.OFF)


async def test_pause_and_resume_keep_the_other_settings(store: Database) -> None:
    await store.chats.save_settings(chat(), ChatSettings(timezone="Europe/Paris"))
    await store.chats.pause_chat(chat())
    assert await store.chats.get_settings(chat()) == ChatSettings(
        timezone="Europe/Paris", paused=True
    )
    await store.chats.resume_chat(chat().chat_key)
    assert await store.chats.get_settings(chat()) == ChatSettings(timezone="Europe/Paris")


async def test_pause_by_key_of_a_chat_without_settings(store: Database) -> None:
    await store.chats.pause_chat("discord:555")
    assert await store.chats.paused_chats() == ["discord:555"]
    assert (await store.chats.get_settings(chat("555", platform=Platform.DISCORD))).paused


async def test_carrier_picks_are_per_chat_and_replaceable(store: Database) -> None:
    assert await store.chats.carrier_pick(chat(), "123456789012") is None
    await store.chats.remember_carrier(chat(), "123456789012", "fedex")
    await store.chats.remember_carrier(chat("2"), "123456789012", "ups")
    assert await store.chats.carrier_pick(chat(), "123456789012") == "fedex"
    await store.chats.remember_carrier(chat(), "123456789012", "usps")
    assert await store.chats.carrier_pick(chat(), "123456789012") == "usps"
    assert await store.chats.carrier_pick(chat("2"), "123456789012") == "ups"


async def test_meta_get_set_delete(store: Database) -> None:
    assert await store.meta.get("clock") is None
    await store.meta.set("clock", "2026-03-02T09:00:00+00:00")
    await store.meta.set("clock", "later")
    assert await store.meta.get("clock") == "later"
    assert await store.meta.delete("clock") is True
    assert await store.meta.delete("clock") is False
    assert await store.meta.get("clock") is None


async def test_a_chats_language_and_whether_it_was_chosen_are_kept(store: Database) -> None:
    told = ChatSettings(language="id")
    await store.chats.save_settings(chat(), told)
    chosen = ChatSettings(timezone="Asia/Bangkok", language="th", language_chosen=True)
    await store.chats.save_settings(chat("2"), chosen)
    assert await store.chats.get_settings(chat()) == told
    assert await store.chats.get_settings(chat("2")) == chosen
    # Pausing (a chat that blocked the bot) keeps the language its alerts are worded in.
    await store.chats.pause_chat(chat("2"))
    many = await store.chats.settings_many([chat().chat_key, chat("2").chat_key])
    assert many[chat("2").chat_key].language == "th" and many[chat("2").chat_key].paused
    assert many[chat().chat_key].language == "id"
