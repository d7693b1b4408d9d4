"""The composition root: builds every part once, owns their lifecycles, starts the adapters.

Nothing else constructs providers, the database or the service; parts get what they need
through their constructors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bots.notifier import PlatformNotifier
from bots.settings import Settings
from core.clock import DemoClock, SystemClock
from core.commands import CommandRouter
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
        adapters = [] if console else settings.adapters
        scheduler.start()
        try:
            if not adapters:
                return await run_console(runtime)
            log.warning("adapters %s are configured but not available in this build", adapters)
            return await run_console(runtime)
        finally:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)
