"""The background half of webhook delivery: stored pushes processed after the answer.

``bots.webhooks`` answers a TikTok Shop push as soon as :meth:`WebhookInbox.accept` has
committed it to the database (``storage.inbox``); this worker then hands it to its handler.
Guarantees:

- **Nothing accepted is lost.** A push is answered 200 only after its row is committed. The
  row is marked done only after the handler returned, so a crash at any point leaves it
  pending and it is processed at the next start (``running`` drains the inbox first).
- **At least once, in practice once.** A push is handled again only when the process died
  after its handler ran and before ``mark_done`` committed. Handlers must tolerate that
  (``ServiceSink.order_event`` re-reads the order and upserts, so a repeat changes nothing).
  The inbox is unique per notification id, so TikTok re-sending the same push is no repeat.
- **Failures are retried, never dropped.** A failing handler is retried with exponential
  backoff (``retry_base`` doubling up to ``retry_max``) until it succeeds. Only a stored body
  that cannot be decoded any more is logged and settled.
- One drain runs at a time, in one process per database, like the outbox flusher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from bots.webhooks import WebhookSink
from core.guards import retry_backoff
from core.ports import Clock
from core.providers import tiktok_shop
from storage.inbox import InboxItem, SqliteInbox

__all__ = ["TIKTOK", "Handler", "WebhookInbox", "order_events"]

log = logging.getLogger(__name__)

TIKTOK = "tiktok_shop"
"""The provider name TikTok Shop pushes are stored under."""

Handler = Callable[[bytes], Awaitable[None]]
"""Processes one stored push body; raises to have it retried later."""


def order_events(sink: WebhookSink) -> Handler:
    """The handler for stored TikTok Shop pushes: decode, then ``sink.order_event``."""

    async def handle(body: bytes) -> None:
        try:
            event = tiktok_shop.parse_webhook(body)
        except (ValueError, TypeError):
            # It was decoded before it was stored, so this cannot heal by retrying.
            log.error("a stored TikTok Shop push cannot be decoded; it is dropped")
            return
        await sink.order_event(event)

    return handle


class WebhookInbox:
    """Accepts pushes into the durable inbox and processes them in a background task."""

    def __init__(
        self,
        store: SqliteInbox,
        clock: Clock,
        handlers: Mapping[str, Handler],
        *,
        retry_base: timedelta = timedelta(seconds=30),
        retry_max: timedelta = timedelta(hours=1),
        keep_done: timedelta = timedelta(hours=48),
        batch: int = 50,
        idle_wait: float = 30.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._handlers = dict(handlers)
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._keep_done = keep_done
        self._batch = max(1, batch)
        self._idle_wait = idle_wait
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()

    async def accept(self, provider: str, notification_id: str, body: bytes) -> bool:
        """Store a verified push and wake the worker; False when it was already stored."""
        added = await self._store.add(provider, notification_id, body, self._clock.now())
        self._wake.set()
        return added

    async def drain(self) -> int:
        """Process every due push now (waiting for a drain in progress); return how many
        were processed successfully. Failures are rescheduled, not raised."""
        async with self._draining:
            done = 0
            while True:
                items = await self._store.due(self._clock.now(), self._batch)
                if not items:
                    return done
                for item in items:
                    done += await self._process(item)

    async def _process(self, item: InboxItem) -> int:
        handler = self._handlers.get(item.provider)
        try:
            if handler is None:
                raise LookupError(f"no handler for {item.provider} pushes")
            await handler(item.body)
        except Exception as err:
            delay = retry_backoff(item.attempts, self._retry_base, self._retry_max)
            log.warning(
                "%s push could not be processed (%s); retried in %s",
                item.provider,
                type(err).__name__,
                delay,
            )
            await self._store.mark_failed(item.id, self._clock.now() + delay)
            return 0
        # The commit point: until this returns, a crash means the push is processed again.
        await self._store.mark_done(item.id, self._clock.now())
        return 1

    async def _run(self) -> None:
        while True:
            # Cleared before draining: a push accepted meanwhile wakes the next round at once.
            self._wake.clear()
            wait = self._idle_wait
            try:
                await self.drain()
                await self._store.purge(self._clock.now() - self._keep_done)
                due = await self._store.next_attempt()
                if due is not None:
                    ahead = (due - self._clock.now()).total_seconds()
                    wait = min(self._idle_wait, max(0.05, ahead))
            except Exception:
                log.exception("webhook inbox round failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[WebhookInbox]:
        """Run the worker in the background (first processing what an earlier run left);
        stop it on exit. A push being processed then stays pending for the next start."""
        task = asyncio.create_task(self._run(), name="webhook-inbox")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
