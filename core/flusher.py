"""The outbox flusher: queued alerts to the ``Notifier``, at least once, never lost.

Built by ``core.service.ParcelService`` (``flush_outbox``), whose module docstring states the
delivery guarantee: an alert is marked sent only after the notifier returned, so a crash can
repeat at most the one message in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from core import alerts, preferences
from core.digest import digest_reply
from core.errors import StorageUnavailable
from core.guards import retry_backoff
from core.i18n import Voices, _
from core.models import (
    Alert,
    ChatRef,
    ChatSettings,
    OutboxEntry,
    Shipment,
    ShipmentKey,
    Subscription,
)
from core.ports import ChatUnreachable, Clock, Notifier, SharedLanguages, Store
from core.privacy import View
from core.replies import Reply, ReplyKind, for_chat

__all__ = ["FlushStats", "OutboxFlusher"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FlushStats:
    """What one outbox flush did.

    ``sent`` alerts were delivered (in ``messages`` messages, ``digests`` of them digests),
    ``failed`` will be retried, ``paused`` chats were found unreachable, ``held`` alerts wait
    for the end of quiet hours, ``dropped`` alerts were no longer wanted (muted, preference
    changed, unsubscribed) and are settled without sending.
    """

    sent: int = 0
    failed: int = 0
    paused: int = 0
    held: int = 0
    dropped: int = 0
    messages: int = 0
    digests: int = 0


class OutboxFlusher:
    """Sends what the outbox holds. Any number of flushers may share one database (in one
    process or many): each claims whole chats under its ``holder`` name for ``lease``
    (``OutboxRepository.claim``), renews them while it works on them and releases them when
    the flush ends, so every alert is sent by one flusher and each chat's alerts in order. A
    flusher that dies loses nothing: its chats are claimable again once the lease ran out and
    ``chat_spacing`` passed since the last message it sent them.

    Chats are drained side by side, each by its own task, so a chat that waits (the
    platform's per-chat spacing, a ``retry_after``), hangs (bounded by ``send_timeout``) or
    keeps failing holds back only itself; the platform's adapter keeps the whole under its
    global limit. Inside one chat, messages go one at a time in queue order.

    A chat whose send failed backs off on its own schedule (every later alert of that chat
    waits with it); after ``max_attempts`` failed tries of one message, or at once on a
    permanent refusal, the chat is parked (one log line) until the person writes again
    (``ParcelService.chat_seen``), when what waited arrives as one digest.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        retry_base: timedelta,
        retry_max: timedelta,
        send_timeout: float = 30.0,
        max_attempts: int = 10,
        concurrency: int = 256,
        holder: str = "local",
        lease: timedelta = timedelta(minutes=2),
        chat_spacing: timedelta = timedelta(seconds=1),
        platforms: Sequence[str] = (),
        voices: Voices | None = None,
        default_timezone: str = "UTC",
        shared_languages: SharedLanguages | None = None,
    ) -> None:
        self._store = store
        self._default_timezone = default_timezone
        self._voices = voices or Voices()
        self._shared = shared_languages
        self._holder = holder
        self._lease = lease
        self._chat_spacing = chat_spacing
        # Only chats on these platforms are claimed (empty: all): a process sends only where
        # it runs a sender; the others' chats wait for processes that do.
        self._platforms = tuple(platforms)
        # Chats a message went out to since they were claimed (their release records it).
        self._sent_to: set[str] = set()
        self._clock = clock
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._send_timeout = send_timeout
        self._max_attempts = max(1, max_attempts)
        self._slots = asyncio.Semaphore(max(1, concurrency))
        # Per chat: not before this time (the chat's own backoff after a failed send).
        self._backoff: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._turn = asyncio.Lock()

    def wake(self) -> None:
        """New alerts were queued: let ``run`` flush now instead of at its next interval."""
        self._wake.set()

    async def run(
        self,
        notifier: Notifier,
        interval: float,
        on_flush: Callable[[FlushStats], None] | None = None,
    ) -> None:
        """Flush until ``stop``: at once when woken (``wake``), else every ``interval`` s.

        ``on_flush`` gets what was done since its last call, at least every ``interval``
        seconds while a backlog drains and after every flush (also an empty one), so a
        heartbeat built on it stays fresh while delivery is alive.
        """
        while not self._stopping:
            self._wake.clear()
            try:
                async with self._turn:
                    await self._flush(notifier, 200, on_flush, interval)
            except StorageUnavailable:
                pass  # the storage layer logged the sentence once; try again next interval
            except Exception:  # a bug in one flush must not end delivery for good
                log.exception("outbox flush failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()

    async def stop(self, grace: float) -> None:
        """Start no new message; wait up to ``grace`` s for the ones in flight to be sent and
        marked (a send cut short here is the one a restart repeats)."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await self._idle.wait()

    async def flush(self, notifier: Notifier, limit: int = 200) -> FlushStats:
        """Hand queued alerts to the notifier until nothing is due, oldest first per chat.

        Due entries are read ``limit`` at a time (plus those already handed out) and given
        to one task per chat; the read repeats as chats finish, so alerts that became due in
        the meantime join at once. Per chat: inside its quiet hours, alerts are held until
        the window ends; alerts no longer wanted (muted, preference changed, unsubscribed)
        are settled unsent; alerts held for a digest (quiet hours, or parked while the chat
        was unreachable) go out as one digest message; the rest one by one. A message's
        alerts are marked sent only after ``Notifier.send`` returned (``core.service``'s
        docstring: the duplicates a crash can cause). A failed send is retried with
        exponential backoff (``retry_base`` doubling up to ``retry_max``, or the platform's
        ``retry_after`` when longer). Flushes of one flusher take turns (two at once could
        each send the same alert).
        """
        async with self._turn:
            return await self._flush(notifier, limit)

    async def _flush(
        self,
        notifier: Notifier,
        limit: int,
        report: Callable[[FlushStats], None] | None = None,
        every: float = 0.0,
    ) -> FlushStats:
        chats: dict[str, _ChatQueue] = {}
        taken: set[int] = set()
        # Chats claimed in this flush: held until it ends (released then, all at once, when no
        # task of this flusher sends to them any more; a release while one still could would
        # let another flusher take the chat under it).
        held: set[str] = set()
        try:
            return await self._flush_claimed(
                notifier, limit, report=report, every=every, chats=chats, taken=taken, held=held
            )
        finally:
            # A chat whose task still runs (this flush was cancelled) keeps its lease.
            await self._release(held - {k for k, q in chats.items() if q.task is not None})

    async def _flush_claimed(
        self,
        notifier: Notifier,
        limit: int,
        *,
        report: Callable[[FlushStats], None] | None,
        every: float,
        chats: dict[str, _ChatQueue],
        taken: set[int],
        held: set[str],
    ) -> FlushStats:
        stats = _FlushCounts()
        told = _FlushCounts()
        loop = asyncio.get_running_loop()
        last_report = loop.time()
        while not self._stopping:
            now = self._clock.now()
            pending = sum(len(queue.entries) for queue in chats.values())
            entries = await self._store.outbox.claim(
                now,
                limit + pending,
                holder=self._holder,
                until=now + self._lease,
                spaced=now - self._chat_spacing,
                platforms=self._platforms,
            )
            held.update(entry.chat.chat_key for entry in entries)
            fresh = [
                entry
                for entry in entries
                if entry.id not in taken and not self._backing_off(entry.chat.chat_key, now)
            ]
            if fresh:
                await self._dispatch(notifier, fresh, chats, stats)
                taken.update(entry.id for entry in fresh)
            running = [queue.task for queue in chats.values() if queue.task is not None]
            if not running:
                break
            # Read again when a chat is done, or now and then for alerts queued meanwhile.
            await asyncio.wait(running, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            for key in [key for key, queue in chats.items() if queue.task is None]:
                del chats[key]
            if report is not None and loop.time() - last_report >= every:
                report(stats.since(told))
                last_report = loop.time()
        tasks = [queue.task for queue in chats.values() if queue.task is not None]
        if tasks:
            await asyncio.gather(*tasks)
        if report is not None:
            report(stats.since(told))
        return stats.frozen()

    def _backing_off(self, chat_key: str, now: datetime) -> bool:
        until = self._backoff.get(chat_key)
        if until is None:
            return False
        if until <= now:
            del self._backoff[chat_key]
            return False
        return True

    async def _dispatch(
        self,
        notifier: Notifier,
        entries: list[OutboxEntry],
        chats: dict[str, _ChatQueue],
        stats: _FlushCounts,
    ) -> None:
        by_chat: dict[str, list[OutboxEntry]] = {}
        for entry in entries:
            by_chat.setdefault(entry.chat.chat_key, []).append(entry)
        for key, group in by_chat.items():
            queue = chats.get(key)
            if queue is not None and queue.task is not None:
                queue.entries.extend(group)  # the chat's task picks them up next
                continue
            queue = chats[key] = _ChatQueue(key, list(group))
            queue.task = asyncio.create_task(self._drain(notifier, queue, stats))

    async def _drain(self, notifier: Notifier, queue: _ChatQueue, stats: _FlushCounts) -> None:
        try:
            async with self._slots:
                while queue.entries and not self._stopping:
                    group, queue.entries = queue.entries, []
                    if not await self._flush_group(notifier, group, stats):
                        queue.entries = []
                        return
        finally:
            queue.task = None

    async def _release(self, chat_keys: set[str]) -> None:
        """Give the chats back to the shared outbox: other flushers may claim them (after the
        per-chat spacing, for those a message just went to)."""
        sent = chat_keys & self._sent_to
        self._sent_to -= sent
        now = self._clock.now()
        try:
            for keys, any_sent in ((sent, True), (chat_keys - sent, False)):
                if keys:
                    await self._store.outbox.release(sorted(keys), self._holder, now, sent=any_sent)
        except Exception:  # the leases then run out by themselves
            log.debug("releasing %d chats failed; their leases run out", len(chat_keys))

    async def _flush_group(
        self, notifier: Notifier, group: list[OutboxEntry], stats: _FlushCounts
    ) -> bool:
        """One chat's entries; False when the chat should not be tried further now."""
        now = self._clock.now()
        chat = group[0].chat
        settings = (await self._store.chats.get_settings(chat)).zoned(self._default_timezone)
        if settings.paused:
            return False
        until = preferences.quiet_until(settings, now)
        if until is not None:
            await self._store.outbox.hold([entry.id for entry in group], until)
            stats.held += len(group)
            return True
        held_ids = await self._store.outbox.held_ids([entry.id for entry in group])
        shipments = await self._store.shipments.get_many(list({e.alert.key for e in group}))
        return await self._flush_chat(
            notifier,
            group,
            settings=settings,
            held_ids=held_ids,
            shipments=shipments,
            stats=stats,
            now=now,
        )

    async def _flush_chat(
        self,
        notifier: Notifier,
        group: list[OutboxEntry],
        *,
        settings: ChatSettings,
        held_ids: set[int],
        shipments: Mapping[ShipmentKey, Shipment],
        stats: _FlushCounts,
        now: datetime,
    ) -> bool:
        chat = group[0].chat
        subs: dict[ShipmentKey, Subscription | None] = {}
        for key in {entry.alert.key for entry in group}:
            subs[key] = await self._store.subscriptions.get(chat, key)
        keep: list[OutboxEntry] = []
        drop: list[int] = []
        for entry in group:
            sub = subs.get(entry.alert.key)
            wanted = sub is not None and alerts.wanted(
                entry.alert, preferences.effective(sub, settings)
            )
            (keep.append(entry) if wanted else drop.append(entry.id))
        if drop:
            await self._store.outbox.mark_sent(drop, now)
            stats.dropped += len(drop)
        # Alerts are worded in the chat's language: they arrive with no message to read it from.
        # What may be posted where others read is worded in that place's language.
        place = await self._shared.shared_language(chat) if self._shared is not None else ""

        def shared_voice() -> AbstractContextManager[object]:
            return self._voices.speaking(place) if place else nullcontext()

        with self._voices.speaking(settings.language):
            # Held alerts go out together; anything else already due for the chat joins them.
            bundle = keep if any(entry.id in held_ids for entry in keep) else []
            singles = [] if bundle else keep
            messages: list[tuple[list[OutboxEntry], Reply]] = []
            if len(bundle) >= 2:
                labels = {key: sub.label for key, sub in subs.items() if sub is not None}
                quiet = bool(settings.quiet_start and settings.quiet_end)
                alerts_held = [entry.alert for entry in bundle]
                digest = for_chat(
                    chat,
                    lambda seen: digest_reply(
                        alerts_held,
                        shipments,
                        labels,
                        reason=_("during your quiet hours")
                        if quiet
                        else _("while I could not reach you"),
                        seen=seen,
                    ),
                    shared_voice=shared_voice,
                )
                messages.append((bundle, digest))
            else:
                singles = keep
            for entry in singles:
                sub = subs.get(entry.alert.key)
                alert, shipment = entry.alert, shipments.get(entry.alert.key)
                reply = for_chat(
                    chat,
                    partial(_render, alert, shipment, sub, settings),
                    shared_voice=shared_voice,
                )
                messages.append(([entry], reply))
            # Sent in the language too: an adapter may add words of its own (a pointer to the
            # private chat where others read).
            for batch, reply in messages:
                if self._stopping:
                    return False
                if not await self._deliver(
                    notifier, chat, batch, reply=reply, stats=stats, now=now
                ):
                    return False
        return True

    async def _deliver(
        self,
        notifier: Notifier,
        chat: ChatRef,
        batch: list[OutboxEntry],
        *,
        reply: Reply,
        stats: _FlushCounts,
        now: datetime,
    ) -> bool:
        """Send one message for ``batch``; False when the chat should not be tried further."""
        self._in_flight += 1
        self._idle.clear()
        try:
            try:
                async with asyncio.timeout(self._send_timeout):
                    await notifier.send(chat, reply)
            except ChatUnreachable as err:
                if err.permanent:
                    await self._park(chat, f"the platform refused it ({err})")
                    stats.paused += 1
                    return False
                await self._retry_later(chat, batch, err.retry_after, str(err))
                stats.failed += len(batch)
                return False
            except TimeoutError:
                await self._retry_later(chat, batch, 0.0, "no answer in time")
                stats.failed += len(batch)
                return False
            except Exception as err:  # a notifier bug or outage must not stop other chats
                await self._retry_later(chat, batch, 0.0, type(err).__name__)
                stats.failed += len(batch)
                return False
            # The commit point: until this returns, a crash means this message is sent again.
            await self._store.outbox.mark_sent([entry.id for entry in batch], self._clock.now())
            self._sent_to.add(chat.chat_key)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()
        stats.sent += len(batch)
        stats.messages += 1
        stats.digests += 1 if len(batch) > 1 else 0
        return True

    async def _park(self, chat: ChatRef, why: str) -> None:
        """Stop sending to the chat until the person writes again; its alerts wait."""
        settings = await self._store.chats.get_settings(chat)
        await self._store.chats.save_settings(chat, replace(settings, paused=True))
        await self._store.outbox.hold_chat(chat.chat_key)
        self._backoff.pop(chat.chat_key, None)
        log.info("chat %s parked: %s; its alerts wait until it writes again", chat.chat_key, why)

    async def _retry_later(
        self, chat: ChatRef, batch: list[OutboxEntry], hint: float, why: str
    ) -> None:
        tries = max(entry.attempts for entry in batch) + 1
        if tries >= self._max_attempts:
            await self._park(chat, f"{tries} failed tries, the last: {why}")
            return
        now = self._clock.now()
        latest = now
        for entry in batch:
            backoff = retry_backoff(entry.attempts, self._retry_base, self._retry_max)
            retry_at = now + max(backoff, timedelta(seconds=hint))
            latest = max(latest, retry_at)
            await self._store.outbox.mark_failed(entry.id, retry_at)
        # The chat's later alerts wait with it, so its order is kept and it is not hammered.
        self._backoff[chat.chat_key] = latest
        log.debug("sending to chat %s failed (%s); retry at %s", chat.chat_key, why, latest)


@dataclass(slots=True)
class _ChatQueue:
    """One chat's entries handed out in this flush, and the task draining them."""

    chat_key: str
    entries: list[OutboxEntry]
    task: asyncio.Task[None] | None = None


class _FlushCounts:
    """Mutable counters for one flush, frozen into ``FlushStats`` at the end."""

    def __init__(self) -> None:
        self.sent = self.failed = self.paused = self.held = 0
        self.dropped = self.messages = self.digests = 0

    def since(self, told: _FlushCounts) -> FlushStats:
        """What was counted since the last call (``told`` keeps what was already told)."""
        now = self.frozen()
        before = told.frozen()
        for name in ("sent", "failed", "paused", "held", "dropped", "messages", "digests"):
            setattr(told, name, getattr(now, name))
        return FlushStats(
            **{
                name: getattr(now, name) - getattr(before, name)
                for name in ("sent", "failed", "paused", "held", "dropped", "messages", "digests")
            }
        )

    def frozen(self) -> FlushStats:
        return FlushStats(
            sent=self.sent,
            failed=self.failed,
            paused=self.paused,
            held=self.held,
            dropped=self.dropped,
            messages=self.messages,
            digests=self.digests,
        )


def _render(
    alert: Alert,
    shipment: Shipment | None,
    sub: Subscription | None,
    settings: ChatSettings,
    seen: View,
) -> Reply:
    label = sub.label if sub else ""
    if shipment is None:
        return Reply(
            _("Update for {parcel}").format(parcel=seen.name(label, alert.key.number)),
            (alert.detail,) if not seen.shared else (),
            kind=ReplyKind.ALERT,
            owner=seen.mention(),
        )
    return alerts.alert_reply(alert, shipment, tz=settings.timezone, label=label, seen=seen)
