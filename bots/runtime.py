"""The composition root: builds every part once, owns their lifecycles, starts the adapters.

Nothing else constructs providers, the database or the service; parts get what they need
through their constructors.

- No tracking key: the sandbox carrier and sandbox shop on the sandbox clock (the demo).
- A 17TRACK and/or AfterShip key: one shared HTTP client, a ``ProviderRouter`` over the
  configured providers in the configured order, the system clock, and TikTok Shop as the
  order source when its app is configured (seller tokens from the database, else from the
  settings; every refreshed pair is stored). No sandbox.
- A webhook port: the push endpoints (17TRACK, AfterShip, TikTok Shop) and, in Telegram
  webhook mode, Telegram's route, served in the same loop.
- While the bot serves chat platforms (``run`` with a token), a health port: ``/health``,
  ``/ready`` and ``/metrics`` (``bots.ops``, ``bots.metrics``); the metrics hooks are put in
  here, at the edges. An interactive session (the console, ``parcelbot track``) serves no
  ``/metrics``, so it keeps no metrics and never loads ``prometheus_client``.
- With keys, the webhook inbox worker (``bots.webhook_inbox``): TikTok Shop, 17TRACK and
  AfterShip pushes are stored, answered at once and processed in the background (tracking
  pushes in batches); what a previous run left is processed at start. 17TRACK's client
  restarts numbers 17TRACK stopped following (``retrack``).

Everything opened is closed on exit, the last opened first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from bots.gc_settings import apply_bot_gc_settings
from bots.locales import voices
from bots.logs import configure_logging
from bots.notifier import PlatformNotifier
from bots.public_holidays import PublicHolidays
from bots.readiness import Heartbeat, Readiness
from bots.server_languages import ServerLanguages
from bots.settings import ROLES, Settings
from bots.thread_settings import apply_bot_thread_settings
from core import polling
from core.clock import DemoClock, SystemClock
from core.commands import CommandRouter
from core.config import ServiceConfig
from core.eta.model import EtaModel
from core.eta.provider import EstimatingProvider
from core.flusher import FlushStats
from core.models import Platform, PollStats
from core.ports import Clock, OrderSource, TrackingProvider
from core.providers import (
    AFTERSHIP,
    AGGREGATORS,
    PROVIDERS,
    SANDBOX,
    SANDBOX_SHOP,
    SEVENTEEN_TRACK,
    TIKTOK_SHOP,
    Wiring,
)
from core.providers.router import ProviderRouter
from core.service import ParcelService
from core.sources import Routing
from storage import Database, RateSpec, SharedLimits, SharedRate, inbox_path, open_inbox

# The HTTP client, the webhook server and the platform stacks are imported where they are
# used: a sandbox console needs none of them, and they are most of the start-up time.
if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bots.metrics import Metrics
    from bots.telegram_bot import TelegramAdapter
    from bots.webhook_inbox import WebhookInbox
    from bots.webhooks import TelegramRoute, WebhookConfig, WebhookServer
    from core.providers.seventeen_track import SeventeenTrackClient
    from core.providers.tiktok_shop import TikTokShopClient
    from core.pushes import Pushes
    from core.shop_sync import ShopSync

__all__ = [
    "Runtime",
    "configure_logging",
    "open_ops_server",
    "open_runtime",
    "open_telegram",
    "service_config",
]

log = logging.getLogger(__name__)

_CLOCK_KEY = "sandbox_clock"
# The default time zone the stored next-news moments were worked out in.
_NEWS_ZONE_KEY = "news_default_timezone"
QUOTA_EVERY = 900.0
"""Seconds between readings of 17TRACK's registration quota for ``/metrics``."""
QUOTA_WAIT = 1.0
"""Seconds a ``/metrics`` scrape waits for a quota reading in flight before it answers with
the last one (a reading through 17TRACK's retries takes seconds; a scraper gives up at 10)."""


@dataclass
class Runtime:
    """Everything the adapters need, built once.

    ``webhook_url`` is the address the webhook server actually listens on ("" when it is
    off); ``telegram_route`` is set in Telegram webhook mode and gets the adapter attached.
    """

    settings: Settings
    db: Database
    clock: Clock
    service: ParcelService
    router: CommandRouter
    notifier: PlatformNotifier
    metrics: Metrics | None
    """The process's Prometheus series; None where nothing serves them (``open_runtime``'s
    ``metered``)."""
    provider: TrackingProvider | None = None
    orders: OrderSource | None = None
    shop: TikTokShopClient | None = None
    receiver: Pushes | None = None
    shop_sync: ShopSync | None = None
    http: httpx.AsyncClient | None = None
    webhook_url: str = ""
    telegram_route: TelegramRoute | None = None
    inbox: WebhookInbox | None = None
    pushes: WebhookInbox | None = None
    webhooks: WebhookServer | None = None
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    limits: SharedLimits | None = None
    """Rate limits shared with other processes (PostgreSQL), else None."""
    _quota_read_at: float | None = field(default=None, repr=False)
    _quota_reading: asyncio.Task[None] | None = field(default=None, repr=False)
    ops_url: str = ""

    @property
    def sandbox(self) -> bool:
        return isinstance(self.clock, DemoClock)

    def health(self) -> dict[str, Any]:
        """The mode and each source's state ("ok" or "failing"), for ``/ready``.

        The service's tracker decides, with its hysteresis (failing after several failed
        calls in a row, back after several good ones): one failed call, or a failed quota
        reading for the metrics, does not make a one-source bot unready.
        """
        providers = self.service.sources.states()
        return {"mode": "sandbox" if self.sandbox else "live", "providers": providers}

    async def advance(self, delta: timedelta) -> PollStats:
        """Move the sandbox clock forward, then poll and flush at once (demo and tests)."""
        if not isinstance(self.clock, DemoClock):
            raise RuntimeError("only the sandbox clock can be moved")
        self.clock.advance(delta)
        await self.save_clock()
        stats = await self.service.refresh.poll_due(self.settings.poll_batch)
        self.polled(stats)
        self.flushed(await self.service.flush_outbox(self.notifier))
        return stats

    def polled(self, stats: PollStats) -> None:
        """A poll cycle finished (readiness and metrics hear of it)."""
        self.heartbeat.polled()
        if self.metrics is not None:
            self.metrics.polled(stats)

    def flushed(self, stats: FlushStats) -> None:
        """An outbox flush finished (readiness and metrics hear of it)."""
        self.heartbeat.flushed()
        if self.metrics is not None:
            self.metrics.flushed(stats)

    def readiness(self) -> Readiness:
        """The readiness checks of ``bots.ops`` on this runtime."""
        settings = self.settings
        return Readiness(
            db_path=self.db.path,
            probe=self.db.reachable if self.db.backend == "postgresql" else None,
            heartbeat=self.heartbeat,
            poll_interval=settings.poll_interval,
            flush_interval=settings.flush_interval,
            max_backlog=settings.ready_max_backlog,
            backlog=lambda: self.db.stats.backlog(self.clock.now()),
            sources=lambda: self.health()["providers"],
            cycles=frozenset(
                name
                for name, role in (("poll", "poller"), ("flush", "sender"))
                if role in settings.role_set
            ),
        )

    def ops_details(self) -> dict[str, Any]:
        """What ``/ready`` adds for a caller with the health token."""
        counts = dict(self.webhooks.counts) if self.webhooks is not None else {}
        return {**self.health(), "webhooks": counts}

    async def refresh_backlog(self) -> None:
        """Read the backlog gauges from the database (before each ``/metrics`` scrape), and
        17TRACK's registration quota when the last reading is older than ``QUOTA_EVERY``.

        The quota is read in a task of its own, waited for at most ``QUOTA_WAIT`` seconds:
        while 17TRACK is slow or failing the scrape answers with the last reading, and the
        reading in flight sets the gauge when it ends (a failed one keeps the last)."""
        if self.metrics is None:
            return
        now = self.clock.now()
        self.metrics.backlog(await self.db.stats.backlog(now), now)
        tracker = self.seventeen_track()
        due = self._quota_read_at is None or time.monotonic() - self._quota_read_at > QUOTA_EVERY
        if tracker is not None and due and self._quota_reading is None:
            self._quota_read_at = time.monotonic()
            self._quota_reading = asyncio.create_task(
                self._read_quota(tracker, self.metrics), name="17track-quota"
            )
        if self._quota_reading is not None:
            await asyncio.wait((self._quota_reading,), timeout=QUOTA_WAIT)

    async def _read_quota(self, tracker: SeventeenTrackClient, metrics: Metrics) -> None:
        try:
            quota = await tracker.get_quota()
        except Exception as err:  # the gauge keeps the last reading
            log.warning("metrics: 17TRACK's quota could not be read (%s)", type(err).__name__)
        else:
            metrics.provider_quota.labels(SEVENTEEN_TRACK.id, "registrations").set(quota.remaining)
        finally:
            self._quota_reading = None

    async def stop_quota_reading(self) -> None:
        """Cancel a quota reading still in flight (the ops server is closing)."""
        task = self._quota_reading
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def seventeen_track(self) -> SeventeenTrackClient | None:
        """The 17TRACK client when it is one of the sources (quota readings, restarts)."""
        from core.providers.seventeen_track import SeventeenTrackClient

        source = self.service.sources.tracking(SEVENTEEN_TRACK.id)
        return source if isinstance(source, SeventeenTrackClient) else None

    async def save_clock(self) -> None:
        """Persist the sandbox's virtual time so a restart continues from it."""
        if isinstance(self.clock, DemoClock):
            await self.db.meta.set(_CLOCK_KEY, self.clock.now().isoformat())


async def _news_follow_default_zone(db: Database, zone: str) -> None:
    """Each parcel stores when its followers could next hear arrival news, worked out in the
    zone of each chat, and chats without a zone of their own follow the bot's default; when
    that setting changed since the moments were stored, every parcel is judged again."""
    if await db.meta.get(_NEWS_ZONE_KEY) != zone:
        await db.shipments.news_again_everywhere()
        await db.meta.set(_NEWS_ZONE_KEY, zone)


async def _sandbox_clock(db: Database, speed: float) -> DemoClock:
    clock = DemoClock(speed=speed)
    saved = await db.meta.get(_CLOCK_KEY)
    if saved:
        virtual = datetime.fromisoformat(saved)
        # Continue where the last run stopped: the sandbox's time pauses while the bot is off.
        clock.offset = virtual - clock.now()
    return clock


def _reveal(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def shared_rates(settings: Settings) -> dict[str, RateSpec]:
    """Each provider key's request rate, held in sum by every process on a shared database
    (a rate below one a second is counted over a longer window). Each request holds its place
    until its answer came back (``storage.limits``), so no margin for network delays is
    needed."""
    seventeen = settings.seventeen_track_rate
    calls = max(1, round(seventeen))
    return {
        SEVENTEEN_TRACK.id: RateSpec(calls, period=calls / seventeen),
        AFTERSHIP.id: RateSpec(10),
    }


TELEGRAM_CHAT_RATE = RateSpec(1)
"""Messages per second to one chat, every process together."""

TELEGRAM_GROUP_RATE = RateSpec(20, period=60.0)
"""Messages per minute to one group (its chat id is negative), every process together."""


def telegram_allowance(
    limits: SharedLimits, rate: int, *, group: RateSpec = TELEGRAM_GROUP_RATE
) -> Callable[[str], AbstractAsyncContextManager[object]]:
    """The bot's send allowance shared by every process on the database, held around each
    message to a chat: its chat's spacing, its ``group`` limit when it is a group, and the
    bot's ``rate`` a second."""
    bot_rate = RateSpec(rate)

    def allowance(chat_id: str) -> AbstractAsyncContextManager[object]:
        # Taken together, in one transaction, right before the send.
        held = [(f"telegram:{chat_id}", TELEGRAM_CHAT_RATE)]
        if chat_id.startswith("-"):
            held.append((f"telegram-group:{chat_id}", group))
        held.append(("telegram", bot_rate))
        return limits.hold(*held)

    return allowance


def _tracking_providers(
    settings: Settings,
    http: httpx.AsyncClient,
    clock: Clock,
    limits: SharedLimits | None = None,
) -> list[TrackingProvider]:
    """The configured tracking clients, in the order they are tried; with ``limits`` each
    paced by its key's rate shared with the other processes (``shared_rates``)."""
    aggregators = {spec.id: spec for spec in AGGREGATORS}
    clients: list[TrackingProvider] = []
    for spec in map(aggregators.__getitem__, settings.active_tracking_providers):
        rate = shared_rates(settings).get(spec.id)
        limiter = SharedRate(limits, spec.id, rate) if limits and rate else None
        clients.append(
            spec.build(Wiring(settings.provider_settings(spec), clock, http, limiter=limiter))
        )
    return clients


def _worker_name(settings: Settings, db: Database) -> str:
    """This process's name in leases: unique per process when the database is shared."""
    if settings.worker_name:
        return settings.worker_name
    if db.backend == "postgresql":
        return f"{socket.gethostname()}:{os.getpid()}"
    # One process per SQLite file (it is locked): after a restart it takes its leases back.
    return "local"


def _poll_lease(settings: Settings, db: Database) -> timedelta | None:
    """How long this process's poller claims the parcels it takes: ``poll_lease`` on
    PostgreSQL, where any number of pollers share the database; None on SQLite, whose file is
    locked for one process, so its poll cycles need no claim (``ServiceConfig.poll_lease``)."""
    if db.backend == "postgresql":
        return timedelta(seconds=settings.poll_lease)
    return None


def _send_platforms(settings: Settings) -> tuple[str, ...]:
    """The platforms whose senders run in this process (see ``run``)."""
    roles = settings.role_set
    found: list[str] = []
    if settings.telegram_token is not None and {"sender", "telegram"} & roles:
        found.append(Platform.TELEGRAM.value)
    if settings.discord_token is not None and "discord" in roles:
        found.append(Platform.DISCORD.value)
    return tuple(found)


async def _tiktok_shop(
    settings: Settings, http: httpx.AsyncClient, db: Database, clock: Clock
) -> TikTokShopClient:
    """The shop client with the freshest tokens known; refreshed ones are stored."""
    from bots.shop_tokens import TokenBox, TokenKeeper, initial_tokens, load_tokens

    box = TokenBox(
        _reveal(settings.tiktok_token_key), app_secret=_reveal(settings.tiktok_app_secret)
    )
    configured = initial_tokens(
        _reveal(settings.tiktok_access_token),
        _reveal(settings.tiktok_refresh_token),
        clock.now(),
        access_expires_at=settings.tiktok_access_token_expires_at,
        refresh_expires_at=settings.tiktok_refresh_token_expires_at,
    )
    wiring = Wiring(
        settings.provider_settings(TIKTOK_SHOP),
        clock,
        http,
        seller_tokens=await load_tokens(db.meta, configured, box),
        on_token_refresh=TokenKeeper(db.meta, configured, box),
    )
    return TIKTOK_SHOP.build(wiring)


def service_config(settings: Settings) -> ServiceConfig:
    """The core's tunables from the settings (``PARCELBOT_*``; see ``core.config``)."""
    defaults = ServiceConfig()
    config = ServiceConfig(
        default_timezone=settings.default_timezone,
        refresh_after=timedelta(seconds=settings.refresh_after),
        stale_deadline=timedelta(seconds=settings.stale_deadline),
        fresh_deadline=timedelta(seconds=settings.fresh_deadline),
        error_retry=timedelta(seconds=settings.error_retry),
        flush_retry_base=timedelta(seconds=settings.flush_retry_base),
        flush_retry_max=timedelta(seconds=settings.flush_retry_max),
        user_proofs=replace(defaults.user_proofs, attempts=settings.proof_attempts_per_user),
        order_proofs=replace(defaults.order_proofs, attempts=settings.proof_attempts_per_order),
        send_timeout=timedelta(seconds=settings.send_timeout),
        max_send_attempts=settings.max_send_attempts,
        user_requests_per_minute=settings.user_requests_per_minute,
        confirm_within=timedelta(seconds=settings.confirm_within),
        archive_after=timedelta(days=settings.archive_after_days),
        expire_after=timedelta(days=settings.expire_after_days),
        housekeeping_every=timedelta(seconds=settings.housekeeping_every),
        webhook_trust=timedelta(hours=settings.webhook_trust_hours),
        fail_after_calls=settings.fail_after_calls,
        recover_after_calls=settings.recover_after_calls,
        send_lease=timedelta(seconds=settings.send_lease),
        send_concurrency=settings.send_concurrency,
    )
    if settings.sandbox_only:
        # The sandbox's clock runs ``sandbox_speed`` times faster than the poller: without
        # a cap a scan could wait many real minutes (core.polling's hours) to be seen.
        cycle = timedelta(seconds=settings.poll_interval * settings.sandbox_speed)
        config = replace(config, poll_at_most=max(cycle, polling.MIN_INTERVAL))
    return config


def _webhook_config(settings: Settings) -> WebhookConfig:
    from bots.webhooks import WebhookConfig

    return WebhookConfig(
        secrets={spec.id: settings.webhook_secrets(spec) for spec in PROVIDERS.values()},
        prefix=settings.webhook_prefix,
    )


def _router(service: ParcelService, metrics: Metrics | None) -> CommandRouter:
    """The chat commands' router: counted and timed when there are metrics."""
    if metrics is None:
        return CommandRouter(service)
    from bots.metrics import MeteredRouter

    return MeteredRouter(service, metrics)


def _metered_transport(
    settings: Settings, metrics: Metrics | None
) -> Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None:
    """What the shared HTTP client's pool is wrapped in: the provider calls' counters when
    there are metrics."""
    if metrics is None:
        return None
    from bots.metrics_http import MeteredTransport

    hosts = MeteredTransport.hosts_of(settings.provider_base_urls)
    return lambda inner: MeteredTransport(inner, metrics, hosts)


@asynccontextmanager
async def open_runtime(settings: Settings, *, metered: bool = True) -> AsyncIterator[Runtime]:
    """Open the database (and, with keys, the HTTP client), build the service and its parts,
    start the webhook server when a port is set; close everything on exit.

    With ``metered`` the parts are counted for ``/metrics`` (``bots.metrics``); without, as
    for an interactive session that serves no ``/metrics``, nothing is counted and
    ``runtime.metrics`` is None."""
    async with contextlib.AsyncExitStack() as stack:
        # One running bot per database: a second would send every alert again.
        db = await stack.enter_async_context(Database.open(settings.database, single_writer=True))
        # On a shared database (PostgreSQL) provider quotas and the bots' send allowances
        # hold in sum over every process, through the database.
        limits = SharedLimits(db.connection) if db.backend == "postgresql" else None
        if limits is not None:
            # Runs before the database closes: the last requests' ends are reported.
            stack.push_async_callback(limits.drain)
        metrics: Metrics | None = None
        if metered:
            from bots.metrics import Metrics

            metrics = Metrics()
        clock: Clock
        provider: TrackingProvider
        routing: Routing | None = None
        orders: OrderSource | None
        http: httpx.AsyncClient | None = None
        shop: TikTokShopClient | None = None
        if settings.sandbox_only:
            clock = await _sandbox_clock(db, settings.sandbox_speed)
            provider = SANDBOX.build(Wiring(settings.provider_settings(SANDBOX), clock))
            orders = SANDBOX_SHOP.build(Wiring(settings.provider_settings(SANDBOX_SHOP), clock))
        else:
            from core.providers.http import create_http_client

            clock = SystemClock()
            http = await stack.enter_async_context(
                create_http_client(wrap=_metered_transport(settings, metrics))
            )
            router = ProviderRouter(_tracking_providers(settings, http, clock, limits))
            provider, routing = router, router.routing
            if settings.tiktok_enabled:
                shop = await _tiktok_shop(settings, http, db, clock)
            orders = shop
        # Every snapshot gets an arrival window; delivered parcels teach the model. Working
        # days skip each destination country's public holidays.
        model = EtaModel(holidays=PublicHolidays())
        model.observe_many(await db.observations.all())
        estimating = EstimatingProvider(provider, model, clock, db.observations)
        config = replace(
            service_config(settings),
            worker=_worker_name(settings, db),
            poll_lease=_poll_lease(settings, db),
        )
        await _news_follow_default_zone(db, config.default_timezone)
        if settings.role_set != frozenset(ROLES) and settings.adapters:
            config = replace(config, send_platforms=_send_platforms(settings))
        service = ParcelService(
            provider=estimating,
            store=db,
            clock=clock,
            orders=orders,
            config=config,
            routing=routing,
            voices=voices(Path(settings.locales_dir) if settings.locales_dir else None),
            shared_languages=ServerLanguages(db.discord),
        )
        runtime = Runtime(
            settings=settings,
            db=db,
            clock=clock,
            service=service,
            router=_router(service, metrics),
            notifier=PlatformNotifier(),
            metrics=metrics,
            provider=provider,
            orders=orders,
            shop=shop,
            http=http,
            limits=limits,
        )
        if not settings.sandbox_only or settings.webhook_port is not None:
            await _open_webhooks(
                runtime,
                stack,
                estimating,
                serving=_serves_webhooks(settings),
                processing="pushes" in settings.role_set,
            )
        try:
            yield runtime
        finally:
            with contextlib.suppress(Exception):
                await runtime.save_clock()


_APART_EVERY = 0.25
"""Seconds between looks for stored pushes in a process that processes them but does not
answer them (the ``pushes`` role without ``webhook``)."""


def _serves_webhooks(settings: Settings) -> bool:
    """Whether this process runs the webhook server and the inbox workers: the ``webhook``
    role, or a Telegram front end in webhook mode (its updates arrive there)."""
    roles = settings.role_set
    return "webhook" in roles or ("telegram" in roles and settings.telegram_webhook_mode)


async def _open_webhooks(
    runtime: Runtime,
    stack: contextlib.AsyncExitStack,
    provider: TrackingProvider,
    *,
    serving: bool = True,
    processing: bool = True,
) -> None:
    """Where pushes go (``core.pushes``, ``core.shop_sync`` with a shop); with ``serving``
    the webhook server (with a port) and the inboxes it stores pushes in (with keys); with
    ``processing`` the inbox workers that process the stored pushes. Entered on ``stack`` so
    that they close with the runtime.

    A process that serves without processing answers each push once it is stored and leaves
    it to the processes that process (the ``pushes`` role; on PostgreSQL they share the
    inbox table): its event loop does nothing else with pushes, so it answers several times
    as many a second. A process that processes without serving looks for stored pushes every
    ``_APART_EVERY`` seconds (no push it answered wakes it)."""
    from bots.metrics import MeteredSink
    from bots.webhook_inbox import (
        DECODED_LIMIT,
        IDLE_WAIT,
        Inboxes,
        WebhookInbox,
        order_events,
        tracking_pushes,
    )
    from bots.webhooks import SERVER_KEY, TelegramRoute, make_app, serve
    from core.pushes import Pushes
    from core.shop_sync import ShopSync

    settings, db, clock = runtime.settings, runtime.db, runtime.clock
    restarter = runtime.seventeen_track()
    estimator = provider if isinstance(provider, EstimatingProvider) else None
    if runtime.shop is not None:
        runtime.shop_sync = ShopSync(
            runtime.service.refresh,
            db,
            db.meta,
            clock,
            runtime.shop,
            max_batch=provider.max_batch,
        )
    sink = runtime.receiver = Pushes(
        runtime.service.refresh,
        db,
        estimator=estimator,
        retracker=restarter,
        shop=runtime.shop_sync,
    )
    if not (serving or processing):
        return
    if serving and settings.telegram_webhook_mode and settings.telegram_webhook_secret is not None:
        runtime.telegram_route = TelegramRoute(settings.telegram_webhook_secret.get_secret_value())
    if not settings.sandbox_only:
        # Where pushes are answered and processed in one process, the worker learns of each
        # one as it is stored; elsewhere it looks now and then. Snapshots read while answering
        # are kept for the worker only where it runs.
        idle_wait = IDLE_WAIT if serving else _APART_EVERY
        decoded_limit = DECODED_LIMIT if processing else 0
        # Started before the server and stopped after it: nothing accepted waits unserved.
        inbox = WebhookInbox(
            db.inbox,
            clock,
            {TIKTOK_SHOP.id: order_events(sink)},
            idle_wait=idle_wait,
            decoded_limit=decoded_limit,
        )
        runtime.inbox = await stack.enter_async_context(inbox.running()) if processing else inbox
        # Tracking pushes are stored in a file of their own (an answer never waits for the
        # poller's transactions), answered, then processed in batches like a poll cycle.
        store = await stack.enter_async_context(open_inbox(inbox_path(settings.database)))
        batches = tracking_pushes(sink)
        pushes = WebhookInbox(
            store,
            clock,
            {},
            batch_handlers={spec.id: batches for spec in AGGREGATORS},
            idle_wait=idle_wait,
            decoded_limit=decoded_limit,
        )
        runtime.pushes = await stack.enter_async_context(pushes.running()) if processing else pushes
    if serving and settings.webhook_port is not None:
        app = make_app(
            _webhook_config(settings),
            sink if runtime.metrics is None else MeteredSink(sink, runtime.metrics),
            clock,
            telegram=runtime.telegram_route,
            inbox=Inboxes(*(i for i in (runtime.pushes, runtime.inbox) if i is not None)),
            seen_store=db.webhook_seen,
        )
        runtime.webhooks = app[SERVER_KEY]
        if runtime.metrics is not None:
            runtime.metrics.watch_webhooks(runtime.webhooks.counts)
        runtime.webhook_url = await stack.enter_async_context(
            serve(app, settings.webhook_host, settings.webhook_port)
        )
    elif serving and any(settings.webhook_secrets(spec) for spec in AGGREGATORS):
        log.warning("no PARCELBOT_WEBHOOK_PORT: provider pushes are off, parcels are polled")


@asynccontextmanager
async def open_telegram(
    runtime: Runtime, token: str, *, receive: bool = True
) -> AsyncIterator[TelegramAdapter]:
    """Run the Telegram adapter in this loop, register its sender and yield the adapter
    (without ``receive``: a sender only, updates are another process's).

    In webhook mode the adapter is attached to the webhook route for as long as it runs and
    detached before it stops, so updates posted meanwhile are answered 503 and redelivered
    by Telegram after the next start; the webhook itself stays registered (see
    ``bots.telegram_bot.app``).
    """
    from bots.telegram_bot import SendLimits, StoredGroupSwitch, build_adapter
    from bots.telegram_bot import WebhookConfig as TelegramWebhook

    settings = runtime.settings
    route = runtime.telegram_route if receive else None
    webhook = TelegramWebhook(settings.telegram_public_url, route.secret) if route else None
    limits = runtime.limits
    shared = telegram_allowance(limits, settings.telegram_rate) if limits is not None else None
    adapter = build_adapter(
        token,
        runtime.router,
        base_url=settings.telegram_api_base_url or None,
        group_switch=StoredGroupSwitch(runtime.db.meta),
        webhook=webhook,
        shared_sends=shared,
        receive=receive,
        limits=SendLimits(global_rate=settings.telegram_rate),
    )
    if route is not None:
        # Attached before start: until the application runs, the adapter refuses updates
        # (503), and from then on none waits for this function to get round to attaching.
        route.target = adapter
    try:
        async with adapter:
            runtime.notifier.register(Platform.TELEGRAM, adapter.sender)
            try:
                yield adapter
            finally:
                if route is not None:
                    route.target = None
    finally:
        if route is not None:
            route.target = None


@asynccontextmanager
async def _discord(runtime: Runtime, token: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run the Discord bot in this loop and register its sender; yields the bot's task."""
    from bots.discord_bot import DiscordSender, build_bot, use_discord_servers

    settings = runtime.settings
    use_discord_servers(settings.discord_api_base_url, settings.discord_gateway_url)
    bot = build_bot(
        runtime.router,
        guilds=runtime.db.discord,
        test_guild_id=settings.discord_test_guild,
        sharded=settings.discord_sharded,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.shard_ids,
    )
    runtime.notifier.register(Platform.DISCORD, DiscordSender(bot, runtime.db.discord))
    task = asyncio.create_task(bot.start(token), name="discord")
    try:
        yield task
    finally:
        await bot.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task


def _add_order_sync(scheduler: AsyncIOScheduler, runtime: Runtime) -> None:
    """Keep the tracking-number index current with a periodic order search (TikTok Shop)."""
    sync_job, interval = runtime.shop_sync, runtime.settings.tiktok_sync_interval
    if sync_job is None or interval <= 0:
        return

    async def sync() -> None:
        try:
            await sync_job.sync_orders()
        except Exception as err:
            # ProviderError included: the client already logged the failure once.
            log.warning("order index sync failed: %s", type(err).__name__)

    scheduler.add_job(
        sync,
        "interval",
        seconds=interval,
        id="tiktok_order_sync",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )


def _add_limit_cleanup(scheduler: AsyncIOScheduler, runtime: Runtime) -> None:
    """Forget shared rate limits nobody used for an hour (one row per chat sent to)."""
    limits = runtime.limits
    if limits is None:
        return

    async def cleanup() -> None:
        try:
            await limits.forget_idle()
        except Exception as err:  # the next run tries again
            log.warning("rate limit cleanup failed: %s", type(err).__name__)

    scheduler.add_job(
        cleanup, "interval", seconds=3600, id="rate_limit_cleanup", coalesce=True, max_instances=1
    )


async def _until_stopped(watch: list[asyncio.Task[None]]) -> int:
    """Wait for SIGINT/SIGTERM, or for an adapter that stops by itself (e.g. a bad token)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *watch], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %s", task.get_name(), task.exception())
            return 1
    return 0


async def run(settings: Settings, *, console: bool = False) -> int:
    """Start every configured adapter (or the console when none is) and run until stopped.

    ``settings.roles`` chooses the parts this process runs (all by default): ``poller`` the
    poll cycle (and the shop's order sync), ``sender`` outbox delivery (with the Telegram
    bot as a sender only unless ``telegram`` runs here too), ``telegram`` the Telegram front
    end (``getUpdates``, or webhook mode on the webhook server), ``discord`` the Discord
    gateway (``PARCELBOT_DISCORD_SHARD_IDS`` picks the shards) and its alerts, ``webhook`` the
    webhook server (a push is answered once it is stored in an inbox), ``pushes`` the
    processing of the stored pushes. Processes on one PostgreSQL database split the roles
    between them; leases and shared rate limits keep their work apart.
    """
    from bots.console_bot import ConsoleSender, run_console
    from bots.scheduler import build_scheduler, delivering

    roles = settings.role_set
    interactive = console or (not settings.adapters and roles == frozenset(ROLES))
    async with open_runtime(settings, metered=not interactive) as runtime:
        # Start-up is over: what is alive now lives as long as the process (bots.gc_settings).
        apply_bot_gc_settings()
        # Chat commands get the interpreter lock back soon after each database call.
        apply_bot_thread_settings()
        scheduler = None
        if interactive or "poller" in roles:
            scheduler = build_scheduler(
                runtime.service,
                poll_interval=settings.poll_interval,
                poll_batch=settings.poll_batch,
                on_cycle=runtime.save_clock,
                on_poll=runtime.polled,
            )
            _add_order_sync(scheduler, runtime)
            _add_limit_cleanup(scheduler, runtime)
            scheduler.start()
        for name, url in settings.webhook_urls().items():
            print(f"{name} webhook URL: {url}")
        deliver = delivering(
            runtime.service,
            runtime.notifier,
            interval=settings.flush_interval,
            on_flush=runtime.flushed,
        )
        try:
            if interactive:
                # An interactive session: no health port (and none of the HTTP stack). The
                # console is registered before delivery starts, so the first flush reaches it.
                runtime.notifier.register(Platform.CONSOLE, ConsoleSender(sys.stdout))
                async with deliver:
                    return await run_console(runtime)
            async with contextlib.AsyncExitStack() as stack:
                if settings.health_port is not None:
                    await stack.enter_async_context(open_ops_server(runtime))
                watch: list[asyncio.Task[None]] = []
                if settings.telegram_token is not None and {"telegram", "sender"} & roles:
                    token = settings.telegram_token.get_secret_value()
                    await stack.enter_async_context(
                        open_telegram(runtime, token, receive="telegram" in roles)
                    )
                if settings.discord_token is not None and "discord" in roles:
                    token = settings.discord_token.get_secret_value()
                    watch.append(await stack.enter_async_context(_discord(runtime, token)))
                if "sender" in roles:
                    # Entered last, left first: messages in flight finish before the adapters
                    # stop.
                    await stack.enter_async_context(deliver)
                where = ", ".join(settings.adapters) or "no chat platform"
                part = "" if roles == frozenset(ROLES) else f" as {', '.join(sorted(roles))}"
                print(f"parcelbot is running on {where}{part}; Ctrl+C stops it.")
                return await _until_stopped(watch)
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await asyncio.sleep(0)


@asynccontextmanager
async def open_ops_server(runtime: Runtime) -> AsyncIterator[str]:
    """``/health``, ``/ready`` and ``/metrics`` on the health port; yields the base URL
    ("" when the port could not be bound)."""
    from bots.ops import make_ops_app, serve_ops

    settings = runtime.settings
    if runtime.metrics is None:
        raise RuntimeError("the ops server needs a metered runtime (open_runtime's metered)")
    app = make_ops_app(
        runtime.readiness(),
        runtime.metrics,
        token=_reveal(settings.health_token),
        details=runtime.ops_details,
        before_scrape=runtime.refresh_backlog,
    )
    async with serve_ops(app, settings.health_host, settings.health_port or 0) as url:
        runtime.ops_url = url
        try:
            yield url
        finally:
            await runtime.stop_quota_reading()
