"""The use cases: everything parcelbot does, independent of chat platform and data source.

``ParcelService`` is built once by the composition root with its ports passed in. Every use case
returns platform-neutral ``Reply`` objects or raises a ``TrackingError`` for the adapter to turn
into one sentence.

The proactive side — what happens without anyone asking — works like this:

- ``poll_due`` asks the provider about the parcels whose next check is due (the database holds
  the schedule; ``core.polling`` sets it). Due parcels are taken oldest-due first and grouped
  into full batches per underlying provider (``max_batch``), one batch in flight per provider,
  each parcel once however many chats follow it. ``ingest`` feeds pushed snapshots (webhooks)
  through the same path; pushed parcels are then polled only as a daily safety net.
- Each new snapshot is stored with the alerts it causes **in one transaction**
  (``ShipmentRepository.save_many``): alerts go to every subscriber whose preference wants them
  (``core.preferences``), into the outbox, unique per (chat, dedupe key).
- ``flush_outbox`` hands queued alerts to the ``Notifier``, chats side by side and one message
  at a time per chat, and marks each sent only after the notifier returned
  (``core.flusher``); ``run_delivery`` keeps doing so, woken as soon as alerts are queued. A
  chat that waits, hangs or fails holds back only itself: failures are retried with
  exponential backoff on the chat's own schedule; chats that blocked the bot, or whose
  message failed ``max_send_attempts`` times, are parked and their alerts kept until the chat
  talks again; alerts in a chat's quiet hours are held and arrive as one digest when the
  window ends.
- **Delivery guarantee.** Every queued alert is delivered at least once, across crashes and
  restarts. The only duplicates possible are messages in flight when the process dies after
  the platform acknowledged them (``Notifier.send`` returned) and before ``mark_sent``
  committed: on restart each is sent again. A chat has at most one message in flight, so that
  is at most one duplicate per chat being sent to at the crash; nothing else is ever sent
  twice, and a clean stop (``stop_delivery``) lets the messages in flight finish and be
  marked, so it repeats nothing.
- **Many workers.** Any number of processes may run ``poll_due`` and the flusher on one
  (PostgreSQL) database, each under its own ``ServiceConfig.worker`` name: pollers claim due
  parcels for ``poll_lease`` and flushers claim whole chats for ``send_lease``, so a parcel
  is fetched by one poller per interval and an alert sent by one flusher. A worker that dies
  loses nothing: its claims run out and others take the work over (the duplicates above, one
  per chat it was sending to, are the only ones).
- ``archive_due`` (run by ``poll_due`` every ``housekeeping_every``) moves finished parcels to
  the archive ``archive_after`` their end and expires parcels never scanned ``expire_after``
  after they were first seen, with one last alert.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core import (
    advice,
    alerts,
    carriers,
    faq,
    incidents,
    ownership,
    polling,
    preferences,
    privacy,
    reader,
)
from core.cooperative import Breather
from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    NotAuthorised,
    OrderNotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    ShipmentNotFound,
    TrackingError,
)
from core.eta import news as eta_news
from core.flusher import FlushStats, OutboxFlusher
from core.guards import SlidingWindow
from core.identifiers import Identifier, check_text, normalise, parse_identifier
from core.models import (
    Alert,
    CarrierMatch,
    ChatRef,
    ChatSettings,
    EtaTold,
    IndexedParcel,
    Order,
    OrderId,
    OrderLink,
    PollStats,
    Preference,
    Scope,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackRequest,
)
from core.ownership import LockPolicy
from core.ports import (
    Clock,
    Notifier,
    OrderSource,
    Store,
    TrackingProvider,
)
from core.privacy import View
from core.replies import (
    Button,
    Reply,
    ReplyKind,
    choice_reply,
    format_local,
    list_reply,
    order_line,
    order_reply,
    shipment_reply,
    timeline_reply,
)
from core.report import evidence_pack, history_reply
from core.sources import Routing, SourceHealth, Sources

__all__ = ["FlushStats", "ParcelService", "ServiceConfig", "Store"]

log = logging.getLogger(__name__)


_USER_PROOFS = LockPolicy(5, timedelta(minutes=15), timedelta(minutes=15), timedelta(days=1))
_ORDER_PROOFS = LockPolicy(10, timedelta(days=1), timedelta(hours=1), timedelta(days=7))


class _Unread:
    """Marks an argument the caller did not read (``None`` is a value read from storage)."""


_UNREAD = _Unread()


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Tunables, passed down from settings as plain values."""

    refresh_after: timedelta = timedelta(minutes=5)
    """A stored snapshot younger than this answers /track without asking the provider."""
    poll_at_most: timedelta | None = None
    """Poll every followed parcel at least this often, whatever ``core.polling`` says. For the
    sandbox demo, whose virtual clock runs fast (at 60×, a 12 h interval is 12 real minutes of
    silence after a scan): the runtime sets it to one poll cycle of virtual time."""
    stale_deadline: timedelta = timedelta(seconds=2)
    """How long a person's request waits for the source when a stored snapshot exists; then
    the stored one answers, saying how old it is. A source marked failing is not asked."""
    fresh_deadline: timedelta = timedelta(seconds=20)
    """How long a person's request waits for the source about a parcel never stored."""
    error_retry: timedelta = timedelta(hours=1)
    """When a poll of one parcel fails, try that parcel again after this long."""
    flush_retry_base: timedelta = timedelta(seconds=30)
    """The first retry of a failed delivery waits this long; each further one twice as long."""
    flush_retry_max: timedelta = timedelta(hours=2)
    """Retries of a failed delivery never wait longer than this (alerts are never dropped)."""
    user_proofs: LockPolicy = _USER_PROOFS
    """Failed ownership proofs one person may make before a (growing) lockout."""
    order_proofs: LockPolicy = _ORDER_PROOFS
    """Failed proofs for one order, across every account, before it is locked for everyone."""
    send_timeout: timedelta = timedelta(seconds=30)
    """One message's send (the platform's queueing included) is given up after this long and
    retried later; a hung platform call never holds a chat's alerts for good."""
    max_send_attempts: int = 10
    """A chat whose message failed this many times in a row is parked until the person writes
    again (its alerts wait; see ``core.flusher``)."""
    user_requests_per_minute: int = 30
    confirm_within: timedelta = timedelta(minutes=2)
    """How long a destructive command's confirmation button works."""
    archive_after: timedelta = timedelta(days=7)
    """Delivered and returned parcels move to the archive this long after they finished
    (never sooner than a day after delivery: the delivery follow-up comes first)."""
    expire_after: timedelta = timedelta(days=30)
    """Parcels never scanned this long after they were first seen expire, with one last alert."""
    housekeeping_every: timedelta = timedelta(hours=1)
    """How often ``poll_due`` also runs ``archive_due``."""
    webhook_trust: timedelta = timedelta(days=3)
    """A parcel pushed (webhook) this recently is polled only as a daily safety net."""
    fail_after_calls: int = 3
    """A source counts as failing after this many failed calls in a row (see ``SourceHealth``).

    A call fails only once the HTTP layer's retries are spent (4 attempts by default), so at
    30 % failed requests one call in ~120 fails and three in a row (~1 in 2 million) mean a
    real outage, reported within three poll cycles (under a minute at the 15 s default)."""
    worker: str = "local"
    """This process's name in leases on shared work (``poll_due``'s parcels, the outbox's
    chats). Processes sharing one database need different names; one alone keeps "local",
    which also lets it take back at once what it held before a restart."""
    poll_lease: timedelta = timedelta(minutes=5)
    """How long a poller holds the parcels it claimed; a poller that dies mid-cycle leaves
    them due again this long after it claimed them. Longer than any poll cycle."""
    send_lease: timedelta = timedelta(minutes=2)
    """How long a flusher holds a chat before it must renew its claim (it does so while it
    works on the chat); a flusher that dies leaves its chats to others this long after."""
    send_platforms: tuple[str, ...] = ()
    """The platforms this process delivers alerts to (empty: every one); chats elsewhere are
    left to the processes that run those platforms' senders."""
    recover_after_calls: int = 5
    """A failing source counts as recovered after this many successful calls in a row.

    More than ``fail_after_calls``: a source coming back is often flaky at first, and one
    lucky call between failures says nothing. At ~1 failed call in 120 five in a row are
    the norm (96 %), so recovery is reported promptly; a source that alternates stays failing."""


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
        routing: Routing | None = None,
    ) -> None:
        """``provider`` answers every tracking call; ``routing`` names the source behind each
        carrier (batches and outages are per source), by default ``provider`` alone."""
        self._provider = provider
        self._store = store
        self._clock = clock
        self._orders = orders
        self._config = config or ServiceConfig()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._user_limit = SlidingWindow(self._config.user_requests_per_minute, 60.0)
        self._verified: dict[str, set[OrderId]] = defaultdict(set)
        # Pending confirmations of /forget: token -> (chat key, user id, valid until). Kept in
        # memory on purpose: a restart makes every old button stale.
        self._confirmations: dict[str, tuple[str, str, datetime]] = {}
        self._sources = Sources(
            routing or Routing.only(provider),
            shop=orders,
            health=SourceHealth(self._config.fail_after_calls, self._config.recover_after_calls),
        )
        self._health = self._sources.health
        self._next_housekeeping: datetime | None = None
        # What chats were told about arrivals, written once the alerts are stored.
        self._tells: list[tuple[ChatRef, ShipmentKey, EtaTold]] = []
        self._flusher = OutboxFlusher(
            store,
            clock,
            retry_base=self._config.flush_retry_base,
            retry_max=self._config.flush_retry_max,
            send_timeout=self._config.send_timeout.total_seconds(),
            max_attempts=self._config.max_send_attempts,
            holder=self._config.worker,
            lease=self._config.send_lease,
            platforms=self._config.send_platforms,
        )

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def sources(self) -> Sources:
        """The sources this service calls, by name, and their health."""
        return self._sources

    @property
    def failing_sources(self) -> frozenset[str]:
        """Sources (tracking providers, the shop) now considered failing (``SourceHealth``)."""
        return self._health.failing

    # ---------------------------------------------------------------- lookups

    async def track(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """Where is this parcel (or order)? Fetches fresh data when the stored one is old.

        When the shop's order index maps the number to an order this chat proved is its own
        (``/verify``), the reply also names the order and its status; see ``_with_order``.
        """
        self._limit(chat)
        if carrier is None:
            check_text(text, what="label", limit=120)  # it may be one of the chat's labels
        ident = parse_identifier(text)
        # Two reads for a stored parcel (``Store.views``), neither waiting for background work.
        view = await self._store.views.chat(chat, ident.text)
        await self._resume_if_paused(chat, view.settings)
        if carrier is None:
            labelled = _labelled(view.subscriptions, text)
            if labelled is not None:
                text, carrier = labelled.key.number, labelled.key.carrier
                ident = parse_identifier(text)
        if carrier is None and ident.order_id is not None and not ident.matches:
            return await self.lookup_order(chat, ident.order_id, None)
        if carrier is None and ident.order_id is not None and self._orders is not None:
            return choice_reply(
                ident.text, ident.matches, order_id=ident.order_id, seen=_seen(chat)
            )
        request = await self._resolve(chat, ident, carrier, picked=view.carrier_pick)
        if isinstance(request, Reply):
            return request
        parcel = await self._store.views.parcel(chat, request.key)
        shipment = await self._answer(request, parcel.shipment)
        sub = parcel.subscription
        link = parcel.links.get(shipment.key)
        reply = shipment_reply(
            shipment,
            tz=view.settings.timezone,
            subscribed=sub is not None and not sub.archived,
            label=sub.label if sub else "",
            now=self._clock.now(),
            seen=_seen(chat, follower=sub is not None or link is not None),
            promised_by=link.promised_by if link is not None else None,
        )
        reply = _with_notes(reply, ident, request.carrier, _seen(chat))
        reply = self._stale_note(reply, shipment)
        return await self._with_order(chat, shipment, reply, parcel.indexed, parcel.links)

    def _stale_note(self, reply: Reply, shipment: Shipment) -> Reply:
        """Say so when the answer is a stored snapshot the source could not refresh.

        ``_answer`` returns a snapshot older than ``refresh_after`` (and not final) only when
        the source failed, took too long or is marked failing, so age alone tells.
        """
        checked = shipment.checked_at
        if checked is None or shipment.is_final:
            return reply
        age = self._clock.now() - checked
        if age < self._config.refresh_after:
            return reply
        known = carriers.get_carrier(shipment.carrier)
        who = known.name if known is not None else shipment.carrier.upper()
        note = (
            f"Last checked {_ago(age)}; {who} tracking is not answering right now, "
            "so this may not be the latest."
        )
        return replace(reply, lines=(note, *reply.lines))

    async def find_label(self, chat: ChatRef, text: str) -> str | None:
        """The number of the chat's parcel labelled ``text`` (any case), or None."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        sub = _labelled(subs, text)
        return sub.key.number if sub is not None else None

    async def _with_order(
        self,
        chat: ChatRef,
        shipment: Shipment,
        reply: Reply,
        indexed: IndexedParcel | None,
        links: Mapping[ShipmentKey, OrderLink],
    ) -> Reply:
        """``reply`` plus the shop order the parcel ships, for the order's proven owner only.

        ``indexed`` is the order index entry for the parcel's number, ``links`` the chat's
        order links. The order index says which order ships a number but not whose it is, so
        the order is shown only when this person verified it (this run) or this chat linked it
        before (``/verify`` stores the link), and never in a group chat. Everyone else gets the
        carrier's events alone. The parcel is linked to the order for this chat
        (``/orders``, ``/report``); a shop that cannot be read leaves the status out.
        """
        if chat.is_group:
            return reply
        if indexed is None or not indexed.order_id:
            return reply
        oid = indexed.order_id
        verified = self._verified.get(f"{chat.platform}:{chat.user_id}", set())
        if oid not in verified and all(link.order_id != oid for link in links.values()):
            return reply
        order: Order | None = None
        if self._orders is not None:
            try:
                order = await self._read_order(self._orders, oid)
            except ProviderError as err:
                log.info("order %s not readable for a tracking reply: %s", oid, err)
        link = links.get(shipment.key)
        if link is None or link.order_id != oid:
            await self._store.orders.link(
                chat,
                OrderLink(
                    shipment.key,
                    oid,
                    self._clock.now(),
                    order.shop if order is not None else indexed.shop_id,
                    order.promised_by if order is not None else None,
                ),
            )
        line = order_line(oid, order.status if order is not None else None)
        return replace(reply, lines=(*reply.lines, line), private=True)

    async def _read_order(self, shop: OrderSource, oid: OrderId) -> Order | None:
        """The shop's order (None when it has no such order), the call counted towards the
        shop's outage report; raises the shop's ``ProviderError`` when the call failed."""
        try:
            found = await shop.get_orders([oid])
        except ProviderError as err:
            self._health.failure(shop.name, err)
            raise
        self._health.success(shop.name)
        return found.get(oid)

    async def lookup_order(self, chat: ChatRef, order_id: str, proof: str | None) -> Reply:
        """An order and its parcels, once the chat has proved the order is theirs.

        The parcels are linked to the order for this chat (``/orders``, ``/report``), and the
        shop's promised date is kept with each parcel so lateness can be judged against it.
        """
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
            await self._proofs_allowed(owner, oid)
        order = await self._read_order(self._orders, oid)
        if oid not in self._verified[owner]:
            if order is None or not _owns(order, proof or ""):
                await self._proof_failed(owner, oid)
                raise NotAuthorised(
                    "That does not match the order. Check the order id and the postcode "
                    "(or last 4 phone digits) and try again."
                )
            await self._store.attempts.clear(Scope.USER, _subject(Scope.USER, owner))
            self._verified[owner].add(oid)
        if order is None:
            raise OrderNotFound()
        shipments = []
        linked_at = self._clock.now()
        for request in order.shipments:
            try:
                shipment = await self._fetch(request)
            except TrackingError as err:
                log.info("order %s parcel %s not available: %s", oid, request.number, err)
                continue
            shipments.append(shipment)
            await self._store.orders.link(
                chat,
                OrderLink(shipment.key, oid, linked_at, order.shop, order.promised_by),
            )
        reply = order_reply(order, shipments, private=True)
        warnings = tuple(
            note
            for shipment in shipments
            if (note := advice.region_note(shipment.number, shipment.carrier, order.country))
        )
        return replace(reply, lines=reply.lines + warnings) if warnings else reply

    async def _proofs_allowed(self, owner: str, oid: OrderId) -> None:
        """Raise ``NotAuthorised`` while the person or the order is locked out of proofs
        (``core.ownership``; the records are in the database, so a restart changes nothing)."""
        now = self._clock.now()
        for scope, subject in ((Scope.USER, owner), (Scope.ORDER, oid)):
            state = await self._store.attempts.get(scope, _subject(scope, subject))
            until = ownership.locked_until(state, now)
            if until is not None:
                wait = max(1, int((until - now).total_seconds() // 60) + 1)
                raise NotAuthorised(
                    f"Too many wrong attempts. Please try again in about {wait} minutes."
                )

    async def _proof_failed(self, owner: str, oid: OrderId) -> None:
        """Count a failed proof against the person and the order; log each order lockout."""
        now = self._clock.now()
        policies = {Scope.USER: self._config.user_proofs, Scope.ORDER: self._config.order_proofs}
        for scope, subject in ((Scope.USER, owner), (Scope.ORDER, oid)):
            key = _subject(scope, subject)
            state = await self._store.attempts.get(scope, key)
            after = ownership.after_failure(state, now, policies[scope])
            await self._store.attempts.put(scope, key, after)
            if scope is Scope.ORDER and after.lockouts > state.lockouts:
                log.warning(
                    "order %s locked until %s after %d failed ownership proofs (lockout %d)",
                    privacy.mask(oid),
                    after.locked_until.isoformat() if after.locked_until else "-",
                    policies[scope].attempts,
                    after.lockouts,
                )

    async def history(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """The whole timeline of a parcel (by number or by the chat's own label)."""
        self._limit(chat)
        request = await self._request_for(chat, text, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._fetch(request)
        settings = await self._store.chats.get_settings(chat)
        sub = await self._store.subscriptions.get(chat, shipment.key)
        return timeline_reply(
            shipment, tz=settings.timezone, seen=_seen(chat), label=sub.label if sub else ""
        )

    async def explain(self, chat: ChatRef, code: str) -> Reply:
        """What a status or incident code means and what to do about it."""
        code = check_text(code, what="code", limit=60)
        if not code:
            codes = ", ".join(sorted({*incidents.known_codes()}))
            return Reply("Explain what?", (f"Send /explain with one of: {codes}.",))
        explanation = incidents.explain_code(code)
        if explanation is None:
            topic = faq.match(code)
            if topic is not None:
                return advice.faq_reply(topic)
            topics = ", ".join(item.key for item in faq.TOPICS)
            raise InvalidInput(
                "I don't know that status or question. Try one shown in a tracking reply "
                f"(e.g. /explain stale) or one of: {topics}."
            )
        return Reply(
            explanation.title,
            (explanation.what_happened, *(f"• {step}" for step in explanation.next_steps)),
        )

    def help(self) -> Reply:
        """A short welcome (the router renders the full command list)."""
        return Reply("parcelbot", ("Send /help to see what I can do.",))

    async def report(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """A dispute evidence pack for a parcel, as a Markdown attachment (private).

        The parcel is found by the chat's label or number; the order id and shop appear only
        when this chat linked the order itself (``/verify``).
        """
        self._limit(chat)
        request = await self._request_for(chat, text, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._fetch(request)
        settings = await self._store.chats.get_settings(chat)
        sub = await self._store.subscriptions.get(chat, shipment.key)
        link = (await self._store.orders.for_chat(chat)).get(shipment.key)
        known = carriers.get_carrier(shipment.carrier)
        attachment = evidence_pack(
            shipment,
            now=self._clock.now(),
            tz=settings.timezone,
            label=sub.label if sub else "",
            link=link,
            tracking_url=known.tracking_url(shipment.number) if known else "",
        )
        name = sub.label if sub and sub.label else shipment.number
        return Reply(
            f"Evidence pack: {name}",
            (
                "Attached: a file with the ids, carrier, promised and actual dates, every "
                "incident and the full timeline, plus a checklist of evidence to gather.",
                "Send it to the seller (or the marketplace) with your photos when you open a "
                "claim.",
            ),
            kind=ReplyKind.INFO,
            private=True,
            attachment=attachment,
        )

    async def order_history(self, chat: ChatRef) -> Reply:
        """The chat's parcels with their orders and shops, and lateness patterns (``/orders``)."""
        self._limit(chat)
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        links = await self._store.orders.for_chat(chat)
        keys = list({sub.key: None for sub in subs} | dict.fromkeys(links))
        shipments = await self._store.shipments.get_many(keys)
        settings = await self._store.chats.get_settings(chat)
        reply = history_reply(subs, shipments, links, now=self._clock.now(), tz=settings.timezone)
        # Numbers, order ids and shops: for the chat's own eyes only (``core.privacy``).
        return replace(reply, private=True)

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
        fed = bool(
            await self._store.shipments.pushed_since(
                [shipment.key], now - self._config.webhook_trust
            )
        )
        await self._store.shipments.schedule(
            shipment.key, self._next_check(shipment, now, webhook_fed=fed)
        )
        name = f"“{label}” " if label else ""
        reply = await self._shipment_reply(chat, shipment, subscribed=True)
        lines = (f"Subscribed {name}— I will tell you when it moves.", *reply.lines)
        if shipment.is_final:
            lines = (f"Saved {name}— this parcel's journey has ended.", *reply.lines)
        return _with_notes(replace(reply, lines=lines), ident, request.carrier, _seen(chat))

    async def unsubscribe(self, chat: ChatRef, text: str) -> Reply:
        """Stop following a parcel (found by number or label)."""
        sub = await self._find_subscription(chat, text, include_archived=True)
        if sub is None:
            raise ShipmentNotFound(
                "You are not subscribed to that parcel. Send /list to see your parcels."
            )
        await self._store.subscriptions.remove(chat, sub.key)
        name = _seen(chat).name(sub.label, sub.key.number)
        return Reply("Unsubscribed", (f"No more updates for {name}.",))

    async def list_parcels(self, chat: ChatRef) -> Reply:
        """The chat's parcels: active first, then the archive (order history)."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        shipments = await self._store.shipments.get_many([sub.key for sub in subs])
        settings = await self._store.chats.get_settings(chat)
        return list_reply(subs, shipments, tz=settings.timezone, seen=_seen(chat))

    async def list_numbers(self, chat: ChatRef) -> list[tuple[str, str]]:
        """(number, label) of the chat's active parcels, for autocomplete."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=False)
        return [(sub.key.number, sub.label) for sub in subs]

    async def forget(self, chat: ChatRef, answer: str = "", token: str = "") -> Reply:
        """Delete everything stored about this chat, after an explicit confirmation.

        Without ``answer`` nothing is deleted: the reply asks, with a Yes button bound to this
        person in this chat that works for ``confirm_within`` (and not after a restart).
        ``answer`` "confirm" with that button's ``token`` deletes; "cancel", or any other or
        stale token, deletes nothing. (In shared chats the adapter also requires the
        platform's admin right, ``core.commands.ADMIN_IN_SHARED``.)
        """
        now = self._clock.now()
        if answer.lower() not in {"confirm", "cancel"}:
            return self._ask_to_forget(chat, now)
        pending = self._confirmations.get(token)
        # Only the person who asked, in the chat where they asked, can use the button.
        mine = pending is not None and pending[:2] == (chat.chat_key, chat.user_id)
        if mine:
            del self._confirmations[token]
        if answer.lower() == "cancel":
            return Reply("Nothing deleted", ("Your data is as it was.",))
        if pending is None or not mine or now > pending[2]:
            return Reply(
                "That button has expired",
                ("Nothing was deleted. Send /forget again if you still want it.",),
            )
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        linked = await self._store.orders.for_chat(chat)
        keys = list({sub.key: None for sub in subs} | dict.fromkeys(linked))
        removed = await self._store.subscriptions.forget_chat(chat)
        # Parcels only this chat followed go too, with their events and proof of delivery.
        removed += await self._store.shipments.forget_unfollowed(keys)
        self._verified.pop(f"{chat.platform}:{chat.user_id}", None)
        return Reply(
            "Forgotten",
            (f"I deleted everything I stored about this chat ({removed} records).",),
        )

    def _ask_to_forget(self, chat: ChatRef, now: datetime) -> Reply:
        for stale in [t for t, entry in self._confirmations.items() if entry[2] < now]:
            del self._confirmations[stale]
        while len(self._confirmations) >= _CONFIRMATIONS_MAX:
            del self._confirmations[next(iter(self._confirmations))]
        token = secrets.token_urlsafe(9)
        self._confirmations[token] = (
            chat.chat_key,
            chat.user_id,
            now + self._config.confirm_within,
        )
        minutes = max(1, int(self._config.confirm_within.total_seconds() // 60))
        whose = (
            "this group's parcels, settings and order links, for everyone in it"
            if chat.is_group
            else "your parcels, settings, order links and alerts"
        )
        return Reply(
            "Delete everything?",
            (
                f"This deletes {whose}. It cannot be undone.",
                f"Tap Yes within {minutes} minutes to go ahead.",
            ),
            buttons=(
                Button("Yes, delete everything", "forget", ("confirm", token)),
                Button("Cancel", "forget", ("cancel", token)),
            ),
        )

    # ---------------------------------------------------------------- preferences

    async def notify(self, chat: ChatRef, level: str = "", target: str = "") -> Reply:
        """Set which alerts the chat (or, with ``target``, one of its parcels) gets.

        ``level`` is all / milestones / exceptions / off; without it, show the settings.
        """
        self._limit(chat)
        settings = await self._store.chats.get_settings(chat)
        if not level.strip():
            return await self._settings_reply(chat, settings)
        preference = preferences.parse_preference(level)
        if target.strip():
            sub = await self._require_subscription(chat, target)
            await self._store.subscriptions.update(replace(sub, preference=preference))
            name = _seen(chat).name(sub.label, sub.key.number)
            return Reply(
                f"Notifications for {name}: {preference.value}",
                (_PREFERENCE_TEXT[preference],),
            )
        await self._store.chats.save_settings(chat, replace(settings, preference=preference))
        return Reply(
            f"Notifications: {preference.value}",
            (
                _PREFERENCE_TEXT[preference],
                "Parcels with their own setting keep it (/notify <level> <number or label>).",
            ),
        )

    async def mute(self, chat: ChatRef, text: str, *, muted: bool = True) -> Reply:
        """Silence (or, with ``muted=False``, restore) the alerts of one parcel."""
        self._limit(chat)
        sub = await self._require_subscription(chat, text)
        await self._store.subscriptions.update(replace(sub, muted=muted))
        name = _seen(chat).name(sub.label, sub.key.number)
        if muted:
            return Reply(
                f"Muted {name}",
                (f"No alerts for {name} until you send /unmute {name}. /track still works.",),
            )
        return Reply(f"Unmuted {name}", (f"Alerts for {name} are back on.",))

    async def quiet(self, chat: ChatRef, text: str = "") -> Reply:
        """Set quiet hours (``22:00-07:00 Asia/Jakarta``), turn them ``off``, or show them.

        Alerts in the window are held and arrive as one digest when it ends, never dropped.
        Setting a time zone here also sets the zone every time is shown in.
        """
        self._limit(chat)
        settings = await self._store.chats.get_settings(chat)
        if not text.strip():
            return await self._settings_reply(chat, settings)
        hours = preferences.parse_quiet(text, settings.timezone)
        if hours is None:
            updated = replace(settings, quiet_start="", quiet_end="")
        else:
            updated = replace(
                settings,
                quiet_start=f"{hours.start:%H:%M}",
                quiet_end=f"{hours.end:%H:%M}",
                timezone=hours.timezone,
            )
        await self._store.chats.save_settings(chat, updated)
        now_local = format_local(self._clock.now(), updated.timezone)
        return Reply(
            "Quiet hours off" if hours is None else "Quiet hours set",
            (preferences.quiet_text(updated), f"It is now {now_local} there."),
        )

    async def chat_seen(self, chat: ChatRef) -> None:
        """The chat talked to the bot: if its alerts were parked (it had blocked the bot),
        resume them; what waited arrives as one digest."""
        await self._resume_if_paused(chat, await self._store.chats.get_settings(chat))

    async def _resume_if_paused(self, chat: ChatRef, settings: ChatSettings) -> None:
        """``chat_seen`` for a chat whose settings were read already."""
        if settings.paused:
            await self._store.chats.resume_chat(chat)
            held = await self._store.outbox.hold_chat(chat.chat_key)
            log.info("chat %s is reachable again; %d alerts resume", chat.chat_key, held)

    # ---------------------------------------------------------------- background work

    async def poll_due(self, limit: int = 500) -> PollStats:
        """Refresh the parcels that are due, store snapshots and queue alerts (one transaction).

        Up to ``limit`` due parcels are taken oldest-due first and grouped into full batches
        per underlying provider; each provider gets one batch at a time (its client enforces
        the rate limit), providers run side by side. Each parcel is asked for once however many
        chats follow it; results fan out to every subscriber. A batch that fails is retried
        later and stops that provider for this cycle (its untried parcels stay due, first in
        line). Parcels nobody follows any more are unscheduled. Every ``housekeeping_every``
        the archive is tidied too (``archive_due``).
        """
        now = self._clock.now()
        archived = 0
        if self._next_housekeeping is None or now >= self._next_housekeeping:
            self._next_housekeeping = now + self._config.housekeeping_every
            archived = await self.archive_due()
        # Claimed: any number of pollers (processes) may run this at once; each gets its own.
        due = await self._store.shipments.due_parcels(
            now, limit, now - self._config.webhook_trust, now + self._config.poll_lease
        )
        if not due.keys:
            return PollStats(archived=archived)
        followed, fed = due.followed, due.pushed
        for key in due.keys:
            if key not in followed:
                await self._store.shipments.schedule(key, None)
        keys = [key for key in due.keys if key in followed]
        if not keys:
            return PollStats(archived=archived)
        old = await self._store.shipments.get_many(keys)
        requests = [
            TrackRequest(key.number, key.carrier, old[key].first_seen if key in old else None)
            for key in keys
        ]
        # The stored key objects themselves: dictionary lookups by an identical key skip the
        # dataclass equality check that a rebuilt ``request.key`` would need.
        key_of = {id(request): key for request, key in zip(requests, keys, strict=True)}
        results = await self._track_grouped(requests)
        asked = {id(request) for chunk, _batch, _failure in results for request in chunk}
        for request in requests:
            if id(request) not in asked:
                # Not asked this cycle (its source stopped): due again as it was, first in line.
                key = key_of[id(request)]
                await self._store.shipments.schedule(key, due.due_at.get(key, now))
        writes: list[SnapshotWrite] = []
        # (index in writes, key, alerts) of the snapshots that caused alerts: only their
        # subscribers (and those chats' settings) are read, once for the whole cycle.
        alerting: list[tuple[int, ShipmentKey, list[Alert]]] = []
        errors = changed = calls = 0
        breathe = Breather()
        for chunk, batch, failure in results:
            calls += 1
            if batch is None:
                retry = now + _retry_delay(failure, self._config.error_retry)
                for request in chunk:
                    await self._store.shipments.schedule(request.key, retry)
                errors += len(chunk)
                continue
            for request in chunk:
                await breathe()
                key = key_of[id(request)]
                fresh = batch.shipments.get(key)
                if fresh is None:
                    errors += 1
                    delay = _retry_delay(batch.errors.get(key), self._config.error_retry)
                    await self._store.shipments.schedule(key, now + delay)
                    continue
                previous = old.get(key)
                write, found = self._enrich(
                    previous, fresh, now, followed=True, webhook_fed=key in fed
                )
                if previous is None or write.shipment.events != previous.events:
                    changed += 1
                if found:
                    alerting.append((len(writes), key, found))
                writes.append(write)
        alerting, promises = await self._judged_per_chat(writes, alerting)
        if alerting:
            subscribers = await self._store.subscriptions.subscribers(
                [key for _index, key, _found in alerting]
            )
            settings = await self._settings_for(subscribers.values())
            for index, key, found in alerting:
                pairs = self._pairs(
                    found,
                    subscribers.get(key, ()),
                    settings,
                    writes[index].shipment,
                    now,
                    promises=promises.get(key, {}),
                )
                if pairs:
                    writes[index] = replace(writes[index], alerts=pairs)
        added = await self._save_many(writes) if writes else 0
        tried = sum(len(chunk) for chunk, _batch, _failure in results)
        return PollStats(
            checked=tried,
            changed=changed,
            alerts=added,
            errors=errors,
            calls=calls,
            archived=archived,
        )

    async def ingest(self, shipments: Sequence[Shipment], *, webhook: bool = True) -> PollStats:
        """Store pushed snapshots (webhooks) exactly as if a poll had fetched them.

        Same enrichment, alerts, preferences and outbox transaction as ``poll_due``. With
        ``webhook`` the parcels are marked as pushed, so until pushes stop for
        ``webhook_trust`` they are polled only as a daily safety net. Parcels nobody tracks
        are ignored; a push older than the stored snapshot (fewer events and an older latest
        scan) is skipped. Never raises for one bad snapshot's content; returns what it did.
        """
        now = self._clock.now()
        latest: dict[ShipmentKey, Shipment] = {}
        for shipment in shipments:
            latest[shipment.key] = shipment
        keys = list(latest)
        if not keys:
            return PollStats()
        old = await self._store.shipments.get_many(keys)
        subscribers = await self._store.subscriptions.subscribers(keys)
        settings = await self._settings_for(subscribers.values())
        promises = await self._store.orders.promises(list(subscribers))
        writes: list[SnapshotWrite] = []
        changed = skipped = 0
        breathe = Breather()
        for key, fresh in latest.items():
            await breathe()
            previous = old.get(key)
            followers = subscribers.get(key, [])
            if previous is None and not followers:
                skipped += 1
                continue
            if previous is not None and _older(fresh, previous):
                skipped += 1
                continue
            write = self._snapshot(
                previous,
                fresh,
                now,
                followers,
                settings,
                webhook_fed=webhook,
                promises=promises.get(key),
            )
            if not followers:
                write = replace(write, next_check_at=None)
            if previous is None or write.shipment.events != previous.events:
                changed += 1
            writes.append(write)
        added = await self._save_many(writes) if writes else 0
        if webhook and writes:
            await self._store.shipments.mark_pushed([w.shipment.key for w in writes], now)
        return PollStats(checked=len(writes), changed=changed, alerts=added, skipped=skipped)

    async def track_batch(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Ask the tracking provider once about ``requests``, counting the call per source.

        For parts that ask the provider outside ``poll_due`` and ``track`` (``core.shop_sync``
        registering shop parcels), so that every call feeds the one outage report
        (``SourceHealth``). Raises the provider's ``ProviderError`` when the call failed.
        """
        try:
            batch = await self._provider.track(requests)
        except ProviderError as err:
            self._note_call(requests, None, err)
            raise
        self._note_call(requests, batch, None)
        return batch

    async def push_stopped(self, keys: Sequence[ShipmentKey]) -> list[ShipmentKey]:
        """A push source stopped following these parcels: poll them at the normal pace again.

        Parcels someone follows whose journey has not ended lose their "pushed" mark (so
        polling no longer treats them as webhook-fed and checks them only daily) and are due
        at once; they are returned. Parcels nobody follows, unknown or finished are left alone.
        """
        if not keys:
            return []
        now = self._clock.now()
        subscribers = await self._store.subscriptions.subscribers(keys)
        followed = [key for key in keys if key in subscribers]
        stored = await self._store.shipments.get_many(followed) if followed else {}
        resumed = [key for key in followed if key in stored and not stored[key].is_final]
        if resumed:
            await self._store.shipments.clear_pushed(resumed)
            for key in resumed:
                await self._store.shipments.schedule(key, now)
        return resumed

    async def archive_due(self, limit: int = 500) -> int:
        """Archive finished parcels and expire never-scanned ones; return how many.

        Delivered, returned (and other final) parcels go to the archive ``archive_after``
        their end; parcels with no carrier scan ``expire_after`` after they were first seen
        stop being polled, get one last alert (``alerts.expiry_alert``) and are archived too.
        Safe to repeat: the last alert's dedupe key keeps it to one.
        """
        now = self._clock.now()
        settle = max(self._config.archive_after, alerts.DELIVERY_CHECK_AFTER + timedelta(hours=6))
        keys = await self._store.shipments.finished(
            now - settle, now - self._config.expire_after, limit
        )
        if not keys:
            return 0
        snapshots = await self._store.shipments.get_many(keys)
        subscribers = await self._store.subscriptions.subscribers(keys)
        settings = await self._settings_for(subscribers.values())
        writes: list[SnapshotWrite] = []
        for key in keys:
            shipment = snapshots.get(key)
            if shipment is not None and shipment.status in _UNSCANNED:
                last = alerts.expiry_alert(shipment)
                pairs = self._pairs([last], subscribers.get(key, []), settings)
                writes.append(SnapshotWrite(shipment, None, pairs))
        if writes:
            await self._save_many(writes)
        for key in keys:
            await self._store.subscriptions.archive(key)
        log.info("archived %d parcels (%d never scanned)", len(keys), len(writes))
        return len(keys)

    async def flush_outbox(self, notifier: Notifier, limit: int = 200) -> FlushStats:
        """Hand queued alerts to the notifier until nothing is due, chats side by side, one
        message at a time per chat (``core.flusher.OutboxFlusher.flush`` says how)."""
        return await self._flusher.flush(notifier, limit)

    async def run_delivery(
        self,
        notifier: Notifier,
        interval: float,
        *,
        on_flush: Callable[[FlushStats], None] | None = None,
    ) -> None:
        """Deliver queued alerts until ``stop_delivery``: as soon as a poll or a push queued
        some, and every ``interval`` seconds for retries and quiet hours that ended
        (``on_flush``: see ``core.flusher.OutboxFlusher.run``)."""
        await self._flusher.run(notifier, interval, on_flush)

    def wake_delivery(self) -> None:
        """Alerts were queued: deliver them now (``run_delivery``)."""
        self._flusher.wake()

    async def stop_delivery(self, grace: float = 10.0) -> None:
        """Start no new message; let the ones in flight finish and be marked (up to ``grace``
        seconds), so a clean stop repeats nothing."""
        await self._flusher.stop(grace)

    # ---------------------------------------------------------------- internals

    def _next_check(
        self, shipment: Shipment, now: datetime, *, webhook_fed: bool
    ) -> datetime | None:
        """``core.polling.next_check``, never later than ``poll_at_most`` from now."""
        due = polling.next_check(shipment, now, self._rng, webhook_fed=webhook_fed)
        cap = self._config.poll_at_most
        if due is None or cap is None:
            return due
        return min(due, now + cap)

    async def _save_many(self, writes: Sequence[SnapshotWrite]) -> int:
        """Store snapshots with their alerts; wake the delivery of any alert queued."""
        added = await self._store.shipments.save_many(writes)
        if added:
            self._flusher.wake()
        tells, self._tells = self._tells, []
        for chat, key, told in tells:
            await self._store.subscriptions.tell(chat, key, told)
        return added

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
        self,
        chat: ChatRef,
        ident: Identifier,
        carrier: str | None,
        *,
        picked: str | _Unread | None = _UNREAD,
    ) -> TrackRequest | Reply:
        """Decide which carrier to ask: the user's choice, a remembered pick, or detection.

        ``picked`` is the chat's remembered pick for the number when already read."""
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
        if isinstance(picked, _Unread):
            picked = await self._store.chats.carrier_pick(chat, ident.text)
        if picked:
            return TrackRequest(ident.text, picked, now)
        typos = carriers.suspected_typos(ident.text)
        if typos and not reader.looks_fake(ident.text):
            subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
            typo = advice.typo_reply(
                ident.text,
                typos,
                alternatives=[m for m in ident.matches if m.check_digit_valid is None],
                known={sub.key.number: sub.label for sub in subs},
            )
            # It repeats the number: for the asker's eyes only.
            return replace(typo, private=True) if _seen(chat).shared else typo
        candidates = carriers.plausible(ident.matches)
        if not candidates and reader.looks_fake(ident.text):
            return Reply(
                "Sample or made-up number",
                _notes(ident.text, None, _seen(chat)),
                kind=ReplyKind.ERROR,
            )
        if not candidates:
            raise CarrierNotDetected()
        if len({match.carrier.code for match in candidates}) > 1:
            return choice_reply(ident.text, tuple(candidates), order_id=None, seen=_seen(chat))
        return TrackRequest(ident.text, candidates[0].carrier.code, now)

    async def _request_for(
        self, chat: ChatRef, text: str, carrier: str | None
    ) -> TrackRequest | Reply:
        """The parcel a chat means: one of its own (by label or number), else any number."""
        sub = await self._find_subscription(chat, text)
        if sub is not None:
            return TrackRequest(sub.key.number, sub.key.carrier)
        return await self._resolve(chat, parse_identifier(text), carrier)

    async def _fetch(self, request: TrackRequest) -> Shipment:
        """The parcel's snapshot: the stored one when fresh, else asked from the provider.

        A fresh answer goes through the same path as a poll, so subscribers get the alerts
        for anything it reveals.
        """
        stored = await self._store.shipments.get(request.key)
        return await self._answer(request, stored)

    async def _answer(self, request: TrackRequest, stored: Shipment | None) -> Shipment:
        """``_fetch`` for a parcel whose stored snapshot (``stored``) was read already."""
        now = self._clock.now()
        if stored is not None and stored.checked_at is not None:
            fresh_enough = now - stored.checked_at < self._config.refresh_after
            if fresh_enough or stored.is_final:
                return stored
        first_seen = stored.first_seen if stored is not None else request.first_seen or now
        # What answers when the source cannot: the stored snapshot, however old.
        fallback = stored if stored is not None and stored.checked_at is not None else None
        source = self._source_for(request.carrier)
        name = source.name if source is not None else ""
        if fallback is not None and name in self._health.failing:
            return fallback
        deadline = self._config.stale_deadline if fallback else self._config.fresh_deadline
        asked = [replace(request, first_seen=first_seen)]
        try:
            # A person is waiting: the client's full retries would take a minute or more.
            async with asyncio.timeout(deadline.total_seconds()):
                batch = await self.track_batch(asked)
        except TimeoutError as err:
            late = ProviderUnavailable(provider=name)
            self._note_call(asked, None, late)
            if fallback is not None:
                return fallback
            raise late from err
        except ProviderError:
            if fallback is not None:
                return fallback
            raise
        fresh = batch.shipments.get(request.key)
        if fresh is None:
            error = batch.errors.get(request.key)
            if isinstance(error, ProviderError) and fallback is not None:
                return fallback
            if isinstance(error, TrackingError):
                raise error
            raise ShipmentNotFound()
        subs = (await self._store.subscriptions.subscribers([request.key])).get(request.key, [])
        settings = await self._settings_for([subs])
        fed = bool(
            await self._store.shipments.pushed_since(
                [request.key], now - self._config.webhook_trust
            )
        )
        promises = await self._store.orders.promises([request.key]) if subs else {}
        write = self._snapshot(
            stored,
            fresh,
            now,
            subs,
            settings,
            webhook_fed=fed,
            promises=promises.get(request.key),
        )
        if stored is not None and not subs:
            write = replace(write, next_check_at=None)
        await self._save_many([write])
        return write.shipment

    def _snapshot(
        self,
        previous: Shipment | None,
        fresh: Shipment,
        now: datetime,
        subscribers: Sequence[Subscription],
        settings: Mapping[str, ChatSettings],
        *,
        webhook_fed: bool = False,
        promises: Mapping[str, datetime] | None = None,
    ) -> SnapshotWrite:
        """Enrich a provider snapshot (incident, first seen) and work out its alerts for
        ``subscribers``; ``promises`` are the shop's promises on their order links."""
        write, found = self._enrich(
            previous, fresh, now, followed=bool(subscribers), webhook_fed=webhook_fed
        )
        if subscribers and (found or eta_news.lateness_judged(write.shipment)):
            pairs = self._pairs(
                found, subscribers, settings, write.shipment, now, promises=promises
            )
            if pairs:
                write = replace(write, alerts=pairs)
        return write

    def _enrich(
        self,
        previous: Shipment | None,
        fresh: Shipment,
        now: datetime,
        *,
        followed: bool,
        webhook_fed: bool,
    ) -> tuple[SnapshotWrite, list[Alert]]:
        """The snapshot to store (incident, first seen, promise), its next check (only when
        someone follows the parcel) and the alerts the change deserves, for no chat yet."""
        first_seen = (previous.first_seen if previous else None) or fresh.first_seen or now
        # A promised date is the shop's word to one buyer: it lives on that chat's order link
        # (``OrderLink.promised_by``), never on the parcel every follower reads.
        promised_by = None
        shipment = fresh
        # Most snapshots already carry these values: copying a Shipment is not free.
        if (
            fresh.first_seen is not first_seen
            or fresh.checked_at is not now
            or fresh.promised_by is not promised_by
        ):
            shipment = replace(
                fresh, first_seen=first_seen, checked_at=now, promised_by=promised_by
            )
        # Setting the incident leaves every reason unchanged, so the diff can reuse them.
        reasons = incidents.derive_all(shipment, now)
        incident = reasons[0] if reasons else None
        if incident is not shipment.incident:
            shipment = replace(shipment, incident=incident)
        found = []
        if previous is not None:
            found = alerts.diff(previous, shipment, now, reasons=reasons)
        next_check = self._next_check(shipment, now, webhook_fed=webhook_fed) if followed else None
        return SnapshotWrite(shipment, next_check), found

    async def _judged_per_chat(
        self,
        writes: Sequence[SnapshotWrite],
        alerting: list[tuple[int, ShipmentKey, list[Alert]]],
    ) -> tuple[list[tuple[int, ShipmentKey, list[Alert]]], dict[ShipmentKey, dict[str, datetime]]]:
        """Parcels with news to judge per chat join ``alerting`` (with no alert of their own),
        even when their snapshot did not change: days pass, so a chat's first window or its
        shop's promise can be passed, and an estimate held back a day can be told. Those are
        the parcels that can still be late and have a window or a chat's promise; nobody else's
        subscribers are read. Also returns, per parcel, the promise on each chat's order link
        (by chat key).
        """
        waiting = {write.shipment.key: index for index, write in enumerate(writes)}
        for _index, key, _found in alerting:
            waiting.pop(key, None)
        open_keys = [
            *(key for _index, key, _found in alerting),
            *(
                key
                for key, index in waiting.items()
                if eta_news.lateness_judged(writes[index].shipment)
            ),
        ]
        promises = await self._store.orders.promises(open_keys) if open_keys else {}
        more: list[tuple[int, ShipmentKey, list[Alert]]] = [
            (index, key, [])
            for key, index in waiting.items()
            if eta_news.lateness_judged(writes[index].shipment)
            and (writes[index].shipment.eta is not None or key in promises)
        ]
        return [*alerting, *more], promises

    def _pairs(
        self,
        found: Sequence[Alert],
        subscribers: Sequence[Subscription],
        settings: Mapping[str, ChatSettings],
        shipment: Shipment | None = None,
        now: datetime | None = None,
        *,
        promises: Mapping[str, datetime] | None = None,
    ) -> tuple[tuple[ChatRef, Alert], ...]:
        """(chat, alert) for every subscriber whose effective preference wants the alert.

        With ``shipment`` and ``now``, estimate and lateness news are decided per chat against
        what that chat was last told and the shop's promise on its own order link
        (``promises``, by chat key; ``eta_news.chat_alerts``); what each chat now knows is
        remembered once the alerts are stored (``_save_many``).
        """
        pairs: list[tuple[ChatRef, Alert]] = []
        for sub in subscribers:
            if sub.archived:
                continue
            chat_settings = settings.get(sub.chat.chat_key, _DEFAULT_SETTINGS)
            preference = preferences.effective(sub, chat_settings)
            chat_found = found
            if shipment is not None and now is not None:
                chat_found, told = eta_news.chat_alerts(
                    found,
                    shipment,
                    sub.told,
                    now,
                    tz=chat_settings.timezone,
                    promised_by=(promises or {}).get(sub.chat.chat_key),
                )
                if told is not None and told != sub.told:
                    self._tells.append((sub.chat, sub.key, told))
            pairs.extend(
                (sub.chat, alert) for alert in chat_found if alerts.wanted(alert, preference)
            )
        return tuple(pairs)

    async def _settings_for(
        self, groups: Iterable[Sequence[Subscription]]
    ) -> dict[str, ChatSettings]:
        chat_keys = sorted({sub.chat.chat_key for group in groups for sub in group})
        return await self._store.chats.settings_many(chat_keys) if chat_keys else {}

    def _note_call(
        self,
        requests: Sequence[TrackRequest],
        batch: TrackBatch | None,
        error: ProviderError | None,
    ) -> None:
        """Count one provider call towards the health of each source it reached.

        A source failed the call when the call raised, or by ``_call_failure`` (the rule
        ``_track_grouped`` applies to a poll batch); any other answer, even "not found", is a
        success.
        """
        asked: dict[str, list[TrackRequest]] = {}
        for request in requests:
            source = self._source_for(request.carrier)
            if source is not None:
                asked.setdefault(source.name, []).append(request)
        for name, mine in asked.items():
            failure = (error or ProviderError()) if batch is None else _call_failure(batch, mine)
            if failure is not None:
                self._health.failure(name, failure)
            else:
                self._health.success(name)

    def _source_for(self, carrier: str) -> TrackingProvider | None:
        """The source that tracks ``carrier`` (``Routing``)."""
        return self._sources.routing.source_for(carrier)

    async def _track_grouped(
        self, requests: Sequence[TrackRequest]
    ) -> list[tuple[list[TrackRequest], TrackBatch | None, ProviderError | None]]:
        """Ask the provider in full batches per underlying source, oldest-due first.

        Sources run concurrently, one batch in flight each. A failed batch (the whole call
        raised, or every number came back as a source failure) stops its source for this
        cycle; its remaining requests are not tried and stay due.
        """
        groups: dict[str, tuple[int, list[TrackRequest]]] = {}
        # One routing decision per carrier, not per parcel.
        routes: dict[str, tuple[str, int]] = {}
        for request in requests:
            route = routes.get(request.carrier)
            if route is None:
                source = self._source_for(request.carrier)
                name = source.name if source is not None else "unsupported"
                size = max(1, min(self._provider.max_batch, source.max_batch if source else 1000))
                route = routes[request.carrier] = (name, size)
            name, size = route
            groups.setdefault(name, (size, []))[1].append(request)
        results: list[tuple[list[TrackRequest], TrackBatch | None, ProviderError | None]] = []

        async def run(name: str, size: int, items: list[TrackRequest]) -> None:
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                try:
                    batch = await self._provider.track(chunk)
                except ProviderError as err:
                    self._health.failure(name, err)
                    results.append((chunk, None, err))
                    return
                # Every number of a chunk goes to this one source: any snapshot is a success.
                failure = None if batch.shipments else _call_failure(batch, chunk)
                if failure is not None:
                    self._health.failure(name, failure)
                    results.append((chunk, None, failure))
                    return
                self._health.success(name)
                results.append((chunk, batch, None))

        # Untried requests keep their schedule: they stay due, first in line next cycle.
        await asyncio.gather(*(run(name, size, items) for name, (size, items) in groups.items()))
        return results

    async def _shipment_reply(
        self, chat: ChatRef, shipment: Shipment, *, subscribed: bool | None = None
    ) -> Reply:
        settings = await self._store.chats.get_settings(chat)
        sub = await self._store.subscriptions.get(chat, shipment.key)
        link = (await self._store.orders.for_chat(chat)).get(shipment.key)
        if subscribed is None:
            subscribed = sub is not None and not sub.archived
        now = self._clock.now()
        if sub is not None and not sub.archived and sub.told is None:
            # The first window this chat is shown is the one lateness is judged against.
            _, told = eta_news.estimate_news(
                shipment,
                None,
                now,
                tz=settings.timezone,
                promised_by=link.promised_by if link is not None else None,
            )
            if told is not None:
                await self._store.subscriptions.tell(chat, shipment.key, told)
        return shipment_reply(
            shipment,
            tz=settings.timezone,
            subscribed=subscribed,
            label=sub.label if sub else "",
            now=now,
            seen=_seen(chat, follower=sub is not None or link is not None),
            promised_by=link.promised_by if link is not None else None,
        )

    async def _settings_reply(self, chat: ChatRef, settings: ChatSettings) -> Reply:
        subs = await self._store.subscriptions.for_chat(chat, include_archived=False)
        lines = [
            f"Alerts: {settings.preference.value} — {_PREFERENCE_TEXT[settings.preference]}",
            preferences.quiet_text(settings),
            f"Time zone: {settings.timezone}.",
        ]
        for sub in subs:
            name = _seen(chat).name(sub.label, sub.key.number)
            if sub.muted:
                lines.append(f"{name}: muted.")
            elif sub.preference is not None:
                lines.append(f"{name}: {sub.preference.value}.")
        lines.append(
            "Change with /notify <all|milestones|exceptions|off> [number or label], "
            f"/mute <number or label>, or {preferences.QUIET_USAGE}."
        )
        return Reply("Your notification settings", tuple(lines))

    async def _require_subscription(self, chat: ChatRef, text: str) -> Subscription:
        sub = await self._find_subscription(chat, text)
        if sub is None:
            raise ShipmentNotFound(
                "You are not subscribed to that parcel. Send /list to see your parcels."
            )
        return sub

    async def _find_subscription(
        self, chat: ChatRef, text: str, *, include_archived: bool = True
    ) -> Subscription | None:
        """The chat's subscription whose label or number is ``text``."""
        text = check_text(text, what="number or label", limit=120)
        if not text:
            raise InvalidInput("Please add the tracking number or the label you gave it.")
        numbers = reader.read(text, command=True).numbers
        wanted_number = numbers[0].number if len(numbers) == 1 else normalise(text)
        subs = await self._store.subscriptions.for_chat(chat, include_archived=include_archived)
        for sub in subs:
            if sub.label and sub.label.casefold() == text.casefold():
                return sub
        for sub in subs:
            if sub.key.number == wanted_number:
                return sub
        return None


_DEFAULT_SETTINGS = ChatSettings()

_CONFIRMATIONS_MAX = 10_000

_UNSCANNED = frozenset({Status.NOT_FOUND, Status.INFO_RECEIVED})

_PREFERENCE_TEXT: Mapping[Preference, str] = {
    Preference.ALL: "every scan, every milestone and every problem.",
    Preference.MILESTONES: "shipped, out for delivery, ready for pickup, delivered, and problems.",
    Preference.EXCEPTIONS: "only problems: failed deliveries, delays, customs, lost parcels.",
    Preference.OFF: "no alerts (you can still ask with /track).",
}


def _ago(age: timedelta) -> str:
    """``8 minutes ago``, ``3 hours ago``, ``2 days ago``."""
    minutes = max(1, int(age.total_seconds() // 60))
    if minutes < 120:
        amount, unit = minutes, "minute"
    elif minutes < 48 * 60:
        amount, unit = minutes // 60, "hour"
    else:
        amount, unit = minutes // (24 * 60), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'} ago"


def _older(pushed: Shipment, stored: Shipment) -> bool:
    """Whether a pushed snapshot is behind the stored one (a late or replayed push)."""
    if len(pushed.events) >= len(stored.events):
        return False
    newest_pushed = max((event.time for event in pushed.events), default=None)
    newest_stored = max((event.time for event in stored.events), default=None)
    if newest_stored is None:
        return False
    return newest_pushed is None or newest_pushed < newest_stored


def _labelled(subs: Iterable[Subscription], text: str) -> Subscription | None:
    """The subscription among ``subs`` labelled ``text`` (any case), or None."""
    text = check_text(text, what="label", limit=120)
    if not text:
        return None
    wanted = text.casefold()
    for sub in subs:
        if sub.label and sub.label.casefold() == wanted:
            return sub
    return None


def _subject(scope: Scope, value: str) -> str:
    """The stored stand-in for a person or an order in the proof records (a digest)."""
    return hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()[:32]


def _seen(chat: ChatRef, *, follower: bool = True) -> View:
    """What a reply to ``chat`` may carry (``core.privacy``)."""
    return privacy.view(privacy.context_of(chat), follower=follower, owner=chat.user_id)


def _notes(number: str, match: CarrierMatch | None, seen: View) -> tuple[str, ...]:
    """``advice.number_notes`` naming the number as ``seen`` allows (masked where others
    read)."""
    shown = seen.name("", number)
    return tuple(note.replace(number, shown) for note in advice.number_notes(number, match))


def _with_notes(reply: Reply, ident: Identifier, carrier: str, seen: View) -> Reply:
    """``reply`` with the warnings its number deserves (sample or fake-looking, no check
    digit in the carrier's format), naming the number as ``seen`` allows."""
    match = next((m for m in ident.matches if m.carrier.code == carrier), None)
    notes = _notes(ident.text, match, seen)
    return replace(reply, lines=(*reply.lines, *notes)) if notes else reply


def _owns(order: Order, proof: str) -> bool:
    """Compare the buyer's proof with the order's postcode or phone digits in constant time."""
    given = normalise(proof).encode()
    postcode_ok = bool(order.postcode) and hmac.compare_digest(
        given, normalise(order.postcode).encode()
    )
    phone_ok = bool(order.phone_last4) and hmac.compare_digest(given, order.phone_last4.encode())
    return postcode_ok or phone_ok


def _call_failure(batch: TrackBatch, asked: Sequence[TrackRequest]) -> ProviderError | None:
    """Why a call failed for the source asked about ``asked``: none of those numbers came back
    and some came back as a ``ProviderError`` (the first of those); None when it succeeded."""
    failure: ProviderError | None = None
    for request in asked:
        key = request.key
        if key in batch.shipments:
            return None
        error = batch.errors.get(key)
        if failure is None and isinstance(error, ProviderError):
            failure = error
    return failure


def _retry_delay(err: Exception | None, default: timedelta) -> timedelta:
    if isinstance(err, RateLimited):
        return timedelta(seconds=max(err.retry_after, 1.0))
    return default
