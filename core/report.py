"""Paperwork for a buyer: the dispute evidence pack (``/report``) and order history (``/orders``).

``evidence_pack`` writes one Markdown file a buyer can attach to a claim with the seller,
the marketplace or the carrier: ids, carrier, promised and actual dates, every incident, the
full timeline, and a checklist of evidence to gather (the usual "document everything" advice).
Carrier text is escaped so it cannot break the Markdown tables.

``history_reply`` lists a chat's parcels with their order and shop when known, and the
patterns worth knowing: how often a shop's or a carrier's parcels arrived late (delivered on
a later local day than the shop promised) and how long a carrier usually takes.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import explanations
from core.i18n import N_, _, ngettext
from core.models import IncidentReason, OrderLink, Shipment, ShipmentKey, Status, Subscription
from core.replies import (
    Attachment,
    Button,
    Reply,
    ReplyKind,
    carrier_name,
    format_local,
    proof_kind,
    status_label,
    zone,
)

__all__ = [
    "PATTERN_WINDOW",
    "Outcome",
    "evidence_pack",
    "history_reply",
    "outcome",
    "report_filename",
]

PATTERN_WINDOW = 5
"""Patterns look at this many of the most recent finished parcels per shop or carrier."""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or list item."""
    flat = " ".join(text.split())
    for char in ("\\", "|", "`", "*", "[", "]", "<", ">"):
        flat = flat.replace(char, "\\" + char)
    return flat


def _row(*cells: str) -> str:
    """One Markdown table row; each cell is already safe (see ``_md``)."""
    return "| " + " | ".join(cells) + " |"


def report_filename(key: ShipmentKey) -> str:
    """``parcelbot-report-ups-1Z999AA10123456784.md`` (only safe characters)."""
    carrier = _UNSAFE_NAME.sub("-", key.carrier)[:30] or "carrier"
    number = _UNSAFE_NAME.sub("-", key.number)[:60] or "parcel"
    return f"parcelbot-report-{carrier}-{number}.md"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a parcel's delivery went against the shop's promise."""

    finished: bool
    late: bool | None
    """True/False against the promise; None when no promise is known or it is still open."""
    days_late: int = 0
    transit_days: float | None = None
    finished_at: datetime | None = None


def outcome(shipment: Shipment, promised_by: datetime | None, now: datetime, tz: str) -> Outcome:
    """Whether ``shipment`` was (or already is) late against ``promised_by``, by local day."""
    local = zone(tz)
    promised_day = promised_by.astimezone(local).date() if promised_by else None
    transit = None
    if shipment.delivered_at is not None and shipment.shipped_at is not None:
        transit = (shipment.delivered_at - shipment.shipped_at).total_seconds() / 86400
    if shipment.status is Status.DELIVERED and shipment.delivered_at is not None:
        if promised_day is None:
            return Outcome(True, None, transit_days=transit, finished_at=shipment.delivered_at)
        days = (shipment.delivered_at.astimezone(local).date() - promised_day).days
        return Outcome(
            True, days > 0, max(days, 0), transit_days=transit, finished_at=shipment.delivered_at
        )
    finished_at = shipment.last_event.time if shipment.last_event else shipment.checked_at
    if shipment.is_final:
        # Never delivered (lost, returned, expired): late by definition when a promise existed.
        return Outcome(True, True if promised_day else None, finished_at=finished_at)
    # An open parcel is judged as of its last check: after that, it may well have arrived.
    judged = min(now, shipment.checked_at) if shipment.checked_at is not None else now
    if promised_day is not None and judged.astimezone(local).date() > promised_day:
        days = (judged.astimezone(local).date() - promised_day).days
        return Outcome(False, True, days)
    return Outcome(False, None)


FRESH_FOR = timedelta(hours=6)
"""How old an open parcel's last check may be before ``/orders`` says "as of" it."""


def _stale_since(
    shipment: Shipment | None, result: Outcome | None, now: datetime
) -> datetime | None:
    """When an open parcel was last checked, if that is too long ago to speak of it as now."""
    if shipment is None or result is None or result.finished or shipment.checked_at is None:
        return None
    return shipment.checked_at if now - shipment.checked_at > FRESH_FOR else None


def _promise(shipment: Shipment, link: OrderLink | None) -> datetime | None:
    del shipment  # a promise belongs to the chat's order link, never to the shared parcel
    return link.promised_by if link is not None else None


def _incidents(shipment: Shipment) -> list[tuple[datetime | None, IncidentReason, str]]:
    found: list[tuple[datetime | None, IncidentReason, str]] = []
    seen: set[tuple[IncidentReason, str]] = set()
    for event in shipment.events:
        if event.incident is not None and (event.incident, event.description) not in seen:
            seen.add((event.incident, event.description))
            found.append((event.time, event.incident, event.description))
    if shipment.incident is not None and all(item[1] is not shipment.incident for item in found):
        found.append((None, shipment.incident, _("worked out by parcelbot from the timeline")))
    return found


_CHECKLIST = (
    N_("Screenshots of this tracking history and of the carrier's own tracking page."),
    N_("Your order confirmation or receipt (order id, date, price, promised delivery date)."),
    N_("Screenshots of every message with the seller and the carrier, with dates."),
    N_("Photos of the parcel and its label (all sides) before opening it, if you have it."),
    N_("Photos of any damage, of the contents, and of the packaging; keep all the packaging."),
    N_(
        "If it shows delivered but you do not have it: where you looked (door, neighbours, "
        "building reception or mailroom) and when."
    ),
    N_("The delivery photo or signature from the carrier, if it shows one."),
    N_("Names and dates of anyone you spoke to, and any case or ticket numbers."),
)


def evidence_pack(
    shipment: Shipment,
    *,
    now: datetime,
    tz: str = "UTC",
    label: str = "",
    link: OrderLink | None = None,
    tracking_url: str = "",
) -> Attachment:
    """The dispute evidence pack for ``shipment`` as a Markdown ``Attachment``."""
    name = carrier_name(shipment.carrier)
    promised = _promise(shipment, link)
    result = outcome(shipment, promised, now, tz)
    out: list[str] = [
        "# "
        + _("Delivery evidence pack — {carrier} {number}").format(
            carrier=_md(name), number=_md(shipment.number)
        ),
        "",
        _("Prepared by parcelbot on {when}. Times are in {zone}.").format(
            when=format_local(now, tz), zone=_md(tz)
        ),
        "",
        "## " + _("Parcel"),
        "",
        "| | |",
        "|---|---|",
        _row(_("Tracking number"), _md(shipment.number)),
        _row(_("Carrier"), _md(name)),
    ]
    if tracking_url:
        # A catalogue URL, not carrier text; an autolink keeps it clickable.
        page = tracking_url.replace("|", "%7C")
        out.append(_row(_("Carrier tracking page"), f"<{page}>"))
    if link is not None:
        out.append(_row(_("Order id"), _md(link.order_id)))
        if link.shop:
            out.append(_row(_("Shop"), _md(link.shop)))
    if label:
        out.append(_row(_("Your label"), _md(label)))
    status = status_label(shipment.status)
    if shipment.incident is not None:
        status = _("{status} — {incident}").format(
            status=status, incident=explanations.explain(shipment.incident).title
        )
    out += [
        _row(_("Current status"), _md(status)),
        "",
        "## " + _("Promised and actual dates"),
        "",
    ]

    def when(moment: datetime | None) -> str:
        return format_local(moment, tz) if moment is not None else _("not known")

    out.append("- " + _("Promised by the shop: {when}").format(when=when(promised)))
    if shipment.eta is not None:
        out.append(
            "- "
            + _("Carrier's last estimate: {earliest} – {latest}").format(
                earliest=format_local(shipment.eta.earliest, tz),
                latest=format_local(shipment.eta.latest, tz),
            )
        )
    out.append(
        "- " + _("First carrier scan (shipped): {when}").format(when=when(shipment.shipped_at))
    )
    out.append("- " + _("Delivered: {when}").format(when=when(shipment.delivered_at)))
    if shipment.proof is not None:
        kind = proof_kind(shipment.proof.kind)
        out.append(
            "- "
            + (
                _("Proof of delivery: {kind} ({detail})").format(
                    kind=kind, detail=_md(shipment.proof.detail)
                )
                if shipment.proof.detail
                else _("Proof of delivery: {kind}").format(kind=kind)
            )
        )
    if result.late:
        days = result.days_late
        if days and shipment.status is Status.DELIVERED:
            out.append(
                "- "
                + ngettext(
                    "Result: arrived {count} day after the promised date.",
                    "Result: arrived {count} days after the promised date.",
                    days,
                ).format(count=days)
            )
        elif days:
            out.append(
                "- "
                + ngettext(
                    "Result: is {count} day after the promised date.",
                    "Result: is {count} days after the promised date.",
                    days,
                ).format(count=days)
            )
        else:
            out.append("- " + _("Result: not delivered by the promised date."))
    elif result.late is False:
        out.append("- " + _("Result: delivered on time."))
    out += ["", "## " + _("Incidents"), ""]
    found = _incidents(shipment)
    if not found:
        out.append("- " + _("None recorded."))
    for moment, reason, description in found:
        about = explanations.explain(reason)
        stamp = f"{format_local(moment, tz)}: " if moment is not None else ""
        out.append(f"- {stamp}**{_md(about.title)}** — {_md(description)}")
    out += [
        "",
        "## " + _("Full timeline (oldest first)"),
        "",
        _row(_("Time"), _("Status"), _("Scan"), _("Place")),
        "|---|---|---|---|",
    ]
    for event in shipment.events:
        out.append(
            f"| {format_local(event.time, tz)} | {_md(status_label(event.status))} | "
            f"{_md(event.description)} | {_md(event.location)} |"
        )
    if not shipment.events:
        out.append(_row("—", "—", _("No scans yet"), "—"))
    out += ["", "## " + _("Evidence to gather"), ""]
    out += [f"- [ ] {_(item)}" for item in _CHECKLIST]
    steps: tuple[str, ...] = ()
    if shipment.incident is not None:
        steps = explanations.explain(shipment.incident).next_steps
    elif shipment.status is Status.DELIVERED:
        steps = explanations.explain_status(Status.DELIVERED).next_steps
    if steps:
        out += ["", "## " + _("What to do next"), ""]
        out += [f"{index}. {_md(step)}" for index, step in enumerate(steps, 1)]
    out.append("")
    return Attachment(report_filename(shipment.key), "\n".join(out).encode(), "text/markdown")


@dataclass(frozen=True, slots=True)
class _Row:
    key: ShipmentKey
    label: str
    archived: bool
    shipment: Shipment | None
    link: OrderLink | None
    result: Outcome | None


def _pattern(rows: Sequence[_Row], shop: str = "", carrier: str = "") -> str | None:
    """ "3 of your last 5 parcels from X arrived late", over finished parcels with a promise."""
    judged = [r for r in rows if r.result is not None and r.result.finished]
    judged = [r for r in judged if r.result is not None and r.result.late is not None]
    judged.sort(
        key=lambda r: r.result.finished_at.timestamp() if r.result and r.result.finished_at else 0,
        reverse=True,
    )
    recent = judged[:PATTERN_WINDOW]
    if len(recent) < 2:
        return None
    late = sum(1 for r in recent if r.result is not None and r.result.late)
    count = len(recent)
    if shop:
        if late == 0:
            return _("All of your last {count} parcels from {shop} arrived on time.").format(
                count=count, shop=shop
            )
        return _("{late} of your last {count} parcels from {shop} arrived late.").format(
            late=late, count=count, shop=shop
        )
    if late == 0:
        return _("All of your last {count} parcels with {carrier} arrived on time.").format(
            count=count, carrier=carrier
        )
    return _("{late} of your last {count} parcels with {carrier} arrived late.").format(
        late=late, count=count, carrier=carrier
    )


def _transit(rows: Sequence[_Row], carrier: str) -> str | None:
    days = [
        r.result.transit_days
        for r in rows
        if r.result is not None and r.result.transit_days is not None
    ]
    if len(days) < 2:
        return None
    typical = statistics.median(days)
    return _("{carrier} usually takes {days} days from first scan to door.").format(
        carrier=carrier_name(carrier), days=f"{typical:.1f}"
    )


def _history_row(
    key: ShipmentKey,
    label: str,
    archived: bool,
    *,
    shipments: Mapping[ShipmentKey, Shipment],
    links: Mapping[ShipmentKey, OrderLink],
    now: datetime,
    tz: str,
) -> _Row:
    shipment = shipments.get(key)
    link = links.get(key)
    result = outcome(shipment, _promise(shipment, link), now, tz) if shipment else None
    return _Row(key, label, archived, shipment, link, result)


def history_reply(
    subscriptions: Sequence[Subscription],
    shipments: Mapping[ShipmentKey, Shipment],
    links: Mapping[ShipmentKey, OrderLink],
    *,
    now: datetime,
    tz: str = "UTC",
) -> Reply:
    """The chat's order history, newest first, then shop and carrier patterns."""
    if not subscriptions and not links:
        return Reply(
            _("No order history yet"),
            (
                _(
                    "Parcels you follow appear here, active and archived. Send /subscribe "
                    "<tracking number>, or /verify <order id> <postcode> to link a shop order."
                ),
            ),
        )
    rows: list[_Row] = []
    for sub in subscriptions:
        rows.append(
            _history_row(
                sub.key, sub.label, sub.archived, shipments=shipments, links=links, now=now, tz=tz
            )
        )
    followed = {sub.key for sub in subscriptions}
    # Parcels of verified orders the chat never subscribed to are part of its history too.
    for key in sorted(set(links) - followed, key=lambda k: links[k].linked_at, reverse=True):
        rows.append(_history_row(key, "", False, shipments=shipments, links=links, now=now, tz=tz))
    lines: list[str] = []
    for row in rows[:20]:
        shipment, link, result = row.shipment, row.link, row.result
        name = row.label or row.key.number
        parts = [f"{name} — {carrier_name(row.key.carrier)}"]
        if link is not None:
            parts.append(
                _("order {order} from {shop}").format(order=link.order_id, shop=link.shop)
                if link.shop
                else _("order {order}").format(order=link.order_id)
            )
        status = status_label(shipment.status) if shipment else _("waiting for first check")
        if shipment is not None and shipment.delivered_at is not None:
            status += f" {format_local(shipment.delivered_at, tz, with_time=False)}"
        if result is not None and result.late:
            status += " " + ngettext(
                "({count} day late)", "({count} days late)", result.days_late
            ).format(count=result.days_late)
        elif result is not None and result.late is False:
            status += " " + _("(on time)")
        stale = _stale_since(shipment, result, now)
        if stale is not None:
            status += " " + _("as of {when}").format(when=format_local(stale, tz))
        archived = " " + _("[archived]") if row.archived else ""
        lines.append(f"• {', '.join(parts)}: {status}{archived}")
    if len(rows) > 20:
        older = len(rows) - 20
        lines.append(
            ngettext("…and {count} older parcel.", "…and {count} older parcels.", older).format(
                count=older
            )
        )
    patterns: list[str] = []
    shops: dict[str, list[_Row]] = {}
    carriers_seen: dict[str, list[_Row]] = {}
    for row in rows:
        if row.link is not None and row.link.shop:
            shops.setdefault(row.link.shop, []).append(row)
        carriers_seen.setdefault(row.key.carrier, []).append(row)
    for shop, shop_rows in shops.items():
        line = _pattern(shop_rows, shop=shop)
        if line:
            patterns.append(line)
    for carrier, carrier_rows in carriers_seen.items():
        line = _pattern(carrier_rows, carrier=carrier_name(carrier))
        if line:
            patterns.append(line)
        typical = _transit(carrier_rows, carrier)
        if typical:
            patterns.append(typical)
    if patterns:
        lines.append(_("Patterns:"))
        lines.extend(f"• {line}" for line in patterns)
    return Reply(
        _("Your order history"),
        tuple(lines),
        buttons=(Button(_("Parcels"), "list"),),
        kind=ReplyKind.INFO,
        private=any(row.link is not None for row in rows),
    )
