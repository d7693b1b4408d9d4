"""The background half of webhook delivery: stored pushes processed after the answer.

``bots.webhooks`` answers a TikTok Shop push (and, with keys, a 17TRACK or AfterShip tracking
push) as soon as :meth:`WebhookInbox.accept` has committed it to the database (a
``core.ports.PushStore``: ``storage.inbox`` in production); this worker then hands it to its
handler, parsed by the provider's pure functions. Tracking pushes are processed in batches
(``tracking_pushes``): every due push in a round goes through the poll path at once, one
transaction for all of them.
Guarantees:

- **Nothing accepted is lost.** A push is answered 200 only after its row is committed. The
  row is marked done only after the handler returned, so a crash at any point leaves it
  pending and it is processed at the next start (``running`` drains the inbox first).
- **At least once, in practice once.** A push is handled again only when the process died
  after its handler ran and before ``mark_done`` committed. Handlers must tolerate that
  (``core.shop_sync.ShopSync.order_event`` re-reads the order and upserts, so a repeat
  changes nothing).
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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from core import providers
from core.cooperative import Breather
from core.guards import retry_backoff
from core.models import Shipment, StoredPush
from core.ports import Clock, PushReceiver, PushStore
from core.providers import aftership, seventeen_track, tiktok_shop

__all__ = [
    "AFTERSHIP",
    "DECODED_LIMIT",
    "IDLE_WAIT",
    "SEVENTEEN_TRACK",
    "TIKTOK",
    "BatchHandler",
    "Handler",
    "Inboxes",
    "WebhookInbox",
    "order_events",
    "tracking_pushes",
]

log = logging.getLogger(__name__)

TIKTOK = providers.TIKTOK_SHOP.id
"""The provider name TikTok Shop pushes are stored under."""

IDLE_WAIT = 30.0
"""Seconds an idle worker waits before it looks for due pushes again, unless a push it
accepted wakes it first."""

DECODED_LIMIT = 20_000
"""Most snapshots read at acceptance kept for the worker (``WebhookInbox``)."""

Handler = Callable[[bytes], Awaitable[None]]
"""Processes one stored push body; raises to have it retried later."""

BatchHandler = Callable[[Sequence[StoredPush]], Awaitable[None]]
"""Processes several stored pushes of one provider at once; raises to have them retried."""

SEVENTEEN_TRACK = providers.SEVENTEEN_TRACK.id
"""The provider name 17TRACK tracking pushes are stored under."""

AFTERSHIP = providers.AFTERSHIP.id
"""The provider name AfterShip tracking pushes are stored under."""


def order_events(sink: PushReceiver) -> Handler:
    """The handler for stored TikTok Shop pushes: decode, then ``sink.order_event``."""

    async def handle(body: bytes) -> None:
        try:
            event = tiktok_shop.parse_webhook(body)
        except (ValueError, TypeError):
            # It was decoded before it was stored, so this cannot heal by retrying.
            log.error("a stored TikTok Shop push cannot be decoded; it is dropped")
            return
        await sink.order_event(tiktok_shop.shop_push(event))

    return handle


def tracking_pushes(sink: PushReceiver) -> BatchHandler:
    """The handler for stored 17TRACK and AfterShip tracking pushes: decode each, then hand
    every snapshot of the batch to ``sink.ingest`` at once (one pass through the poll path)."""

    async def handle(items: Sequence[StoredPush]) -> None:
        shipments: list[Shipment] = []
        breathe = Breather()
        for item in items:
            await breathe()
            try:
                shipment = _tracking_snapshot(item)
            except (ValueError, TypeError):
                # It was decoded before it was stored, so this cannot heal by retrying.
                log.error("a stored %s push cannot be decoded; it is dropped", item.provider)
                continue
            if shipment is not None:
                shipments.append(shipment)
        if shipments:
            await sink.ingest(shipments)

    return handle


def _tracking_snapshot(item: StoredPush) -> Shipment | None:
    """The snapshot a stored tracking push carries, as of when it was received."""
    if item.decoded is not None:
        # What decoding the body again gives: only ``checked_at`` depends on the moment.
        return replace(item.decoded, checked_at=item.received_at)
    if item.provider == SEVENTEEN_TRACK:
        return seventeen_track.parse_push(item.body).shipment(now=item.received_at)
    if item.provider == AFTERSHIP:
        return aftership.parse_webhook(item.body).shipment(now=item.received_at)
    raise ValueError(f"{item.provider} pushes carry no tracking snapshot")


class Inboxes:
    """Several inboxes as one for the webhook server: a push goes to the first that handles
    its provider (``bots.webhooks.NotificationInbox``)."""

    def __init__(self, *inboxes: WebhookInbox) -> None:
        self._inboxes = inboxes
        # Asked several times per push: found once per provider.
        self._found: dict[str, WebhookInbox | None] = {}

    def _for(self, provider: str) -> WebhookInbox | None:
        try:
            return self._found[provider]
        except KeyError:
            inbox = next((i for i in self._inboxes if i.handles(provider)), None)
            self._found[provider] = inbox
            return inbox

    def handles(self, provider: str) -> bool:
        return self._for(provider) is not None

    def keeps_decoded(self, provider: str) -> bool:
        inbox = self._for(provider)
        return inbox is not None and inbox.keeps_decoded(provider)

    async def accept(
        self,
        provider: str,
        notification_id: str,
        body: bytes,
        *,
        decoded: Shipment | None = None,
    ) -> bool:
        inbox = self._for(provider)
        if inbox is None:
            raise LookupError(f"no inbox takes {provider} pushes")
        return await inbox.accept(provider, notification_id, body, decoded=decoded)


def _alone(handler: BatchHandler, item: StoredPush) -> Handler:
    """``handler`` for ``item`` by itself, as a one-push handler."""

    async def handle(_body: bytes) -> None:
        await handler([item])

    return handle


class WebhookInbox:
    """Accepts pushes into the durable inbox and processes them in a background task.

    ``handlers`` process one push at a time; ``batch_handlers`` (tracking pushes) get every
    due push of their provider in a round at once. Pushes that arrive while one append is
    being committed are stored together in the next (group commit): the answer to each still
    waits for its own row to be committed.

    Answers go first: while pushes keep arriving (less than ``gather`` seconds apart) the
    worker waits, up to ``gather_max`` seconds, before it processes them. A burst is then
    answered at the rate the appends allow and processed in full batches (each batch costs
    about the same whatever its size) rather than in a trickle of small ones that compete
    with the answers for the event loop. While pushes still arrive, each batch is followed by
    a pause of ``yield_ratio`` times the batch's own duration, so that answering gets most of
    the process; once the worker has been behind for ``catch_up_after`` seconds it stops
    pausing, so a stream it cannot keep up with is not left waiting without end.
    ``monotonic`` and ``pause`` are the clock and the sleep those pauses use.
    """

    def __init__(
        self,
        store: PushStore,
        clock: Clock,
        handlers: Mapping[str, Handler],
        *,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        retry_base: timedelta = timedelta(seconds=30),
        retry_max: timedelta = timedelta(hours=1),
        keep_done: timedelta = timedelta(hours=48),
        batch: int = 500,
        idle_wait: float = IDLE_WAIT,
        gather: float = 0.05,
        gather_max: float = 1.0,
        lease: timedelta = timedelta(minutes=5),
        decoded_limit: int = DECODED_LIMIT,
        yield_ratio: float = 3.0,
        catch_up_after: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        # Pushes are claimed while processed: webhook processes sharing one database each
        # take their own; what a dead one held is due again after the lease.
        self._lease = lease
        self._clock = clock
        self._handlers = dict(handlers)
        self._batch_handlers = dict(batch_handlers or {})
        # Only these providers' pushes are taken: on PostgreSQL every inbox is one table.
        self._providers = tuple(sorted({*self._handlers, *self._batch_handlers}))
        self._pending: list[tuple[str, str, bytes, asyncio.Future[bool]]] = []
        self._appending: asyncio.Task[None] | None = None
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._keep_done = keep_done
        self._batch = max(1, batch)
        self._idle_wait = idle_wait
        self._gather = gather
        self._gather_max = gather_max
        self._last_accept = 0.0
        # When the last round of processing ended: the pushes that arrived while it held the
        # event loop are answered only after it, so quiet is counted from then too.
        self._last_round = 0.0
        self._yield_ratio = max(0.0, yield_ratio)
        self._catch_up_after = catch_up_after
        self._monotonic = monotonic
        self._pause = pause
        # When the worker last found nothing due: how long it has been behind.
        self._caught_up = monotonic()
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()
        # Snapshots read from bodies at acceptance, by (provider, notification id), until
        # processed: decoding a body is a large share of a push's cost. Bounded; a push
        # without one is decoded from its stored body.
        self._decoded: dict[tuple[str, str], Shipment] = {}
        self._decoded_limit = max(0, decoded_limit)

    def handles(self, provider: str) -> bool:
        """Whether pushes from ``provider`` are stored and processed here."""
        return provider in self._handlers or provider in self._batch_handlers

    def keeps_decoded(self, provider: str) -> bool:
        """Whether snapshots read from ``provider``'s pushes are kept for the worker (they
        are not where it runs in another process: ``decoded_limit`` 0)."""
        return self._decoded_limit > 0 and self.handles(provider)

    async def accept(
        self,
        provider: str,
        notification_id: str,
        body: bytes,
        *,
        decoded: Shipment | None = None,
    ) -> bool:
        """Store a verified push and wake the worker; False when it was already stored.

        Returns once the push's row is committed; raises when it could not be stored.
        ``decoded`` (the snapshot read from ``body``, ``checked_at`` aside) is kept in memory
        for the worker, so that it does not decode the body again."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((provider, notification_id, body, future))
        if self._appending is None:
            self._appending = asyncio.create_task(self._append(), name="webhook-inbox-append")
        # A cancelled request leaves its push in the group: it is stored all the same.
        added = await future
        if added and decoded is not None and len(self._decoded) < self._decoded_limit:
            # Only for a push stored now: a repeat's stored body may differ from this one.
            self._decoded[(provider, notification_id)] = decoded
        self._last_accept = self._monotonic()
        self._wake.set()
        return added

    async def _append(self) -> None:
        """Commit the waiting pushes, all that arrived meanwhile in one transaction each."""
        try:
            while self._pending:
                waiting, self._pending = self._pending, []
                rows = [(provider, nid, body) for provider, nid, body, _ in waiting]
                try:
                    added = await self._store.add_many(rows, self._clock.now())
                except Exception as err:  # every waiting request answers 500 and is resent
                    for *_, future in waiting:
                        if not future.done():  # done: its request was cancelled
                            future.set_exception(err)
                    continue
                for (*_, future), stored in zip(waiting, added, strict=True):
                    if not future.done():
                        future.set_result(stored)
        finally:
            self._appending = None

    async def pending(self) -> int:
        """How many stored pushes are not processed yet."""
        return await self._store.pending_count(self._providers)

    async def drain(self) -> int:
        """Process every due push now (waiting for a drain in progress); return how many
        were processed successfully. Failures are rescheduled, not raised."""
        async with self._draining:
            done = 0
            while True:
                now = self._clock.now()
                items = await self._store.due(
                    now, self._batch, now + self._lease, providers=self._providers
                )
                if not items:
                    self._caught_up = self._monotonic()
                    return done
                started = self._monotonic()
                if self._decoded:
                    items = [self._with_decoded(item) for item in items]
                batched: dict[str, list[StoredPush]] = {}
                for item in items:
                    if item.provider in self._batch_handlers:
                        batched.setdefault(item.provider, []).append(item)
                    else:
                        done += await self._process(item)
                for provider, group in batched.items():
                    done += await self._process_batch(self._batch_handlers[provider], group)
                await self._answers_first(self._monotonic() - started)

    async def _answers_first(self, spent: float) -> None:
        """After a batch that took ``spent`` seconds, leave the event loop to answering while
        pushes keep arriving, unless the worker has been behind for ``catch_up_after``."""
        now = self._monotonic()
        arriving = now - self._last_accept < self._gather
        if arriving and now - self._caught_up < self._catch_up_after:
            await self._pause(min(spent * self._yield_ratio, self._gather_max))

    def _with_decoded(self, item: StoredPush) -> StoredPush:
        decoded = self._decoded.get((item.provider, item.notification_id))
        return item if decoded is None else replace(item, decoded=decoded)

    def _forget_decoded(self, items: Sequence[StoredPush]) -> None:
        for item in items:
            self._decoded.pop((item.provider, item.notification_id), None)

    async def _process_batch(self, handler: BatchHandler, items: list[StoredPush]) -> int:
        """Process ``items`` in one call; if that fails, one at a time, so that one bad push
        is retried alone and the others are not held back by it."""
        try:
            await handler(items)
        except Exception as err:
            log.warning(
                "a batch of %d %s pushes failed (%s); processing them one by one",
                len(items),
                items[0].provider,
                type(err).__name__,
            )
            done = 0
            for item in items:
                done += await self._process(item, _alone(handler, item))
            return done
        # The commit point: until this returns, a crash means the batch is processed again.
        await self._store.mark_done_many([item.id for item in items], self._clock.now())
        self._forget_decoded(items)
        return len(items)

    async def _process(self, item: StoredPush, handler: Handler | None = None) -> int:
        handler = handler or self._handlers.get(item.provider)
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
        self._forget_decoded((item,))
        return 1

    async def _settle(self) -> None:
        """Wait until no push arrived for ``gather`` seconds, at most ``gather_max``."""
        deadline = self._monotonic() + self._gather_max
        while True:
            now = self._monotonic()
            quiet_in = max(self._last_accept, self._last_round) + self._gather - now
            if quiet_in <= 0 or now >= deadline:
                return
            await asyncio.sleep(min(quiet_in, deadline - now))

    async def _run(self) -> None:
        while True:
            # Cleared before draining: a push accepted meanwhile wakes the next round at once.
            self._wake.clear()
            wait = self._idle_wait
            try:
                await self._settle()
                await self.drain()
                self._last_round = self._monotonic()
                await self._store.purge(self._clock.now() - self._keep_done)
                due = await self._store.next_attempt(self._providers)
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
