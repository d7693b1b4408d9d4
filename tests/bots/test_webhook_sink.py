"""Pushes end to end: real aiohttp webhook app → ServiceSink → real service → real SQLite file.

17TRACK and TikTok Shop are loopback fakes (tests/providers) that serve the recorded payloads.
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

from bots.webhook_sink import SYNC_KEY, ServiceSink
from bots.webhooks import WebhookConfig, make_app, serve
from core.models import Shipment, ShipmentKey, Subscription, TrackingNumber
from core.ports import SnapshotWrite
from core.providers import seventeen_track
from core.providers._http import create_http_client
from core.providers.seventeen_track import SeventeenTrackClient, make_limiter
from core.providers.tiktok_shop import TikTokShopClient, TokenSet
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat
from tests.providers.conftest import FAST_RETRY
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, Reply, load
from tests.providers.test_tiktok_shop import APP_KEY, APP_SECRET, PACKAGE, FakeTikTok

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
    sink: ServiceSink
    tracker: Fake17Track
    tiktok: FakeTikTok
    http: httpx.AsyncClient
    fake: FakeServer

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
            sink = ServiceSink(service, provider, db, clock, shop=shop)
            config = WebhookConfig(
                seventeen_track_key=PUSH_KEY,
                tiktok_app_key=APP_KEY,
                tiktok_app_secret=APP_SECRET,
            )
            app = make_app(config, sink, clock)
            async with serve(app, "127.0.0.1", 0, shutdown_timeout=0.2) as url:
                yield World(url, db, clock, sink, tracker, shop_fake, http, fake)
    finally:
        await fake.close()


def pushed_snapshot(body: bytes = PUSH_BODY) -> Shipment:
    shipment = seventeen_track.parse_push(body).shipment(now=NOW)
    assert shipment is not None
    return shipment


async def follow(world: World, key: ShipmentKey) -> None:
    """A chat follows the parcel and an older snapshot (one scan fewer) is stored."""
    pushed = pushed_snapshot()
    older = replace(pushed, carrier=key.carrier, events=pushed.events[:-1])
    older = replace(older, checked_at=NOW - timedelta(hours=2), first_seen=NOW - timedelta(days=3))
    await world.db.shipments.save_many([SnapshotWrite(older, NOW + timedelta(hours=1))])
    await world.db.subscriptions.add(
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


async def test_an_order_event_updates_the_index_and_registers_the_parcel(world: World) -> None:
    response = await world.push_tiktok("synthetic_order_in_transit")
    assert response.json() == {"status": "processed"}

    indexed = await world.db.order_index.find(NUMBER)
    assert indexed is not None
    assert (indexed.order_id, indexed.shop_id, indexed.carrier) == (ORDER, SHOP_ID, "usps")
    # TikTok sends no scans: the number went to the tracking provider, which registered it.
    assert NUMBER in world.tracker.registered
    assert world.tiktok.bad_signatures == 0


async def test_a_package_event_indexes_every_package(world: World) -> None:
    response = await world.push_tiktok("synthetic_package_update_split")
    assert response.json() == {"status": "processed"}

    first = await world.db.order_index.find(NUMBER)
    second = await world.db.order_index.find(SECOND_NUMBER)
    assert first is not None and first.package_id == "1153132168123859123"
    assert second is not None and second.package_id == SECOND_PACKAGE
    assert [p.number for p in await world.db.order_index.for_order(ORDER)] == sorted(
        [NUMBER, SECOND_NUMBER]
    )
    assert {NUMBER, SECOND_NUMBER} <= world.tracker.registered


async def test_an_order_event_refreshes_a_followed_parcel_at_once(world: World) -> None:
    await follow(world, ShipmentKey("usps", NUMBER))
    world.tracker.registered.add(NUMBER)

    await world.push_tiktok("synthetic_order_in_transit")

    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    assert stored is not None and stored.promised_by is not None
    assert await world.db.outbox.pending_count() >= 1


async def test_a_failing_shop_answers_500_so_tiktok_retries(world: World) -> None:
    world.fake.route("GET", "/order/202309/orders", Reply(status=500))
    response = await world.push_tiktok("synthetic_order_in_transit")
    assert response.status_code == 500
    assert await world.db.order_index.find(NUMBER) is None


async def test_sync_orders_indexes_updated_orders_once(world: World) -> None:
    # The fake expects the first search to start at this instant.
    world.clock.current = datetime.fromtimestamp(1767000000, UTC) + timedelta(days=1)
    stats = await world.sink.sync_orders()
    assert stats.indexed >= 1 and stats.new == stats.registered
    assert await world.db.meta.get(SYNC_KEY) == world.clock.current.isoformat()
    assert await world.db.order_index.count() >= 1
