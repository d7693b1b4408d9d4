"""Tracking pushes through the durable inbox: stored before the answer, then processed in
batches through the poll path (real aiohttp app, real service, real SQLite file)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bots.runtime import open_runtime
from bots.settings import load_settings
from bots.webhook_inbox import AFTERSHIP, SEVENTEEN_TRACK, WebhookInbox, tracking_pushes
from bots.webhooks import WebhookConfig, make_app, serve
from core.models import Shipment, ShipmentKey, StoredPush, Subscription
from core.providers import aftership, seventeen_track
from storage.db import inbox_path
from storage.inbox import SqliteInbox
from tests.core.test_pushes import (
    NOW,
    NUMBER,
    PUSH_BODY,
    PUSH_KEY,
    World,
    follow,
    pushed_snapshot,
    resigned,
    world,
)
from tests.fakes import chat
from tests.providers.fake_server import load

__all__ = ["world"]  # the fixture, shared with the tests of core.pushes


def _pending_rows(path: object) -> list[tuple[str, object]]:
    """The inbox as another process sees it: only what was committed."""
    with sqlite3.connect(str(path)) as conn:
        return list(
            conn.execute("SELECT provider, done_at FROM webhook_inbox WHERE done_at IS NULL")
        )


def _tracking_inbox(world: World) -> WebhookInbox:
    """An inbox whose worker does not run on its own: pushes are processed when drained."""
    return WebhookInbox(
        world.db.inbox,
        world.clock,
        {},
        batch_handlers={SEVENTEEN_TRACK: tracking_pushes(world.pushes)},
    )


def _app(world: World, inbox: WebhookInbox) -> web.Application:
    """The webhook server taking 17TRACK pushes into ``inbox``."""
    return make_app(
        WebhookConfig(secrets={SEVENTEEN_TRACK: (PUSH_KEY,)}),
        world.pushes,
        world.clock,
        inbox=inbox,
    )


async def test_a_tracking_push_is_committed_before_the_answer_and_processed_later(
    world: World,
) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))
    inbox = _tracking_inbox(world)
    app = _app(world, inbox)
    body = resigned(lambda doc: doc.update(extra=1))
    sign = seventeen_track.push_signature(PUSH_KEY, body)
    async with serve(app, "127.0.0.1", 0, shutdown_timeout=0.2) as url:
        response = await world.http.post(
            f"{url}/webhooks/17track", content=body, headers={"sign": sign}
        )
        assert response.json() == {"status": "accepted"}
        # Durable at the moment of the answer: committed, visible to another connection.
        assert _pending_rows(world.path) == [(SEVENTEEN_TRACK, None)]
        assert await world.db.outbox.pending_count() == 0
        again = await world.http.post(
            f"{url}/webhooks/17track", content=body, headers={"sign": sign}
        )
        assert again.json() == {"status": "duplicate"}
    assert await inbox.drain() == 1
    assert _pending_rows(world.path) == []
    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    assert stored is not None and len(stored.events) == len(pushed_snapshot().events)
    [entry] = await world.db.outbox.due(NOW.replace(year=NOW.year + 1), 10)
    assert entry.chat == chat("buyer")


class _CountingInbox:
    """The real inbox store, counting its commits and recording what the handler got."""

    def __init__(self, store: SqliteInbox) -> None:
        self.store = store
        self.appends = 0

    async def add_many(
        self, notifications: Sequence[tuple[str, str, bytes]], now: datetime
    ) -> list[bool]:
        self.appends += 1
        return await self.store.add_many(notifications, now)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


async def test_a_burst_is_stored_in_few_commits_and_handled_in_one_batch(world: World) -> None:
    counting = _CountingInbox(world.db.inbox)
    batches: list[list[str]] = []

    async def handler(items: Sequence[StoredPush]) -> None:
        batches.append([item.notification_id for item in items])

    inbox = WebhookInbox(
        counting,  # type: ignore[arg-type]
        world.clock,
        {},
        batch_handlers={SEVENTEEN_TRACK: handler},
    )
    ids = [f"push-{n}" for n in range(40)]
    answers = await asyncio.gather(
        *(inbox.accept(SEVENTEEN_TRACK, nid, b"{}") for nid in ids),
        inbox.accept(SEVENTEEN_TRACK, "push-0", b"{}"),  # a repeat within the burst
    )
    assert answers == [True] * 40 + [False]
    # Arrivals during a commit share the next one: far fewer commits than pushes.
    assert counting.appends < len(ids)
    assert await inbox.drain() == 40
    assert batches == [ids]
    assert await world.db.inbox.pending_count() == 0


async def test_a_request_that_gives_up_mid_commit_leaves_the_rest_of_its_group_answered(
    world: World,
) -> None:
    inbox = WebhookInbox(
        world.db.inbox,
        world.clock,
        {},
        batch_handlers={SEVENTEEN_TRACK: tracking_pushes(world.pushes)},
    )
    first = asyncio.create_task(inbox.accept(SEVENTEEN_TRACK, "n-1", b"{}"))
    await asyncio.sleep(0)  # its append is being committed now
    gone = asyncio.create_task(inbox.accept(SEVENTEEN_TRACK, "n-2", b"{}"))
    kept = asyncio.create_task(inbox.accept(SEVENTEEN_TRACK, "n-3", b"{}"))
    await asyncio.sleep(0)
    gone.cancel()  # its client went away while it waited for the next commit
    async with asyncio.timeout(5):
        assert await first is True
        assert await kept is True
    with pytest.raises(asyncio.CancelledError):
        await gone
    # Stored all the same: a sender that gave up sends it again and gets "duplicate".
    assert await world.db.inbox.pending_count() == 3
    assert await inbox.accept(SEVENTEEN_TRACK, "n-2", b"{}") is False


async def test_a_failing_batch_is_retried_push_by_push(world: World) -> None:
    handled: list[str] = []

    async def handler(items: Sequence[StoredPush]) -> None:
        if any(item.notification_id == "bad" for item in items):
            raise RuntimeError("cannot process")
        handled.extend(item.notification_id for item in items)

    inbox = WebhookInbox(world.db.inbox, world.clock, {}, batch_handlers={SEVENTEEN_TRACK: handler})
    for nid in ("a", "bad", "b"):
        assert await inbox.accept(SEVENTEEN_TRACK, nid, b"{}")
    assert await inbox.drain() == 2
    assert handled == ["a", "b"]
    # The bad one waits for its retry; nothing is dropped.
    assert await world.db.inbox.pending_count() == 1


class _Moments:
    """A monotonic clock moved by hand (each batch "takes" ``batch_takes`` seconds), and the
    pauses the worker asked for."""

    def __init__(self, batch_takes: float) -> None:
        self.now = 100.0
        self.batch_takes = batch_takes
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds

    async def handler(self, items: Sequence[StoredPush]) -> None:
        self.now += self.batch_takes


async def _drained_in_batches_of_one(
    world: World, moments: _Moments, *, gather: float, catch_up_after: float = 10.0
) -> int:
    inbox = WebhookInbox(
        world.db.inbox,
        world.clock,
        {},
        batch_handlers={SEVENTEEN_TRACK: moments.handler},
        batch=1,
        gather=gather,
        yield_ratio=3.0,
        catch_up_after=catch_up_after,
        monotonic=moments,
        pause=moments.pause,
    )
    for nid in ("a", "b", "c"):
        assert await inbox.accept(SEVENTEEN_TRACK, nid, b"{}")
    return await inbox.drain()


async def test_while_pushes_keep_arriving_each_batch_leaves_the_process_to_answering(
    world: World,
) -> None:
    moments = _Moments(batch_takes=0.1)
    # Pushes count as still arriving for a second after the last one.
    assert await _drained_in_batches_of_one(world, moments, gather=1.0) == 3
    assert moments.pauses == pytest.approx([0.3, 0.3, 0.3])


async def test_once_pushes_stop_arriving_batches_follow_each_other_at_once(world: World) -> None:
    moments = _Moments(batch_takes=0.1)
    assert await _drained_in_batches_of_one(world, moments, gather=0.05) == 3
    assert moments.pauses == []


async def test_a_worker_behind_for_too_long_stops_giving_way(world: World) -> None:
    moments = _Moments(batch_takes=0.1)
    # Behind since the worker started: after 0.4 s it no longer pauses for answering.
    processed = await _drained_in_batches_of_one(world, moments, gather=1.0, catch_up_after=0.45)
    assert processed == 3
    assert moments.pauses == pytest.approx([0.3])


async def test_the_bot_keeps_tracking_pushes_in_their_own_file(tmp_path: Path) -> None:
    settings = load_settings(
        db=str(tmp_path / "bot.sqlite3"),
        seventeen_track_api_key=PUSH_KEY,
        tracking_providers="17track",
        webhook_port=0,
    )
    parcel = ShipmentKey("usps", NUMBER)
    async with open_runtime(settings) as runtime, httpx.AsyncClient() as http:
        assert runtime.pushes is not None
        await runtime.db.subscriptions.add(Subscription(chat=chat("buyer"), key=parcel))
        sign = seventeen_track.push_signature(PUSH_KEY, PUSH_BODY)
        response = await http.post(
            f"{runtime.webhook_url}/webhooks/17track", content=PUSH_BODY, headers={"sign": sign}
        )
        assert response.json() == {"status": "accepted"}
        # Committed in the push file, not in the main database's inbox.
        assert await runtime.db.inbox.pending_count() == 0
        await runtime.pushes.drain()
        assert await runtime.pushes.pending() == 0
        stored = await runtime.db.shipments.get(parcel)
    files = await asyncio.to_thread(lambda: {str(p) for p in tmp_path.iterdir()})
    assert inbox_path(settings.db) in files
    assert stored is not None and len(stored.events) == len(pushed_snapshot().events)


class _RecordingReceiver:
    """A ``PushReceiver`` that records the snapshots it is handed."""

    def __init__(self) -> None:
        self.ingested: list[Shipment] = []

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        self.ingested.extend(shipments)
        return 0

    async def order_event(self, push: object) -> None:
        raise AssertionError("no shop pushes here")

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        raise AssertionError("no stopped pushes here")


def _tracking_bodies() -> list[tuple[str, bytes]]:
    aftership_doc = load("aftership/webhook_vectors.json")
    return [
        *(
            (SEVENTEEN_TRACK, vector["raw_body"].encode())
            for vector in load("seventeen_track/webhook_vectors.json")["vectors"]
            if vector["name"] == "tracking_updated"
        ),
        (SEVENTEEN_TRACK, PUSH_BODY),
        *(
            (AFTERSHIP, vector["raw_body"].encode())
            for vector in aftership_doc["vectors"]
            if vector.get("expect_valid", True)
        ),
    ]


@pytest.mark.parametrize(("provider", "body"), _tracking_bodies())
async def test_the_snapshot_read_at_acceptance_equals_reading_the_stored_body_again(
    provider: str, body: bytes
) -> None:
    # As the webhook server reads it when it answers, a little before the row's time.
    if provider == SEVENTEEN_TRACK:
        early = seventeen_track.parse_push(body).shipment(now=NOW)
    else:
        early = aftership.parse_webhook(body).shipment(now=NOW)
    assert early is not None
    stored = StoredPush(1, provider, "n-1", body, NOW + timedelta(seconds=3))
    handed, read_again = _RecordingReceiver(), _RecordingReceiver()
    await tracking_pushes(handed)([replace(stored, decoded=early)])
    await tracking_pushes(read_again)([stored])
    assert handed.ingested == read_again.ingested
    assert handed.ingested[0].checked_at == stored.received_at


async def test_a_push_accepted_here_is_processed_without_reading_its_body_again(
    world: World,
) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))
    inbox = _tracking_inbox(world)
    app = _app(world, inbox)
    body = resigned(lambda doc: doc.update(extra=2))
    sign = seventeen_track.push_signature(PUSH_KEY, body)
    async with serve(app, "127.0.0.1", 0, shutdown_timeout=0.2) as url:
        response = await world.http.post(
            f"{url}/webhooks/17track", content=body, headers={"sign": sign}
        )
    assert response.json() == {"status": "accepted"}
    # Spoil the stored body behind the worker's back: it works from what it read already.
    with sqlite3.connect(str(world.path)) as conn:
        conn.execute("UPDATE webhook_inbox SET body = ?", (b"not json",))
    assert await inbox.drain() == 1
    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    assert stored is not None and len(stored.events) == len(pushed_snapshot().events)


async def test_after_a_restart_a_stored_push_is_read_from_its_body(world: World) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))
    before = WebhookInbox(world.db.inbox, world.clock, {}, batch_handlers={})
    decoded = pushed_snapshot()
    assert await before.accept(SEVENTEEN_TRACK, "n-1", PUSH_BODY, decoded=decoded)
    # A new process: nothing in memory, only the committed row.
    after = _tracking_inbox(world)
    assert await after.drain() == 1
    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    assert stored is not None and len(stored.events) == len(decoded.events)
