"""OutboxRepository contract: due order, pauses, retries, the commit point, uniqueness."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.models import ChatRef
from storage.db import Database
from tests.storage.helpers import T0, alert, chat, count_rows, key, shipment, write


async def queue(store: Database, *items: tuple[ChatRef, str]) -> int:
    return await store.shipments.save_many(
        [write(shipment(), T0, tuple((who, alert(dedupe=d)) for who, d in items))]
    )


async def test_due_returns_oldest_first_with_the_whole_alert(store: Database) -> None:
    await queue(store, (chat("a"), "one"), (chat("b"), "two"))
    await queue(store, (chat("a"), "three"))
    entries = await store.outbox.due(T0, 10)
    assert [(e.chat.chat_id, e.alert.dedupe_key) for e in entries] == [
        ("a", f"{key()}:one"),
        ("b", f"{key()}:two"),
        ("a", f"{key()}:three"),
    ]
    assert entries[0].alert == alert(dedupe="one")
    assert entries[0].chat == chat("a")
    assert (entries[0].created_at, entries[0].attempts) == (T0, 0)
    assert [e.id for e in await store.outbox.due(T0, 2)] == [entries[0].id, entries[1].id]


async def test_mark_sent_is_the_commit_point(store: Database) -> None:
    await queue(store, (chat("a"), "one"), (chat("b"), "two"))
    first, second = await store.outbox.due(T0, 10)
    assert await store.outbox.pending_count() == 2
    await store.outbox.mark_sent([first.id], T0)
    assert [e.id for e in await store.outbox.due(T0, 10)] == [second.id]
    assert await store.outbox.pending_count() == 1
    await store.outbox.mark_sent([], T0)
    await store.outbox.mark_sent([first.id, second.id], T0)
    assert await store.outbox.due(T0 + timedelta(days=9), 10) == []
    assert await store.outbox.pending_count() == 0


async def test_a_sent_alert_is_never_queued_again(store: Database) -> None:
    assert await queue(store, (chat("a"), "one")) == 1
    (entry,) = await store.outbox.due(T0, 10)
    await store.outbox.mark_sent([entry.id], T0)
    assert await queue(store, (chat("a"), "one")) == 0
    assert await store.outbox.due(T0, 10) == []
    # The same change for another chat is that chat's own alert.
    assert await queue(store, (chat("b"), "one")) == 1


async def test_failed_entries_wait_and_count_attempts(store: Database) -> None:
    await queue(store, (chat("a"), "one"), (chat("b"), "two"))
    first, second = await store.outbox.due(T0, 10)
    await store.outbox.mark_failed(first.id, T0 + timedelta(minutes=5))
    assert [e.id for e in await store.outbox.due(T0, 10)] == [second.id]
    (retried, _) = await store.outbox.due(T0 + timedelta(minutes=5), 10)
    assert (retried.id, retried.attempts) == (first.id, 1)
    await store.outbox.mark_failed(first.id, T0 + timedelta(minutes=20))
    (again, _) = await store.outbox.due(T0 + timedelta(minutes=20), 10)
    assert again.attempts == 2


async def test_paused_chats_are_skipped_until_resumed(store: Database) -> None:
    await queue(store, (chat("a"), "one"), (chat("b"), "two"))
    await store.chats.pause_chat(chat("a"))
    assert [e.chat.chat_id for e in await store.outbox.due(T0, 10)] == ["b"]
    assert await store.outbox.pending_count() == 2
    await store.chats.resume_chat(chat("a"))
    assert [e.chat.chat_id for e in await store.outbox.due(T0, 10)] == ["a", "b"]


async def test_discard_and_purge(store: Database, db_path: Path) -> None:
    await queue(store, (chat("a"), "one"), (chat("b"), "two"), (chat("c"), "three"))
    first, second, third = await store.outbox.due(T0, 10)
    assert await store.outbox.discard([second.id]) == 1
    assert await store.outbox.discard([]) == 0
    await store.outbox.mark_sent([first.id], T0)
    await store.outbox.mark_sent([third.id], T0 + timedelta(days=40))
    assert await store.outbox.purge_sent(T0 + timedelta(days=30)) == 1
    assert await count_rows(db_path, "outbox") == 1
    # Discarding never touches a sent row.
    assert await store.outbox.discard([third.id]) == 0
