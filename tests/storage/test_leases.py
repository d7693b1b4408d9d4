"""Leased work, on both backends: due parcels and outbox chats claimed by one worker at a time.

Each test opens a second ``Database`` on the same location: another process would do just
that. Claims made at the same moment by both are disjoint and together cover everything due;
a claim that is not finished (its worker died) runs out and the work is claimable again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from core.flusher import OutboxFlusher
from core.models import ChatRef, Subscription
from core.replies import Reply
from storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.storage.helpers import T0, alert, chat, key, shipment, write

LEASE = timedelta(minutes=5)


async def _parcels(store: Database, count: int, due: timedelta = timedelta(0)) -> None:
    await store.shipments.save_many(
        [write(shipment(key(f"1ZLEASE{i:05d}")), T0 + due) for i in range(count)]
    )


async def test_two_pollers_claim_disjoint_parcels_that_cover_everything_due(
    store: Database, store_location: str
) -> None:
    await _parcels(store, 60)
    async with Database.open(store_location) as other:
        first, second = await asyncio.gather(
            store.shipments.due_parcels(T0, 40, T0, T0 + LEASE),
            other.shipments.due_parcels(T0, 40, T0, T0 + LEASE),
        )
    assert len(first.keys) + len(second.keys) == 60
    assert not set(first.keys) & set(second.keys)
    # Claimed parcels are nobody's due work until the lease ends.
    assert await store.shipments.due(T0 + LEASE - timedelta(seconds=1), 100) == []
    assert first.due_at == dict.fromkeys(first.keys, T0)


async def test_a_dead_pollers_parcels_are_due_again_when_its_lease_ends(store: Database) -> None:
    await _parcels(store, 3)
    claimed = await store.shipments.due_parcels(T0, 10, T0, T0 + LEASE)
    assert len(claimed.keys) == 3
    assert (await store.shipments.due_parcels(T0 + timedelta(minutes=4), 10, T0)).keys == ()
    again = await store.shipments.due_parcels(T0 + LEASE, 10, T0, T0 + 2 * LEASE)
    assert set(again.keys) == set(claimed.keys)
    assert again.due_at == dict.fromkeys(again.keys, T0 + LEASE)


async def test_saving_a_snapshot_ends_the_lease(store: Database) -> None:
    await _parcels(store, 2)
    claimed = await store.shipments.due_parcels(T0, 10, T0, T0 + LEASE)
    done = claimed.keys[0]
    await store.shipments.save_many([write(shipment(done), T0 + timedelta(minutes=1))])
    assert await store.shipments.due(T0 + timedelta(minutes=1), 10) == [done]
    assert await store.shipments.next_check(claimed.keys[1]) == T0 + LEASE


async def _queue(store: Database, chats: int, per_chat: int = 2) -> None:
    items = tuple(
        (chat(f"c{c}"), alert(dedupe=f"a{c}-{n}")) for c in range(chats) for n in range(per_chat)
    )
    await store.shipments.save_many([write(shipment(), T0, items)])


async def test_two_flushers_claim_whole_chats_each_once(
    store: Database, store_location: str
) -> None:
    await _queue(store, 20, per_chat=3)
    async with Database.open(store_location) as other:
        first, second = await asyncio.gather(
            store.outbox.claim(
                T0, 12, holder="a", until=T0 + LEASE, spaced=T0 - timedelta(seconds=1)
            ),
            other.outbox.claim(
                T0, 12, holder="b", until=T0 + LEASE, spaced=T0 - timedelta(seconds=1)
            ),
        )
    chats_a = {entry.chat.chat_key for entry in first}
    chats_b = {entry.chat.chat_key for entry in second}
    assert len(chats_a) == 4
    assert not chats_a & chats_b
    rest = await store.outbox.claim(
        T0, 100, holder="b", until=T0 + LEASE, spaced=T0 - timedelta(seconds=1)
    )
    chats_b |= {entry.chat.chat_key for entry in rest}
    assert not chats_a & chats_b
    assert len(chats_a | chats_b) == 20
    # A chat comes whole (up to the limit) and in queue order.
    for entries in (first, second):
        ids = [entry.id for entry in entries]
        assert ids == sorted(ids)
    assert not {entry.id for entry in first} & {entry.id for entry in second}


async def test_a_held_chat_waits_for_its_lease_and_the_per_chat_spacing(store: Database) -> None:
    await _queue(store, 1, per_chat=2)
    spacing = timedelta(seconds=1)

    async def claim(holder: str, at: timedelta) -> list[int]:
        now = T0 + at
        found = await store.outbox.claim(
            now, 10, holder=holder, until=now + LEASE, spaced=now - spacing
        )
        return [entry.id for entry in found]

    first, second = await claim("a", timedelta(0))
    assert await claim("b", timedelta(minutes=1)) == []
    # The holder gets its unsent entries again (and keeps the chat).
    assert await claim("a", timedelta(minutes=1)) == [first, second]
    await store.outbox.mark_sent([first], T0 + timedelta(minutes=1))
    await store.outbox.release([chat("c0").chat_key], "a", T0 + timedelta(minutes=1), sent=True)
    # Released, but its last message went out under a second ago.
    assert await claim("b", timedelta(minutes=1, milliseconds=500)) == []
    assert await claim("b", timedelta(minutes=1, seconds=1)) == [second]


async def test_a_dead_flushers_chats_are_claimable_when_its_lease_ends(store: Database) -> None:
    await _queue(store, 2, per_chat=1)
    held = await store.outbox.claim(
        T0, 10, holder="a", until=T0 + LEASE, spaced=T0 - timedelta(seconds=1)
    )
    assert len(held) == 2
    later = T0 + LEASE
    taken = await store.outbox.claim(
        later, 10, holder="b", until=later + LEASE, spaced=later - timedelta(seconds=1)
    )
    assert [entry.id for entry in taken] == [entry.id for entry in held]


class _SlowNotifier(RecordingNotifier):
    """Takes a moment per message, so two flushers' work overlaps."""

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        await asyncio.sleep(0.05)
        await super().send(chat, reply)


async def test_two_flushers_on_one_outbox_send_every_alert_once(
    store: Database, store_location: str
) -> None:
    chats, per_chat = 15, 3
    for c in range(chats):
        await store.subscriptions.add(Subscription(chat(f"c{c}"), key(), created_at=T0))
    await _queue(store, chats, per_chat=per_chat)
    clock = FakeClock(T0)
    notifier = _SlowNotifier()
    async with Database.open(store_location, clock=clock) as other:
        flushers = [
            OutboxFlusher(db, clock, retry_base=timedelta(seconds=30), retry_max=LEASE, holder=name)
            for db, name in ((store, "a"), (other, "b"))
        ]
        done = await asyncio.gather(*(f.flush(notifier, limit=8) for f in flushers))
    assert all(stats.sent for stats in done), "both flushers took part"
    assert sum(stats.sent for stats in done) == chats * per_chat
    assert Counter(target.chat_key for target, _reply in notifier.sent) == {
        chat(f"c{c}").chat_key: per_chat for c in range(chats)
    }
    assert await store.outbox.pending_count() == 0


async def test_two_webhook_workers_claim_disjoint_pushes(
    store: Database, store_location: str
) -> None:
    await store.inbox.add_many([("17track", f"n-{i}", b"{}") for i in range(30)], T0)
    async with Database.open(store_location) as other:
        first, second = await asyncio.gather(
            store.inbox.due(T0, 20, T0 + LEASE), other.inbox.due(T0, 20, T0 + LEASE)
        )
    ids = [item.id for item in (*first, *second)]
    assert len(ids) == len(set(ids)) == 30
    assert await store.inbox.due(T0 + LEASE - timedelta(seconds=1), 50) == []
    # A worker that died: its pushes are due again when the lease ends.
    assert len(await store.inbox.due(T0 + LEASE, 50)) == 30


async def test_inboxes_sharing_a_table_each_take_only_their_providers_pushes(
    store: Database,
) -> None:
    # On PostgreSQL the order pushes and the tracking pushes share one table: a worker that
    # took the other's would fail them for want of a handler and hold them back.
    await store.inbox.add_many([("17track", "t-1", b"{}"), ("tiktok_shop", "o-1", b"{}")], T0)
    await store.inbox.add_many([("aftership", "a-1", b"{}")], T0 + timedelta(seconds=5))
    orders = await store.inbox.due(T0, 10, T0 + LEASE, providers=["tiktok_shop"])
    assert [item.notification_id for item in orders] == ["o-1"]
    later = T0 + timedelta(minutes=1)
    tracking = await store.inbox.due(later, 10, later + LEASE, providers=["17track", "aftership"])
    assert [item.notification_id for item in tracking] == ["t-1", "a-1"]
    assert await store.inbox.pending_count(["tiktok_shop"]) == 1
    assert await store.inbox.pending_count() == 3
    assert await store.inbox.next_attempt(["aftership"]) == later + LEASE
    assert await store.inbox.next_attempt(["tiktok_shop"]) == T0 + LEASE


async def test_a_group_of_pushes_says_which_were_new_in_one_append(store: Database) -> None:
    assert await store.inbox.add_many([("17track", "n-1", b"{}")], T0) == [True]
    rows = [("17track", f"n-{i}", b"{}") for i in range(1200)]  # more than one statement holds
    rows.insert(700, ("17track", "n-5", b"{}"))  # a repeat within the group
    stored = await store.inbox.add_many(rows, T0)
    # n-1 was there before; the second n-5 repeats the first.
    assert [i for i, new in enumerate(stored) if not new] == [1, 700]
    assert await store.inbox.pending_count() == 1200
