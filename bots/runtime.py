"""The composition root: builds every part once, owns their lifecycles, starts the adapters.

Nothing else constructs providers, the database or the service; parts get what they need
through their constructors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bots.notifier import PlatformNotifier
from bots.settings import Settings
from core.clock import DemoClock, SystemClock
from core.commands import CommandRouter
from core.models import Platform
from core.ports import Clock
from core.providers.sandbox import SandboxProvider, SandboxShop
from core.service import ParcelService, PollStats
from storage.db import Database

__all__ = ["Runtime", "configure_logging", "open_runtime"]

log = logging.getLogger(__name__)

_CLOCK_KEY = "sandbox_clock"


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``; HTTP client loggers stay at WARNING because they print
    request URLs, and the Telegram Bot API puts the bot token in the URL."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


@dataclass
class Runtime:
    """Everything the adapters need, built once."""

    settings: Settings
    db: Database
    clock: Clock
    service: ParcelService
    router: CommandRouter
    notifier: PlatformNotifier

    @property
    def sandbox(self) -> bool:
        return isinstance(self.clock, DemoClock)

    async def advance(self, delta: timedelta) -> PollStats:
        """Move the sandbox clock forward, then poll and flush at once (demo and tests)."""
        if not isinstance(self.clock, DemoClock):
            raise RuntimeError("only the sandbox clock can be moved")
        self.clock.advance(delta)
        await self.save_clock()
        stats = await self.service.poll_due(self.settings.poll_batch)
        await self.service.flush_outbox(self.notifier)
        return stats

    async def save_clock(self) -> None:
        """Persist the sandbox's virtual time so a restart continues from it."""
        if isinstance(self.clock, DemoClock):
            await self.db.meta.set(_CLOCK_KEY, self.clock.now().isoformat())


async def _sandbox_clock(db: Database, speed: float) -> DemoClock:
    clock = DemoClock(speed=speed)
    saved = await db.meta.get(_CLOCK_KEY)
    if saved:
        virtual = datetime.fromisoformat(saved)
        # Continue where the last run stopped: the sandbox's time pauses while the bot is off.
        clock.offset = virtual - clock.now()
    return clock


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the database, build the service and its parts; close everything on exit."""
    async with Database.open(settings.db) as db:
        clock: Clock
        if settings.sandbox_only:
            clock = await _sandbox_clock(db, settings.sandbox_speed)
        else:
            clock = SystemClock()
        provider = SandboxProvider(clock)
        service = ParcelService(provider=provider, store=db, clock=clock, orders=SandboxShop(clock))
        runtime = Runtime(
            settings=settings,
            db=db,
            clock=clock,
            service=service,
            router=CommandRouter(service),
            notifier=PlatformNotifier(),
        )
        try:
            yield runtime
        finally:
            with contextlib.suppress(Exception):
                await runtime.save_clock()


@asynccontextmanager
async def _telegram(runtime: Runtime, token: str) -> AsyncIterator[None]:
    """Run the Telegram adapter in this loop and register its sender."""
    from bots.telegram_bot import StoredGroupSwitch, build_adapter

    settings = runtime.settings
    adapter = build_adapter(
        token,
        runtime.router,
        base_url=settings.telegram_api_base_url or None,
        group_switch=StoredGroupSwitch(runtime.db.meta),
    )
    async with adapter:
        runtime.notifier.register(Platform.TELEGRAM, adapter.sender)
        yield


@asynccontextmanager
async def _discord(runtime: Runtime, token: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run the Discord bot in this loop and register its sender; yields the bot's task."""
    from bots.discord_bot import DiscordSender, build_bot

    settings = runtime.settings
    bot = build_bot(
        runtime.router,
        guilds=runtime.db.discord,
        test_guild_id=settings.discord_test_guild,
        sharded=settings.discord_sharded,
    )
    runtime.notifier.register(Platform.DISCORD, DiscordSender(bot, runtime.db.discord))
    task = asyncio.create_task(bot.start(token), name="discord")
    try:
        yield task
    finally:
        await bot.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task


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
    """Start every configured adapter (or the console when none is) and run until stopped."""
    from bots.console_bot import run_console
    from bots.scheduler import build_scheduler

    async with open_runtime(settings) as runtime:
        scheduler = build_scheduler(
            runtime.service,
            runtime.notifier,
            poll_interval=settings.poll_interval,
            flush_interval=settings.flush_interval,
            poll_batch=settings.poll_batch,
            on_cycle=runtime.save_clock,
        )
        scheduler.start()
        try:
            if console or not settings.adapters:
                return await run_console(runtime)
            async with contextlib.AsyncExitStack() as stack:
                watch: list[asyncio.Task[None]] = []
                if settings.telegram_token is not None:
                    token = settings.telegram_token.get_secret_value()
                    await stack.enter_async_context(_telegram(runtime, token))
                if settings.discord_token is not None:
                    token = settings.discord_token.get_secret_value()
                    watch.append(await stack.enter_async_context(_discord(runtime, token)))
                print(
                    f"parcelbot is running on {', '.join(settings.adapters)}; Ctrl+C stops it."
                )
                return await _until_stopped(watch)
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
