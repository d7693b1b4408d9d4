"""Every seam of the core: the small typed contracts that outside parts implement.

Tracking sources and shops (``core.providers``), storage (``storage``) and the chat adapters
(``bots``) meet the core here. Each docstring says what an implementer must guarantee; the
value objects they exchange live in ``core.models``. This module imports only the standard
library, ``core.models`` and ``core.replies`` (the platform-neutral ``Reply``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

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
    Order,
    OrderId,
    OrderLink,
    OutboxEntry,
    ParcelView,
    Scope,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Subscription,
    TrackBatch,
    TrackRequest,
)
from core.replies import Reply

__all__ = [
    "AttemptRepository",
    "ChatRepository",
    "ChatUnreachable",
    "Clock",
    "GroupSwitch",
    "GuildStore",
    "KeyValueStore",
    "Notifier",
    "OrderIndex",
    "OrderLinkRepository",
    "OrderSource",
    "OutboxRepository",
    "ProactiveChats",
    "ProactiveOutbox",
    "ProactiveShipments",
    "ReadViews",
    "SeenPushes",
    "ShipmentRepository",
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
    """

    async def due(self, now: datetime, limit: int) -> list[OutboxEntry]: ...

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None: ...

    async def mark_failed(self, entry_id: int, retry_at: datetime) -> None: ...

    async def pending_count(self) -> int: ...


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


class ProactiveShipments(ShipmentRepository, Protocol):
    """Parcels, plus webhook bookkeeping and the archive query."""

    async def mark_pushed(self, keys: Sequence[ShipmentKey], at: datetime) -> None:
        """Record that a provider pushed these parcels at ``at``."""
        ...

    async def pushed_since(self, keys: Sequence[ShipmentKey], since: datetime) -> set[ShipmentKey]:
        """The parcels among ``keys`` pushed at or after ``since``."""
        ...

    async def due_parcels(self, now: datetime, limit: int, pushed_since: datetime) -> DueParcels:
        """``due(now, limit)`` in one query with, for those parcels, which have an active
        subscription and which were pushed at or after ``pushed_since``."""
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


class OrderIndex(Protocol):
    """The shop's tracking number → order index, kept current by order webhooks and searches.

    It knows which order ships a number, not who the buyer is: whoever shows an order from it
    must check that the asking chat proved the order is theirs.
    """

    async def find(self, number: str) -> IndexedParcel | None:
        """The order a tracking number ships, or None when the index does not know it."""
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
