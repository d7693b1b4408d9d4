"""The background jobs: poll due parcels and flush the outbox, on APScheduler 3.

Jobs hold no state: the database says what is due, so jobs are rebuilt at every start and
none is persisted. ``coalesce`` and ``max_instances=1`` make a slow cycle skip, not pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.flusher import FlushStats
from core.ports import Notifier
from core.service import ParcelService, PollStats

__all__ = ["build_scheduler"]

log = logging.getLogger(__name__)


def build_scheduler(
    service: ParcelService,
    notifier: Notifier,
    *,
    poll_interval: float,
    flush_interval: float,
    poll_batch: int = 500,
    on_cycle: Callable[[], Awaitable[None]] | None = None,
    on_poll: Callable[[PollStats], None] | None = None,
    on_flush: Callable[[FlushStats], None] | None = None,
) -> AsyncIOScheduler:
    """An unstarted scheduler with the poll and flush jobs; start it inside the running loop.

    ``on_poll`` / ``on_flush`` hear each cycle that finished (readiness and metrics); a cycle
    that raised is not reported, so a job failing every time shows as overdue.
    """

    async def poll() -> None:
        try:
            stats = await service.poll_due(poll_batch)
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
        except Exception:
            log.exception("poll cycle failed")

    async def flush() -> None:
        try:
            flushed = await service.flush_outbox(notifier)
            if on_flush is not None:
                on_flush(flushed)
        except Exception:
            log.exception("outbox flush failed")

    scheduler = AsyncIOScheduler(timezone="UTC")
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    scheduler.add_job(poll, "interval", seconds=poll_interval, id="poll_due", **options)
    scheduler.add_job(flush, "interval", seconds=flush_interval, id="flush_outbox", **options)
    return scheduler
