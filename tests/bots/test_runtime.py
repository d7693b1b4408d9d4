"""The composition root: the sandbox with no keys, the real providers with keys, the webhook
server and Telegram's route, and everything closed on exit.

Real providers point at loopback fakes that serve the recorded payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.public_holidays import PublicHolidays
from bots.runtime import open_runtime
from bots.settings import Settings, load_settings
from bots.shop_tokens import TOKENS_KEY, TokenBox
from core.clock import DemoClock, SystemClock
from core.commands import CommandRouter
from core.models import OrderId, TrackingNumber
from core.providers.aftership import AfterShipClient
from core.providers.router import ProviderRouter
from core.providers.sandbox import SandboxProvider, SandboxShop
from core.providers.seventeen_track import SeventeenTrackClient
from core.providers.tiktok_shop import TikTokShopClient
from tests.fakes import chat
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, Recorded, Reply, json_reply
from tests.providers.fake_tiktok import APP_KEY, APP_SECRET, NEW_TOKEN, FakeTikTok

NUMBER = TrackingNumber("9400111206206406260787")
ORDER = OrderId("576486316948490001")


pytestmark = pytest.mark.usefixtures("clean_environment")


class LiveTikTok(FakeTikTok):
    """The TikTok fake on the wall clock, handing out tokens that expire in a week."""

    def refresh(self, request: Recorded) -> Reply:
        answer = super().refresh(request)
        doc = json.loads(answer.body)
        if doc.get("code") == 0:
            now = int(datetime.now(UTC).timestamp())
            doc["data"]["access_token_expire_in"] = now + 7 * 86400
            doc["data"]["refresh_token_expire_in"] = now + 300 * 86400
        return json_reply(doc)


def live_settings(fake: FakeServer, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "db": str(tmp_path / "live.sqlite3"),
        "seventeen_track_api_key": KEY,
        "seventeen_track_base_url": fake.url + PREFIX,
        "aftership_api_key": "as-key",
        "aftership_webhook_secret": "as-secret",
        "aftership_base_url": fake.url + "/aftership",
        "tiktok_app_key": APP_KEY,
        "tiktok_app_secret": APP_SECRET,
        "tiktok_access_token": "TTP_access_old",
        # Less than the client's margin left: the first call refreshes.
        "tiktok_access_token_expires_at": datetime.now(UTC) + timedelta(hours=1),
        "tiktok_refresh_token": "TTP_refresh_xxx",
        "tiktok_api_base_url": fake.url,
        "tiktok_auth_base_url": fake.url,
        "webhook_port": 0,
    }
    values.update(extra)
    return load_settings(**values)


async def get_json(url: str) -> Mapping[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    data: Mapping[str, Any] = response.json()
    return data


async def test_no_keys_runs_the_sandbox_as_before(tmp_path: Path) -> None:
    settings = load_settings(db=str(tmp_path / "demo.sqlite3"))
    async with open_runtime(settings) as runtime:
        assert runtime.sandbox
        assert isinstance(runtime.provider, SandboxProvider)
        assert isinstance(runtime.orders, SandboxShop)
        assert runtime.http is None and runtime.shop is None
        assert runtime.webhook_url == ""
        reply = await runtime.service.track(chat(), "1ZSBX1230300000263")
        assert "1ZSBX1230300000263" in reply.title


async def test_only_a_metered_runtime_counts_commands(tmp_path: Path) -> None:
    """What serves /metrics counts every command; an interactive session keeps no metrics and
    runs the same commands through the plain router."""
    settings = load_settings(db=str(tmp_path / "demo.sqlite3"))
    async with open_runtime(settings) as metered:
        await metered.router.run(chat(), "track", ["1ZSBX1230300000263"])
        assert metered.metrics is not None
        assert b'parcelbot_commands_total{command="track",outcome="ok"} 1.0' in (
            metered.metrics.render()
        )
    async with open_runtime(settings, metered=False) as plain:
        assert plain.metrics is None
        assert type(plain.router) is CommandRouter
        replies = await plain.router.run(chat(), "track", ["1ZSBX1230300000263"])
        assert "1ZSBX1230300000263" in replies[0].title
        await plain.advance(timedelta(hours=1))
        # The poll and flush hooks still run without metrics: readiness hears of both.
        assert plain.heartbeat.last_poll is not None
        assert plain.heartbeat.last_flush is not None


async def test_keys_build_the_real_providers_in_order_and_close_everything(
    fake: FakeServer, tmp_path: Path
) -> None:
    tracker = Fake17Track()
    tracker.install(fake)
    tracker.registered.add(NUMBER)
    shop = LiveTikTok(SystemClock())  # type: ignore[arg-type]
    shop.install(fake)
    settings = live_settings(fake, tmp_path)

    async with open_runtime(settings) as runtime:
        assert not runtime.sandbox
        assert isinstance(runtime.clock, SystemClock)
        assert isinstance(runtime.provider, ProviderRouter)
        kinds = [type(p) for p in runtime.provider.providers]
        assert kinds == [SeventeenTrackClient, AfterShipClient]
        assert isinstance(runtime.shop, TikTokShopClient) and runtime.orders is runtime.shop
        http = runtime.http
        assert http is not None and not http.is_closed

        reply = await runtime.service.track(chat(), NUMBER)
        assert NUMBER in reply.title
        assert fake.calls("POST", f"{PREFIX}/gettrackinfo")
        orders = await runtime.shop.get_orders([ORDER])
        assert ORDER in orders
        assert len(shop.refreshes) == 1 and shop.bad_signatures == 0

        health = runtime.health()
        assert health["mode"] == "live"
        assert health["providers"] == {"17track": "ok", "aftership": "ok", "tiktok_shop": "ok"}
        stored = await runtime.db.meta.get(TOKENS_KEY)
        # Stored encrypted (with the key derived from the app secret), never in clear.
        assert stored is not None and stored.startswith("fernet:")
        assert NEW_TOKEN not in stored and "TTP_refresh" not in stored
        assert NEW_TOKEN in TokenBox(app_secret=APP_SECRET).open(stored)
        url = runtime.webhook_url

    assert http.is_closed
    with pytest.raises(httpx.ConnectError):
        await get_json(url + "/webhooks/17track")

    # The refreshed pair wins over the settings at the next start…
    async with open_runtime(settings) as again:
        assert again.shop is not None and again.shop.tokens.access_token == NEW_TOKEN
    # …until the seller authorises again and puts new tokens in the settings.
    renewed = live_settings(fake, tmp_path, tiktok_refresh_token="TTP_refresh_new")
    async with open_runtime(renewed) as fresh:
        assert fresh.shop is not None
        assert fresh.shop.tokens.access_token == "TTP_access_old"
        assert fresh.shop.tokens.refresh_token == "TTP_refresh_new"


async def test_configured_order_puts_aftership_first(fake: FakeServer, tmp_path: Path) -> None:
    settings = live_settings(
        fake, tmp_path, tracking_providers="aftership", webhook_port=None, tiktok_app_key=None,
        tiktok_app_secret=None, tiktok_access_token=None, tiktok_access_token_expires_at=None,
        tiktok_refresh_token=None,
    )  # fmt: skip
    async with open_runtime(settings) as runtime:
        assert isinstance(runtime.provider, ProviderRouter)
        assert [p.name for p in runtime.provider.providers] == ["aftership", "17track"]
        assert runtime.orders is None and runtime.webhook_url == ""


async def test_the_webhook_server_serves_the_configured_pushes(
    fake: FakeServer, tmp_path: Path
) -> None:
    settings = live_settings(fake, tmp_path, aftership_webhook_secret=None)
    async with open_runtime(settings) as runtime, httpx.AsyncClient() as client:
        base = runtime.webhook_url + "/webhooks"
        forged = await client.post(base + "/17track", content=b"{}", headers={"sign": "00"})
        assert forged.status_code == 401
        unsigned = await client.post(base + "/tiktok", content=b"{}")
        assert unsigned.status_code == 401
        assert (await client.post(base + "/aftership", content=b"{}")).status_code == 404
        assert (await client.post(base + "/telegram", content=b"{}")).status_code == 404


class RecordingFeed:
    def __init__(self) -> None:
        self.updates: list[Mapping[str, Any]] = []

    async def feed_update(self, data: Mapping[str, Any]) -> None:
        self.updates.append(data)


async def test_telegram_webhook_route_checks_the_secret(tmp_path: Path) -> None:
    settings = load_settings(
        db=str(tmp_path / "tg.sqlite3"),
        telegram_token="123:abc",
        telegram_webhook=True,
        telegram_webhook_secret="s3cret-token",
        public_url="https://bot.example.com",
        webhook_port=0,
    )
    async with open_runtime(settings) as runtime, httpx.AsyncClient() as client:
        route = runtime.telegram_route
        assert route is not None and route.secret == "s3cret-token"
        url = runtime.webhook_url + "/webhooks/telegram"
        update = json.dumps({"update_id": 7, "message": {"text": "/help"}}).encode()
        header = "X-Telegram-Bot-Api-Secret-Token"

        wrong = await client.post(url, content=update, headers={header: "s3cret-tokeN"})
        assert wrong.status_code == 401
        assert (await client.post(url, content=update)).status_code == 401
        starting = await client.post(url, content=update, headers={header: "s3cret-token"})
        assert starting.status_code == 503

        feed = RecordingFeed()
        route.target = feed
        ok = await client.post(url, content=update, headers={header: "s3cret-token"})
        assert ok.status_code == 200
        bad = await client.post(url, content=b"[1]", headers={header: "s3cret-token"})
        assert bad.status_code == 400
        assert feed.updates == [{"update_id": 7, "message": {"text": "/help"}}]

        health = runtime.ops_details()
        assert health["mode"] == "sandbox" and health["webhooks"]["telegram.processed"] == 1


async def test_the_idle_sandbox_sees_a_scan_within_a_poll_cycle_of_real_time(
    tmp_path: Path,
) -> None:
    """The demo's clock runs 60× faster than the poller: a parcel is polled at least once per
    cycle of virtual time, so a scan is announced within seconds, not an hour-long interval
    later (12 real minutes at 60×)."""
    settings = load_settings(db=str(tmp_path / "demo.sqlite3"), sandbox_speed=60, poll_interval=15)
    async with open_runtime(settings) as runtime:
        assert isinstance(runtime.clock, DemoClock)
        await runtime.service.subscribe(chat(), "1ZSBX1230300000263")
        # 40 real seconds later: under a minute of the demo, nearly three cycles.
        runtime.clock.offset += timedelta(seconds=40 * 60)
        stats = await runtime.service.refresh.poll_due(settings.poll_batch)
        assert stats.checked == 1


async def test_the_arrival_model_counts_working_days_on_each_countrys_public_holidays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composition root hands the core's estimator the ``holidays`` package's dates."""
    asked: list[str] = []

    class Recording(PublicHolidays):
        def dates(self, country: str, years: Iterable[int]) -> frozenset[date]:
            asked.append(country)
            return super().dates(country, years)

    monkeypatch.setattr("bots.runtime.PublicHolidays", Recording)
    settings = load_settings(db=str(tmp_path / "demo.sqlite3"))
    async with open_runtime(settings) as runtime:
        reply = await runtime.service.track(chat(), "1ZSBX1230300000263")
    assert "1ZSBX1230300000263" in reply.title
    assert "US" in asked  # the sandbox's parcels are UPS's, counted on US holidays
