"""Incoming pushes from 17TRACK, AfterShip and TikTok Shop (aiohttp): verify → parse → call.

Every push is read as raw bytes, size-checked, verified in constant time against its
provider's signature scheme, de-duplicated by notification id and only then parsed by its
provider's pure functions; what to do with it is the core's (``core.ports.PushReceiver``,
``core.pushes``). Tracking pushes become ``Shipment`` snapshots handed to ``ingest`` — the
same path as a poll, so alerts fire within seconds. A 17TRACK ``TRACKING_STOPPED`` push goes
to ``tracking_stopped``, so a followed parcel is restarted or polled again, never silently
dropped. TikTok Shop events become a ``ShopPush`` for ``order_event`` (TikTok sends no
tracking events: the order is re-read instead).

With an inbox that handles them, 17TRACK and AfterShip tracking pushes take the same road:
stored, answered "accepted", then processed in batches through one ``ingest`` call each,
like a poll cycle — a burst after a carrier's outage is acknowledged as fast as it can be
stored. A 17TRACK ``TRACKING_STOPPED`` push is still handled in the request.

TikTok Shop asks for a quick 200 (providers.md §1.7, "Return 200 quickly"; its retry policy
is not documented, so a slow answer may be retried or dropped), while processing an event
means several shop and tracking-API calls with retries that can take tens of seconds. With
an inbox (``NotificationInbox``, ``bots.webhook_inbox``) a verified, parsed TikTok push is
therefore stored durably first and answered 200 "accepted" (or "duplicate": the inbox is
unique per notification id, across restarts); a background worker processes it afterwards
and, after a crash, at the next start. A push the inbox cannot store is answered 500 so
TikTok sends it again. Without an inbox the event is processed inside the request.

A snapshot whose carrier the provider did not name is still handed on (carrier ""): the
core tells the carrier from the number.

Answers: 200 processed, accepted, duplicate, ignored (or what ``tracking_stopped`` did:
retracked, polling); 400 malformed; 401 bad or missing signature;
404 provider not configured; 413 body too large; 500 processing failed (the provider retries).

When Telegram runs in webhook mode the same server takes its updates at
``{prefix}/telegram``: the secret header is checked in constant time (401), the body
size-checked (413) and parsed (400), a repeated ``update_id`` answered 200 without being
handled again (Telegram redelivers an update whose answer it did not get), and the update
handed to the adapter: 503 while no adapter is attached or it is not running, so Telegram
delivers the update again later. :func:`serve` runs an app on a host and port inside the
running loop and stops it cleanly.

Health, readiness and metrics are not served here but on the operations server
(``bots.ops``), on its own port, so the internet-facing port shows nothing about the bot;
``WebhookServer.counts`` feeds them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from bots.telegram_bot.app import SECRET_HEADER, NotReceiving, check_webhook_secret
from core.models import Shipment
from core.ports import Clock, PushReceiver, SeenPushes
from core.providers import (
    AFTERSHIP,
    PROVIDERS,
    SEVENTEEN_TRACK,
    TIKTOK_SHOP,
    ProviderSpec,
    aftership,
    seventeen_track,
    tiktok_shop,
)

__all__ = [
    "SERVER_KEY",
    "NotificationInbox",
    "TelegramFeed",
    "TelegramRoute",
    "WebhookConfig",
    "WebhookServer",
    "make_app",
    "serve",
]

log = logging.getLogger(__name__)


class NotificationInbox(Protocol):
    """Durable storage for verified pushes that are processed after the answer."""

    def handles(self, provider: str) -> bool:
        """Whether pushes from ``provider`` are stored here (else processed in the request)."""
        ...

    def keeps_decoded(self, provider: str) -> bool:
        """Whether ``accept`` keeps the snapshot read from a push for the worker, which then
        runs in this process. Where it does not (the pushes are processed by another
        process), an answer checks the push's signature and shape only, and its scans are
        read where it is processed."""
        ...

    async def accept(
        self,
        provider: str,
        notification_id: str,
        body: bytes,
        *,
        decoded: Shipment | None = None,
    ) -> bool:
        """Store the push for processing (committed on return); False when it was already
        there. Raises when it could not be stored. ``decoded``: the snapshot already read
        from ``body``, which the worker may use instead of decoding it again."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Secrets and limits. ``secrets`` holds, by provider id, the values that verify its
    pushes (``core.providers.Webhook.secrets``); a provider without them has no endpoint
    (404)."""

    secrets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    prefix: str = "/webhooks"
    max_body: int = 1024 * 1024
    dedupe_size: int = 20_000
    dedupe_ttl: float = 48 * 3600.0
    max_push_age: timedelta = timedelta(days=3)
    """A signed push dated longer ago than this is a replay (or hopelessly late): ignored."""
    read_timeout: float = 10.0
    """Seconds a sender may take to send its whole body before it is answered 408."""


class TelegramFeed(Protocol):
    """What takes Telegram updates (``TelegramAdapter`` provides it)."""

    async def feed_update(self, data: Mapping[str, Any]) -> None:
        """Queue one update; raise ``NotReceiving`` when it cannot be taken now."""
        ...


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


def _json(http_status: int, **body: str) -> web.Response:
    """A JSON answer; the same few bodies are sent again and again, so each is encoded once."""
    return web.Response(
        body=_encoded(tuple(body.items())),
        status=http_status,
        content_type="application/json",
        charset="utf-8",
    )


@functools.lru_cache(maxsize=128)
def _encoded(fields: tuple[tuple[str, str], ...]) -> bytes:
    return json.dumps(dict(fields)).encode()


class WebhookServer:
    """The request handlers; build the app with :func:`make_app`."""

    def __init__(
        self,
        config: WebhookConfig,
        sink: PushReceiver,
        clock: Clock,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        telegram: TelegramRoute | None = None,
        inbox: NotificationInbox | None = None,
        seen_store: SeenPushes | None = None,
    ) -> None:
        self._inbox = inbox
        self._seen_store = seen_store
        self._config = config
        self._sink = sink
        self._clock = clock
        self._monotonic = monotonic
        self._telegram = telegram
        self._seen = _Seen(config.dedupe_size, config.dedupe_ttl)
        # Apart from the providers' ids, so that a burst of chat updates evicts none of them.
        self._telegram_seen = _Seen(config.dedupe_size, config.dedupe_ttl)
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def _read(self, request: web.Request, spec: ProviderSpec[object]) -> bytes | web.Response:
        """The verified raw body of a push from ``spec``'s source, or the response that
        refuses it."""
        hook = spec.webhook
        secrets = tuple(self._config.secrets.get(spec.id, ()))
        if hook is None or not secrets or not all(secrets):
            return _json(404, error="not configured")
        provider, header = spec.id, hook.header
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            if body.status == 413:
                self._count(f"{provider}.too_large")
            return body
        signature = request.headers.get(header, "")
        if not signature or not hook.verify(secrets, body, signature):
            self._count(f"{provider}.forged")
            log.warning("%s push refused: bad or missing signature", provider)
            return _json(401, error="bad signature")
        return body

    async def _deliver(
        self,
        provider: str,
        notification: str,
        work: Callable[[], Awaitable[str]],
        seen: _Seen | None = None,
        *,
        shared: SeenPushes | None = None,
    ) -> web.Response:
        """Run ``work`` once per notification id (``seen``: the providers' ids unless given;
        with ``shared``, once over every process on the database: it is claimed there before
        ``work`` runs).

        A repeat is answered 200 "duplicate"; a failure is forgotten, so the sender's retry
        is processed: 503 when the receiver is not taking anything now (``NotReceiving``),
        500 otherwise.
        """
        durable = self._seen_store if seen is None else None
        seen = self._seen if seen is None else seen
        key = f"{provider}:{notification}"
        if not seen.claim(key, self._monotonic()):
            self._count(f"{provider}.duplicate")
            return _json(200, status="duplicate")
        claimed = False
        try:
            if shared is not None:
                if not await shared.claim(provider, notification, self._clock.now()):
                    # Another front end on the database took it.
                    seen.finish(key, self._monotonic())
                    self._count(f"{provider}.duplicate")
                    return _json(200, status="duplicate")
                claimed = True
            if durable is not None and await durable.seen(provider, notification):
                # Processed before a restart: the in-memory filter forgot, the database did not.
                seen.finish(key, self._monotonic())
                self._count(f"{provider}.duplicate")
                return _json(200, status="duplicate")
            outcome = await work()
            if durable is not None:
                await durable.remember(provider, notification, self._clock.now())
        except NotReceiving:
            seen.release(key)
            if claimed and shared is not None:
                await shared.forget(provider, notification)
            return _json(503, error="not receiving")
        except Exception:
            seen.release(key)
            if claimed and shared is not None:
                await shared.forget(provider, notification)
            self._count(f"{provider}.failed")
            log.exception("%s push could not be processed", provider)
            return _json(500, error="processing failed")
        seen.finish(key, self._monotonic())
        self._count(f"{provider}.{outcome}")
        return _json(200, status=outcome)

    # -- providers --

    async def seventeen_track(self, request: web.Request) -> web.Response:
        provider = SEVENTEEN_TRACK.id
        body = await self._read(request, SEVENTEEN_TRACK)
        if isinstance(body, web.Response):
            return body
        try:
            push = seventeen_track.parse_push(body)
        except Exception as err:
            return self._malformed(provider, err)
        stopped = push.event == "TRACKING_STOPPED"
        inbox = None if stopped else self._storing(provider)
        shipment = None
        if not stopped and self._reads_scans(inbox, provider):
            try:
                shipment = push.shipment(now=self._clock.now())
            except Exception as err:
                return self._malformed(provider, err)

        # 17TRACK pushes carry no id: the body itself identifies a repeat.
        notification = hashlib.sha256(body).hexdigest()
        if inbox is not None:
            # A push with nothing to track is stored too; the batch skips it.
            return await self._store(provider, notification, body, inbox, decoded=shipment)

        async def work() -> str:
            if stopped:
                return await self._sink.tracking_stopped(push.number, push.carrier)
            if shipment is None:
                return "ignored"
            await self._sink.ingest([shipment])
            return "processed"

        return await self._deliver(provider, notification, work)

    async def aftership(self, request: web.Request) -> web.Response:
        provider = AFTERSHIP.id
        body = await self._read(request, AFTERSHIP)
        if isinstance(body, web.Response):
            return body
        try:
            event = aftership.parse_webhook(body)
        except Exception as err:
            return self._malformed(provider, err)
        inbox = self._storing(provider)
        shipment = None
        if self._reads_scans(inbox, provider):
            try:
                shipment = event.shipment(now=self._clock.now())
            except Exception as err:
                return self._malformed(provider, err)
        if self._stale(provider, event.sent_at):
            return _json(200, status="stale")

        notification = event.event_id or hashlib.sha256(body).hexdigest()
        if inbox is not None:
            return await self._store(provider, notification, body, inbox, decoded=shipment)

        async def work() -> str:
            if shipment is None:  # not reached: a push processed here was read above
                return "ignored"
            await self._sink.ingest([shipment])
            return "processed"

        return await self._deliver(provider, notification, work)

    async def tiktok(self, request: web.Request) -> web.Response:
        provider = TIKTOK_SHOP.id
        body = await self._read(request, TIKTOK_SHOP)
        if isinstance(body, web.Response):
            return body
        try:
            event = tiktok_shop.parse_webhook(body)
        except Exception as err:
            return self._malformed(provider, err)
        if self._stale(provider, event.timestamp):
            return _json(200, status="stale")

        notification = event.notification_id or hashlib.sha256(body).hexdigest()
        inbox = self._storing(provider)
        if inbox is not None:
            return await self._store(provider, notification, body, inbox)

        async def work() -> str:
            await self._sink.order_event(tiktok_shop.shop_push(event))
            return "processed"

        return await self._deliver(provider, notification, work)

    def _storing(self, provider: str) -> NotificationInbox | None:
        """The inbox ``provider``'s pushes are stored in for later, or None: they are
        processed in the request."""
        inbox = self._inbox
        return inbox if inbox is not None and inbox.handles(provider) else None

    @staticmethod
    def _reads_scans(inbox: NotificationInbox | None, provider: str) -> bool:
        """Whether this process reads a push's scans now: it processes the push in the
        request, or stores it for a worker of its own that uses what was read. Stored for
        another process, the push is checked for its shape only."""
        return inbox is None or inbox.keeps_decoded(provider)

    def _malformed(self, provider: str, err: Exception) -> web.Response:
        """400 for a verified body that cannot be read (bad JSON, too deeply nested, not the
        provider's shape): the sender's fault, never a 500 and never a traceback."""
        self._count(f"{provider}.malformed")
        log.info("%s push refused: unreadable body (%s)", provider, type(err).__name__)
        return _json(400, error="malformed body")

    def _stale(self, provider: str, sent_at: datetime | None) -> bool:
        """Whether a push that says when it was sent is older than ``max_push_age`` (a replay
        of an old signed body, or one too late to matter); it is then counted and logged."""
        if sent_at is None or self._clock.now() - sent_at <= self._config.max_push_age:
            return False
        self._count(f"{provider}.stale")
        log.warning("%s push ignored: sent %s, too long ago", provider, sent_at.isoformat())
        return True

    async def _store(
        self,
        provider: str,
        notification: str,
        body: bytes,
        inbox: NotificationInbox,
        *,
        decoded: Shipment | None = None,
    ) -> web.Response:
        """Keep a verified push for the background worker; answer once it is stored."""
        try:
            added = await inbox.accept(provider, notification, body, decoded=decoded)
        except Exception:
            self._count(f"{provider}.failed")
            log.exception("%s push could not be stored", provider)
            return _json(500, error="processing failed")
        if not added:
            self._count(f"{provider}.duplicate")
            return _json(200, status="duplicate")
        self._count(f"{provider}.accepted")
        return _json(200, status="accepted")

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        """The whole body (at most ``max_body`` bytes), or the response that refuses it."""
        limit = self._config.max_body
        length = request.content_length
        if length is not None and length > limit:
            return _json(413, error="body too large")
        content = request.content
        body = bytearray()
        try:
            if content.is_eof():
                # The whole body came with the request (as a push's nearly always does):
                # there is nothing to wait for, so no timer is set.
                body += content.read_nowait()
            else:
                # A sender that trickles its body ties up a connection: it gets read_timeout.
                async with asyncio.timeout(self._config.read_timeout):
                    # StreamReader.read(n) returns what has arrived, up to n bytes: read until
                    # the end.
                    while len(body) <= limit:
                        chunk = await content.read(limit + 1 - len(body))
                        if not chunk:
                            break
                        body += chunk
        except TimeoutError:
            self._count("slow_sender")
            return _json(408, error="body not received in time")
        except (ConnectionError, ValueError):
            return _json(400, error="unreadable body")
        if len(body) > limit:
            return _json(413, error="body too large")
        return bytes(body)

    async def telegram(self, request: web.Request) -> web.Response:
        route = self._telegram
        if route is None:
            return _json(404, error="not configured")
        if not check_webhook_secret(route.secret, request.headers.get(SECRET_HEADER)):
            self._count("telegram.forged")
            log.warning("Telegram update refused: bad or missing secret token")
            return _json(401, error="bad secret")
        target = route.target
        if target is None:
            # Telegram retries later; updates are not lost while the adapter starts.
            return _json(503, error="starting")
        body = await self._read_body(request)
        if isinstance(body, web.Response):
            self._count("telegram.refused")
            return body
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):
            # RecursionError: deeply nested arrays or objects (still within max_body).
            update = None
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            self._count("telegram.malformed")
            return _json(400, error="malformed body")

        async def work() -> str:
            await target.feed_update(update)
            return "processed"

        return await self._deliver(
            "telegram", str(update_id), work, self._telegram_seen, shared=self._seen_store
        )


SERVER_KEY = web.AppKey("webhooks", WebhookServer)


def make_app(
    config: WebhookConfig,
    sink: PushReceiver,
    clock: Clock,
    *,
    telegram: TelegramRoute | None = None,
    inbox: NotificationInbox | None = None,
    seen_store: SeenPushes | None = None,
) -> web.Application:
    """The aiohttp application: the push endpoint of every source in the registry
    (``core.providers.PROVIDERS``) under ``config.prefix``, and
    ``{prefix}/telegram`` when a Telegram route is given. With ``inbox``, TikTok Shop
    pushes are stored and answered at once, then processed in the background. With
    ``seen_store`` the repeat filter for provider pushes outlives a restart."""
    server = WebhookServer(
        config, sink, clock, telegram=telegram, inbox=inbox, seen_store=seen_store
    )
    # A little headroom over max_body so the handler, not aiohttp, answers 413 with JSON.
    app = web.Application(client_max_size=config.max_body + 1024)
    prefix = config.prefix.rstrip("/")
    handlers = {
        SEVENTEEN_TRACK.id: server.seventeen_track,
        AFTERSHIP.id: server.aftership,
        TIKTOK_SHOP.id: server.tiktok,
    }
    for spec in PROVIDERS.values():
        if spec.webhook is not None:
            app.router.add_post(f"{prefix}{spec.webhook.path}", handlers[spec.id])
    if telegram is not None:
        app.router.add_post(f"{prefix}/telegram", server.telegram)
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
        log.info("listening on %s:%s", shown, bound[1])
        yield f"http://{shown}:{bound[1]}"
    finally:
        await runner.cleanup()
