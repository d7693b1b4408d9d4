"""The chat use cases: everything a person asks parcelbot, independent of platform and source.

``ParcelService`` is built once by the composition root with its ports passed in. Every use case
returns platform-neutral ``Reply`` objects or raises a ``TrackingError`` for the adapter to turn
into one sentence. It composes three parts and owns none of their rules:

- ``core.refresh.Refresher`` (``service.refresh``): fetching, enrichment, ``poll_due``,
  ``ingest``, ``archive_due``, stopped pushes and per-source batching. Use cases ask it for a
  parcel's snapshot (``fetch``); the scheduler and the push path call it directly.
- ``core.ownership.OrderAccess``: who may see which shop order (``/verify`` proofs, their
  lockouts, order links shown in tracking replies).
- ``core.flusher.OutboxFlusher``: delivery of the alerts the refresh pipeline queued.
  ``flush_outbox`` hands queued alerts to the ``Notifier``, chats side by side and one message
  at a time per chat, and marks each sent only after the notifier returned; ``run_delivery``
  keeps doing so, woken as soon as alerts are queued. A chat that waits, hangs or fails holds
  back only itself: failures are retried with exponential backoff on the chat's own schedule;
  chats that blocked the bot, or whose message failed ``max_send_attempts`` times, are parked
  and their alerts kept until the chat talks again; alerts in a chat's quiet hours are held and
  arrive as one digest when the window ends.
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
  per chat it was sending to and at most ``ServiceConfig.send_concurrency`` in all, are the
  only ones).

The sources (``core.sources.Sources``: routing and the one health record) are built here and
shared by the refresh pipeline and order access. Tunables: ``core.config.ServiceConfig``.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from core import (
    advice,
    carriers,
    explanations,
    faq,
    preferences,
    privacy,
    reader,
)
from core.config import ServiceConfig
from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    OrderNotFound,
    RateLimited,
    ShipmentNotFound,
    TrackingError,
)
from core.eta import news as eta_news
from core.flusher import FlushStats, OutboxFlusher
from core.guards import SlidingWindow
from core.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    Voices,
    _,
    match_language,
    ngettext,
)
from core.identifiers import Identifier, check_text, normalise, parse_identifier
from core.models import (
    CarrierMatch,
    ChatRef,
    ChatSettings,
    IndexedParcel,
    OrderId,
    OrderLink,
    Preference,
    Shipment,
    ShipmentKey,
    Subscription,
    TrackRequest,
)
from core.ownership import OrderAccess
from core.ports import (
    Clock,
    Notifier,
    OrderSource,
    SharedLanguages,
    Store,
    TrackingProvider,
)
from core.privacy import View
from core.refresh import Refresher
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


class _Unread:
    """Marks an argument the caller did not read (``None`` is a value read from storage)."""


_UNREAD = _Unread()


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
        voices: Voices | None = None,
        shared_languages: SharedLanguages | None = None,
    ) -> None:
        """``provider`` answers every tracking call; ``routing`` names the source behind each
        carrier (batches and outages are per source), by default ``provider`` alone.
        ``voices`` are the languages replies and alerts are worded in (default: English);
        ``shared_languages`` says where a chat's shared alerts are read in another language."""
        self._voices = voices or Voices()
        self._provider = provider
        self._store = store
        self._clock = clock
        self._orders = orders
        self._config = config or ServiceConfig()
        self._user_limit = SlidingWindow(self._config.user_requests_per_minute, 60.0)
        # Pending confirmations of /forget: token -> (chat key, user id, valid until). Kept in
        # memory on purpose: a restart makes every old button stale.
        self._confirmations: dict[str, tuple[str, str, datetime]] = {}
        self._sources = Sources(
            routing or Routing.only(provider),
            shop=orders,
            health=SourceHealth(self._config.fail_after_calls, self._config.recover_after_calls),
        )
        self._health = self._sources.health
        self._flusher = OutboxFlusher(
            store,
            clock,
            retry_base=self._config.flush_retry_base,
            retry_max=self._config.flush_retry_max,
            send_timeout=self._config.send_timeout.total_seconds(),
            max_attempts=self._config.max_send_attempts,
            holder=self._config.worker,
            lease=self._config.send_lease,
            concurrency=self._config.send_concurrency,
            platforms=self._config.send_platforms,
            voices=self._voices,
            default_timezone=self._config.default_timezone,
            shared_languages=shared_languages,
        )
        self._refresh = Refresher(
            provider=provider,
            store=store,
            clock=clock,
            sources=self._sources,
            config=self._config,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not security
            on_queued=self._flusher.wake,
        )
        self._access = OrderAccess(
            store=store,
            clock=clock,
            shop=orders,
            health=self._health,
            user_proofs=self._config.user_proofs,
            order_proofs=self._config.order_proofs,
        )

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def voices(self) -> Voices:
        """The languages this service speaks (``core.i18n``)."""
        return self._voices

    @property
    def refresh(self) -> Refresher:
        """The refresh pipeline (``core.refresh``): polls, pushes, archiving; it implements
        ``core.ports.ParcelRefresh``."""
        return self._refresh

    @property
    def sources(self) -> Sources:
        """The sources this service calls, by name, and their health."""
        return self._sources

    @property
    def failing_sources(self) -> frozenset[str]:
        """Sources (tracking providers, the shop) now considered failing (``SourceHealth``)."""
        return self._health.failing

    def _zone(self, settings: ChatSettings) -> str:
        """The time zone to show the chat times in: its own, else the bot's default."""
        return settings.timezone or self._config.default_timezone

    async def _zoned(self, chat: ChatRef) -> ChatSettings:
        """The chat's settings to show and judge times with (``ChatSettings.zoned``); what is
        saved back must come from ``get_settings`` itself, so "no zone chosen" stays so."""
        return (await self._store.chats.get_settings(chat)).zoned(self._config.default_timezone)

    # ---------------------------------------------------------------- lookups

    async def track(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """Where is this parcel (or order)? Fetches fresh data when the stored one is old.

        When the shop's order index maps the number to an order this chat proved is its own
        (``/verify``), the reply also names the order and its status; see ``_with_order``.
        """
        self._limit(chat)
        if carrier is None:
            check_text(text, what=N_("label"), limit=120)  # it may be one of the chat's labels
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
        shipment = await self._refresh.answer(request, parcel.shipment)
        sub = parcel.subscription
        link = parcel.links.get(shipment.key)
        reply = shipment_reply(
            shipment,
            tz=self._zone(view.settings),
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

        ``Refresher.answer`` returns a snapshot older than ``refresh_after`` (and not final)
        only when the source failed, took too long or is marked failing, so age alone tells.
        """
        checked = shipment.checked_at
        if checked is None or shipment.is_final:
            return reply
        age = self._clock.now() - checked
        if age < self._config.refresh_after:
            return reply
        known = carriers.get_carrier(shipment.carrier)
        who = known.name if known is not None else shipment.carrier.upper()
        note = _(
            "Last checked {ago}; {carrier} tracking is not answering right now, so this may "
            "not be the latest."
        ).format(ago=_ago(age), carrier=who)
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
        found = await self._access.shown_order(chat, shipment, indexed, links)
        if found is None:
            return reply
        oid, order = found
        line = order_line(oid, order.status if order is not None else None)
        return replace(reply, lines=(*reply.lines, line), private=True)

    async def lookup_order(self, chat: ChatRef, order_id: str, proof: str | None) -> Reply:
        """An order and its parcels, once the chat has proved the order is theirs.

        The parcels are linked to the order for this chat (``/orders``, ``/report``), and the
        shop's promised date is kept with each parcel so lateness can be judged against it.
        """
        self._limit(chat)
        if self._orders is None:
            raise OrderNotFound(
                _("Order lookups are not set up on this bot; please send the tracking number.")
            )
        oid = OrderId(normalise(order_id))
        if not oid.isdigit():
            raise InvalidInput(_("Order ids contain only digits, for example 576000000000000001."))
        if proof is None and not self._access.verified(chat, oid):
            return Reply(
                _("Is this order yours?"),
                (
                    _(
                        "To keep orders private, please prove it is yours: send {command} "
                        "followed by the delivery postcode or the last 4 digits of the "
                        "phone number on the order."
                    ).format(command=f"/verify {oid}"),
                ),
                kind=ReplyKind.ORDER,
                private=True,
            )
        order = await self._access.prove(chat, oid, proof)
        if order is None:
            raise OrderNotFound()
        shipments = []
        linked_at = self._clock.now()
        for request in order.shipments:
            try:
                shipment = await self._refresh.fetch(request)
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

    async def history(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """The whole timeline of a parcel (by number or by the chat's own label)."""
        self._limit(chat)
        request = await self._request_for(chat, text, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._refresh.fetch(request)
        settings = await self._zoned(chat)
        sub = await self._store.subscriptions.get(chat, shipment.key)
        return timeline_reply(
            shipment, tz=settings.timezone, seen=_seen(chat), label=sub.label if sub else ""
        )

    async def explain(self, chat: ChatRef, code: str) -> Reply:
        """What a status or incident code means and what to do about it."""
        code = check_text(code, what=N_("code"), limit=60)
        if not code:
            codes = ", ".join(sorted({*explanations.known_codes()}))
            return Reply(
                _("Explain what?"),
                (_("Send /explain with one of: {codes}.").format(codes=codes),),
            )
        explanation = explanations.explain_code(code)
        if explanation is None:
            topic = faq.match(code)
            if topic is not None:
                return advice.faq_reply(topic)
            topics = ", ".join(item.key for item in faq.TOPICS)
            raise InvalidInput(
                _(
                    "I don't know that status or question. Try one shown in a tracking reply "
                    "(e.g. /explain stale) or one of: {topics}."
                ).format(topics=topics)
            )
        return Reply(
            explanation.title,
            (explanation.what_happened, *(f"• {step}" for step in explanation.next_steps)),
        )

    def help(self) -> Reply:
        """A short welcome (the router renders the full command list)."""
        return Reply("parcelbot", (_("Send /help to see what I can do."),))

    async def report(self, chat: ChatRef, text: str, carrier: str | None = None) -> Reply:
        """A dispute evidence pack for a parcel, as a Markdown attachment (private).

        The parcel is found by the chat's label or number; the order id and shop appear only
        when this chat linked the order itself (``/verify``).
        """
        self._limit(chat)
        request = await self._request_for(chat, text, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._refresh.fetch(request)
        settings = await self._zoned(chat)
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
            _("Evidence pack: {parcel}").format(parcel=name),
            (
                _(
                    "Attached: a file with the ids, carrier, promised and actual dates, every "
                    "incident and the full timeline, plus a checklist of evidence to gather."
                ),
                _(
                    "Send it to the seller (or the marketplace) with your photos when you open "
                    "a claim."
                ),
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
        settings = await self._zoned(chat)
        reply = history_reply(subs, shipments, links, now=self._clock.now(), tz=settings.timezone)
        # Numbers, order ids and shops: for the chat's own eyes only (``core.privacy``).
        return replace(reply, private=True)

    # ---------------------------------------------------------------- subscriptions

    async def subscribe(
        self, chat: ChatRef, text: str, label: str = "", *, carrier: str | None = None
    ) -> Reply:
        """Follow a parcel: alerts arrive in this chat when it moves."""
        self._limit(chat)
        label = check_text(label, what=N_("label"), limit=60)
        ident = parse_identifier(text)
        request = await self._resolve(chat, ident, carrier)
        if isinstance(request, Reply):
            return request
        shipment = await self._refresh.fetch(request)
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
            shipment.key, self._refresh.next_check(shipment, now, webhook_fed=fed)
        )
        reply = await self._shipment_reply(chat, shipment, subscribed=True)
        if shipment.is_final:
            first = (
                _("Saved “{label}” — this parcel's journey has ended.").format(label=label)
                if label
                else _("Saved — this parcel's journey has ended.")
            )
        else:
            first = (
                _("Subscribed “{label}” — I will tell you when it moves.").format(label=label)
                if label
                else _("Subscribed — I will tell you when it moves.")
            )
        lines = (first, *reply.lines)
        return _with_notes(replace(reply, lines=lines), ident, request.carrier, _seen(chat))

    async def unsubscribe(self, chat: ChatRef, text: str) -> Reply:
        """Stop following a parcel (found by number or label)."""
        sub = await self._find_subscription(chat, text, include_archived=True)
        if sub is None:
            raise ShipmentNotFound(
                _("You are not subscribed to that parcel. Send /list to see your parcels.")
            )
        await self._store.subscriptions.remove(chat, sub.key)
        name = _seen(chat).name(sub.label, sub.key.number)
        return Reply(_("Unsubscribed"), (_("No more updates for {parcel}.").format(parcel=name),))

    async def list_parcels(self, chat: ChatRef) -> Reply:
        """The chat's parcels: active first, then the archive (order history)."""
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        shipments = await self._store.shipments.get_many([sub.key for sub in subs])
        settings = await self._zoned(chat)
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
            return Reply(_("Nothing deleted"), (_("Your data is as it was."),))
        if pending is None or not mine or now > pending[2]:
            return Reply(
                _("That button has expired"),
                (_("Nothing was deleted. Send /forget again if you still want it."),),
            )
        subs = await self._store.subscriptions.for_chat(chat, include_archived=True)
        linked = await self._store.orders.for_chat(chat)
        keys = list({sub.key: None for sub in subs} | dict.fromkeys(linked))
        removed = await self._store.subscriptions.forget_chat(chat)
        # Parcels only this chat followed go too, with their events and proof of delivery.
        removed += await self._store.shipments.forget_unfollowed(keys)
        self._access.forget(chat)
        return Reply(
            _("Forgotten"),
            (
                ngettext(
                    "I deleted everything I stored about this chat ({count} record).",
                    "I deleted everything I stored about this chat ({count} records).",
                    removed,
                ).format(count=removed),
            ),
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
        deletes = (
            _(
                "This deletes this group's parcels, settings and order links, for everyone in "
                "it. It cannot be undone."
            )
            if chat.is_group
            else _(
                "This deletes your parcels, settings, order links and alerts. It cannot be undone."
            )
        )
        return Reply(
            _("Delete everything?"),
            (
                deletes,
                ngettext(
                    "Tap Yes within {count} minute to go ahead.",
                    "Tap Yes within {count} minutes to go ahead.",
                    minutes,
                ).format(count=minutes),
            ),
            buttons=(
                Button(_("Yes, delete everything"), "forget", ("confirm", token)),
                Button(_("Cancel"), "forget", ("cancel", token)),
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
                _("Notifications for {parcel}: {level}").format(
                    parcel=name, level=preference.value
                ),
                (_(_PREFERENCE_TEXT[preference]),),
            )
        await self._store.chats.save_settings(chat, replace(settings, preference=preference))
        return Reply(
            _("Notifications: {level}").format(level=preference.value),
            (
                _(_PREFERENCE_TEXT[preference]),
                _("Parcels with their own setting keep it (/notify <level> <number or label>)."),
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
                _("Muted {parcel}").format(parcel=name),
                (
                    _(
                        "No alerts for {parcel} until you send /unmute {parcel}. /track still "
                        "works."
                    ).format(parcel=name),
                ),
            )
        return Reply(
            _("Unmuted {parcel}").format(parcel=name),
            (_("Alerts for {parcel} are back on.").format(parcel=name),),
        )

    async def quiet(self, chat: ChatRef, text: str = "") -> Reply:
        """Set quiet hours (``22:00-07:00 Asia/Jakarta``), turn them ``off``, or show them.

        Alerts in the window are held and arrive as one digest when it ends, never dropped.
        Setting a time zone here also sets the zone every time is shown in.
        """
        self._limit(chat)
        settings = await self._store.chats.get_settings(chat)
        if not text.strip():
            return await self._settings_reply(chat, settings)
        hours = preferences.parse_quiet(text, self._zone(settings))
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
        shown = updated.zoned(self._config.default_timezone)
        now_local = format_local(self._clock.now(), shown.timezone)
        return Reply(
            _("Quiet hours off") if hours is None else _("Quiet hours set"),
            (
                preferences.quiet_text(shown),
                _("It is now {time} there.").format(time=now_local),
            ),
        )

    async def chat_language(self, chat: ChatRef) -> str:
        """The language to answer ``chat`` in, storing the one its platform reports.

        A language chosen with ``/language`` stays. Otherwise the platform's hint
        (``ChatRef.language``) becomes the chat's stored language, so alerts, which arrive
        with no message to read a language from, use it too; in a group only the first
        hint is kept (each member's app may speak another language). English when neither
        is known."""
        settings = await self._store.chats.get_settings(chat)
        hint = match_language(chat.language)
        if settings.language_chosen or hint is None or hint == settings.language:
            return settings.language or DEFAULT_LANGUAGE
        if chat.is_group and settings.language:
            return settings.language
        await self._store.chats.save_settings(chat, replace(settings, language=hint))
        return hint

    async def set_language(self, chat: ChatRef, text: str = "") -> Reply:
        """``/language``: show the chat's language and the choices, or choose one."""
        settings = await self._store.chats.get_settings(chat)
        wanted = text.strip()
        if not wanted:
            current = settings.language or DEFAULT_LANGUAGE
            return Reply(
                _("Language: {language}").format(language=LANGUAGE_NAMES[current]),
                (_("Choose the language I write to you in:"),),
                buttons=tuple(
                    Button(LANGUAGE_NAMES[code], "language", (code,)) for code in LANGUAGES
                ),
            )
        language = match_language(wanted)
        if language is None:
            raise InvalidInput(
                _("I don't speak “{wanted}” yet. I can write in: {languages}.").format(
                    wanted=check_text(wanted, limit=40)[:40],
                    languages=", ".join(LANGUAGE_NAMES[code] for code in LANGUAGES),
                )
            )
        await self._store.chats.save_settings(
            chat, replace(settings, language=language, language_chosen=True)
        )
        # The answer is already in the new language.
        with self._voices.speaking(language):
            return Reply(
                _("Language: {language}").format(language=LANGUAGE_NAMES[language]),
                (_("I will write to you in this language from now on, alerts included."),),
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

    def _limit(self, chat: ChatRef) -> None:
        key = f"{chat.platform}:{chat.user_id}"
        now = time.monotonic()
        if not self._user_limit.hit(key, now):
            wait = max(1, round(self._user_limit.retry_after(key, now)))
            raise RateLimited(
                ngettext(
                    "You are sending requests very fast; please wait {count} second.",
                    "You are sending requests very fast; please wait {count} seconds.",
                    wait,
                ).format(count=wait),
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
                    _(
                        "I don't know the carrier “{carrier}”. Use a name like ups, usps, "
                        "fedex or dhl."
                    ).format(carrier=check_text(carrier, limit=40)[:40])
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
                _("Sample or made-up number"),
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

    async def _shipment_reply(
        self, chat: ChatRef, shipment: Shipment, *, subscribed: bool | None = None
    ) -> Reply:
        settings = await self._zoned(chat)
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
        settings = settings.zoned(self._config.default_timezone)
        subs = await self._store.subscriptions.for_chat(chat, include_archived=False)
        lines = [
            _("Alerts: {level} — {meaning}").format(
                level=settings.preference.value, meaning=_(_PREFERENCE_TEXT[settings.preference])
            ),
            preferences.quiet_text(settings),
            _("Time zone: {zone}.").format(zone=settings.timezone),
        ]
        for sub in subs:
            name = _seen(chat).name(sub.label, sub.key.number)
            if sub.muted:
                lines.append(_("{parcel}: muted.").format(parcel=name))
            elif sub.preference is not None:
                lines.append(
                    _("{parcel}: {level}.").format(parcel=name, level=sub.preference.value)
                )
        lines.append(
            _(
                "Change with /notify <all|milestones|exceptions|off> [number or label], "
                "/mute <number or label>, or {quiet}."
            ).format(quiet=preferences.QUIET_USAGE)
        )
        return Reply(_("Your notification settings"), tuple(lines))

    async def _require_subscription(self, chat: ChatRef, text: str) -> Subscription:
        sub = await self._find_subscription(chat, text)
        if sub is None:
            raise ShipmentNotFound(
                _("You are not subscribed to that parcel. Send /list to see your parcels.")
            )
        return sub

    async def _find_subscription(
        self, chat: ChatRef, text: str, *, include_archived: bool = True
    ) -> Subscription | None:
        """The chat's subscription whose label or number is ``text``."""
        text = check_text(text, what=N_("number or label"), limit=120)
        if not text:
            raise InvalidInput(_("Please add the tracking number or the label you gave it."))
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


_CONFIRMATIONS_MAX = 10_000

_PREFERENCE_TEXT: Mapping[Preference, str] = {
    Preference.ALL: N_("every scan, every milestone and every problem."),
    Preference.MILESTONES: N_(
        "shipped, out for delivery, ready for pickup, delivered, and problems."
    ),
    Preference.EXCEPTIONS: N_("only problems: failed deliveries, delays, customs, lost parcels."),
    Preference.OFF: N_("no alerts (you can still ask with /track)."),
}


def _ago(age: timedelta) -> str:
    """``8 minutes ago``, ``3 hours ago``, ``2 days ago``."""
    minutes = max(1, int(age.total_seconds() // 60))
    if minutes < 120:
        return ngettext("{count} minute ago", "{count} minutes ago", minutes).format(count=minutes)
    if minutes < 48 * 60:
        hours = minutes // 60
        return ngettext("{count} hour ago", "{count} hours ago", hours).format(count=hours)
    days = minutes // (24 * 60)
    return ngettext("{count} day ago", "{count} days ago", days).format(count=days)


def _labelled(subs: Iterable[Subscription], text: str) -> Subscription | None:
    """The subscription among ``subs`` labelled ``text`` (any case), or None."""
    text = check_text(text, what=N_("label"), limit=120)
    if not text:
        return None
    wanted = text.casefold()
    for sub in subs:
        if sub.label and sub.label.casefold() == wanted:
            return sub
    return None


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
