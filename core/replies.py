"""Platform-neutral replies and the words parcelbot uses for shipments, timelines and alerts.

A ``Reply`` carries no markup: adapters escape every value and render it their way (HTML on
Telegram, an embed on Discord, plain text on the console).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import carriers, explanations
from core.eta.model import describe as describe_eta
from core.eta.news import NO_ARRIVAL_DATE
from core.i18n import N_, _, format_datetime, format_day, ngettext
from core.models import (
    CarrierMatch,
    ChatRef,
    Order,
    OrderId,
    OrderStatus,
    ProofKind,
    Shipment,
    ShipmentKey,
    Stage,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)
from core.privacy import Context, Field, View, context_of, view

__all__ = [
    "STAGE_LABELS",
    "STATUS_LABELS",
    "Attachment",
    "Button",
    "Reply",
    "ReplyKind",
    "carrier_name",
    "choice_reply",
    "for_chat",
    "for_context",
    "format_local",
    "list_reply",
    "order_line",
    "order_reply",
    "shipment_buttons",
    "shipment_reply",
    "stage_bar",
    "stage_label",
    "stage_of",
    "status_label",
    "timeline_reply",
    "zone",
]


class ReplyKind(StrEnum):
    """What a reply is, so adapters can pick colours/icons and privacy rules."""

    INFO = "info"
    SHIPMENT = "shipment"
    TIMELINE = "timeline"
    ALERT = "alert"
    ERROR = "error"
    CHOICE = "choice"
    ORDER = "order"


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply.

    Either ``url`` (opens a page) or ``action`` + ``args``: pressing it runs the chat command
    ``/<action> <args…>`` for the person who pressed it.
    """

    label: str
    action: str = ""
    args: tuple[str, ...] = ()
    url: str = ""

    @property
    def command(self) -> str:
        """The chat command this button stands for ("" for a link button)."""
        return " ".join(("/" + self.action, *self.args)) if self.action else ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply (e.g. the ``/report`` evidence pack)."""

    filename: str
    content: bytes
    mime_type: str = "text/markdown"


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says: a title, lines of text, labelled fields, buttons and a link.

    ``private`` marks replies with personal data (order details): adapters must not post them
    where others can read. ``shared`` is the same message as the rule in ``core.privacy``
    allows it where others read (``for_context`` picks it); ``owner`` is the user id of the
    person a shared message is about, for the adapter's mention.
    """

    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = ()
    link: str = ""
    kind: ReplyKind = ReplyKind.INFO
    private: bool = False
    attachment: Attachment | None = None
    shared: Reply | None = None
    owner: str = ""

    def plain_text(self) -> str:
        """The reply as plain text, one item a line (the console's rendering)."""
        parts = [self.title, *self.lines]
        parts.extend(f"{name}: {value}" for name, value in self.fields)
        if self.link:
            parts.append(self.link)
        return "\n".join(part for part in parts if part)


def for_context(reply: Reply, context: Context) -> Reply | None:
    """The variant of ``reply`` an adapter may post in ``context``; None: none may be posted
    there (private replies in shared contexts: point to the private chat instead)."""
    if context not in (Context.GROUP, Context.SERVER):
        return reply
    if reply.private or reply.attachment is not None or reply.kind is ReplyKind.CHOICE:
        # A choice asks about one number with buttons that carry it.
        return None
    return reply.shared if reply.shared is not None else reply


def for_chat(
    chat: ChatRef,
    make: Callable[[View], Reply],
    *,
    follower: bool = True,
    shared_voice: Callable[[], AbstractContextManager[object]] | None = None,
) -> Reply:
    """``make``'s reply for ``chat``, with its shared variant attached.

    A group chat gets the shared message itself; a private chat or DM gets the full one with
    the shared variant beside it (a Discord alert may be posted in a server channel), worded
    inside ``shared_voice`` when given (the language of the place it is posted in).
    """
    context = context_of(chat)
    if context is Context.GROUP:
        return make(view(context, follower=follower, owner=chat.user_id))
    full = make(view(context, follower=follower))
    if full.private:
        return full
    with shared_voice() if shared_voice is not None else nullcontext():
        shared = make(view(Context.SERVER, follower=follower, owner=chat.user_id))
    return replace(full, shared=shared)


# English source texts; ``status_label`` / ``stage_label`` give them in the chat's language.
STATUS_LABELS: dict[Status, str] = {
    Status.NOT_FOUND: N_("Not found yet"),
    Status.INFO_RECEIVED: N_("Label created"),
    Status.IN_TRANSIT: N_("In transit"),
    Status.OUT_FOR_DELIVERY: N_("Out for delivery"),
    Status.AVAILABLE_FOR_PICKUP: N_("Ready for pickup"),
    Status.DELIVERY_FAILED: N_("Delivery attempt failed"),
    Status.EXCEPTION: N_("Problem"),
    Status.DELIVERED: N_("Delivered"),
    Status.EXPIRED: N_("Tracking expired"),
}

STAGE_LABELS: dict[Stage, str] = {
    Stage.ORDERED: N_("Ordered"),
    Stage.SHIPPED: N_("Shipped"),
    Stage.IN_TRANSIT: N_("In transit"),
    Stage.OUT_FOR_DELIVERY: N_("Out for delivery"),
    Stage.DELIVERED: N_("Delivered"),
}

_STAGE_OF_STATUS: dict[Status, Stage] = {
    Status.NOT_FOUND: Stage.ORDERED,
    Status.INFO_RECEIVED: Stage.SHIPPED,
    Status.IN_TRANSIT: Stage.IN_TRANSIT,
    Status.EXCEPTION: Stage.IN_TRANSIT,
    Status.EXPIRED: Stage.IN_TRANSIT,
    Status.DELIVERY_FAILED: Stage.OUT_FOR_DELIVERY,
    Status.OUT_FOR_DELIVERY: Stage.OUT_FOR_DELIVERY,
    Status.AVAILABLE_FOR_PICKUP: Stage.OUT_FOR_DELIVERY,
    Status.DELIVERED: Stage.DELIVERED,
}


def status_label(status: Status) -> str:
    """The status in the active language."""
    return _(STATUS_LABELS[status])


def stage_label(stage: Stage) -> str:
    """The stage in the active language."""
    return _(STAGE_LABELS[stage])


def stage_of(status: Status) -> Stage:
    """The stage-bar step a status belongs to."""
    return _STAGE_OF_STATUS[status]


def stage_bar(current: Stage) -> str:
    """``Ordered ▸ Shipped ▸ [In transit] ▸ Out for delivery ▸ Delivered``.

    Steps up to the current one are ticked, the current one is bracketed.
    """
    steps = list(Stage)
    reached = steps.index(current)
    parts: list[str] = []
    for index, step in enumerate(steps):
        label = stage_label(step)
        if index < reached:
            parts.append(f"✓ {label}")
        elif index == reached:
            parts.append(f"[{label}]")
        else:
            parts.append(label)
    return " ▸ ".join(parts)


def zone(name: str) -> tzinfo:
    """The time zone called ``name``; UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_local(moment: datetime, tz_name: str = "UTC", *, with_time: bool = True) -> str:
    """``Mon 3 Mar, 14:05 UTC`` in the given zone; just the day with ``with_time=False``.

    In the active language (``core.i18n``): its weekday and month names, order and clock."""
    tz = zone(tz_name)
    if not with_time:
        return format_day(moment.astimezone(tz).date())
    return format_datetime(moment, tz)


def carrier_name(code: str) -> str:
    """The carrier's display name, or the code itself when it is not in the catalogue."""
    carrier = carriers.get_carrier(code)
    return carrier.name if carrier is not None else code.upper()


_PROOF_KINDS: dict[ProofKind, str] = {
    ProofKind.SIGNATURE: N_("signature"),
    ProofKind.LEFT_AT_DOOR: N_("left at door"),
    ProofKind.NEIGHBOUR: N_("neighbour"),
    ProofKind.PICKUP_POINT: N_("pickup point"),
    ProofKind.PHOTO: N_("photo"),
    ProofKind.OTHER: N_("other"),
}


def proof_kind(kind: ProofKind) -> str:
    """A proof-of-delivery kind in the active language."""
    return _(_PROOF_KINDS[kind])


def shipment_buttons(key: ShipmentKey, *, subscribed: bool, link: str) -> tuple[Button, ...]:
    """Refresh / Timeline / (Un)subscribe, and the carrier's page when it has one."""
    args = (key.number, key.carrier)
    buttons = [
        Button(_("Refresh"), "track", args),
        Button(_("Timeline"), "history", args),
        Button(_("Unsubscribe"), "unsubscribe", (key.number,))
        if subscribed
        else Button(_("Subscribe"), "subscribe", args),
    ]
    if link:
        buttons.append(Button(_("Open carrier page"), url=link))
    return tuple(buttons)


def _tracking_link(shipment: Shipment) -> str:
    carrier = carriers.get_carrier(shipment.carrier)
    return carrier.tracking_url(shipment.number) if carrier is not None else ""


def _view(view_: View | None, group: bool) -> View:
    if view_ is not None:
        return view_
    return view(Context.GROUP if group else Context.PRIVATE)


def scan_text(event: TrackingEvent, tz: str, seen: View) -> str:
    """One scan as the view allows it: the carrier's words and place, or just the status."""
    text = event.description if seen.has(Field.SCAN_TEXT) else status_label(event.status)
    when = format_local(event.time, tz)
    if event.location.strip() and seen.has(Field.PLACE):
        return _("{scan} — {place} ({when})").format(scan=text, place=event.location, when=when)
    return _("{scan} ({when})").format(scan=text, when=when)


def shipment_reply(
    shipment: Shipment,
    *,
    tz: str = "UTC",
    subscribed: bool = False,
    label: str = "",
    group: bool = False,
    now: datetime | None = None,
    seen: View | None = None,
    promised_by: datetime | None = None,
) -> Reply:
    """The answer to /track: stage bar, status, last scan and place, ETA, and what to do.

    What it carries follows ``seen`` (``core.privacy``; without it: a private chat, or a
    group with ``group``). ``promised_by`` is the chat's own order's promise (never the
    shipment's: a promise belongs to the order's verified owner).
    """
    seen = _view(seen, group)
    name = carrier_name(shipment.carrier)
    shown = seen.name(label, shipment.number)
    if label.strip() and seen.has(Field.NUMBER):
        title = _("{label} — {carrier} {number}").format(
            label=label, carrier=name, number=shipment.number
        )
    else:
        title = (
            _("{parcel} — {carrier}").format(parcel=shown, carrier=name)
            if shown != shipment.number
            else f"{name} {shipment.number}"
        )
    lines = [stage_bar(stage_of(shipment.status))]
    status_text = status_label(shipment.status)
    explanation = None
    if shipment.incident is not None:
        explanation = explanations.explain(shipment.incident)
        status_text = _("{status} — {incident}").format(
            status=status_text, incident=explanation.title
        )
    lines.append(_("Status: {status}").format(status=status_text))
    last = shipment.last_event
    if last is not None:
        scan = scan_text(last, tz, seen)
        lines.append(_("Last scan: {scan}").format(scan=scan))
    else:
        lines.append(_("No scans yet."))
    if shipment.status is Status.DELIVERED and shipment.proof is not None:
        detail = shipment.proof.detail if seen.has(Field.PERSON) else ""
        kind = proof_kind(shipment.proof.kind)
        lines.append(
            _("Proof of delivery: {kind}: {detail}").format(kind=kind, detail=detail)
            if detail
            else _("Proof of delivery: {kind}").format(kind=kind)
        )
    if (
        not shipment.is_final
        and shipment.eta is not None
        and shipment.incident not in NO_ARRIVAL_DATE
    ):
        promise = promised_by if seen.has(Field.PROMISE) else None
        lines.extend(describe_eta(shipment.eta, promise, tz, carrier=name, now=now))
    if explanation is not None:
        lines.append(explanation.what_happened)
        lines.extend(f"• {step}" for step in explanation.next_steps)
    numbered = seen.has(Field.NUMBER_BUTTONS)
    link = _tracking_link(shipment) if numbered else ""
    number_field = shipment.number if seen.has(Field.NUMBER) else shown
    return Reply(
        title,
        tuple(lines),
        fields=((_("Carrier"), name), (_("Tracking number"), number_field)),
        buttons=shipment_buttons(shipment.key, subscribed=subscribed, link=link)
        if numbered
        else (),
        link=link,
        kind=ReplyKind.SHIPMENT,
        owner=seen.mention(),
    )


def timeline_reply(
    shipment: Shipment,
    *,
    tz: str = "UTC",
    group: bool = False,
    seen: View | None = None,
    label: str = "",
) -> Reply:
    """Every scan, newest first, with the place and local time (as ``seen`` allows)."""
    seen = _view(seen, group)
    name = carrier_name(shipment.carrier)
    lines = []
    for event in reversed(shipment.events):
        text = event.description if seen.has(Field.SCAN_TEXT) else status_label(event.status)
        when = format_local(event.time, tz)
        if event.location and seen.has(Field.PLACE):
            line = _("{when}: {scan} — {place}").format(when=when, scan=text, place=event.location)
        else:
            line = _("{when}: {scan}").format(when=when, scan=text)
        lines.append(line)
    if not lines:
        lines.append(_("No scans yet."))
    numbered = seen.has(Field.NUMBER_BUTTONS)
    link = _tracking_link(shipment) if numbered else ""
    shown = seen.name(label, shipment.number) if seen.shared else shipment.number
    return Reply(
        _("Timeline — {carrier} {parcel}").format(carrier=name, parcel=shown),
        tuple(lines),
        buttons=(Button(_("Refresh"), "track", (shipment.number, shipment.carrier)),)
        if numbered
        else (),
        link=link,
        kind=ReplyKind.TIMELINE,
        owner=seen.mention(),
    )


def choice_reply(
    number: TrackingNumber,
    matches: tuple[CarrierMatch, ...],
    *,
    order_id: OrderId | None,
    seen: View | None = None,
) -> Reply:
    """Ask which carrier (or order) a number belongs to, with one button per reading.

    The buttons carry the number, so where others read (``seen`` shared) the question is
    private: the adapter points to the private chat instead."""
    buttons: list[Button] = []
    known: set[str] = set()
    for match in matches:
        if match.carrier.code in known:
            continue
        known.add(match.carrier.code)
        buttons.append(Button(match.carrier.name, "track", (number, match.carrier.code)))
    if order_id is not None:
        buttons.insert(0, Button(_("It's a shop order id"), "verify", (order_id,)))
    return Reply(
        _("Which one is {number}?").format(number=number),
        (_("This number fits more than one reading. Pick one and I will remember it."),),
        buttons=tuple(buttons),
        kind=ReplyKind.CHOICE,
        private=seen is not None and seen.shared,
    )


def list_reply(
    subscriptions: list[Subscription],
    shipments: dict[ShipmentKey, Shipment],
    *,
    tz: str,
    seen: View | None = None,
) -> Reply:
    """Active parcels, then the archive."""
    if not subscriptions:
        return Reply(
            _("No parcels yet"),
            (_("Send /subscribe <tracking number> and I will keep an eye on it."),),
        )
    active: list[str] = []
    archived: list[str] = []
    for sub in subscriptions:
        shipment = shipments.get(sub.key)
        name = _view(seen, False).name(sub.label, sub.key.number)
        status = status_label(shipment.status) if shipment else _("waiting for first check")
        carrier = carrier_name(sub.key.carrier)
        if shipment is not None and shipment.last_event is not None:
            when = format_local(shipment.last_event.time, tz, with_time=False)
            line = _("{parcel} ({carrier}): {status}, {when}").format(
                parcel=name, carrier=carrier, status=status, when=when
            )
        else:
            line = _("{parcel} ({carrier}): {status}").format(
                parcel=name, carrier=carrier, status=status
            )
        (archived if sub.archived else active).append(line)
    lines = [*active] if active else [_("No active parcels.")]
    if archived:
        lines.append(_("Archive:"))
        lines.extend(archived)
    return Reply(_("Your parcels"), tuple(lines))


_ORDER_STATUS = {
    OrderStatus.UNPAID: N_("waiting for payment"),
    OrderStatus.ON_HOLD: N_("on hold at the shop"),
    OrderStatus.AWAITING_SHIPMENT: N_("paid, the seller has not shipped it yet"),
    OrderStatus.PARTIALLY_SHIPPING: N_("partly shipped"),
    OrderStatus.AWAITING_COLLECTION: N_("packed, waiting for the carrier to collect it"),
    OrderStatus.IN_TRANSIT: N_("with the carrier"),
    OrderStatus.DELIVERED: N_("delivered"),
    OrderStatus.COMPLETED: N_("completed"),
    OrderStatus.CANCELLED: N_("cancelled"),
}


def order_line(order_id: str, status: OrderStatus | None) -> str:
    """One line naming the shop order a parcel ships; only for the order's verified owner."""
    if status is None:
        return _("Order {order} (its status cannot be read right now).").format(order=order_id)
    return _("Order {order}: {status}.").format(order=order_id, status=_(_ORDER_STATUS[status]))


def order_reply(order: Order, shipments: list[Shipment], *, private: bool = True) -> Reply:
    """An order's state and one line per parcel; private (never posted in groups)."""
    lines = [_("Order status: {status}.").format(status=_(_ORDER_STATUS[order.status]))]
    if not order.shipments:
        lines.append(_("No parcel has been shipped for this order yet."))
    buttons: list[Button] = []
    for shipment in shipments:
        last = shipment.last_event
        parcel = f"{carrier_name(shipment.carrier)} {shipment.number}"
        status = status_label(shipment.status)
        lines.append(
            _("{parcel}: {status} — {scan}").format(
                parcel=parcel, status=status, scan=last.description
            )
            if last
            else _("{parcel}: {status}").format(parcel=parcel, status=status)
        )
        buttons.append(
            Button(
                _("Track {number}").format(number=shipment.number),
                "track",
                (shipment.number, shipment.carrier),
            )
        )
    missing = len(order.shipments) - len(shipments)
    if missing > 0:
        lines.append(
            ngettext(
                "{count} parcel could not be looked up right now.",
                "{count} parcels could not be looked up right now.",
                missing,
            ).format(count=missing)
        )
    return Reply(
        _("Order {order}").format(order=order.order_id),
        tuple(lines),
        buttons=tuple(buttons),
        kind=ReplyKind.ORDER,
        private=private,
    )
