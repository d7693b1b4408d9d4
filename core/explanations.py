"""The explanation catalogue: what each status and incident means and what the buyer can do.

Every user-facing sentence about a status or an incident lives here as a plain string literal
marked for the gettext catalog (``N_``), in one place; ``explain``, ``explain_status`` and
``explain_code`` return it in the active language (``core.i18n``). What happened to a parcel
(which incident is open) is worked out in :mod:`core.incidents`; this module only says what
that means.

``explain`` and ``explain_status`` are defined for every ``IncidentReason`` and ``Status``;
``explain_code`` reads a code as a user may type it (``/explain stale``, ``OutForDelivery``).
Imports only the standard library and :mod:`core.models`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from core.i18n import N_, _
from core.models import IncidentReason, Status

__all__ = [
    "Contact",
    "Explanation",
    "explain",
    "explain_code",
    "explain_status",
    "known_codes",
]

Contact = Literal["carrier", "seller", "none"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Plain-language meaning of a status or incident and what the buyer can do.

    ``contact`` says who can actually help: the carrier (it has the parcel), the seller (it
    holds the contract with the carrier and can open a claim or resend), or nobody yet.
    """

    title: str
    what_happened: str
    next_steps: tuple[str, ...]
    contact: Contact


_REASONS: Mapping[IncidentReason, Explanation] = {
    IncidentReason.ADDRESS_ISSUE: Explanation(
        N_("Address problem"),
        N_("The carrier could not deliver because the address looks wrong or incomplete."),
        (
            N_("Check the delivery address in your order (house number, flat, postcode)."),
            N_("Contact the carrier with your tracking number and the correct address."),
            N_(
                "If the address in the order is wrong, ask the seller to update it with the "
                "carrier."
            ),
        ),
        "carrier",
    ),
    IncidentReason.RECIPIENT_UNAVAILABLE: Explanation(
        N_("Nobody was home"),
        N_("The driver tried to deliver but nobody could receive the parcel."),
        (
            N_("Look for a card or message from the carrier with the next step."),
            N_(
                "Most carriers try again the next working day; you can often pick a day or a "
                "pickup point on the carrier's site."
            ),
            N_("Have your tracking number and ID ready if you collect it in person."),
        ),
        "carrier",
    ),
    IncidentReason.REFUSED: Explanation(
        N_("Delivery refused"),
        N_("The parcel was refused at the door and will usually go back to the seller."),
        (
            N_("If you did not mean to refuse it, contact the carrier at once to redeliver."),
            N_("If you refused it on purpose, ask the seller about your refund."),
        ),
        "carrier",
    ),
    IncidentReason.DAMAGED: Explanation(
        N_("Parcel damaged"),
        N_("The carrier reports that the parcel was damaged on the way."),
        (
            N_(
                "If it reaches you, take photos of the box and the contents before opening further."
            ),
            N_("Keep all packaging and labels: claims need them."),
            N_("Report it to the seller within their return window; they claim from the carrier."),
        ),
        "seller",
    ),
    IncidentReason.LOST: Explanation(
        N_("Parcel lost"),
        N_("The carrier reports that it has lost the parcel."),
        (
            N_("Contact the seller: they shipped it and can resend or refund."),
            N_("Keep your order number and this tracking history as evidence."),
            N_(
                "If the seller does not help, open a dispute with the shop or your payment "
                "provider."
            ),
        ),
        "seller",
    ),
    IncidentReason.DESTROYED: Explanation(
        N_("Parcel destroyed"),
        N_("The parcel could not be delivered or returned and was disposed of by the carrier."),
        (
            N_("Contact the seller for a refund or a replacement."),
            N_("Keep your order number and this tracking history as evidence."),
        ),
        "seller",
    ),
    IncidentReason.CUSTOMS_HOLD: Explanation(
        N_("Held at customs"),
        N_("Customs is holding the parcel, often because information or documents are missing."),
        (
            N_("Watch for a message from the carrier or customs asking for information."),
            N_(
                "Have ready: the order confirmation, what you paid, a description of the items "
                "and your ID or tax number if your country needs one."
            ),
            N_("If nothing happens for a few days, ask the seller for the customs paperwork."),
        ),
        "carrier",
    ),
    IncidentReason.DUTIES_DUE: Explanation(
        N_("Import duties to pay"),
        N_("The parcel is waiting until import duties or taxes are paid."),
        (
            N_(
                "Look for a payment request from the carrier; pay only through its official "
                "site or app."
            ),
            N_("Have ready: your tracking number and the amount shown on the notice."),
            N_("If the seller promised duties were included, ask the seller to settle them."),
        ),
        "carrier",
    ),
    IncidentReason.WEATHER_DELAY: Explanation(
        N_("Delayed by weather"),
        N_("Bad weather is slowing the carrier down; the parcel is safe but will be late."),
        (N_("No action needed; it should move again within a few days."),),
        "none",
    ),
    IncidentReason.CARRIER_DELAY: Explanation(
        N_("Carrier delay"),
        N_("The carrier reports a delay in its network (volume, missed flight, processing)."),
        (
            N_("No action needed yet; delays like this usually clear within a few days."),
            N_("If it does not move for a week, contact the seller."),
        ),
        "none",
    ),
    IncidentReason.REJECTED_BY_CARRIER: Explanation(
        N_("Rejected by the carrier"),
        N_(
            "The carrier would not take the parcel as it was sent (packaging, contents or "
            "paperwork)."
        ),
        (N_("Contact the seller: they have to fix the shipment and send it again."),),
        "seller",
    ),
    IncidentReason.PICKUP_MISSED: Explanation(
        N_("Not collected in time"),
        N_("The parcel waited at the pickup point but was not collected before the deadline."),
        (
            N_("Contact the carrier quickly: it may still be held for a short time."),
            N_("If it is already going back, ask the seller to resend or refund."),
        ),
        "carrier",
    ),
    IncidentReason.RECIPIENT_MOVED: Explanation(
        N_("Recipient moved"),
        N_("The carrier reports that the recipient no longer lives at the address."),
        (
            N_("Check the address in your order."),
            N_(
                "Contact the carrier to redirect the parcel, or the seller if it cannot be "
                "redirected."
            ),
        ),
        "carrier",
    ),
    IncidentReason.CANCELLED: Explanation(
        N_("Shipment cancelled"),
        N_("The shipment was cancelled and will not be delivered."),
        (N_("Contact the seller to find out why and to get a refund or a new shipment."),),
        "seller",
    ),
    IncidentReason.RETURNING: Explanation(
        N_("Going back to the seller"),
        N_("The parcel is on its way back to the seller."),
        (
            N_(
                "If you still want it, contact the carrier at once: sometimes the return can be "
                "stopped."
            ),
            N_("Otherwise ask the seller for a refund or a resend once it arrives back."),
        ),
        "carrier",
    ),
    IncidentReason.RETURNED: Explanation(
        N_("Returned to the seller"),
        N_("The parcel arrived back at the seller."),
        (N_("Contact the seller for a refund or to have it sent again."),),
        "seller",
    ),
    IncidentReason.STALE: Explanation(
        N_("No updates for a while"),
        N_("The carrier has not scanned the parcel for longer than usual for this route."),
        (
            N_("Contact the seller first: they can ask the carrier to trace the parcel."),
            N_("If the seller cannot help, contact the carrier with your tracking number."),
            N_("Keep this tracking history: it helps if you need a refund."),
        ),
        "seller",
    ),
    IncidentReason.LATE: Explanation(
        N_("Running late"),
        N_("The parcel has not arrived by the latest expected date."),
        (
            N_("Check the timeline: late parcels often still arrive within a few days."),
            N_("Contact the seller if it was promised by a date; they can chase the carrier."),
        ),
        "seller",
    ),
    IncidentReason.NOT_YET_ACTIVE: Explanation(
        N_("Not scanned by the carrier yet"),
        N_("A shipping label exists, but the carrier has not scanned the parcel for two days."),
        (
            N_("Tracking usually starts within 48 hours after the seller ships."),
            N_(
                "If it still shows nothing, contact the seller: the parcel may not have been "
                "handed over yet."
            ),
        ),
        "seller",
    ),
    IncidentReason.NEVER_HANDED_OVER: Explanation(
        N_("Probably never handed to the carrier"),
        N_(
            "A shipping label exists, but the carrier has never scanned the parcel: it was "
            "probably never handed to the carrier."
        ),
        (
            N_("Ask the seller to ship it or refund you."),
            N_("Keep your order number and this message for the claim (/report)."),
        ),
        "seller",
    ),
    IncidentReason.LOOP: Explanation(
        N_("Sent back to an earlier stop"),
        N_(
            "The parcel was scanned again at a facility it had already left, which usually means "
            "it was mis-sorted."
        ),
        (
            N_("No action needed yet; carriers usually re-route it within a day or two."),
            N_("If it loops again or stops moving, contact the carrier."),
        ),
        "none",
    ),
    IncidentReason.OTHER: Explanation(
        N_("Delivery problem"),
        N_("The carrier reports a problem with this parcel."),
        (
            N_("Open the timeline to read the carrier's own words."),
            N_("Contact the carrier with your tracking number for details."),
        ),
        "carrier",
    ),
}

_STATUSES: Mapping[Status, Explanation] = {
    Status.NOT_FOUND: Explanation(
        N_("Not found yet"),
        N_("The carrier has no information about this number yet."),
        (
            N_("New labels often take up to 48 hours to appear; check back later."),
            N_("Make sure the number and carrier are right."),
            N_("If it still shows nothing after two days, ask the seller to confirm the number."),
        ),
        "none",
    ),
    Status.INFO_RECEIVED: Explanation(
        N_("Label created"),
        N_("The seller created a shipping label; the carrier has not picked the parcel up yet."),
        (
            N_("Wait up to 48 hours for the first carrier scan."),
            N_("If nothing moves after that, contact the seller."),
        ),
        "none",
    ),
    Status.IN_TRANSIT: Explanation(
        N_("In transit"),
        N_("The carrier has the parcel and it is on its way."),
        (
            N_("No action needed; you will hear when it is out for delivery."),
            N_("If it shows no updates for many days, contact the seller, then the carrier."),
        ),
        "none",
    ),
    Status.OUT_FOR_DELIVERY: Explanation(
        N_("Out for delivery"),
        N_("The parcel is on the delivery vehicle and should arrive today."),
        (N_("Make sure someone can receive it, or that a safe place is available."),),
        "none",
    ),
    Status.AVAILABLE_FOR_PICKUP: Explanation(
        N_("Ready for pickup"),
        N_("The parcel is waiting for you at a pickup point or locker."),
        (
            N_("Collect it before the deadline on the carrier's notice, or it goes back."),
            N_("Bring your ID and the tracking number or pickup code."),
        ),
        "none",
    ),
    Status.DELIVERY_FAILED: Explanation(
        N_("Delivery attempt failed"),
        N_("The carrier tried to deliver but could not."),
        (
            N_("Look for a card or message from the carrier with the reason."),
            N_("Most carriers try again; you can often choose a new day or a pickup point."),
        ),
        "carrier",
    ),
    Status.EXCEPTION: Explanation(
        N_("Problem with the parcel"),
        N_("Something is holding the parcel up (customs, address, damage, a return…)."),
        (
            N_("Open the timeline or /explain the reason shown for specific next steps."),
            N_("Contact the carrier with your tracking number if it is unclear."),
        ),
        "carrier",
    ),
    Status.DELIVERED: Explanation(
        N_("Delivered"),
        N_("The carrier says the parcel was delivered."),
        (
            N_(
                "Not there? Check around your door, with neighbours and your building's "
                "reception or mailroom."
            ),
            N_(
                "Still missing after a day: report it to the seller and ask the carrier for "
                "proof of delivery."
            ),
            N_("Keep the tracking history; it is evidence for a claim."),
        ),
        "none",
    ),
    Status.EXPIRED: Explanation(
        N_("Tracking expired"),
        N_("Tracking stopped without the parcel being delivered."),
        (
            N_("Contact the seller: they can ask the carrier what happened."),
            N_("Keep your order number and this tracking history for a refund claim."),
        ),
        "seller",
    ),
}

_ALIASES: Mapping[str, Status | IncidentReason] = {
    "pending": Status.NOT_FOUND,
    "label_created": Status.INFO_RECEIVED,
    "pre_transit": Status.INFO_RECEIVED,
    "transit": Status.IN_TRANSIT,
    "shipped": Status.IN_TRANSIT,
    "ofd": Status.OUT_FOR_DELIVERY,
    "pickup": Status.AVAILABLE_FOR_PICKUP,
    "pick_up": Status.AVAILABLE_FOR_PICKUP,
    "ready_for_pickup": Status.AVAILABLE_FOR_PICKUP,
    "attempt_fail": Status.DELIVERY_FAILED,
    "attempt_failed": Status.DELIVERY_FAILED,
    "failed_attempt": Status.DELIVERY_FAILED,
    "delivery_failure": Status.DELIVERY_FAILED,
    "delivery_attempt_failed": Status.DELIVERY_FAILED,
    "undelivered": Status.DELIVERY_FAILED,
    "problem": Status.EXCEPTION,
    "alert": Status.EXCEPTION,
    "tracking_expired": Status.EXPIRED,
    "not_received": Status.DELIVERED,
    "delivered_not_received": Status.DELIVERED,
    "delivered_but_not_received": Status.DELIVERED,
    "address": IncidentReason.ADDRESS_ISSUE,
    "wrong_address": IncidentReason.ADDRESS_ISSUE,
    "incorrect_address": IncidentReason.ADDRESS_ISSUE,
    "nobody_home": IncidentReason.RECIPIENT_UNAVAILABLE,
    "no_body": IncidentReason.RECIPIENT_UNAVAILABLE,
    "rejected": IncidentReason.REFUSED,
    "damage": IncidentReason.DAMAGED,
    "disposed": IncidentReason.DESTROYED,
    "customs": IncidentReason.CUSTOMS_HOLD,
    "duties": IncidentReason.DUTIES_DUE,
    "duty": IncidentReason.DUTIES_DUE,
    "taxes": IncidentReason.DUTIES_DUE,
    "held_for_payment": IncidentReason.DUTIES_DUE,
    "weather": IncidentReason.WEATHER_DELAY,
    "delayed": IncidentReason.CARRIER_DELAY,
    "delay": IncidentReason.CARRIER_DELAY,
    "cancel": IncidentReason.CANCELLED,
    "canceled": IncidentReason.CANCELLED,
    "return": IncidentReason.RETURNING,
    "returning_to_sender": IncidentReason.RETURNING,
    "returned_to_sender": IncidentReason.RETURNED,
    "stuck": IncidentReason.STALE,
    "no_updates": IncidentReason.STALE,
    "not_moving": IncidentReason.STALE,
    "overdue": IncidentReason.LATE,
    "not_active": IncidentReason.NOT_YET_ACTIVE,
    "not_yet_scanned": IncidentReason.NOT_YET_ACTIVE,
    "inactive": IncidentReason.NOT_YET_ACTIVE,
    "looping": IncidentReason.LOOP,
    "missorted": IncidentReason.LOOP,
}

_BY_CODE: Mapping[str, Status | IncidentReason] = {
    **{status.value: status for status in Status},
    **{reason.value: reason for reason in IncidentReason},
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s\-_./]+")


def _worded(source: Explanation) -> Explanation:
    """``source`` in the active language."""
    return Explanation(
        _(source.title),
        _(source.what_happened),
        tuple(_(step) for step in source.next_steps),
        source.contact,
    )


def explain(reason: IncidentReason) -> Explanation:
    """What an incident means and what to do next (defined for every reason)."""
    return _worded(_REASONS[reason])


def explain_status(status: Status) -> Explanation:
    """What a status means and what to do next (defined for every status)."""
    return _worded(_STATUSES[status])


def known_codes() -> tuple[str, ...]:
    """Every status and incident code ``explain_code`` knows by its canonical name."""
    return tuple(_BY_CODE)


def _normalise_code(text: str) -> str:
    # "OutForDelivery", "out-for delivery" and "OUT_FOR_DELIVERY" all read the same.
    spaced = _CAMEL_BOUNDARY.sub("_", text.strip())
    return _SEPARATORS.sub("_", spaced.casefold()).strip("_")


def explain_code(text: str) -> Explanation | None:
    """Explain a status or incident code as a user may type it, or None when unknown.

    Tolerates case, spaces, dashes, CamelCase vendor names (``InTransit``, ``AttemptFail``)
    and a few everyday words (``customs``, ``stuck``, ``not received``).
    """
    code = _normalise_code(text[:64])
    if not code:
        return None
    alias = _BY_CODE.get(code) or _ALIASES.get(code)
    if isinstance(alias, Status):
        return explain_status(alias)
    if isinstance(alias, IncidentReason):
        return explain(alias)
    return None
