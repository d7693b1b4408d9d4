"""The background work: poll due parcels on APScheduler 3, and deliver the outbox.

Once a day the garbage collector looks at every object again (``bots.gc_settings``).

Jobs hold no state: the database says what is due, so jobs are rebuilt at every start and
none is persisted. ``coalesce`` and ``max_instances=1`` make a slow cycle skip, not pile up.
Delivery is not a scheduled job: a drain of a long backlog outlasts any interval (a job
would be skipped, with a warning, every interval), so ``delivering`` runs it as one task,
woken whenever alerts are queued, and stops it before the adapters go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bots.gc_settings import REVISIT_EVERY_SECONDS, revisit_frozen
from core.errors import StorageUnavailable
from core.flusher import FlushStats
from core.models import PollStats
from core.ports import Notifier
from core.service import ParcelService

__all__ = ["build_scheduler", "delivering"]

log = logging.getLogger(__name__)


def build_scheduler(
    service: ParcelService,
    *,
    poll_interval: float,
    poll_batch: int = 500,
    on_cycle: Callable[[], Awaitable[None]] | None = None,
    on_poll: Callable[[PollStats], None] | None = None,
) -> AsyncIOScheduler:
    """An unstarted scheduler with the poll job; start it inside the running loop.

    ``on_poll`` hears each cycle that finished (readiness and metrics); a cycle that raised is
    not reported, so a job failing every time shows as overdue.
    """

    async def poll() -> None:
        try:
            stats = await service.refresh.poll_due(poll_batch)
            if stats.checked:
                log.info(
                    "poll: %d checked, %d changed, %d alerts, %d errors",
                    stats.checked,
                    stats.changed,
                    stats.alerts,
                    stats.errors,
                )
            if on_cycle is not None:
                await on_cycle()
            if on_poll is not None:
                on_poll(stats)
        except StorageUnavailable:
            pass  # the storage layer logged the sentence once; the next cycle tries again
        except Exception:
            log.exception("poll cycle failed")

    scheduler = AsyncIOScheduler(timezone="UTC")
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    scheduler.add_job(poll, "interval", seconds=poll_interval, id="poll_due", **options)

    async def revisit() -> None:
        # On the event loop's thread, like everything else that touches the bot's objects.
        found = revisit_frozen()
        log.debug("garbage collector revisit: %d unreachable objects", found)

    scheduler.add_job(
        revisit, "interval", seconds=REVISIT_EVERY_SECONDS, id="gc_revisit", **options
    )
    return scheduler


@contextlib.asynccontextmanager
async def delivering(
    service: ParcelService,
    notifier: Notifier,
    *,
    interval: float,
    grace: float = 10.0,
    on_flush: Callable[[FlushStats], None] | None = None,
) -> AsyncIterator[asyncio.Task[None]]:
    """Deliver the outbox in the background while the block runs; on exit, let the messages in
    flight finish and be marked (up to ``grace`` seconds) before returning.

    ``on_flush`` hears what was delivered at least every ``interval`` seconds, also while a
    long backlog drains and while nothing is due (readiness and metrics)."""
    task = asyncio.create_task(
        service.run_delivery(notifier, interval, on_flush=on_flush), name="delivery"
    )
    try:
        yield task
    finally:
        await service.stop_delivery(grace)
        try:
            async with asyncio.timeout(grace):
                await task
        except TimeoutError:
            log.warning("outbox delivery did not stop within %.0f s", grace)
