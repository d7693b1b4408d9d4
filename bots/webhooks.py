"""Incoming pushes from 17TRACK, AfterShip and TikTok Shop, plus a health endpoint (aiohttp).

Every push is read as raw bytes, size-checked, verified in constant time against its
provider's signature scheme, de-duplicated by notification id and only then parsed. Tracking
pushes become ``Shipment`` snapshots handed to ``WebhookSink.ingest`` — the same path as a
poll, so alerts fire within seconds. TikTok Shop order events go to
``WebhookSink.order_event`` (TikTok sends no tracking events: the order is re-read instead).

A snapshot whose carrier the provider did not name is still handed on (carrier ""): the
sink tells the carrier from the number.

Answers: 200 processed, duplicate or ignored; 400 malformed; 401 bad or missing signature;
404 provider not configured; 413 body too large; 500 the sink failed (the provider retries).

When Telegram runs in webhook mode the same server takes its updates at
``{prefix}/telegram``: the secret header is checked in constant time and the update handed to
the adapter (503 until the adapter is attached). :func:`serve` runs an app on a host and port
inside the running loop and stops it cleanly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bots.telegram_bot.app import SECRET_HEADER, check_webhook_secret
from core.models import Shipment
from core.ports import Clock
from core.providers import aftership, seventeen_track, tiktok_shop

__all__ = [
    "HEALTH_PATH",
    "SERVER_KEY",
    "TelegramFeed",
    "TelegramRoute",
    "WebhookConfig",
    "WebhookServer",
    "WebhookSink",
    "make_app",
    "serve",
]

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"


class WebhookSink(Protocol):
    """Where verified pushes go (the service provides both)."""

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        """Store pushed snapshots like polled ones and queue their alerts; return alert count."""
        ...

    async def order_event(self, event: tiktok_shop.WebhookEvent) -> None:
        """React to a TikTok Shop order/package event (re-read the order, update the index)."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Secrets and limits. A provider whose secret is empty has no endpoint (404)."""

    seventeen_track_key: str = ""
    aftership_secret: str = ""
    tiktok_app_key: str = ""
    tiktok_app_secret: str = ""
    prefix: str = "/webhooks"
    max_body: int = 1024 * 1024
    dedupe_size: int = 20_000
    dedupe_ttl: float = 48 * 3600.0


class TelegramFeed(Protocol):
    """What takes Telegram updates (``TelegramAdapter`` provides it)."""

    async def feed_update(self, data: Mapping[str, Any]) -> None: ...


class TelegramRoute:
    """The Telegram webhook endpoint's secret and the adapter it feeds (attached later)."""

    def __init__(self, secret: str, target: TelegramFeed | None = None) -> None:
        if not secret:
            raise ValueError("a Telegram webhook needs a secret")
        self.secret = secret
        self.target = target


class _Seen:
    """Notification ids seen recently (bounded, expiring). Only processed ids count as seen."""

    def __init__(self, size: int, ttl: float) -> None:
        self._size = size
        self._ttl = ttl
        self._done: OrderedDict[str, float] = OrderedDict()
        self._busy: set[str] = set()

    def claim(self, key: str, now: float) -> bool:
        """True when ``key`` is new; it is then busy until ``finish`` or ``release``."""
        while self._done:
            oldest, at = next(iter(self._done.items()))
            if now - at < self._ttl and len(self._done) <= self._size:
                break
            self._done.pop(oldest)
        if key in self._done or key in self._busy:
            return False
        self._busy.add(key)
        return True

    def finish(self, key: str, now: float) -> None:
        self._busy.discard(key)
        self._done[key] = now

    def release(self, key: str) -> None:
        self._busy.discard(key)


def _json(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


Verifier = Callable[[bytes, str], bool]


class WebhookServer:
    """The request handlers; build the app with :func:`make_app`."""

    def __init__(
        self,
        config: WebhookConfig,
        sink: WebhookSink,
        clock: Clock,
        *,
        health: Callable[[], Mapping[str, Any]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        telegram: TelegramRoute | None = None,
    ) -> None:
        self._config = config
        self._sink = sink
        self._clock = clock
        self._health = health
        self._monotonic = monotonic
        self._telegram = telegram
        self._seen = _Seen(config.dedupe_size, config.dedupe_ttl)
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def _read(
        self, request: web.Request, provider: str, header: str, verify: Verifier | None
    ) -> bytes | web.Response:
        """The verified raw body, or the response that refuses it."""
        if verify is None:
            return _json(404, error="not configured")
        length = request.content_length
        if length is not None and length > self._config.max_body:
            self._count(f"{provider}.too_large")
            return _json(413, error="body too large")
        try:
            body = await request.content.read(self._config.max_body + 1)
        except (ConnectionError, ValueError):
            return _json(400, error="unreadable body")
        if len(body) > self._config.max_body:
            self._count(f"{provider}.too_large")
            return _json(413, error="body too large")
        signature = request.headers.get(header, "")
        if not signature or not verify(body, signature):
            self._count(f"{provider}.forged")
            log.warning("%s push refused: bad or missing signature", provider)
            return _json(401, error="bad signature")
        return body

    async def _deliver(
        self, provider: str, notification: str, work: Callable[[], Awaitable[str]]
    ) -> web.Response:
        key = f"{provider}:{notification}"
        if not self._seen.claim(key, self._monotonic()):
            self._count(f"{provider}.duplicate")
            return _json(200, status="duplicate")
        try:
            outcome = await work()
        except Exception:
            self._seen.release(key)
            self._count(f"{provider}.failed")
            log.exception("%s push could not be processed", provider)
            return _json(500, error="processing failed")
        self._seen.finish(key, self._monotonic())
        self._count(f"{provider}.{outcome}")
        return _json(200, status=outcome)

    # -- providers --

    def _seventeen_verifier(self) -> Verifier | None:
        key = self._config.seventeen_track_key
        if not key:
            return None
        return lambda body, sign: seventeen_track.verify_push_signature(key, body, sign)

    async def seventeen_track(self, request: web.Request) -> web.Response:
        body = await self._read(request, "17track", "sign", self._seventeen_verifier())
        if isinstance(body, web.Response):
            return body
        try:
            push = seventeen_track.parse_push(body)
        except (ValueError, TypeError):
            self._count("17track.malformed")
            return _json(400, error="malformed body")

        async def work() -> str:
            shipment = push.shipment(now=self._clock.now())
            if shipment is None:
                return "ignored"
            await self._sink.ingest([shipment])
            return "processed"

        # 17TRACK pushes carry no id: the body itself identifies a repeat.
        return await self._deliver("17track", hashlib.sha256(body).hexdigest(), work)

    def _aftership_verifier(self) -> Verifier | None:
        secret = self._config.aftership_secret
        if not secret:
            return None
        return lambda body, sign: aftership.verify_webhook_signature(secret, body, sign)

    async def aftership(self, request: web.Request) -> web.Response:
        body = await self._read(
            request, "aftership", "aftership-hmac-sha256", self._aftership_verifier()
        )
        if isinstance(body, web.Response):
            return body
        try:
            event = aftership.parse_webhook(body)
        except (ValueError, TypeError):
            self._count("aftership.malformed")
            return _json(400, error="malformed body")

        async def work() -> str:
            await self._sink.ingest([event.shipment(now=self._clock.now())])
            return "processed"

        notification = event.event_id or hashlib.sha256(body).hexdigest()
        return await self._deliver("aftership", notification, work)

    def _tiktok_verifier(self) -> Verifier | None:
        app_key, secret = self._config.tiktok_app_key, self._config.tiktok_app_secret
        if not app_key or not secret:
            return None
        return lambda body, sign: tiktok_shop.verify_webhook_signature(app_key, secret, body, sign)

    async def tiktok(self, request: web.Request) -> web.Response:
        body = await self._read(request, "tiktok_shop", "Authorization", self._tiktok_verifier())
        if isinstance(body, web.Response):
            return body
        try:
            event = tiktok_shop.parse_webhook(body)
        except (ValueError, TypeError):
            self._count("tiktok_shop.malformed")
            return _json(400, error="malformed body")

        async def work() -> str:
            await self._sink.order_event(event)
            return "processed"

        notification = event.notification_id or hashlib.sha256(body).hexdigest()
        return await self._deliver("tiktok_shop", notification, work)

    async def telegram(self, request: web.Request) -> web.Response:
        route = self._telegram
        if route is None:
            return _json(404, error="not configured")
        if not check_webhook_secret(route.secret, request.headers.get(SECRET_HEADER)):
            self._count("telegram.forged")
            return _json(401, error="bad secret")
        target = route.target
        if target is None:
            # Telegram retries later; updates are not lost while the adapter starts.
            return _json(503, error="starting")
        length = request.content_length
        if length is not None and length > self._config.max_body:
            return _json(413, error="body too large")
        try:
            body = await request.content.read(self._config.max_body + 1)
        except (ConnectionError, ValueError):
            return _json(400, error="unreadable body")
        if len(body) > self._config.max_body:
            return _json(413, error="body too large")
        try:
            update = json.loads(body)
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            self._count("telegram.malformed")
            return _json(400, error="malformed body")
        await target.feed_update(update)
        self._count("telegram.processed")
        return _json(200, status="processed")

    async def health(self, request: web.Request) -> web.Response:
        details = dict(self._health()) if self._health is not None else {}
        return web.json_response({"status": "ok", **details, "webhooks": self.counts})


SERVER_KEY = web.AppKey("webhooks", WebhookServer)


def make_app(
    config: WebhookConfig,
    sink: WebhookSink,
    clock: Clock,
    *,
    health: Callable[[], Mapping[str, Any]] | None = None,
    telegram: TelegramRoute | None = None,
) -> web.Application:
    """The aiohttp application: three push endpoints under ``config.prefix``, ``/health``,
    and ``{prefix}/telegram`` when a Telegram route is given."""
    server = WebhookServer(config, sink, clock, health=health, telegram=telegram)
    # A little headroom over max_body so the handler, not aiohttp, answers 413 with JSON.
    app = web.Application(client_max_size=config.max_body + 1024)
    prefix = config.prefix.rstrip("/")
    app.router.add_post(f"{prefix}/17track", server.seventeen_track)
    app.router.add_post(f"{prefix}/aftership", server.aftership)
    app.router.add_post(f"{prefix}/tiktok", server.tiktok)
    if telegram is not None:
        app.router.add_post(f"{prefix}/telegram", server.telegram)
    app.router.add_get(HEALTH_PATH, server.health)
    app[SERVER_KEY] = server
    return app


@asynccontextmanager
async def serve(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 5.0
) -> AsyncIterator[str]:
    """Listen on ``host:port`` (0: any free port) in the running loop; yield the base URL
    actually bound (``http://host:port``); stop accepting and close connections on exit."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0] if runner.addresses else (host, port)
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else str(bound[0])
        log.info("webhook server listening on %s:%s", shown, bound[1])
        yield f"http://{shown}:{bound[1]}"
    finally:
        await runner.cleanup()
