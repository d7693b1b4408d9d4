"""SubscriptionRepository contract, including forgetting a chat."""

from __future__ import annotations

import itertools
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import storage.subscriptions
from core import cooperative
from core.models import ChatSettings, Preference, Subscription
from storage.codec import subscription_from_row
from storage.db import Database
from tests.fakes import FakeClock
from tests.storage.helpers import T0, alert, chat, count_rows, key, shipment, write
from tests.turns import Turns


def sub(
    who: str = "1", number: str = "1Z999AA10123456784", *, label: str = "", minutes: int = 0
) -> Subscription:
    return Subscription(
        chat=chat(who), key=key(number), label=label, created_at=T0 + timedelta(minutes=minutes)
    )


async def test_add_is_new_once_then_updates(store: Database) -> None:
    assert await store.subscriptions.add(sub(label="Shoes")) is True
    assert await store.subscriptions.add(sub()) is False
    stored = await store.subscriptions.get(chat(), key())
    assert stored == sub(label="Shoes")  # an empty label keeps the earlier one
    changed = replace(sub(label="Boots", minutes=9), preference=Preference.MILESTONES)
    assert await store.subscriptions.add(changed) is False
    stored = await store.subscriptions.get(chat(), key())
    assert stored is not None
    assert (stored.label, stored.preference, stored.created_at) == (
        "Boots",
        Preference.MILESTONES,
        T0,
    )


async def test_add_reactivates_an_archived_subscription(store: Database) -> None:
    await store.subscriptions.add(sub(label="Lamp"))
    assert await store.subscriptions.archive(key()) == 1
    assert await store.subscriptions.add(sub(minutes=30)) is True
    stored = await store.subscriptions.get(chat(), key())
    assert stored is not None
    assert (stored.archived, stored.label, stored.created_at) == (
        False,
        "Lamp",
        T0 + timedelta(minutes=30),
    )


async def test_add_without_time_uses_the_clock(store: Database, store_clock: FakeClock) -> None:
    store_clock.advance(timedelta(hours=3))
    await store.subscriptions.add(Subscription(chat=chat(), key=key()))
    stored = await store.subscriptions.get(chat(), key())
    assert stored is not None
    assert stored.created_at == T0 + timedelta(hours=3)


async def test_a_group_subscription_belongs_to_the_chat(store: Database) -> None:
    first = Subscription(chat=chat("-100", "alice", group=True), key=key(), created_at=T0)
    second = Subscription(chat=chat("-100", "bob", group=True), key=key(), created_at=T0)
    assert await store.subscriptions.add(first) is True
    assert await store.subscriptions.add(second) is False
    stored = await store.subscriptions.for_chat(chat("-100", "carol", group=True))
    assert [(s.chat.user_id, s.chat.is_group) for s in stored] == [("bob", True)]


async def test_remove(store: Database) -> None:
    await store.subscriptions.add(sub())
    assert await store.subscriptions.remove(chat(), key()) is True
    assert await store.subscriptions.remove(chat(), key()) is False
    assert await store.subscriptions.get(chat(), key()) is None


async def test_update_overwrites_settings_of_an_existing_one_only(store: Database) -> None:
    await store.subscriptions.add(sub(label="Desk"))
    muted = replace(sub(), label="", preference=Preference.EXCEPTIONS, muted=True)
    await store.subscriptions.update(muted)
    assert await store.subscriptions.get(chat(), key()) == muted
    await store.subscriptions.update(sub("stranger"))
    assert await store.subscriptions.get(chat("stranger"), key()) is None


async def test_for_chat_is_newest_first_and_can_hide_archived(store: Database) -> None:
    await store.subscriptions.add(sub(number="OLD1", minutes=0))
    await store.subscriptions.add(sub(number="MID1", minutes=5))
    await store.subscriptions.add(sub(number="NEW1", minutes=10))
    await store.subscriptions.add(sub("other", "OTHER1", minutes=20))
    await store.subscriptions.archive(key("MID1"))
    every = await store.subscriptions.for_chat(chat())
    assert [s.key.number for s in every] == ["NEW1", "MID1", "OLD1"]
    assert [s.archived for s in every] == [False, True, False]
    active = await store.subscriptions.for_chat(chat(), include_archived=False)
    assert [s.key.number for s in active] == ["NEW1", "OLD1"]


async def test_subscribers_lists_active_ones_per_parcel(store: Database) -> None:
    await store.subscriptions.add(sub("a", "P1"))
    await store.subscriptions.add(sub("b", "P1"))
    await store.subscriptions.add(sub("a", "P2"))
    await store.subscriptions.add(sub("c", "P3"))
    await store.subscriptions.archive(key("P2"))
    found = await store.subscriptions.subscribers([key("P1"), key("P2"), key("P3"), key("P4")])
    assert set(found) == {key("P1"), key("P3")}
    assert [s.chat.chat_id for s in found[key("P1")]] == ["a", "b"]
    assert await store.subscriptions.subscribers([]) == {}
    assert await store.subscriptions.count_active(key("P1")) == 2


async def test_archive_counts_only_active_ones(store: Database) -> None:
    await store.subscriptions.add(sub("a"))
    await store.subscriptions.add(sub("b"))
    assert await store.subscriptions.archive(key()) == 2
    assert await store.subscriptions.archive(key()) == 0
    assert await store.subscriptions.archive(key("NONE")) == 0


async def test_forget_deletes_everything_about_the_chat_and_nothing_else(
    store: Database, db_path: Path
) -> None:
    me, other = chat("me"), chat("other")
    for who in (me, other):
        await store.subscriptions.add(Subscription(chat=who, key=key("P1"), created_at=T0))
        await store.subscriptions.add(Subscription(chat=who, key=key("P2"), created_at=T0))
        await store.chats.save_settings(who, ChatSettings(timezone="Europe/Berlin"))
        await store.chats.remember_carrier(who, "123456789012", "fedex")
    await store.subscriptions.archive(key("P2"))
    async with aiosqlite.connect(db_path) as conn:
        await conn.executemany(
            "INSERT INTO order_links (chat_key, carrier, number, order_id, linked_at) "
            "VALUES (?, 'ups', 'P1', '576461413038785752', '2026-03-02T09:00:00.000000+00:00')",
            [(me.chat_key,), (other.chat_key,)],
        )
        await conn.commit()
    await store.shipments.save_many(
        [write(shipment(key("P1")), T0, ((me, alert(key("P1"))), (other, alert(key("P1")))))]
    )
    entries = await store.outbox.due(T0, 10)
    await store.outbox.mark_sent([entries[0].id], T0)
    await store.shipments.save_many(
        [write(shipment(key("P1")), T0, ((me, alert(key("P1"), "b")),))]
    )

    removed = await store.subscriptions.forget_chat(replace(me, user_id="someone-else"))

    # 2 subscriptions + 1 settings row + 1 carrier pick + 2 outbox rows (one sent) + 1 order link.
    assert removed == 7
    assert await store.subscriptions.for_chat(me) == []
    assert await store.chats.get_settings(me) == ChatSettings()
    assert await store.chats.carrier_pick(me, "123456789012") is None
    for table in ("subscriptions", "chats", "carrier_picks", "outbox", "order_links"):
        assert await count_rows(db_path, table, "chat_key = ?", me.chat_key) == 0
        assert await count_rows(db_path, table, "chat_key = ?", other.chat_key) > 0
    # The other chat keeps everything; parcels stay.
    assert len(await store.subscriptions.for_chat(other)) == 2
    assert (await store.chats.get_settings(other)).timezone == "Europe/Berlin"
    assert await store.chats.carrier_pick(other, "123456789012") == "fedex"
    assert [e.chat for e in await store.outbox.due(T0, 10)] == [other]
    assert await store.shipments.get(key("P1")) is not None
    assert await store.subscriptions.forget_chat(me) == 0


@pytest.mark.sqlite_only
async def test_a_full_memo_of_decoded_rows_is_let_go_in_slices(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every loop gives way at every slice, and every slice frees one memo entry.
    monkeypatch.setattr(cooperative, "SLICE", 0.0)
    monkeypatch.setattr(cooperative, "RELEASE_SLICE", 1)
    monkeypatch.setattr(store.subscriptions, "_decoded_limit", 6)
    turns = Turns()
    freed: list[int] = []

    class Watched(Subscription):
        def __del__(self) -> None:
            freed.append(turns.count)

    def decode(row: Any) -> Subscription:
        found = subscription_from_row(row)
        return Watched(*(getattr(found, field.name) for field in fields(found)))

    monkeypatch.setattr(storage.subscriptions, "subscription_from_row", decode)
    first = [key(f"P{index}") for index in range(6)]
    later = [key(f"Q{index}") for index in range(3)]
    for parcel in [*first, *later]:
        await store.subscriptions.add(sub("a", parcel.number))
    assert len(await store.subscriptions.subscribers(first)) == 6  # the memo is full
    with turns:
        found = await store.subscriptions.subscribers(later)
    assert [s.key for k in later for s in found[k]] == later
    # The six decoded before were freed one at a time, the counting task running in between.
    assert len(freed) == 6
    assert all(after > before for before, after in itertools.pairwise(freed))
