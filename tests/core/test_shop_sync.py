"""The shop side end to end: signed TikTok Shop pushes through the real webhook app and the
durable inbox → core.shop_sync → real service → real SQLite file; order searches page by page.

TikTok Shop and 17TRACK are loopback fakes (tests/providers) that serve the recorded payloads.
The world (fixture) is the one of ``tests.core.test_pushes``.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bots.webhook_inbox import TIKTOK, WebhookInbox, order_events
from bots.webhooks import WebhookConfig, make_app, serve
from core.errors import ProviderError
from core.models import ChatRef, Platform, ShipmentKey, TrackingNumber
from core.providers import TIKTOK_SHOP
from core.pushes import Pushes
from core.service import ParcelService
from core.shop_sync import SYNC_KEY, SYNC_PAGE_KEY, ShopSync
from storage.db import Database
from tests.core.test_pushes import (
    NOW,
    NUMBER,
    ORDER,
    SECOND_NUMBER,
    SECOND_PACKAGE,
    SHOP_ID,
    TT_VECTORS,
    World,
    follow,
    world,
)
from tests.providers.fake_server import Recorded, Reply, load
from tests.providers.fake_tiktok import APP_KEY, APP_SECRET

__all__ = ["world"]  # the fixture, shared with the tests of core.pushes


def reopened_sync(world: World, db: Database) -> ShopSync:
    """The shop side as the next start builds it: the same shop, another connection."""
    return ShopSync(
        world.service.refresh,
        db,
        db.meta,
        world.clock,
        world.shop,
        max_batch=world.provider.max_batch,
    )


async def test_an_order_event_updates_the_index_and_registers_the_parcel(world: World) -> None:
    response = await world.push_tiktok("synthetic_order_in_transit")
    assert response.json() == {"status": "accepted"}
    await world.inbox.drain()

    indexed = await world.db.order_index.find(NUMBER)
    assert indexed is not None
    assert (indexed.order_id, indexed.shop_id, indexed.carrier) == (ORDER, SHOP_ID, "usps")
    # TikTok sends no scans: the number went to the tracking provider, which registered it.
    assert NUMBER in world.tracker.registered
    assert world.tiktok.bad_signatures == 0


async def test_a_package_event_indexes_every_package(world: World) -> None:
    response = await world.push_tiktok("synthetic_package_update_split")
    assert response.json() == {"status": "accepted"}
    await world.inbox.drain()

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
    await world.inbox.drain()

    stored = await world.db.shipments.get(ShipmentKey("usps", NUMBER))
    # The shop's promise is the verified buyer's (their order link), never the parcel's.
    assert stored is not None and stored.promised_by is None
    assert await world.db.outbox.pending_count() >= 1


async def test_a_failing_shop_keeps_the_push_and_retries_it_later(world: World) -> None:
    orders = world.fake.calls("GET", "/order/202309/orders")
    world.fake.route("GET", "/order/202309/orders", Reply(status=500))
    response = await world.push_tiktok("synthetic_order_in_transit")
    # TikTok gets its quick 200: the push is safe in the inbox whatever happens next.
    assert response.json() == {"status": "accepted"}
    assert await world.inbox.drain() == 0
    assert await world.db.order_index.find(NUMBER) is None
    assert await world.db.inbox.pending_count() == 1
    assert len(world.fake.calls("GET", "/order/202309/orders")) > len(orders)

    world.tiktok.install(world.fake)  # the shop is back
    assert await world.inbox.drain() == 0  # not due yet: it waits for its retry time
    world.clock.advance(timedelta(minutes=1))
    assert await world.inbox.drain() == 1
    assert await world.db.order_index.find(NUMBER) is not None
    assert await world.db.inbox.pending_count() == 0


async def test_sync_orders_indexes_updated_orders_once(world: World) -> None:
    # The fake expects the first search to start at this instant.
    world.clock.current = datetime.fromtimestamp(1767000000, UTC) + timedelta(days=1)
    stats = await world.sync.sync_orders()
    assert stats.indexed >= 1 and stats.new == stats.registered
    assert await world.db.meta.get(SYNC_KEY) == world.clock.current.isoformat()
    assert await world.db.order_index.count() >= 1


# -- 17TRACK stopped following a number --------------------------------------------------------


async def test_a_tiktok_push_is_answered_before_it_is_processed(world: World) -> None:
    gate = asyncio.Event()
    orders = world.tiktok.api(world.tiktok._orders)

    async def held(request: Recorded) -> Reply:
        await gate.wait()
        answer: Reply = orders(request)
        return answer

    world.fake.route("GET", "/order/202309/orders", held)

    response = await world.push_tiktok("synthetic_order_in_transit")

    # Answered while the shop has not even answered the order read.
    assert response.json() == {"status": "accepted"}
    assert await world.db.inbox.pending_count() == 1
    assert await world.db.order_index.find(NUMBER) is None
    gate.set()
    await world.inbox.drain()
    assert await world.db.order_index.find(NUMBER) is not None
    assert await world.db.inbox.pending_count() == 0
    # TikTok delivering the same notification again changes nothing.
    again = await world.push_tiktok("synthetic_order_in_transit")
    assert again.json() == {"status": "duplicate"}
    assert await world.db.inbox.pending_count() == 0


async def test_a_push_left_by_a_stopped_worker_is_processed_at_the_next_start(
    world: World,
) -> None:
    # A second server whose worker never runs: the push is accepted and then the process
    # "stops" before anything processed it.
    stalled = WebhookInbox(world.db.inbox, world.clock, {TIKTOK: order_events(world.pushes)})
    config = WebhookConfig(secrets={TIKTOK_SHOP.id: (APP_KEY, APP_SECRET)})
    app = make_app(config, world.pushes, world.clock, inbox=stalled)
    vector = TT_VECTORS["synthetic_package_update_split"]
    async with serve(app, "127.0.0.1", 0, shutdown_timeout=0.2) as url:
        response = await world.http.post(
            f"{url}/webhooks/tiktok",
            content=vector["raw_body"].encode(),
            headers={"Authorization": vector["expected_authorization"]},
        )
    assert response.json() == {"status": "accepted"}

    # The next start: a fresh connection to the same file and a fresh worker.
    async with Database.open(world.path, clock=world.clock) as reopened:
        assert await reopened.inbox.pending_count() == 1
        pushes = Pushes(world.service.refresh, reopened, shop=reopened_sync(world, reopened))
        worker = WebhookInbox(reopened.inbox, world.clock, {TIKTOK: order_events(pushes)})
        async with worker.running():
            await worker.drain()
        assert await reopened.inbox.pending_count() == 0
        assert await reopened.order_index.find(SECOND_NUMBER) is not None


# -- the order index in /track replies ----------------------------------------------------------

BUYER = ChatRef(Platform.TELEGRAM, "100", "100")
STRANGER = ChatRef(Platform.TELEGRAM, "200", "200")
BUYERS_GROUP = ChatRef(Platform.TELEGRAM, "-500", "100", is_group=True)
ORDER_LINE = f"Order {ORDER}: with the carrier."


async def index_both_packages(world: World) -> None:
    await world.push_tiktok("synthetic_package_update_split")
    await world.inbox.drain()
    indexed = await world.db.order_index.find(SECOND_NUMBER)
    assert indexed is not None and indexed.order_id == ORDER


async def test_the_verified_buyer_sees_the_order_of_a_tracked_number(world: World) -> None:
    await index_both_packages(world)
    await world.service.lookup_order(BUYER, ORDER, "95110")

    # The second package was not part of the order when it was verified; the index knows it.
    reply = await world.service.track(BUYER, SECOND_NUMBER)

    assert ORDER_LINE in reply.lines
    assert reply.private
    links = await world.db.orders.for_chat(BUYER)
    assert links[ShipmentKey("usps", TrackingNumber(SECOND_NUMBER))].order_id == ORDER


async def test_nobody_else_sees_the_order_of_a_tracked_number(world: World) -> None:
    await index_both_packages(world)
    await world.service.lookup_order(BUYER, ORDER, "95110")

    for who in (STRANGER, BUYERS_GROUP):
        reply = await world.service.track(who, SECOND_NUMBER)
        text = reply.plain_text()
        assert ORDER not in text
        assert not any(line.startswith("Order ") for line in reply.lines)
        assert any(line.startswith("Status:") for line in reply.lines)
        assert not reply.private
        assert await world.db.orders.for_chat(who) == {}


async def test_the_order_shows_after_a_restart_from_the_stored_link(world: World) -> None:
    await index_both_packages(world)
    await world.service.lookup_order(BUYER, ORDER, "95110")
    await world.service.track(BUYER, SECOND_NUMBER)
    # A new service remembers no verification in memory: the chat's stored link decides.
    fresh = ParcelService(
        provider=world.provider,
        store=world.db,
        clock=world.clock,
        orders=world.shop,
        rng=random.Random(3),
    )

    assert ORDER_LINE in (await fresh.track(BUYER, NUMBER)).lines
    assert ORDER not in (await fresh.track(STRANGER, NUMBER)).plain_text()


async def test_an_unreadable_shop_leaves_only_the_order_id(world: World) -> None:
    await index_both_packages(world)
    await world.service.lookup_order(BUYER, ORDER, "95110")
    world.fake.route("GET", "/order/202309/orders", Reply(status=500))

    reply = await world.service.track(BUYER, NUMBER)

    assert f"Order {ORDER} (its status cannot be read right now)." in reply.lines


# -- the order sync (Search Orders by update time) ----------------------------------------------

SEARCH = "/order/202309/orders/search"
LISTED = load("tiktok_shop/get_order_list_202309.json")["body"]


class Pages:
    """Serves the recorded order list in two pages (``next_page_token``), checking every
    signature like the real API, and records each search (page token, body)."""

    def __init__(self, world: World) -> None:
        self.searches: list[tuple[str, dict[str, Any]]] = []
        self._api = world.tiktok.api(self._page)
        world.fake.route("POST", SEARCH, self.answer)

    def answer(self, request: Recorded) -> Reply:
        reply: Reply = self._api(request)
        return reply

    def _page(self, request: Recorded) -> dict[str, Any]:
        token = request.query.get("page_token", "")
        self.searches.append((token, request.json()))
        body = json.loads(json.dumps(LISTED))
        orders = body["data"]["orders"]
        if token == "":
            body["data"].update(orders=orders[:1], next_page_token="p2")
        elif token == "p2":
            body["data"].update(orders=orders[1:], next_page_token="")
        else:
            raise AssertionError(f"unknown page token {token!r}")
        return body  # type: ignore[no-any-return]


UPS_NUMBER = "1Z5R89390357567127"


def window(searched: dict[str, Any]) -> tuple[datetime, datetime]:
    return (
        datetime.fromtimestamp(searched["update_time_ge"], UTC),
        datetime.fromtimestamp(searched["update_time_lt"], UTC),
    )


async def test_sync_reads_every_page_and_moves_the_cursor(world: World) -> None:
    pages = Pages(world)

    stats = await world.sync.sync_orders()

    assert [token for token, _ in pages.searches] == ["", "p2"]
    # Both pages ask the same fixed window: a day back the first time, up to the start.
    assert {window(body) for _, body in pages.searches} == {(NOW - timedelta(days=1), NOW)}
    assert (stats.indexed, stats.new) == (2, 2)
    assert {NUMBER, UPS_NUMBER} <= world.tracker.registered
    assert await world.db.meta.get(SYNC_KEY) == NOW.isoformat()
    assert await world.db.meta.get(SYNC_PAGE_KEY) is None


async def test_a_restart_resumes_from_the_saved_cursor(world: World) -> None:
    pages = Pages(world)
    await world.sync.sync_orders()
    world.clock.advance(timedelta(minutes=10))
    registered = world.tracker.calls.get("register", 0)

    async with Database.open(world.path, clock=world.clock) as reopened:
        stats = await reopened_sync(world, reopened).sync_orders()

    second = pages.searches[2:]
    assert [token for token, _ in second] == ["", "p2"]
    # From the last cursor (less the overlap) to now; nothing new to register.
    assert window(second[0][1]) == (NOW - timedelta(minutes=5), NOW + timedelta(minutes=10))
    assert stats.new == 0 and world.tracker.calls.get("register", 0) == registered
    assert await world.db.meta.get(SYNC_KEY) == (NOW + timedelta(minutes=10)).isoformat()


async def test_a_failed_page_is_asked_again_next_run_and_the_cursor_kept(world: World) -> None:
    pages = Pages(world)

    def fail_second_page(request: Recorded) -> Reply:
        """Lets the first page through and fails every try at the second."""
        if request.query.get("page_token") == "p2":
            return Reply(status=500)
        return pages.answer(request)

    world.fake.route("POST", SEARCH, fail_second_page)
    with pytest.raises(ProviderError):
        await world.sync.sync_orders()

    # Page one is indexed and registered; the cursor has not moved; the place is kept.
    assert await world.db.order_index.find(NUMBER) is not None
    assert NUMBER in world.tracker.registered
    assert await world.db.order_index.find(UPS_NUMBER) is None
    assert await world.db.meta.get(SYNC_KEY) is None
    assert await world.db.meta.get(SYNC_PAGE_KEY) is not None

    world.fake.route("POST", SEARCH, pages.answer)
    world.clock.advance(timedelta(minutes=2))
    async with Database.open(world.path, clock=world.clock) as reopened:
        stats = await reopened_sync(world, reopened).sync_orders()

    # Only the failed page is asked again, for the same window.
    assert [token for token, _ in pages.searches] == ["", "p2"]
    assert window(pages.searches[1][1]) == (NOW - timedelta(days=1), NOW)
    assert (stats.indexed, stats.new) == (1, 1)
    assert UPS_NUMBER in world.tracker.registered
    assert await world.db.meta.get(SYNC_KEY) == NOW.isoformat()
    assert await world.db.meta.get(SYNC_PAGE_KEY) is None


async def test_a_stale_page_token_restarts_the_window_from_its_first_page(world: World) -> None:
    pages = Pages(world)
    await world.db.meta.set(
        SYNC_PAGE_KEY,
        json.dumps(
            {
                "since": (NOW - timedelta(days=1)).isoformat(),
                "until": NOW.isoformat(),
                "token": "expired-token",
                "saved_at": (NOW - timedelta(hours=2)).isoformat(),
            }
        ),
    )

    await world.sync.sync_orders()

    assert [token for token, _ in pages.searches] == ["", "p2"]
    assert window(pages.searches[0][1]) == (NOW - timedelta(days=1), NOW)
    assert await world.db.meta.get(SYNC_KEY) == NOW.isoformat()
