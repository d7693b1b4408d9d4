"""Every seam of the core: the small typed contracts that outside parts implement.

Tracking sources and shops (``core.providers``), storage (``storage``) and the chat adapters
(``bots``) meet the core here. Each docstring says what an implementer must guarantee; the
value objects they exchange live in ``core.models``. This module imports only the standard
library, ``core.models``, ``core.errors`` and ``core.replies`` (the platform-neutral ``Reply``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.errors import TrackingError
from core.models import (
    Attempts,
    ChatRef,
    ChatSettings,
    ChatView,
    DueParcels,
    EtaTold,
    GuildSettings,
    IndexedParcel,
    MemberRoute,
    Observation,
    Order,
    OrderId,
    OrderLink,
    OutboxEntry,
    ParcelView,
    PollStats,
    Scope,
    Shipment,
    ShipmentKey,
    ShopPush,
    SnapshotWrite,
    StoredPush,
    Subscription,
    TrackBatch,
    TrackingNumber,
    TrackRequest,
)
from core.replies import Reply

__all__ = [
    "AttemptRepository",
    "ChatRepository",
    "ChatUnreachable",
    "Clock",
    "Estimator",
    "GroupSwitch",
    "GuildStore",
    "KeyValueStore",
    "Notifier",
    "ObservationRepository",
    "OrderIndex",
    "OrderLinkRepository",
    "OrderSource",
    "OutboxRepository",
    "Pacer",
    "ParcelRefresh",
    "ProactiveChats",
    "ProactiveOutbox",
    "ProactiveShipments",
    "PushReceiver",
    "PushStore",
    "ReadViews",
    "Retracker",
    "SeenPushes",
    "SharedLanguages",
    "ShipmentRepository",
    "ShopEvents",
    "ShopIndexEntry",
    "ShopOrderPage",
    "ShopPackage",
    "ShopSource",
    "Store",
    "SubscriptionRepository",
    "TrackingProvider",
]


class Clock(Protocol):
    """Tells the time. ``now()`` returns an aware UTC datetime."""

    def now(self) -> datetime: ...


@runtime_checkable
class TrackingProvider(Protocol):
    """A source of tracking events (sandbox, 17TRACK, AfterShip).

    Guarantees:
    - ``track`` returns a ``TrackBatch`` with one entry per request, either in ``shipments`` or
      in ``errors`` (a ``TrackingError``); one bad number never fails the whole batch.
    - A failure of the whole source raises a ``ProviderError`` subclass, never a library error.
    - ``max_batch`` is the most requests ``track`` accepts in one call.
    """

    name: str
    max_batch: int

    def supports(self, carrier: str) -> bool:
        """Whether this provider can track numbers of ``carrier`` (a catalogue code)."""
        ...

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch: ...


@runtime_checkable
class OrderSource(Protocol):
    """A shop that knows orders (TikTok Shop, the sandbox shop).

    ``get_orders`` returns the orders it found; ids it does not know are simply absent.
    Failures raise ``ProviderError`` subclasses.
    """

    name: str

    async def get_orders(self, order_ids: Sequence[OrderId]) -> dict[OrderId, Order]: ...


class ShipmentRepository(Protocol):
    """Parcels, their event history and their polling schedule.

    ``save_many`` writes every snapshot, its new events and its outbox rows in **one
    transaction**: alerts are never stored without the snapshot that caused them, nor the
    other way round. Outbox rows are unique per (chat, dedupe key); a repeat is ignored.
    """

    async def get(self, key: ShipmentKey) -> Shipment | None: ...

    async def get_many(self, keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, Shipment]: ...

    async def save_many(self, writes: Sequence[SnapshotWrite]) -> int:
        """Store the snapshots; return how many outbox rows were newly added."""
        ...

    async def due(self, now: datetime, limit: int) -> list[ShipmentKey]:
        """Parcels whose next check is at or before ``now``, the most overdue first."""
        ...

    async def schedule(self, key: ShipmentKey, next_check_at: datetime | None) -> None:
        """Set when to check a parcel next (None: never again)."""
        ...


class SubscriptionRepository(Protocol):
    """Which chats follow which parcels, with labels and per-parcel preferences."""

    async def add(self, subscription: Subscription) -> bool:
        """Add or update (label, preference); True when it is new or was archived."""
        ...

    async def remove(self, chat: ChatRef, key: ShipmentKey) -> bool: ...

    async def get(self, chat: ChatRef, key: ShipmentKey) -> Subscription | None: ...

    async def update(self, subscription: Subscription) -> None: ...

    async def tell(self, chat: ChatRef, key: ShipmentKey, told: EtaTold) -> None:
        """Remember what the chat has been told about the parcel's arrival (``EtaTold``)."""
        ...

    async def tell_many(self, items: Sequence[tuple[ChatRef, ShipmentKey, EtaTold]]) -> None:
        """``tell`` for many (chat, parcel, told) at once, in one transaction."""
        ...

    async def for_chat(self, chat: ChatRef, *, include_archived: bool = True) -> list[Subscription]:
        """The chat's subscriptions, newest first."""
        ...

    async def subscribers(
        self, keys: Sequence[ShipmentKey]
    ) -> dict[ShipmentKey, list[Subscription]]:
        """Active (not archived) subscriptions per parcel; parcels with none are absent."""
        ...

    async def archive(self, key: ShipmentKey) -> int: ...

    async def forget_chat(self, chat: ChatRef) -> int:
        """Delete everything stored about the chat; return how many rows went."""
        ...


class ChatRepository(Protocol):
    """Per-chat settings and remembered carrier picks."""

    async def get_settings(self, chat: ChatRef) -> ChatSettings: ...

    async def save_settings(self, chat: ChatRef, settings: ChatSettings) -> None: ...

    async def remember_carrier(self, chat: ChatRef, number: str, carrier: str) -> None: ...

    async def carrier_pick(self, chat: ChatRef, number: str) -> str | None: ...


class OutboxRepository(Protocol):
    """Alerts waiting for delivery.

    ``due`` returns unsent entries whose next attempt is due, oldest first, skipping chats that
    are paused. ``mark_sent`` is the commit point: an entry marked sent is never returned again.

    ``claim`` is ``due`` for a flusher that shares the outbox with others (any process): it
    leases whole chats to ``holder`` until ``until`` and returns only their entries, so a chat
    is sent to by one flusher at a time; ``release`` gives chats back. A chat whose holder
    died is claimable once the lease ran out and its last message is older than ``spaced``.
    """

    async def due(self, now: datetime, limit: int) -> list[OutboxEntry]: ...

    async def claim(
        self,
        now: datetime,
        limit: int,
        *,
        holder: str,
        until: datetime,
        spaced: datetime,
        platforms: Sequence[str] = (),
    ) -> list[OutboxEntry]: ...

    async def release(
        self, chat_keys: Sequence[str], holder: str, now: datetime, *, sent: bool
    ) -> None: ...

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None: ...

    async def mark_failed(self, entry_id: int, retry_at: datetime) -> None: ...

    async def pending_count(self) -> int: ...


class Pacer(Protocol):
    """Keeps a source's requests under its rate limit as the server counts them:
    ``core.pacing.SlidingWindow`` in one process, ``storage.limits.SharedRate`` for a limit
    every process sharing the database counts against (a provider key's quota)."""

    def slot(self) -> AbstractAsyncContextManager[object]:
        """Wait for a turn; the request is made inside the block, and the limit counts it
        until ``period`` after the block was left (when its answer had come back)."""
        ...


class ChatUnreachable(Exception):
    """Raised by a ``Notifier`` when a chat cannot get messages.

    ``permanent`` is True when the chat blocked the bot or no longer exists (pause its
    subscriptions); otherwise the send may be retried after ``retry_after`` seconds.
    """

    def __init__(self, reason: str, *, permanent: bool, retry_after: float = 0.0) -> None:
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(reason)


class Notifier(Protocol):
    """Delivers a reply to a chat on whatever platform it lives.

    Returns once the platform acknowledged the message; raises ``ChatUnreachable`` otherwise.
    """

    async def send(self, chat: ChatRef, reply: Reply) -> None: ...


class SharedLanguages(Protocol):
    """The language of the place where a chat's shared messages are read (e.g. the Discord
    server channel a member's alerts are posted in), when it is not the chat's own.

    Returns a ``core.i18n.LANGUAGES`` code, or "" when the chat's shared messages go nowhere
    shared or that place's language is not known (the chat's language is used then).
    """

    async def shared_language(self, chat: ChatRef) -> str: ...


class ProactiveShipments(ShipmentRepository, Protocol):
    """Parcels, plus webhook bookkeeping and the archive query."""

    async def mark_pushed(self, keys: Sequence[ShipmentKey], at: datetime) -> None:
        """Record that a provider pushed these parcels at ``at``."""
        ...

    async def pushed_since(self, keys: Sequence[ShipmentKey], since: datetime) -> set[ShipmentKey]:
        """The parcels among ``keys`` pushed at or after ``since``."""
        ...

    async def due_parcels(
        self,
        now: datetime,
        limit: int,
        pushed_since: datetime,
        lease_until: datetime | None = None,
    ) -> DueParcels:
        """``due(now, limit)`` in one query with, for those parcels, which have an active
        subscription and which were pushed at or after ``pushed_since``.

        With ``lease_until`` the parcels are claimed for the caller: atomically with the read
        their next check moves to ``lease_until``, so no other poller, in any process, gets
        them until the caller saves or schedules them, or the lease runs out (the caller
        died). ``due_at`` then says when each was due."""
        ...

    async def forget_unfollowed(self, keys: Sequence[ShipmentKey]) -> int:
        """Delete the parcels among ``keys`` nobody follows or linked any more, with their
        events, and anonymise what was learned from them; return rows changed."""
        ...

    async def clear_pushed(self, keys: Sequence[ShipmentKey]) -> None:
        """Forget that these parcels were pushed (``pushed_since`` no longer returns them)."""
        ...

    async def finished(
        self, done_before: datetime, inactive_before: datetime, limit: int
    ) -> list[ShipmentKey]:
        """Parcels with active subscriptions that are ready for the archive.

        That is: final (delivered, expired, or an exception with a terminal incident) and last
        checked at or before ``done_before`` (delivered: delivered at or before it); or never
        scanned (not found / label created) and first seen at or before ``inactive_before``.
        """
        ...


class ProactiveOutbox(OutboxRepository, Protocol):
    """The outbox, plus holding alerts back for a digest."""

    async def hold(self, ids: Sequence[int], until: datetime) -> None:
        """Mark entries as waiting for a digest, not due before ``until`` (attempts unchanged)."""
        ...

    async def hold_chat(self, chat_key: str) -> int:
        """Mark every unsent entry of the chat as waiting for a digest; return how many."""
        ...

    async def held_ids(self, ids: Sequence[int]) -> set[int]:
        """The entries among ``ids`` that wait for a digest."""
        ...


class ProactiveChats(ChatRepository, Protocol):
    """Chat settings, plus reading many at once."""

    async def settings_many(self, chat_keys: Sequence[str]) -> dict[str, ChatSettings]:
        """Settings per chat key; chats that never saved any get the defaults."""
        ...

    async def resume_chat(self, chat: ChatRef | str) -> None:
        """Deliver the chat's queued and future alerts again (clears ``paused``)."""
        ...


class OrderLinkRepository(Protocol):
    """Per-chat links from parcels to shop orders; deleted by ``forget_chat``."""

    async def link(self, chat: ChatRef, link: OrderLink) -> None: ...

    async def for_chat(self, chat: ChatRef) -> dict[ShipmentKey, OrderLink]: ...

    async def forget_chat(self, chat: ChatRef) -> int: ...

    async def promises(self, keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, dict[str, datetime]]:
        """Per parcel, the chat keys whose linked order promised a date, and the date."""
        ...

    async def update_promises(self, promises: Mapping[str, datetime]) -> int:
        """A shop's newer promised date for the links to these numbers (by number); return
        how many links changed."""
        ...


class OrderIndex(Protocol):
    """The shop's tracking number → order index, kept current by order webhooks and searches.

    It knows which order ships a number, not who the buyer is: whoever shows an order from it
    must check that the asking chat proved the order is theirs.
    """

    async def find(self, number: str) -> IndexedParcel | None:
        """The order a tracking number ships, or None when the index does not know it."""
        ...

    async def known(self, numbers: Sequence[str]) -> set[str]:
        """The numbers among ``numbers`` that the index holds."""
        ...

    async def upsert(self, entries: Sequence[IndexedParcel]) -> list[TrackingNumber]:
        """Add or update rows in one transaction (an empty carrier or package id never
        replaces a known one); return the numbers that were new, in the order given."""
        ...


class AttemptRepository(Protocol):
    """Failed ownership proofs per (scope, subject), kept across restarts
    (``core.ownership``). Subjects are opaque strings chosen by the service."""

    async def get(self, scope: Scope, subject: str) -> Attempts: ...

    async def put(self, scope: Scope, subject: str, state: Attempts) -> None: ...

    async def clear(self, scope: Scope, subject: str) -> None: ...


class ReadViews(Protocol):
    """Reads for chat commands, each one round trip that never waits behind background work
    (the poller's writes and queries): implementations read on a connection of their own.

    Each view is one consistent state and includes every write committed before it began.
    """

    async def chat(self, chat: ChatRef, number: str) -> ChatView: ...

    async def parcel(self, chat: ChatRef, key: ShipmentKey) -> ParcelView: ...


class Store(Protocol):
    """The repositories the service works with (``storage.Database`` provides them)."""

    @property
    def shipments(self) -> ProactiveShipments: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def chats(self) -> ProactiveChats: ...

    @property
    def outbox(self) -> ProactiveOutbox: ...

    @property
    def orders(self) -> OrderLinkRepository: ...

    @property
    def order_index(self) -> OrderIndex: ...

    @property
    def attempts(self) -> AttemptRepository: ...

    @property
    def views(self) -> ReadViews: ...


class KeyValueStore(Protocol):
    """A small durable string key/value store (``storage.Database.meta``): cursors, tokens,
    switches. A value set is read back by every later ``get``, across restarts."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...

    async def delete(self, key: str) -> bool:
        """Remove the key; True when it was there."""
        ...


class SeenPushes(Protocol):
    """Notification ids of pushes already processed, kept across restarts
    (``storage.webhook_seen``)."""

    async def seen(self, provider: str, notification_id: str) -> bool:
        """Whether this notification was processed before."""
        ...

    async def remember(self, provider: str, notification_id: str, at: datetime) -> None:
        """Record a processed notification (and drop records older than the filter's span)."""
        ...

    async def claim(self, provider: str, notification_id: str, at: datetime) -> bool:
        """Record the notification as taken unless it already was: True for the one caller
        that took it, of every process sharing the database (Telegram updates posted to two
        webhook front ends)."""
        ...

    async def forget(self, provider: str, notification_id: str) -> None:
        """Drop a record whose processing failed, so the sender's retry is processed."""
        ...


class GroupSwitch(Protocol):
    """Whether a Telegram group's admins switched the bot's replies off there."""

    async def replies_off(self, chat_id: str) -> bool: ...

    async def set_replies_off(self, chat_id: str, off: bool) -> None: ...


class GuildStore(Protocol):
    """Per-Discord-server settings and where each member's alerts go.

    Guarantees: defaults are returned for servers and members never seen;
    ``delete_guild`` also clears every member route into that server; ``forget_member``
    deletes everything stored about the member.
    """

    async def get(self, guild_id: int) -> GuildSettings: ...

    async def save(self, settings: GuildSettings) -> None: ...

    async def delete_guild(self, guild_id: int) -> int: ...

    async def member(self, user_id: int) -> MemberRoute: ...

    async def set_public_guild(self, user_id: int, guild_id: int | None) -> None: ...

    async def remember_home(self, user_id: int, guild_id: int, channel_id: int) -> None: ...

    async def set_dm_state(self, user_id: int, *, closed: bool, notice_sent: bool) -> None: ...

    async def forget_member(self, user_id: int) -> int: ...


class ObservationRepository(Protocol):
    """Where delivered parcels are kept as history (``core.eta`` learns from it).

    ``add`` stores a parcel once: with a ``key``, adding the same parcel again is ignored and
    returns False. ``iter`` yields oldest first, in batches, so history never has to fit in
    one query. ``forget`` removes what was learned from one parcel.
    """

    async def add(self, obs: Observation, key: ShipmentKey | None = None) -> bool: ...

    async def all(self) -> list[Observation]: ...

    def iter(self, batch: int = 500) -> AsyncIterator[Observation]: ...

    async def count(self) -> int: ...

    async def forget(self, key: ShipmentKey) -> int: ...


class ParcelRefresh(Protocol):
    """The refresh pipeline's entry points for snapshots that did not come from a poll
    (pushes, shop parcels). ``core.refresh.Refresher`` provides them.

    Guarantees: ``ingest`` stores snapshots exactly as a poll would (enrichment, alerts,
    outbox, one transaction) and never raises for one snapshot's content; ``track_batch``
    counts the call towards the source's outage record and raises its ``ProviderError``;
    ``push_stopped`` returns the followed, unfinished parcels it put back on polling.
    """

    async def ingest(self, shipments: Sequence[Shipment], *, webhook: bool = True) -> PollStats: ...

    async def track_batch(self, requests: Sequence[TrackRequest]) -> TrackBatch: ...

    async def push_stopped(self, keys: Sequence[ShipmentKey]) -> list[ShipmentKey]: ...


class Estimator(Protocol):
    """Gives snapshots their arrival window (``core.eta.provider.EstimatingProvider``).

    ``enrich`` returns one snapshot per input, in order, and learns from the delivered ones.
    """

    async def enrich(self, shipments: Sequence[Shipment]) -> list[Shipment]: ...


class Retracker(Protocol):
    """A tracking source that can restart numbers it stopped following (17TRACK)."""

    async def retrack(
        self, requests: Sequence[TrackRequest]
    ) -> Mapping[ShipmentKey, TrackingError | None]:
        """None per number tracked again, else why not; raises ``ProviderError`` when the
        whole call failed."""
        ...


class ShopIndexEntry(Protocol):
    """One (tracking number, order, package) a shop's order search returned."""

    @property
    def number(self) -> TrackingNumber: ...

    @property
    def carrier(self) -> str:
        """Our carrier code, "" when the shop's shipping provider is not one we know."""
        ...

    @property
    def shop_id(self) -> str: ...

    @property
    def order_id(self) -> OrderId: ...

    @property
    def package_id(self) -> str: ...


class ShopOrderPage(Protocol):
    """One page of a shop's order search: its index rows and the next page's token ("" at
    the end)."""

    @property
    def entries(self) -> Sequence[ShopIndexEntry]: ...

    @property
    def next_page_token(self) -> str: ...


class ShopPackage(Protocol):
    """A shop's package: its tracking number ("" before shipping), carrier and orders."""

    @property
    def package_id(self) -> str: ...

    @property
    def number(self) -> TrackingNumber: ...

    @property
    def carrier(self) -> str: ...

    @property
    def order_ids(self) -> tuple[OrderId, ...]: ...


class ShopSource(OrderSource, Protocol):
    """A shop whose orders can be searched by update time and whose packages can be read
    (TikTok Shop). Failures raise ``ProviderError`` subclasses.

    ``search_page`` returns orders updated in ``[updated_from, updated_to)``; a page token
    may expire (then the search starts again from its first page).
    """

    @property
    def shop_id(self) -> str:
        """The shop this source reads ("" until it is known)."""
        ...

    async def get_package(self, package_id: str) -> ShopPackage: ...

    async def search_page(
        self,
        *,
        updated_from: datetime,
        updated_to: datetime | None = None,
        page_size: int = 50,
        page_token: str = "",
    ) -> ShopOrderPage: ...


class ShopEvents(Protocol):
    """What reacts to a shop's push (``core.shop_sync.ShopSync``)."""

    async def order_event(self, push: ShopPush) -> None:
        """Read again what the push is about and refresh its parcels; raises
        ``ProviderError`` when the shop or the tracking source fails as a whole."""
        ...


class PushReceiver(Protocol):
    """Where verified, parsed pushes go (``core.pushes.Pushes``)."""

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        """Store pushed snapshots like polled ones and queue their alerts; return how many
        alerts were queued. A snapshot with carrier "" gets one told from its number."""
        ...

    async def order_event(self, push: ShopPush) -> None:
        """React to a shop's order or package push (re-read the order, update the index)."""
        ...

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        """A tracking source stopped following a number (carrier "" when it did not say
        which): keep a followed parcel followed; return what was done ("ignored",
        "retracked", "polling")."""
        ...


class PushStore(Protocol):
    """The durable push inbox (``storage.inbox``): verified pushes kept from the moment they
    are accepted until processed, unique per (provider, notification id).

    Guarantees: ``add_many`` commits every row before it returns; a row marked done is never
    returned by ``due`` again and keeps only its id (for de-duplication) until ``purge``.
    """

    async def add_many(
        self, notifications: Sequence[tuple[str, str, bytes]], now: datetime
    ) -> list[bool]:
        """Store (provider, notification id, body) rows, due at once; per row, False when it
        was already there (or earlier in the list)."""
        ...

    async def due(
        self,
        now: datetime,
        limit: int,
        lease_until: datetime | None = None,
        providers: Sequence[str] = (),
    ) -> list[StoredPush]:
        """Unprocessed pushes whose next attempt is due, oldest first, only those of
        ``providers`` when given (inboxes sharing one table each take their own); with
        ``lease_until`` claimed for the caller until then (another worker does not get them
        meanwhile)."""
        ...

    async def mark_done(self, item_id: int, now: datetime) -> None: ...

    async def mark_done_many(self, item_ids: Sequence[int], now: datetime) -> None: ...

    async def mark_failed(self, item_id: int, retry_at: datetime) -> None:
        """Count a failed attempt and try again at ``retry_at``."""
        ...

    async def pending_count(self, providers: Sequence[str] = ()) -> int:
        """Unprocessed pushes (of ``providers`` when given)."""
        ...

    async def next_attempt(self, providers: Sequence[str] = ()) -> datetime | None:
        """When the earliest unprocessed push (of ``providers`` when given) is due (None:
        nothing waits)."""
        ...

    async def purge(self, done_before: datetime) -> int:
        """Forget pushes processed before ``done_before``; return how many went."""
        ...
