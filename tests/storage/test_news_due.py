"""When a parcel's followers could next have arrival news: stored with the snapshot while
nothing about its followers changed since the poll read it, forgotten when something did."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.models import ChatSettings, OrderId, OrderLink, SnapshotWrite, Subscription
from storage.db import Database
from tests.storage.helpers import T0, chat, key, shipment, write

LATER = T0 + timedelta(days=2)
SOON = T0 + timedelta(hours=1)


async def _news(store: Database) -> tuple[object, int]:
    due = await store.shipments.due_parcels(T0 + timedelta(days=30), 10, T0)
    return due.news_due_at.get(key()), due.news_epoch[key()]


def _judged(epoch: int, *, hours: float = 0) -> SnapshotWrite:
    return SnapshotWrite(
        replace(shipment(), checked_at=T0 + timedelta(hours=hours)),
        SOON,
        news_due_at=LATER,
        news_epoch=epoch,
    )


async def test_a_judged_snapshot_keeps_when_news_is_due_until_it_changes(store: Database) -> None:
    await store.shipments.save_many([write(shipment(), SOON)])
    assert await _news(store) == (None, 0)
    await store.shipments.save_many([_judged(0, hours=1)])
    assert await _news(store) == (LATER, 0)
    # The same snapshot saved again without a judgement (a push, a /track): kept.
    again = replace(shipment(), checked_at=T0 + timedelta(hours=2))
    await store.shipments.save_many([write(again, SOON)])
    assert await _news(store) == (LATER, 0)
    # Another snapshot without a judgement: no longer known.
    changed = replace(shipment(), provider="other", checked_at=T0 + timedelta(hours=3))
    await store.shipments.save_many([write(changed, SOON)])
    assert await _news(store) == (None, 0)


async def test_a_new_follower_makes_an_earlier_judgement_worthless(store: Database) -> None:
    await store.shipments.save_many([write(shipment(), SOON)])
    await store.subscriptions.add(Subscription(chat=chat("1"), key=key(), created_at=T0))
    assert await _news(store) == (None, 1)
    # A poll that read epoch 0 (before the follower came) stores nothing.
    await store.shipments.save_many([_judged(0, hours=1)])
    assert await _news(store) == (None, 1)
    await store.shipments.save_many([_judged(1, hours=2)])
    assert await _news(store) == (LATER, 1)


async def test_a_promise_or_a_time_zone_brings_the_judgement_back(store: Database) -> None:
    await store.shipments.save_many([write(shipment(), SOON)])
    await store.subscriptions.add(Subscription(chat=chat("1"), key=key(), created_at=T0))
    await store.shipments.save_many([_judged(1, hours=1)])
    await store.orders.link(chat("1"), OrderLink(key(), OrderId("576461413"), T0))
    assert await _news(store) == (LATER, 1)  # no promise: nothing to judge again
    await store.orders.link(chat("1"), OrderLink(key(), OrderId("576461413"), T0, "", LATER))
    assert await _news(store) == (None, 2)
    await store.shipments.save_many([_judged(2, hours=2)])
    await store.orders.update_promises({key().number: LATER + timedelta(days=1)})
    assert await _news(store) == (None, 3)
    await store.shipments.save_many([_judged(3, hours=3)])
    await store.chats.save_settings(chat("1"), ChatSettings(timezone="Asia/Jakarta"))
    assert await _news(store) == (None, 4)


async def test_a_new_default_time_zone_brings_every_judgement_back(store: Database) -> None:
    other = key("1Z999AA10123456793")
    await store.shipments.save_many([write(shipment(), SOON), write(shipment(other), SOON)])
    await store.shipments.save_many([_judged(0, hours=1)])
    assert await _news(store) == (LATER, 0)
    assert await store.shipments.news_again_everywhere() == 2
    assert await _news(store) == (None, 1)
    # A poll that read the parcel before the change stores no judgement.
    await store.shipments.save_many([_judged(0, hours=2)])
    assert await _news(store) == (None, 1)
