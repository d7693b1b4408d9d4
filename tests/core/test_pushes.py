"""Pushes end to end: real aiohttp webhook app → core.pushes (and core.shop_sync) → real
service → real SQLite file.

17TRACK and TikTok Shop are loopback fakes (tests/providers) that serve the recorded payloads.
TikTok Shop pushes go through the durable inbox and its background worker, as in production.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.webhook_inbox import TIKTOK, WebhookInbox, order_events
from bots.webhooks import WebhookConfig, make_app, serve
from core.models import (
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingNumber,
)
from core.providers import SEVENTEEN_TRACK, TIKTOK_SHOP, seventeen_track
from core.providers.http import create_http_client
from core.providers.seventeen_track import SeventeenTrackClient, make_limiter
from core.providers.tiktok_shop import TikTokShopClient, TokenSet
from core.pushes import Pushes
from core.service import ParcelService
from core.shop_sync import ShopSync
from storage.db import Database
from tests.fakes import FakeClock, chat
from tests.providers.conftest import FAST_RETRY
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, Reply, load
from tests.providers.fake_tiktok import APP_KEY, APP_SECRET, PACKAGE, FakeTikTok

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NUMBER = TrackingNumber("9400111206206406260787")
ORDER = "576486316948490001"
SHOP_ID = "7494049642642441621"
PUSHES = load("seventeen_track/webhook_vectors.json")
PUSH_KEY = PUSHES["security_key"]
PUSH_BODY = PUSHES["vectors"][0]["raw_body"].encode()
TT_VECTORS = {v["name"]: v for v in load("tiktok_shop/webhook_signature_vectors.json")["vectors"]}
SECOND_PACKAGE = "1153132168123859124"
SECOND_NUMBER = "9400111206206406260794"


@dataclass
class World:
    url: str
    db: Database
    clock: FakeClock
    pushes: Pushes
    sync: ShopSync
    provider: SeventeenTrackClient
    shop: TikTokShopClient
    tracker: Fake17Track
    tiktok: FakeTikTok
    http: httpx.AsyncClient
    fake: FakeServer
    inbox: WebhookInbox
    service: ParcelService
    path: Path

    async def push_17track(self, body: bytes = PUSH_BODY) -> httpx.Response:
        sign = seventeen_track.push_signature(PUSH_KEY, body)
        return await self.http.post(
            f"{self.url}/webhooks/17track", content=body, headers={"sign": sign}
        )

    async def push_tiktok(self, name: str) -> httpx.Response:
        vector = TT_VECTORS[name]
        return await self.http.post(
            f"{self.url}/webhooks/tiktok",
            content=vector["raw_body"].encode(),
            headers={"Authorization": vector["expected_authorization"]},
        )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    clock = FakeClock(NOW)
    fake = FakeServer()
    await fake.start()
    tracker = Fake17Track()
    tracker.install(fake)
    shop_fake = FakeTikTok(clock)
    shop_fake.install(fake)
    second = json.loads(json.dumps(PACKAGE))
    second["data"].update(package_id=SECOND_PACKAGE, tracking_number=SECOND_NUMBER)
    fake.route(
        "GET", f"/fulfillment/202309/packages/{SECOND_PACKAGE}", shop_fake.api(lambda r: second)
    )
    try:
        async with (
            Database.open(tmp_path / "hooks.sqlite3", clock=clock) as db,
            create_http_client(timeout=2.0) as http,
        ):
            provider = SeventeenTrackClient(
                http,
                api_key=KEY,
                base_url=fake.url + PREFIX,
                clock=clock,
                retry=FAST_RETRY,
                limiter=make_limiter(rate=200.0),
            )
            shop = TikTokShopClient(
                http,
                app_key=APP_KEY,
                app_secret=APP_SECRET,
                tokens=TokenSet(
                    "TTP_access_old",
                    NOW + timedelta(days=5),
                    "TTP_refresh_xxx",
                    NOW + timedelta(days=300),
                ),
                api_base=fake.url,
                auth_base=fake.url,
                retry=FAST_RETRY,
                clock=clock,
            )
            service = ParcelService(
                provider=provider, store=db, clock=clock, orders=shop, rng=random.Random(7)
            )
            sync = ShopSync(service.refresh, db, db.meta, clock, shop, max_batch=provider.max_batch)
            pushes = Pushes(service.refresh, db, retracker=provider, shop=sync)
            config = WebhookConfig(
                secrets={SEVENTEEN_TRACK.id: (PUSH_KEY,), TIKTOK_SHOP.id: (APP_KEY, APP_SECRET)}
            )
            inbox = WebhookInbox(db.inbox, clock, {TIKTOK: order_events(pushes)})
            app = make_app(config, pushes, clock, inbox=inbox)
            async with (
                inbox.running(),
                serve(app, "127.0.0.1", 0, shutdown_timeout=0.2) as url,
            ):
                yield World(
                    url,
                    db,
                    clock,
                    pushes,
                    sync,
                    provider,
                    shop,
                    tracker,
                    shop_fake,
                    http,
                    fake,
                    inbox,
                    service,
                    tmp_path / "hooks.sqlite3",
                )
    finally:
        await fake.close()


def pushed_snapshot(body: bytes = PUSH_BODY) -> Shipment:
    shipment = seventeen_track.parse_push(body).shipment(now=NOW)
    assert shipment is not None
    return shipment


async def follow(world: World, key: ShipmentKey) -> None:
    """A chat follows the parcel and an older snapshot (one scan fewer) is stored."""
    await follow_in(world.db, key)


async def follow_in(db: Database, key: ShipmentKey) -> None:
    """``follow`` in ``db``: the buyer follows the parcel, one scan behind the push."""
    pushed = pushed_snapshot()
    older = replace(pushed, carrier=key.carrier, events=pushed.events[:-1])
    older = replace(older, checked_at=NOW - timedelta(hours=2), first_seen=NOW - timedelta(days=3))
    await db.shipments.save_many([SnapshotWrite(older, NOW + timedelta(hours=1))])
    await db.subscriptions.add(
        Subscription(chat("buyer"), key, label="shoes", created_at=NOW - timedelta(days=3))
    )


def resigned(mutate: Any) -> bytes:
    doc = json.loads(PUSH_BODY)
    mutate(doc)
    return json.dumps(doc).encode()


async def test_a_signed_push_queues_exactly_one_alert_and_a_duplicate_none(world: World) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))

    first = await world.push_17track()
    assert first.json() == {"status": "processed"}
    assert await world.db.outbox.pending_count() == 1
    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    assert stored is not None and len(stored.events) == len(pushed_snapshot().events)

    again = await world.push_17track()
    assert again.json() == {"status": "duplicate"}
    # The same news in another body (17TRACK re-sending it) passes the webhook dedupe but
    # adds no alert: the outbox is unique per chat and change.
    same_news = resigned(lambda doc: doc.update(extra=1))
    assert (await world.push_17track(same_news)).json() == {"status": "processed"}
    assert await world.db.outbox.pending_count() == 1
    [entry] = await world.db.outbox.due(NOW + timedelta(days=1), 10)
    assert entry.chat == chat("buyer")


async def test_a_push_for_nobody_stores_nothing(world: World) -> None:
    assert (await world.push_17track()).json() == {"status": "processed"}
    assert await world.db.shipments.get(ShipmentKey("usps", NUMBER)) is None
    assert await world.db.outbox.pending_count() == 0


async def test_a_push_without_a_known_carrier_is_matched_by_detection(world: World) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))

    def unknown_carrier(doc: dict[str, Any]) -> None:
        doc["data"]["carrier"] = 999999
        doc["data"]["tag"] = ""

    assert seventeen_track.parse_push(resigned(unknown_carrier)).carrier == ""
    response = await world.push_17track(resigned(unknown_carrier))
    assert response.json() == {"status": "processed"}
    assert await world.db.outbox.pending_count() == 1


STOPPED = next(v for v in PUSHES["vectors"] if v["name"] == "tracking_stopped")
STOPPED_BODY = STOPPED["raw_body"].encode()
PARCEL = ShipmentKey("usps", NUMBER)


async def followed_and_pushed(world: World) -> None:
    """A chat follows the parcel, 17TRACK knows it and has been pushing it (daily polls)."""
    await follow(world, PARCEL)
    world.tracker.registered.add(NUMBER)
    await world.db.shipments.mark_pushed([PARCEL], NOW)
    await world.db.shipments.schedule(PARCEL, NOW + timedelta(hours=20))


async def test_a_stopped_number_someone_follows_is_restarted_and_polled(world: World) -> None:
    await followed_and_pushed(world)
    world.tracker.stopped.add(NUMBER)
    # The recorded vector is correctly signed for the key the server uses.
    assert seventeen_track.push_signature(PUSH_KEY, STOPPED_BODY) == STOPPED["expected_sign"]

    response = await world.push_17track(STOPPED_BODY)

    assert response.json() == {"status": "retracked"}
    assert NUMBER in world.tracker.retracked
    # Until pushes arrive again it is polled like any parcel, starting now.
    assert await world.db.shipments.pushed_since([PARCEL], NOW - timedelta(days=3)) == set()
    assert await world.db.shipments.next_check(PARCEL) == NOW
    asked = world.tracker.calls.get("gettrackinfo", 0)
    stats = await world.service.refresh.poll_due()
    assert stats.checked == 1 and world.tracker.calls["gettrackinfo"] == asked + 1


async def test_a_stopped_number_that_cannot_restart_falls_back_to_polling(world: World) -> None:
    await followed_and_pushed(world)
    world.tracker.stopped.add(NUMBER)
    world.tracker.retracked.add(NUMBER)  # its one restart is used up

    response = await world.push_17track(STOPPED_BODY)

    assert response.json() == {"status": "polling"}
    assert await world.db.shipments.next_check(PARCEL) == NOW
    assert await world.db.shipments.pushed_since([PARCEL], NOW - timedelta(days=3)) == set()
    assert (await world.service.refresh.poll_due()).checked == 1


async def test_a_stopped_number_is_polled_when_17track_cannot_be_reached(world: World) -> None:
    await followed_and_pushed(world)
    world.fake.route("POST", f"{PREFIX}/retrack", Reply(status=503))

    response = await world.push_17track(STOPPED_BODY)

    assert response.json() == {"status": "polling"}
    assert await world.db.shipments.next_check(PARCEL) == NOW


async def test_a_stopped_number_nobody_follows_costs_nothing(world: World) -> None:
    world.tracker.registered.add(NUMBER)
    world.tracker.stopped.add(NUMBER)

    response = await world.push_17track(STOPPED_BODY)

    assert response.json() == {"status": "ignored"}
    assert world.fake.calls("POST", f"{PREFIX}/retrack") == []


async def test_a_stopped_number_whose_journey_ended_is_left_alone(world: World) -> None:
    await follow(world, PARCEL)
    delivered = replace(
        pushed_snapshot(), status=Status.DELIVERED, delivered_at=NOW, checked_at=NOW
    )
    await world.db.shipments.save_many([SnapshotWrite(delivered, None)])

    response = await world.push_17track(STOPPED_BODY)

    assert response.json() == {"status": "ignored"}
    assert await world.db.shipments.next_check(PARCEL) is None
    assert world.fake.calls("POST", f"{PREFIX}/retrack") == []


# -- TikTok Shop: answered first, processed in the background -----------------------------------
