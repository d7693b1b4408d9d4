"""The core's value objects: frozen dataclasses and closed enums.

Everything the core exchanges with providers, storage and adapters is one of these types;
the contracts they travel through are in ``core.ports``. This module imports only the
standard library. Times are timezone-aware UTC ``datetime`` values; a naive datetime is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple, NewType

__all__ = [
    "FINAL_STATUSES",
    "Alert",
    "AlertKind",
    "Attempts",
    "Backlog",
    "Carrier",
    "CarrierMatch",
    "ChatRef",
    "ChatSettings",
    "ChatView",
    "DueParcels",
    "Eta",
    "EtaSource",
    "EtaTold",
    "GuildSettings",
    "IncidentReason",
    "IndexedParcel",
    "MemberRoute",
    "Observation",
    "Order",
    "OrderId",
    "OrderLink",
    "OrderStatus",
    "OutboxEntry",
    "ParcelDetails",
    "ParcelView",
    "Platform",
    "PollStats",
    "Preference",
    "ProofKind",
    "ProofOfDelivery",
    "Scope",
    "Shipment",
    "ShipmentKey",
    "ShopPush",
    "ShopPushKind",
    "SnapshotWrite",
    "Stage",
    "Status",
    "StoredPush",
    "Subscription",
    "SyncStats",
    "TrackBatch",
    "TrackRequest",
    "TrackingEvent",
    "TrackingNumber",
]

TrackingNumber = NewType("TrackingNumber", str)
"""A tracking number after normalisation: trimmed, no spaces or dashes, upper-case."""

OrderId = NewType("OrderId", str)
"""A shop's order id after normalisation (TikTok Shop: a long all-digit string)."""


class Platform(StrEnum):
    """Where a chat lives."""

    CONSOLE = "console"
    TELEGRAM = "telegram"
    DISCORD = "discord"


class Status(StrEnum):
    """A shipment's state, the same for every provider (see statuses.md §1)."""

    NOT_FOUND = "not_found"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERY_FAILED = "delivery_failed"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    EXPIRED = "expired"


class IncidentReason(StrEnum):
    """Why a delivery went wrong; provider incidents and derived ones share this enum."""

    ADDRESS_ISSUE = "address_issue"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable"
    REFUSED = "refused"
    DAMAGED = "damaged"
    LOST = "lost"
    DESTROYED = "destroyed"
    CUSTOMS_HOLD = "customs_hold"
    DUTIES_DUE = "duties_due"
    WEATHER_DELAY = "weather_delay"
    CARRIER_DELAY = "carrier_delay"
    REJECTED_BY_CARRIER = "rejected_by_carrier"
    PICKUP_MISSED = "pickup_missed"
    RECIPIENT_MOVED = "recipient_moved"
    CANCELLED = "cancelled"
    RETURNING = "returning"
    RETURNED = "returned"
    STALE = "stale"
    LATE = "late"
    NOT_YET_ACTIVE = "not_yet_active"
    NEVER_HANDED_OVER = "never_handed_over"
    LOOP = "loop"
    OTHER = "other"


# Incidents after which the carrier will not move the parcel again.
_TERMINAL_INCIDENTS = frozenset(
    {
        IncidentReason.LOST,
        IncidentReason.DESTROYED,
        IncidentReason.RETURNED,
        IncidentReason.CANCELLED,
    }
)

FINAL_STATUSES = frozenset({Status.DELIVERED, Status.EXPIRED})
"""Statuses after which polling stops (exceptions are final only with a terminal incident)."""


class Stage(StrEnum):
    """The five steps of the stage bar a buyer sees."""

    ORDERED = "ordered"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"


class OrderStatus(StrEnum):
    """A shop order's own state, before and beside its parcels (TikTok Shop vocabulary)."""

    UNPAID = "unpaid"
    ON_HOLD = "on_hold"
    AWAITING_SHIPMENT = "awaiting_shipment"
    PARTIALLY_SHIPPING = "partially_shipping"
    AWAITING_COLLECTION = "awaiting_collection"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Preference(StrEnum):
    """Which alerts a chat or a subscription wants."""

    ALL = "all"
    MILESTONES = "milestones"
    EXCEPTIONS = "exceptions"
    OFF = "off"


class EtaSource(StrEnum):
    """Where an arrival window came from."""

    CARRIER = "carrier"
    LEARNED = "learned"
    PRIOR = "prior"
    COMBINED = "combined"
    PROMISE = "promise"


class ProofKind(StrEnum):
    """How a delivery was confirmed."""

    SIGNATURE = "signature"
    LEFT_AT_DOOR = "left_at_door"
    NEIGHBOUR = "neighbour"
    PICKUP_POINT = "pickup_point"
    PHOTO = "photo"
    OTHER = "other"


class AlertKind(StrEnum):
    """What an alert tells a subscriber."""

    SHIPPED = "shipped"
    MOVED = "moved"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    INCIDENT = "incident"
    ETA_CHANGED = "eta_changed"
    LATE = "late"
    DELIVERY_CHECK = "delivery_check"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier in the catalogue: a stable code, a display name and its tracking page."""

    code: str
    name: str
    url_template: str = ""
    region: str = ""
    services: tuple[str, ...] = ()

    def tracking_url(self, number: str) -> str:
        """The carrier's public tracking page for ``number``, or "" when it has none."""
        return self.url_template.format(number=number) if self.url_template else ""


@dataclass(frozen=True, slots=True)
class CarrierMatch:
    """One reading of a number: which carrier it may belong to and how sure we are.

    ``check_digit_valid`` is True/False when the format has a check digit, and None when
    the carrier publishes none (the match is by format only).
    """

    carrier: Carrier
    number: TrackingNumber
    check_digit_valid: bool | None
    format_name: str = ""
    country: str = ""


class ShipmentKey(NamedTuple):
    """Identifies one parcel: the same number at two carriers is two parcels.

    A tuple: a poll looks parcels up by key a dozen times each, and a tuple hashes and
    compares in C where a frozen dataclass runs Python code for both."""

    carrier: str
    number: TrackingNumber

    def __str__(self) -> str:
        return f"{self.carrier}:{self.number}"


@dataclass(frozen=True, slots=True)
class TrackRequest:
    """A number to look up, with the carrier we believe it belongs to."""

    number: TrackingNumber
    carrier: str
    first_seen: datetime | None = None

    @property
    def key(self) -> ShipmentKey:
        return ShipmentKey(self.carrier, self.number)


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One carrier scan. ``time`` is aware UTC; ``raw_code`` keeps the provider's own code."""

    time: datetime
    status: Status
    description: str
    location: str = ""
    raw_code: str = ""
    incident: IncidentReason | None = None


@dataclass(frozen=True, slots=True)
class ProofOfDelivery:
    """How the parcel was handed over, e.g. signed by a name or left at the front door."""

    kind: ProofKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Eta:
    """An arrival window: earliest/latest are a calibrated P10–P90 range (aware UTC)."""

    earliest: datetime
    latest: datetime
    most_likely: datetime
    source: EtaSource
    confidence: float = 0.8
    based_on: int = 0
    """How many past deliveries a learned estimate comes from (0 when unknown or not ours)."""


@dataclass(frozen=True, slots=True)
class Shipment:
    """The latest known snapshot of one parcel.

    ``events`` are ordered oldest first. ``incident`` is the open incident, if any (provider
    or derived); ``promised_by`` is the latest date the shop promised.
    """

    carrier: str
    number: TrackingNumber
    status: Status
    events: tuple[TrackingEvent, ...] = ()
    eta: Eta | None = None
    promised_by: datetime | None = None
    checked_at: datetime | None = None
    delivered_at: datetime | None = None
    proof: ProofOfDelivery | None = None
    incident: IncidentReason | None = None
    provider: str = ""
    shipped_at: datetime | None = None
    first_seen: datetime | None = None
    origin: str = ""
    destination: str = ""

    def rechecked(
        self,
        checked_at: datetime | None,
        first_seen: datetime | None,
        events: tuple[TrackingEvent, ...] | None = None,
    ) -> Shipment:
        """This snapshot with another check time, journey start and (optionally) history; every
        other field is shared.

        Runs for every parcel of every poll, so the copy skips the frozen dataclass's
        ``__init__`` (one ``object.__setattr__`` per field) and fills each slot directly: less
        than half the cost of calling ``Shipment(...)``, a quarter of ``dataclasses.replace``.
        ``Shipment`` has no ``__post_init__``; ``_SHIPMENT_SLOTS`` fails the import if the
        fields ever differ from the ones set here."""
        copy = _new_object(Shipment)
        _set_carrier(copy, self.carrier)
        _set_number(copy, self.number)
        _set_status(copy, self.status)
        _set_events(copy, self.events if events is None else events)
        _set_eta(copy, self.eta)
        _set_promised_by(copy, self.promised_by)
        _set_checked_at(copy, checked_at)
        _set_delivered_at(copy, self.delivered_at)
        _set_proof(copy, self.proof)
        _set_incident(copy, self.incident)
        _set_provider(copy, self.provider)
        _set_shipped_at(copy, self.shipped_at)
        _set_first_seen(copy, first_seen)
        _set_origin(copy, self.origin)
        _set_destination(copy, self.destination)
        return copy

    @property
    def key(self) -> ShipmentKey:
        return ShipmentKey(self.carrier, self.number)

    @property
    def last_event(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None

    @property
    def is_final(self) -> bool:
        """True when the carrier will not move this parcel again."""
        if self.status in FINAL_STATUSES:
            return True
        return self.status is Status.EXCEPTION and self.incident in _TERMINAL_INCIDENTS


_SHIPMENT_SLOTS = (
    "carrier",
    "number",
    "status",
    "events",
    "eta",
    "promised_by",
    "checked_at",
    "delivered_at",
    "proof",
    "incident",
    "provider",
    "shipped_at",
    "first_seen",
    "origin",
    "destination",
)
"""Every field of ``Shipment``, in order: what ``Shipment.rechecked`` sets."""
if tuple(spec.name for spec in fields(Shipment)) != _SHIPMENT_SLOTS:
    raise TypeError("Shipment.rechecked must set every field of Shipment")
_new_object = object.__new__
(
    _set_carrier,
    _set_number,
    _set_status,
    _set_events,
    _set_eta,
    _set_promised_by,
    _set_checked_at,
    _set_delivered_at,
    _set_proof,
    _set_incident,
    _set_provider,
    _set_shipped_at,
    _set_first_seen,
    _set_origin,
    _set_destination,
) = (vars(Shipment)[name].__set__ for name in _SHIPMENT_SLOTS)


@dataclass(frozen=True, slots=True)
class Order:
    """A shop order and the parcels it was shipped in (none before shipping)."""

    order_id: OrderId
    shop: str
    status: OrderStatus
    shipments: tuple[TrackRequest, ...] = ()
    placed_at: datetime | None = None
    promised_by: datetime | None = None
    postcode: str = ""
    phone_last4: str = ""
    country: str = ""
    """Where the order is going (ISO 3166-1 alpha-2), when the shop says."""


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Who is talking: the platform, the chat (DM, group or channel) and the person.

    ``is_group`` is True for chats other people can read; personal data never goes there.
    ``language`` is the language the platform reports for this message (Telegram's
    ``language_code``, Discord's locale; "" when none): a hint, not part of the chat's
    identity (``core.commands`` stores it as the chat's language until one is chosen).
    """

    platform: Platform
    chat_id: str
    user_id: str
    is_group: bool = False
    language: str = field(default="", compare=False)

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """Per-chat preferences. Quiet hours are local ``HH:MM`` strings in ``timezone``.

    ``language`` is the chat's language (a ``core.i18n.LANGUAGES`` code; "" not known yet:
    English); ``language_chosen`` says the chat picked it with ``/language``, so the language
    its platform reports no longer replaces it.
    """

    preference: Preference = Preference.ALL
    timezone: str = ""
    """The chat's time zone (an IANA name); "" when it chose none: the bot's default zone
    (``ServiceConfig.default_timezone``) applies, see ``zoned``."""
    quiet_start: str = ""
    quiet_end: str = ""
    paused: bool = False
    language: str = ""
    language_chosen: bool = False

    def zoned(self, default: str) -> ChatSettings:
        """These settings with ``default`` as the time zone when the chat chose none (to show
        and judge times in; what is saved keeps "")."""
        return self if self.timezone else replace(self, timezone=default)


@dataclass(frozen=True, slots=True)
class EtaTold:
    """What one chat has been told about a parcel's arrival (days in the chat's time zone)."""

    first_latest: date
    """The latest day first promised: the shop's promise, else the first window's last day."""
    day: date
    """The most likely day this chat was last told."""
    at: datetime
    """When it was last told."""
    late: bool = False
    """Whether this chat has been told the parcel is running late."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat following a parcel. ``archived`` subscriptions form the order history.

    ``told`` is what the chat has been told about the parcel's arrival (None: nothing yet).
    """

    chat: ChatRef
    key: ShipmentKey
    label: str = ""
    preference: Preference | None = None
    muted: bool = False
    archived: bool = False
    created_at: datetime | None = None
    told: EtaTold | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a subscriber should hear about. ``dedupe_key`` is unique per parcel+change."""

    kind: AlertKind
    key: ShipmentKey
    dedupe_key: str
    event: TrackingEvent | None = None
    incident: IncidentReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert waiting to be delivered to one chat."""

    id: int
    chat: ChatRef
    alert: Alert
    created_at: datetime
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class TrackBatch:
    """The result of a batch lookup: what was found and, per number, what went wrong.

    One bad number never fails the batch; it shows up in ``errors`` instead.
    """

    shipments: dict[ShipmentKey, Shipment] = field(default_factory=dict)
    errors: dict[ShipmentKey, Exception] = field(default_factory=dict)


class Scope(StrEnum):
    """What a count of failed ownership proofs is about (``core.ownership``)."""

    USER = "user"
    ORDER = "order"


@dataclass(frozen=True, slots=True)
class Attempts:
    """A subject's failed proofs in the current window and its lockout history."""

    failures: int = 0
    window_start: datetime | None = None
    locked_until: datetime | None = None
    lockouts: int = 0


class SnapshotWrite(NamedTuple):
    """One parcel's new snapshot, when to look again, and the alerts it caused per chat.

    ``news_due_at``, with ``news_epoch``, is what a poll that judged every follower's
    estimate and lateness news found (``core.eta.news.next_news_at``, the earliest over
    them): no need to judge them again before then while the snapshot stays as it is. It is
    stored only if the parcel's news epoch (``DueParcels.news_epoch``) is still the one the
    poll read, that is, no chat started following the parcel, changed its time zone or got a
    new promise meanwhile. Without it (None) a changed snapshot forgets any earlier value
    and an unchanged one keeps it.

    A tuple: a poll makes one per parcel, and a frozen dataclass costs twice as much to make.
    """

    shipment: Shipment
    next_check_at: datetime | None
    alerts: tuple[tuple[ChatRef, Alert], ...] = ()
    news_due_at: datetime | None = None
    news_epoch: int | None = None


@dataclass(frozen=True, slots=True)
class DueParcels:
    """The parcels due for a poll, most overdue first, and what a poll needs to know of them:
    which have an active subscriber (``followed``), which were pushed recently (``pushed``),
    and — when they were claimed for this poller — when each was due (``due_at``). Also, per
    parcel, its news epoch and, when known, from when its followers could have estimate or
    lateness news while its snapshot stays the same (``news_due_at``; see
    ``SnapshotWrite``)."""

    keys: tuple[ShipmentKey, ...] = ()
    followed: frozenset[ShipmentKey] = frozenset()
    pushed: frozenset[ShipmentKey] = frozenset()
    due_at: Mapping[ShipmentKey, datetime] = field(default_factory=dict)
    news_due_at: Mapping[ShipmentKey, datetime] = field(default_factory=dict)
    news_epoch: Mapping[ShipmentKey, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderLink:
    """A chat's parcel and the shop order it came from (known after ``/verify``)."""

    key: ShipmentKey
    order_id: OrderId
    linked_at: datetime
    shop: str = ""
    promised_by: datetime | None = None


@dataclass(frozen=True, slots=True)
class IndexedParcel:
    """One tracking number and the shop order (and package) it ships: a row of the shop's
    order index. It says nothing about who the buyer is."""

    number: TrackingNumber
    carrier: str
    shop_id: str
    order_id: OrderId
    package_id: str
    updated_at: datetime


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
    indexed: IndexedParcel | None
    links: dict[ShipmentKey, OrderLink]


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """One Discord server's choices. Public alerts need both a channel and ``allow_public``.
    ``language`` is the server's locale as its interactions report it (a
    ``core.i18n.LANGUAGES`` code, "" unknown): alerts posted in its channel are worded in it."""

    guild_id: int
    alerts_channel_id: int | None = None
    allow_public: bool = False
    language: str = ""

    @property
    def public_alerts(self) -> bool:
        """Whether members' opted-in alerts may be posted in the alerts channel."""
        return self.allow_public and self.alerts_channel_id is not None


@dataclass(frozen=True, slots=True)
class MemberRoute:
    """Where one Discord member's alerts go and what we know about reaching them.

    ``public_guild_id``: the server whose alerts channel the member opted in to (None: DM).
    ``home_*``: the channel where the member last subscribed (to tell them about closed DMs).
    ``dm_closed``/``dm_notice_sent``: the last DM failed / the member was told about it.
    """

    user_id: int
    public_guild_id: int | None = None
    home_guild_id: int | None = None
    home_channel_id: int | None = None
    dm_closed: bool = False
    dm_notice_sent: bool = False


@dataclass(frozen=True, slots=True)
class ParcelDetails:
    """What a shop knows about a parcel besides its regions; ``None`` means unknown.

    Postcodes are read as prefixes, most significant digit first (Brazilian CEPs, US ZIP
    codes and the like are geographic in their leading digits); ``origin_zip`` also stands in
    for the sender, since one seller ships from one place. ``freight`` is what the buyer paid
    for shipping (it follows distance and service), ``weight_g`` the total weight in grams.
    """

    origin_zip: str | None = None
    destination_zip: str | None = None
    freight: float | None = None
    weight_g: float | None = None
    items: int | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """One delivered parcel, what arrival estimates learn from (``core.eta``). Times are
    aware; ``handed_over_at`` is the first carrier scan."""

    carrier: str
    service: str
    origin: str
    destination: str
    ordered_at: datetime
    handed_over_at: datetime | None
    delivered_at: datetime
    promised_by: datetime | None = None
    details: ParcelDetails | None = None
    """Postcodes, freight, weight and item count when the shop told us (sharper estimates)."""


@dataclass(frozen=True, slots=True)
class PollStats:
    """What one poll cycle (or one ``ingest``) did.

    ``checked`` parcels were asked about, ``calls`` provider requests made, ``changed`` parcels
    had new events, ``alerts`` outbox rows were queued, ``errors`` parcels could not be
    refreshed, ``archived`` parcels went to the archive, ``skipped`` pushes were older than
    what was stored.
    """

    checked: int = 0
    changed: int = 0
    alerts: int = 0
    errors: int = 0
    calls: int = 0
    archived: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Backlog:
    """Work waiting now: alerts due for sending and parcels due for a check.

    ``outbox_due`` counts unsent alerts whose next attempt is due, leaving out paused chats
    (nothing can reach them) and alerts held for quiet hours or a retry later;
    ``oldest_alert`` is when the oldest of them was queued. ``oldest_check`` is when the
    most overdue parcel was due for a check (None: nothing is overdue).
    """

    outbox_due: int
    oldest_alert: datetime | None
    parcels_due: int
    oldest_check: datetime | None


class ShopPushKind(StrEnum):
    """What a shop's push is about, in the core's words."""

    ORDER = "order"
    """An order or its packages changed (status, address, shipping, cancel, return)."""
    DEAUTHORISED = "deauthorised"
    """The seller withdrew the app's authorisation."""
    AUTH_EXPIRING = "auth_expiring"
    """The seller must authorise the app again soon."""
    OTHER = "other"
    """Anything else; nothing to do."""


@dataclass(frozen=True, slots=True)
class ShopPush:
    """A verified push from a shop: which orders and packages to read again."""

    kind: ShopPushKind
    shop_id: str = ""
    order_ids: tuple[OrderId, ...] = ()
    package_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredPush:
    """A verified push kept in the push inbox until processed (``attempts`` failed tries so
    far). ``body`` is the raw bytes as received; ``received_at`` when it was stored.

    ``decoded`` is the snapshot the receiving process already read from ``body`` when it
    accepted the push (its ``checked_at`` aside), handed to that process's worker so the body
    is not decoded twice; it is never stored, so it is None after a restart or in another
    process, and the body is decoded again.
    """

    id: int
    provider: str
    notification_id: str
    body: bytes = field(repr=False)
    received_at: datetime
    attempts: int = 0
    decoded: Shipment | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SyncStats:
    """What one search of the shop's updated orders did (``core.shop_sync``)."""

    indexed: int = 0
    new: int = 0
    registered: int = 0
    alerts: int = 0
