"""The outbox flusher: queued alerts to the ``Notifier``, at least once, never lost.

Built by ``core.service.ParcelService`` (``flush_outbox``), whose module docstring states the
delivery guarantee: an alert is marked sent only after the notifier returned, so a crash can
repeat at most the one message in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from core import alerts, preferences
from core.digest import digest_reply
from core.guards import retry_backoff
from core.models import (
    Alert,
    ChatRef,
    ChatSettings,
    OutboxEntry,
    Shipment,
    ShipmentKey,
    Subscription,
)
from core.ports import ChatUnreachable, Clock, Notifier
from core.privacy import View
from core.replies import Reply, ReplyKind, for_chat
from core.repositories import Store

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
    """Sends what the outbox holds; one flusher per database (two could send an alert twice)."""

    def __init__(
        self, store: Store, clock: Clock, *, retry_base: timedelta, retry_max: timedelta
    ) -> None:
        self._store = store
        self._clock = clock
        self._retry_base = retry_base
        self._retry_max = retry_max

    async def flush(self, notifier: Notifier, limit: int = 200) -> FlushStats:
        """Hand queued alerts to the notifier, one message at a time, oldest first.

        Per chat: inside its quiet hours, alerts are held until the window ends; alerts no
        longer wanted (muted, preference changed, unsubscribed) are settled unsent; alerts
        held for a digest (quiet hours, or parked while the chat was unreachable) go out as
        one digest message; the rest one by one. A message's alerts are marked sent only after
        ``Notifier.send`` returned (``core.service``'s docstring: the one duplicate a crash can
        cause). A chat that blocked the bot is paused (its alerts parked until it talks again);
        any other failure is retried with exponential backoff (``retry_base`` doubling up
        to ``retry_max``, or the platform's ``retry_after`` when longer).
        """
        now = self._clock.now()
        entries = await self._store.outbox.due(now, limit)
        if not entries:
            return FlushStats()
        held_ids = await self._store.outbox.held_ids([entry.id for entry in entries])
        by_chat: dict[str, list[OutboxEntry]] = {}
        for entry in entries:
            by_chat.setdefault(entry.chat.chat_key, []).append(entry)
        settings = await self._store.chats.settings_many(list(by_chat))
        shipments = await self._store.shipments.get_many(list({e.alert.key for e in entries}))
        stats = _FlushCounts()
        for chat_key, group in by_chat.items():
            chat_settings = settings.get(chat_key, ChatSettings())
            if chat_settings.paused:
                continue
            until = preferences.quiet_until(chat_settings, now)
            if until is not None:
                await self._store.outbox.hold([entry.id for entry in group], until)
                stats.held += len(group)
                continue
            await self._flush_chat(
                notifier,
                group,
                settings=chat_settings,
                held_ids=held_ids,
                shipments=shipments,
                stats=stats,
                now=now,
            )
        return stats.frozen()

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
    ) -> None:
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
        # Held alerts go out together; anything else already due for the chat joins them.
        bundle = keep if any(entry.id in held_ids for entry in keep) else []
        singles = [] if bundle else keep
        messages: list[tuple[list[OutboxEntry], Reply]] = []
        if len(bundle) >= 2:
            labels = {key: sub.label for key, sub in subs.items() if sub is not None}
            reason = (
                "during your quiet hours"
                if settings.quiet_start and settings.quiet_end
                else "while I could not reach you"
            )
            alerts_held = [entry.alert for entry in bundle]
            digest = for_chat(
                chat,
                lambda seen: digest_reply(alerts_held, shipments, labels, reason=reason, seen=seen),
            )
            messages.append((bundle, digest))
        else:
            singles = keep
        for entry in singles:
            sub = subs.get(entry.alert.key)
            alert, shipment = entry.alert, shipments.get(entry.alert.key)
            reply = for_chat(chat, partial(_render, alert, shipment, sub, settings))
            messages.append(([entry], reply))
        for batch, reply in messages:
            if not await self._deliver(notifier, chat, batch, reply=reply, stats=stats, now=now):
                return

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
        try:
            await notifier.send(chat, reply)
        except ChatUnreachable as err:
            if err.permanent:
                settings = await self._store.chats.get_settings(chat)
                await self._store.chats.save_settings(chat, replace(settings, paused=True))
                await self._store.outbox.hold_chat(chat.chat_key)
                stats.paused += 1
                log.info("chat %s unreachable; its alerts are parked", chat.chat_key)
                return False
            await self._retry_later(batch, now, err.retry_after)
            stats.failed += len(batch)
            return False
        except Exception as err:  # a notifier bug or outage must not stop other chats
            log.warning(
                "sending to chat %s failed (%s); will retry", chat.chat_key, type(err).__name__
            )
            await self._retry_later(batch, now, 0.0)
            stats.failed += len(batch)
            return False
        # The commit point: until this returns, a crash means this message is sent again.
        await self._store.outbox.mark_sent([entry.id for entry in batch], self._clock.now())
        stats.sent += len(batch)
        stats.messages += 1
        stats.digests += 1 if len(batch) > 1 else 0
        return True

    async def _retry_later(self, batch: list[OutboxEntry], now: datetime, hint: float) -> None:
        for entry in batch:
            backoff = retry_backoff(entry.attempts, self._retry_base, self._retry_max)
            delay = max(backoff, timedelta(seconds=hint))
            await self._store.outbox.mark_failed(entry.id, now + delay)


class _FlushCounts:
    """Mutable counters for one flush, frozen into ``FlushStats`` at the end."""

    def __init__(self) -> None:
        self.sent = self.failed = self.paused = self.held = 0
        self.dropped = self.messages = self.digests = 0

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
            f"Update for {seen.name(label, alert.key.number)}",
            (alert.detail,) if not seen.shared else (),
            kind=ReplyKind.ALERT,
            owner=seen.mention(),
        )
    return alerts.alert_reply(alert, shipment, tz=settings.timezone, label=label, seen=seen)
