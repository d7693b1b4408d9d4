"""The use cases: everything parcelbot does, independent of chat platform and data source.

``ParcelService`` is built once by the composition root with its ports passed in. Every use case
returns platform-neutral ``Reply`` objects or raises a ``TrackingError`` for the adapter to turn
into one sentence.
"""

from __future__ import annotations

import hmac
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core import alerts, carriers, incidents, polling
from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    NotAuthorised,
    OrderNotFound,
    ProviderError,
    RateLimited,
    ShipmentNotFound,
    TrackingError,
)
from core.identifiers import Identifier, check_text, normalise, parse_identifier
from core.models import (
    Alert,
    CarrierMatch,
    ChatRef,
    Order,
    OrderId,
    Shipment,
    Subscription,
    TrackRequest,
)
from core.ports import (
    ChatRepository,
    ChatUnreachable,
    Clock,
    Notifier,
    OrderSource,
    OutboxRepository,
    ShipmentRepository,
    SnapshotWrite,
    SubscriptionRepository,
    TrackingProvider,
)
from core.replies import (
    Reply,
    ReplyKind,
    choice_reply,
    list_reply,
    order_reply,
    shipment_reply,
    timeline_reply,
)

__all__ = ["FlushStats", "ParcelService", "PollStats", "ServiceConfig", "Store"]

log = logging.getLogger(__name__)


class Store(Protocol):
    """The repositories the service works with (``storage.Database`` provides them)."""

    @property
    def shipments(self) -> ShipmentRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def chats(self) -> ChatRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Tunables, passed down from settings as plain values."""

    refresh_after: timedelta = timedelta(minutes=5)
    """A stored snapshot younger than this answers /track without asking the provider."""
    error_retry: timedelta = timedelta(hours=1)
    """When a poll of one parcel fails, try that parcel again after this long."""
    flush_retry_base: timedelta = timedelta(seconds=30)
    ownership_attempts: int = 5
    ownership_window: timedelta = timedelta(minutes=15)
    user_requests_per_minute: int = 30


@dataclass(frozen=True, slots=True)
class PollStats:
    """What one poll cycle did."""

    checked: int = 0
    changed: int = 0
    alerts: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class FlushStats:
    """What one outbox flush did."""

    sent: int = 0
    failed: int = 0
    paused: int = 0


class _SlidingWindow:
    """Counts events per key inside a moving time window (per-user limits)."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._events: dict[str, deque[float]] = defaultdict(deque)

    def hit(self, key: str, now: float) -> bool:
        """Record one event; False when the key is over its limit (the event is not counted)."""
        events = self._events[key]
        while events and events[0] <= now - self._window:
            events.popleft()
        if len(events) >= self._limit:
            return False
        events.append(now)
        return True

    def retry_after(self, key: str, now: float) -> float:
        events = self._events.get(key)
        return max(0.0, events[0] + self._window - now) if events else 0.0

    def clear(self, key: str) -> None:
        self._events.pop(key, None)


class ParcelService:
    """parcelbot's use cases. See the module docstring."""

    def __init__(
        self,
        *,
        provider: TrackingProvider,
        store: Store,
        clock: Clock,
        orders: OrderSource | None = None,
        config: ServiceConfig | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._provider = provider
        self._store = store
        self._clock = clock
        self._orders = orders
        self._config = config or ServiceConfig()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._user_limit = _SlidingWindow(self._config.user_requests_per_minute, 60.0)
        self._ownership = _SlidingWindow(
            self._config.ownership_attempts, self._config.ownership_window.total_seconds()
        )
        self._verified: dict[str, set[OrderId]] = defaultdict(set)

    @property
    def clock(self) -> Clock:
        return self._clock

    # ---------------------------------------------------------------- lookups

    async def track(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """Where is this parcel (or order)? Fetches fresh data when the stored one is old."""
        self._limit(chat)
        ident = parse_identifier(text)
        if carrier is None and ident.order_id is not None and not ident.matches:
            return await self.lookup_order(chat, ident.order_id, None)
        if carrier is None and ident.order_id is not None and self._orders is not None:
            return choice_reply(ident.text, ident.matches, order_id=ident.order_id)
        request = await self._resolve(chat, ident, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._fetch(request)
        return await self._shipment_reply(chat, shipment)

    async def lookup_order(self, chat: ChatRef, order_id: str, proof: str | None) -> Reply:
        """An order and its parcels, once the chat has proved the order is theirs."""
        self._limit(chat)
        if self._orders is None:
            raise OrderNotFound(
                "Order lookups are not set up on this bot; please send the tracking number."
            )
        oid = OrderId(normalise(order_id))
        if not oid.isdigit():
            raise InvalidInput("Order ids contain only digits, for example 576000000000000001.")
        owner = f"{chat.platform}:{chat.user_id}"
        if oid not in self._verified[owner]:
            if proof is None:
                return Reply(
                    "Is this order yours?",
                    (
                        "To keep orders private, please prove it is yours: send "
                        f"/verify {oid} followed by the delivery postcode or the last 4 digits "
                        "of the phone number on the order.",
                    ),
                    kind=ReplyKind.ORDER,
                    private=True,
                )
            now = time.monotonic()
            if not self._ownership.hit(owner, now):
                wait = int(self._ownership.retry_after(owner, now) // 60) + 1
                raise NotAuthorised(
                    f"Too many wrong attempts. Please try again in about {wait} minutes."
                )
        order = (await self._orders.get_orders([oid])).get(oid)
        if oid not in self._verified[owner]:
            if order is None or not _owns(order, proof or ""):
                raise NotAuthorised(
                    "That does not match the order. Check the order id and the postcode "
                    "(or last 4 phone digits) and try again."
                )
            self._verified[owner].add(oid)
        if order is None:
            raise OrderNotFound()
        shipments = []
        for request in order.shipments:
            try:
                shipments.append(await self._fetch(request))
            except TrackingError as err:
                log.info("order %s parcel %s not available: %s", oid, request.number, err)
        return order_reply(order, shipments, private=True)

    async def history(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """The whole timeline of a parcel (by number or by the chat's own label)."""
        self._limit(chat)
        sub = await self._find_subscription(chat, text)
        if sub is not None:
            request = TrackRequest(sub.key.number, sub.key.carrier)
        else:
            resolved = await self._resolve(chat, parse_identifier(text), carrier)
            if isinstance(resolved, Reply):
                return resolved
            request = resolved
        shipment = await self._fetch(request)
        settings = await self._store.chats.get_settings(chat)
        return timeline_reply(shipment, tz=settings.timezone, group=chat.is_group)

    async def explain(self, chat: ChatRef, code: str) -> Reply:
        """What a status or incident code means and what to do about it."""
        code = check_text(code, what="code", limit=60)
        if not code:
            codes = ", ".join(sorted({*incidents.known_codes()}))
            return Reply("Explain what?", (f"Send /explain with one of: {codes}.",))
        explanation = incidents.explain_code(code)
        if explanation is None:
            raise InvalidInput(
                "I don't know that status. Try one shown in a tracking reply, e.g. /explain stale."
            )
        return Reply(
            explanation.title,
            (explanation.what_happened, *(f"• {step}" for step in explanation.next_steps)),
        )

    def help(self) -> Reply:
        """A short welcome (the router renders the full command list)."""
        return Reply("parcelbot", ("Send /help to see what I can do.",))

    # ---------------------------------------------------------------- subscriptions

    async def subscribe(
        self, chat: ChatRef, text: str, label: str = "", *, carrier: str | None = None
    ) -> Reply:
        """Follow a parcel: alerts arrive in this chat when it moves."""
        self._limit(chat)
        label = check_text(label, what="label", limit=60)
        ident = parse_identifier(text)
        request = await self._resolve(chat, ident, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._fetch(request)
        now = self._clock.now()
        await self._store.subscriptions.add(
            Subscription(chat=chat, key=shipment.key, label=label, created_at=now)
        )
        await self._store.shipments.schedule(
            shipment.key, polling.next_check(shipment, now, self._rng)
        )
        name = f"“{label}” " if label else ""
        reply = await self._shipment_reply(chat, shipment, subscribed=True)
        lines = (f"Subscribed {name}— I will tell you when it moves.", *reply.lines)
        if shipment.is_final:
            lines = (f"Saved {name}— this parcel's journey has ended.", *reply.lines)
        return replace(reply, lines=lines)

    async def unsubscribe(self, chat: ChatRef, text: str) -> Reply:
        """Stop following a parcel (found by number or label)."""
        sub = await self._find_subscription(chat, text, include_archived=True)
        if sub is None:
            raise ShipmentNotFound(
                "You are not subscribed to that parcel. Send /list to see your parcels."
            )
        await self._store.subscriptions.remove(chat, sub.key)
        return Reply("Unsubscribed", (f"No more updates for {sub.label or sub.key.number}.",))

    async def list_parcels(self, chat: ChatRef) -> Reply:
        """The chat's parcels: active first, then the archive (order history)."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        shipments = await self._store.shipments.get_many([sub.key for sub in subs])
        settings = await self._store.chats.get_settings(chat)
        return list_reply(subs, shipments, tz=settings.timezone)

    async def list_numbers(self, chat: ChatRef) -> list[tuple[str, str]]:
        """(number, label) of the chat's active parcels, for autocomplete."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=False)
        return [(sub.key.number, sub.label) for sub in subs]

    async def forget(self, chat: ChatRef) -> Reply:
        """Delete everything stored about this chat."""
        removed = await self._store.subscriptions.forget_chat(chat)
        self._verified.pop(f"{chat.platform}:{chat.user_id}", None)
        return Reply(
            "Forgotten",
            (f"I deleted everything I stored about this chat ({removed} records).",),
        )

    # ---------------------------------------------------------------- background work

    async def poll_due(self, limit: int = 500) -> PollStats:
        """Refresh the parcels that are due, store snapshots and queue alerts (one transaction).

        Each parcel is asked for once however many chats follow it; results fan out to every
        subscriber. Parcels nobody follows any more are unscheduled.
        """
        now = self._clock.now()
        keys = await self._store.shipments.due(now, limit)
        if not keys:
            return PollStats()
        subscribers = await self._store.subscriptions.subscribers(keys)
        for key in keys:
            if key not in subscribers:
                await self._store.shipments.schedule(key, None)
        keys = [key for key in keys if key in subscribers]
        old = await self._store.shipments.get_many(keys)
        requests = [
            TrackRequest(key.number, key.carrier, old[key].first_seen if key in old else None)
            for key in keys
        ]
        writes: list[SnapshotWrite] = []
        errors = changed = 0
        for start in range(0, len(requests), self._provider.max_batch):
            chunk = requests[start : start + self._provider.max_batch]
            try:
                batch = await self._provider.track(chunk)
            except ProviderError as err:
                retry = now + _retry_delay(err, self._config.error_retry)
                for request in chunk:
                    await self._store.shipments.schedule(request.key, retry)
                errors += len(chunk)
                continue
            for request in chunk:
                fresh = batch.shipments.get(request.key)
                if fresh is None:
                    errors += 1
                    delay = _retry_delay(batch.errors.get(request.key), self._config.error_retry)
                    await self._store.shipments.schedule(request.key, now + delay)
                    continue
                previous = old.get(request.key)
                write = self._snapshot(previous, fresh, now, subscribers.get(request.key, []))
                if previous is None or write.shipment.events != previous.events:
                    changed += 1
                writes.append(write)
        added = await self._store.shipments.save_many(writes) if writes else 0
        return PollStats(checked=len(keys), changed=changed, alerts=added, errors=errors)

    async def flush_outbox(self, notifier: Notifier, limit: int = 200) -> FlushStats:
        """Hand queued alerts to the notifier; an alert is marked sent only after delivery."""
        now = self._clock.now()
        entries = await self._store.outbox.due(now, limit)
        shipments = await self._store.shipments.get_many(list({e.alert.key for e in entries}))
        sent = failed = paused = 0
        paused_chats: set[str] = set()
        for entry in entries:
            if entry.chat.chat_key in paused_chats:
                continue
            shipment = shipments.get(entry.alert.key)
            reply = await self._alert_reply(entry.chat, entry.alert, shipment)
            try:
                await notifier.send(entry.chat, reply)
            except ChatUnreachable as err:
                if err.permanent:
                    settings = await self._store.chats.get_settings(entry.chat)
                    await self._store.chats.save_settings(
                        entry.chat, replace(settings, paused=True)
                    )
                    paused_chats.add(entry.chat.chat_key)
                    paused += 1
                    log.info("chat %s unreachable; its alerts are paused", entry.chat.chat_key)
                    continue
                backoff = self._config.flush_retry_base * (2 ** min(entry.attempts, 8))
                delay = max(backoff, timedelta(seconds=err.retry_after))
                await self._store.outbox.mark_failed(entry.id, now + delay)
                failed += 1
                continue
            await self._store.outbox.mark_sent([entry.id], self._clock.now())
            sent += 1
        return FlushStats(sent=sent, failed=failed, paused=paused)

    # ---------------------------------------------------------------- internals

    def _limit(self, chat: ChatRef) -> None:
        key = f"{chat.platform}:{chat.user_id}"
        now = time.monotonic()
        if not self._user_limit.hit(key, now):
            wait = max(1, round(self._user_limit.retry_after(key, now)))
            raise RateLimited(
                f"You are sending requests very fast; please wait {wait} seconds.",
                retry_after=wait,
            )

    async def _resolve(
        self, chat: ChatRef, ident: Identifier, carrier: str | None
    ) -> TrackRequest | Reply:
        """Decide which carrier to ask: the user's choice, a remembered pick, or detection."""
        now = self._clock.now()
        if carrier:
            chosen = carriers.get_carrier(carrier)
            if chosen is None:
                raise CarrierNotDetected(
                    f"I don't know the carrier “{check_text(carrier, limit=40)[:40]}”. "
                    "Use a name like ups, usps, fedex or dhl."
                )
            await self._store.chats.remember_carrier(chat, ident.text, chosen.code)
            return TrackRequest(ident.text, chosen.code, now)
        picked = await self._store.chats.carrier_pick(chat, ident.text)
        if picked:
            return TrackRequest(ident.text, picked, now)
        candidates = _plausible(ident)
        if not candidates:
            raise CarrierNotDetected()
        if len({match.carrier.code for match in candidates}) > 1:
            return choice_reply(ident.text, tuple(candidates), order_id=None)
        return TrackRequest(ident.text, candidates[0].carrier.code, now)

    async def _fetch(self, request: TrackRequest) -> Shipment:
        """The parcel's snapshot: the stored one when fresh, else asked from the provider.

        A fresh answer goes through the same path as a poll, so subscribers get the alerts
        for anything it reveals.
        """
        now = self._clock.now()
        stored = await self._store.shipments.get(request.key)
        if stored is not None and stored.checked_at is not None:
            if now - stored.checked_at < self._config.refresh_after or stored.is_final:
                return stored
        first_seen = stored.first_seen if stored is not None else request.first_seen or now
        batch = await self._provider.track([replace(request, first_seen=first_seen)])
        fresh = batch.shipments.get(request.key)
        if fresh is None:
            error = batch.errors.get(request.key)
            if isinstance(error, TrackingError):
                raise error
            raise ShipmentNotFound()
        subs = (await self._store.subscriptions.subscribers([request.key])).get(request.key, [])
        write = self._snapshot(stored, fresh, now, subs)
        if stored is not None and not subs:
            write = replace(write, next_check_at=None)
        await self._store.shipments.save_many([write])
        return write.shipment

    def _snapshot(
        self,
        previous: Shipment | None,
        fresh: Shipment,
        now: datetime,
        subscribers: Sequence[Subscription],
    ) -> SnapshotWrite:
        """Enrich a provider snapshot (incident, first seen) and work out its alerts."""
        first_seen = (previous.first_seen if previous else None) or fresh.first_seen or now
        shipment = replace(fresh, first_seen=first_seen, checked_at=now)
        shipment = replace(shipment, incident=incidents.derive(shipment, now))
        found = alerts.diff(previous, shipment, now) if previous is not None else []
        pairs: list[tuple[ChatRef, Alert]] = []
        for sub in subscribers:
            if sub.muted or sub.archived:
                continue
            for alert in found:
                if sub.preference is None or alerts.wanted(alert, sub.preference):
                    pairs.append((sub.chat, alert))
        next_check = polling.next_check(shipment, now, self._rng) if subscribers else None
        return SnapshotWrite(shipment, next_check, tuple(pairs))

    async def _shipment_reply(
        self, chat: ChatRef, shipment: Shipment, *, subscribed: bool | None = None
    ) -> Reply:
        settings = await self._store.chats.get_settings(chat)
        sub = await self._store.subscriptions.get(chat, shipment.key)
        if subscribed is None:
            subscribed = sub is not None and not sub.archived
        return shipment_reply(
            shipment,
            tz=settings.timezone,
            subscribed=subscribed,
            label=sub.label if sub else "",
            group=chat.is_group,
            now=self._clock.now(),
        )

    async def _alert_reply(self, chat: ChatRef, alert: Alert, shipment: Shipment | None) -> Reply:
        settings = await self._store.chats.get_settings(chat)
        sub = await self._store.subscriptions.get(chat, alert.key)
        if shipment is None:
            return Reply(f"Update for {alert.key.number}", (alert.detail,), kind=ReplyKind.ALERT)
        return alerts.alert_reply(
            alert, shipment, tz=settings.timezone, label=sub.label if sub else ""
        )

    async def _find_subscription(
        self, chat: ChatRef, text: str, *, include_archived: bool = True
    ) -> Subscription | None:
        """The chat's subscription whose label or number is ``text``."""
        text = check_text(text, what="number or label", limit=120)
        if not text:
            raise InvalidInput("Please add the tracking number or the label you gave it.")
        wanted_number = normalise(text)
        subs = await self._store.subscriptions.for_chat(chat, include_archived=include_archived)
        for sub in subs:
            if sub.label and sub.label.casefold() == text.casefold():
                return sub
        for sub in subs:
            if sub.key.number == wanted_number:
                return sub
        return None


def _plausible(ident: Identifier) -> list[CarrierMatch]:
    """Carrier readings worth asking about: failed check digits only when nothing else fits."""
    verified = [m for m in ident.matches if m.check_digit_valid is True]
    if verified:
        return verified
    return [m for m in ident.matches if m.check_digit_valid is None]


def _owns(order: Order, proof: str) -> bool:
    """Compare the buyer's proof with the order's postcode or phone digits in constant time."""
    given = normalise(proof).encode()
    postcode_ok = bool(order.postcode) and hmac.compare_digest(
        given, normalise(order.postcode).encode()
    )
    phone_ok = bool(order.phone_last4) and hmac.compare_digest(given, order.phone_last4.encode())
    return postcode_ok or phone_ok


def _retry_delay(err: Exception | None, default: timedelta) -> timedelta:
    if isinstance(err, RateLimited):
        return timedelta(seconds=max(err.retry_after, 1.0))
    return default
