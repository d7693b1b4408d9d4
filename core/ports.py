"""The seams of the core: small typed contracts that outside parts implement.

Each docstring says what an implementer must guarantee. The service depends only on these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.models import (
    Alert,
    ChatRef,
    ChatSettings,
    EtaTold,
    Order,
    OrderId,
    OutboxEntry,
    Shipment,
    ShipmentKey,
    Subscription,
    TrackBatch,
    TrackRequest,
)
from core.replies import Reply

__all__ = [
    "ChatRepository",
    "ChatUnreachable",
    "Clock",
    "DueParcels",
    "Notifier",
    "OrderSource",
    "OutboxRepository",
    "ShipmentRepository",
    "SnapshotWrite",
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


@dataclass(frozen=True, slots=True)
class SnapshotWrite:
    """One parcel's new snapshot, when to look again, and the alerts it caused per chat."""

    shipment: Shipment
    next_check_at: datetime | None
    alerts: tuple[tuple[ChatRef, Alert], ...] = ()


@dataclass(frozen=True, slots=True)
class DueParcels:
    """The parcels due for a poll, most overdue first, and what a poll needs to know of them:
    which have an active subscriber (``followed``), which were pushed recently (``pushed``)."""

    keys: tuple[ShipmentKey, ...] = ()
    followed: frozenset[ShipmentKey] = frozenset()
    pushed: frozenset[ShipmentKey] = frozenset()


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
