"""The order-sync job as the composition root schedules it, against loopback fakes.

TikTok Shop (every request signature checked) and 17TRACK serve the recorded payloads; the
runtime is the real one, built from settings. The job is run by hand rather than by waiting
for the scheduler's clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bots.runtime import _add_order_sync, open_runtime
from core.clock import SystemClock
from core.shop_sync import SYNC_KEY, SYNC_PAGE_KEY
from tests.bots.test_runtime import LiveTikTok, live_settings
from tests.providers.fake_17track import Fake17Track
from tests.providers.fake_server import FakeServer, Recorded, json_reply, load

SEARCH = "/order/202309/orders/search"
LISTED = load("tiktok_shop/get_order_list_202309.json")["body"]
NUMBERS = {"9400111206206406260787", "1Z5R89390357567127"}


pytestmark = pytest.mark.usefixtures("clean_environment")


def paged(shop: LiveTikTok, searches: list[dict[str, Any]]) -> Any:
    """The recorded list as two pages, each search recorded (signature checked first)."""

    def page(request: Recorded) -> dict[str, Any]:
        token = request.query.get("page_token", "")
        searches.append({"token": token, **request.json()})
        body = json.loads(json.dumps(LISTED))
        orders = body["data"]["orders"]
        first = token == ""
        body["data"].update(
            orders=orders[:1] if first else orders[1:], next_page_token="p2" if first else ""
        )
        return body  # type: ignore[no-any-return]

    return shop.api(page)


async def test_the_scheduled_job_keeps_the_index_and_survives_a_failing_shop(
    fake: FakeServer, tmp_path: Path
) -> None:
    tracker = Fake17Track()
    tracker.install(fake)
    shop = LiveTikTok(SystemClock())  # type: ignore[arg-type]
    shop.install(fake)
    searches: list[dict[str, Any]] = []
    # A shop error that is not worth an HTTP retry: the job must log it and carry on.
    fake.route("POST", SEARCH, json_reply({"code": 12019001, "message": "internal", "data": None}))
    settings = live_settings(fake, tmp_path, webhook_port=None, tiktok_sync_interval=300)

    async with open_runtime(settings) as runtime:
        scheduler = AsyncIOScheduler(timezone="UTC")
        _add_order_sync(scheduler, runtime)
        job = scheduler.get_job("tiktok_order_sync")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=300)

        await job.func()  # fails inside, raises nothing
        assert await runtime.db.meta.get(SYNC_KEY) is None
        assert await runtime.db.order_index.count() == 0

        fake.route("POST", SEARCH, paged(shop, searches))
        before = datetime.now(UTC)
        await job.func()

        assert [s["token"] for s in searches] == ["", "p2"]
        assert {parcel for parcel in NUMBERS if await runtime.db.order_index.find(parcel)} == (
            NUMBERS
        )
        assert tracker.registered >= NUMBERS
        cursor = await runtime.db.meta.get(SYNC_KEY)
        assert cursor is not None and datetime.fromisoformat(cursor) >= before
        assert await runtime.db.meta.get(SYNC_PAGE_KEY) is None

    # The next start resumes from the stored cursor (less a five-minute overlap).
    async with open_runtime(settings) as again:
        scheduler = AsyncIOScheduler(timezone="UTC")
        _add_order_sync(scheduler, again)
        job = scheduler.get_job("tiktok_order_sync")
        assert job is not None
        await job.func()
    resumed = datetime.fromtimestamp(searches[2]["update_time_ge"], UTC)
    assert resumed == datetime.fromisoformat(cursor).replace(microsecond=0) - timedelta(minutes=5)


async def test_no_job_without_a_shop_or_with_sync_off(fake: FakeServer, tmp_path: Path) -> None:
    settings = live_settings(fake, tmp_path, webhook_port=None, tiktok_sync_interval=0)
    async with open_runtime(settings) as runtime:
        scheduler = AsyncIOScheduler(timezone="UTC")
        _add_order_sync(scheduler, runtime)
        assert scheduler.get_job("tiktok_order_sync") is None
