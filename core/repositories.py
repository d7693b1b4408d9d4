"""The storage the proactive side of the service needs, beyond the basic ports.

These protocols extend the repositories of ``core.ports`` with what polling in batches,
webhook pushes, digests, the archive and order history need. ``storage.Database`` implements
them all; each docstring says what an implementer must guarantee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.models import ChatRef, ChatSettings, OrderId, Shipment, ShipmentKey, Subscription
from core.ownership import Attempts, Scope
from core.ports import (
    ChatRepository,
    DueParcels,
    OutboxRepository,
    ShipmentRepository,
    SubscriptionRepository,
)

__all__ = [
    "AttemptRepository",
    "ChatView",
    "IndexedOrder",
    "OrderIndex",
    "OrderLink",
    "OrderLinkRepository",
    "ParcelView",
    "ProactiveChats",
    "ProactiveOutbox",
    "ProactiveShipments",
    "ReadViews",
    "Store",
]


@dataclass(frozen=True, slots=True)
class OrderLink:
    """A chat's parcel and the shop order it came from (known after ``/verify``)."""

    key: ShipmentKey
    order_id: OrderId
    linked_at: datetime
    shop: str = ""
    promised_by: datetime | None = None


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


class IndexedOrder(Protocol):
    """The shop order a tracking number ships (a row of the order index)."""

    @property
    def order_id(self) -> OrderId: ...

    @property
    def shop_id(self) -> str: ...


class OrderIndex(Protocol):
    """The shop's tracking number → order index, kept current by order webhooks and searches.

    It knows which order ships a number, not who the buyer is: whoever shows an order from it
    must check that the asking chat proved the order is theirs.
    """

    async def find(self, number: str) -> IndexedOrder | None:
        """The order a tracking number ships, or None when the index does not know it."""
        ...


class AttemptRepository(Protocol):
    """Failed ownership proofs per (scope, subject), kept across restarts
    (``core.ownership``). Subjects are opaque strings chosen by the service."""

    async def get(self, scope: Scope, subject: str) -> Attempts: ...

    async def put(self, scope: Scope, subject: str, state: Attempts) -> None: ...

    async def clear(self, scope: Scope, subject: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ChatView:
    """What a command first needs about the chat: its settings, the carrier it once picked
    for the number asked about (None: never) and its subscriptions (archived too, newest
    first, as ``SubscriptionRepository.for_chat`` lists them)."""

    settings: ChatSettings
    carrier_pick: str | None
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True, slots=True)
class ParcelView:
    """What ``/track`` needs about one parcel for one chat: the stored snapshot (None: never
    saved), the chat's subscription (active or archived), the order index entry for the
    number and the chat's order links by parcel."""

    shipment: Shipment | None
    subscription: Subscription | None
    indexed: IndexedOrder | None
    links: dict[ShipmentKey, OrderLink]


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
