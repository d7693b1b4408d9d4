"""Alerts: what changed between two snapshots of a parcel, and how to say it.

``diff(old, new, now)`` compares the stored snapshot with a fresh one and returns the alerts
the change deserves. Each alert carries a **dedupe key** built only from the parcel key and
the change that caused it (a scan's time and status, a reason, a date) — never from the
polling time nor from the provider that reported it — so seeing the same change twice, from
one provider or two, yields the same key and the outbox's UNIQUE(chat, dedupe_key) drops the
repeat.

Rules, per poll:

- **shipped**: the first carrier scan appeared and the parcel is now in transit (key: once
  per parcel). A poll that already finds it further along says only the furthest state.
- **current state** (when there are new events or the status changed): a status change to
  out for delivery / ready for pickup / delivered / expired gives that milestone; a change to
  delivery failed / exception, or a new provider reason, gives an incident; otherwise the
  newest new event gives one ``moved`` update (backfilled older scans give none). Intermediate
  states seen only in between two polls are not replayed.
- **derived incidents** (late, not yet active, stale, loop; see ``core.incidents``): one alert
  when one opens that was not open for the old snapshot at its ``checked_at``.
- **eta_changed**: the most likely arrival day changed (a candidate: each chat hears of it only
  when it moved a day or more from the day that chat was last told, at most once a day, see
  ``core.eta.news``).
- **delivery_check**: a day after delivery, once, ask whether the parcel really arrived.
- **First snapshot** (``old is None``): no backlog. At most one alert, for the open incident
  (provider or derived) — the only thing worth interrupting someone who just subscribed; its
  key is the same one a later diff would use, so it is never sent twice.

``Alert.detail`` holds the previous most likely date (ISO) for ``eta_changed`` and the proof
of delivery phrase for ``delivered``; it is empty otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from core.explanations import explain, explain_status
from core.i18n import _, in_english
from core.incidents import (
    DELIVERY_CHECK_AFTER,
    DELIVERY_CHECK_WINDOW,
    DERIVED_REASONS,
    Assessment,
    assess,
    delivery_check_at,
    delivery_check_due,
    derive_all,
    find_loop,
    provider_incident,
)
from core.models import (
    Alert,
    AlertKind,
    IncidentReason,
    Preference,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    Status,
    TrackingEvent,
)
from core.privacy import Field, View
from core.replies import Button, Reply, ReplyKind, format_local, scan_text

__all__ = [
    "DELIVERY_CHECK_AFTER",
    "DELIVERY_CHECK_WINDOW",
    "NEVER_ACTIVATED",
    "PREFERENCE_KINDS",
    "alert_reply",
    "delivery_check_at",
    "delivery_check_due",
    "diff",
    "event_key",
    "expiry_alert",
    "proof_text",
    "scan_identity",
    "wanted",
]

PREFERENCE_KINDS: Mapping[Preference, frozenset[AlertKind]] = {
    Preference.ALL: frozenset(AlertKind),
    Preference.MILESTONES: frozenset(
        {
            AlertKind.SHIPPED,
            AlertKind.OUT_FOR_DELIVERY,
            AlertKind.AVAILABLE_FOR_PICKUP,
            AlertKind.DELIVERED,
            AlertKind.INCIDENT,
            AlertKind.LATE,
            AlertKind.EXPIRED,
            AlertKind.DELIVERY_CHECK,
        }
    ),
    # Failed delivery attempts are incidents, so they pass here too.
    Preference.EXCEPTIONS: frozenset({AlertKind.INCIDENT, AlertKind.LATE, AlertKind.EXPIRED}),
    Preference.OFF: frozenset(),
}
"""Which alert kinds each preference lets through."""

_UNSCANNED = frozenset({Status.NOT_FOUND, Status.INFO_RECEIVED})
_PROBLEM = frozenset({Status.DELIVERY_FAILED, Status.EXCEPTION})
_MILESTONE_OF: Mapping[Status, AlertKind] = {
    Status.OUT_FOR_DELIVERY: AlertKind.OUT_FOR_DELIVERY,
    Status.AVAILABLE_FOR_PICKUP: AlertKind.AVAILABLE_FOR_PICKUP,
    Status.DELIVERED: AlertKind.DELIVERED,
    Status.EXPIRED: AlertKind.EXPIRED,
}
# Milestones that happen once per parcel: their key names no event, so an edited or
# re-sent delivery scan cannot announce the same delivery twice.
_ONCE = frozenset({Status.DELIVERED, Status.EXPIRED})
# An ETA means little once the parcel is on the van, waiting at a pickup point, or done.
_NO_ETA_NEWS = frozenset(
    {Status.OUT_FOR_DELIVERY, Status.AVAILABLE_FOR_PICKUP, Status.DELIVERED, Status.EXPIRED}
)


def event_key(event: TrackingEvent) -> str:
    """A stable identity for one scan: its UTC time, status and provider code.

    Description and location text are left out on purpose: carriers edit them.
    """
    stamp = event.time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}/{event.status.value}/{event.raw_code[:40] or '-'}"


def scan_identity(event: TrackingEvent) -> str:
    """What an alert about one scan is keyed by: its UTC minute and status.

    Unlike ``event_key`` it leaves out the provider's own code, so the same scan reported by
    two providers (17TRACK and AfterShip each have their own codes, and may round times to
    the minute) gives the same dedupe key and one alert.
    """
    return f"{event.time.astimezone(UTC):%Y%m%dT%H%MZ}/{event.status.value}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _new_events(old: Shipment, new: Shipment) -> list[TrackingEvent]:
    """The events of ``new`` whose ``event_key`` is not among ``old``'s.

    Formatting every key is the costliest part of a diff, so when every time is in UTC the
    same identity (UTC second, status, code prefix) is compared as a tuple instead.
    """
    if new.events is old.events:
        return []  # the very same history (a provider may hand back what it gave before)
    epoch, second = _EPOCH, _SECOND
    seen: set[object] = set()
    for event in old.events:
        moment = event.time
        if moment.tzinfo is not UTC:
            return _new_events_by_key(old, new)
        seen.add(((moment - epoch) // second, event.status, event.raw_code[:40] or "-"))
    found: list[TrackingEvent] = []
    for event in new.events:
        moment = event.time
        if moment.tzinfo is not UTC:
            return _new_events_by_key(old, new)
        if ((moment - epoch) // second, event.status, event.raw_code[:40] or "-") not in seen:
            found.append(event)
    return found


def _new_events_by_key(old: Shipment, new: Shipment) -> list[TrackingEvent]:
    keys = {event_key(event) for event in old.events}
    return [event for event in new.events if event_key(event) not in keys]


def _key(shipment: Shipment, *parts: str) -> str:
    return "|".join((str(shipment.key), *parts))


def _has_scan(shipment: Shipment) -> bool:
    if shipment.status not in _UNSCANNED:
        return True
    return any(event.status not in _UNSCANNED for event in shipment.events)


def _first_scan(shipment: Shipment) -> TrackingEvent | None:
    return next((event for event in shipment.events if event.status not in _UNSCANNED), None)


def _status_event(shipment: Shipment) -> TrackingEvent | None:
    """The newest event with the parcel's current status (the one that set it)."""
    return next(
        (event for event in reversed(shipment.events) if event.status is shipment.status),
        shipment.last_event,
    )


def _incident_alert(shipment: Shipment, reason: IncidentReason) -> Alert:
    """The alert for an open incident, keyed by what caused it."""
    if reason is IncidentReason.LATE:
        return Alert(AlertKind.LATE, shipment.key, _key(shipment, "late"), incident=reason)
    if reason is IncidentReason.NOT_YET_ACTIVE:
        return Alert(
            AlertKind.INCIDENT,
            shipment.key,
            _key(shipment, "incident", reason.value),
            incident=reason,
        )
    if reason is IncidentReason.LOOP:
        event = find_loop(shipment.events)
    elif reason is IncidentReason.STALE:
        event = max(shipment.events, key=lambda item: item.time, default=None)
    else:
        event = _status_event(shipment)
    cause = scan_identity(event) if event is not None else "-"
    return Alert(
        AlertKind.INCIDENT,
        shipment.key,
        _key(shipment, "incident", reason.value, cause),
        event=event,
        incident=reason,
    )


def _derived_alerts(shipment: Shipment, reasons: tuple[IncidentReason, ...]) -> list[Alert]:
    """Alerts for the derived incidents among ``reasons`` (``derive_all`` of ``shipment``)."""
    return [_incident_alert(shipment, reason) for reason in reasons if reason in DERIVED_REASONS]


def _delivery_check(shipment: Shipment) -> Alert:
    return Alert(
        AlertKind.DELIVERY_CHECK,
        shipment.key,
        _key(shipment, "delivery_check"),
        event=_status_event(shipment),
    )


def proof_text(proof: ProofOfDelivery | None, *, detail_ok: bool = True) -> str:
    """A short phrase for a proof of delivery, in the active language. A signer's name is left
    out: alerts may be read in group chats, and the name stays on the timeline. The kind's
    free-text detail (where it was left) only with ``detail_ok``."""
    if proof is None:
        return ""
    detail = proof.detail.strip() if detail_ok else ""
    match proof.kind:
        case ProofKind.SIGNATURE:
            return _("Signed for on delivery")
        case ProofKind.LEFT_AT_DOOR:
            return (
                _("Left at the door ({where})").format(where=detail)
                if detail
                else _("Left at the door")
            )
        case ProofKind.NEIGHBOUR:
            return _("Left with a neighbour")
        case ProofKind.PICKUP_POINT:
            return _("Collected at the pickup point")
        case ProofKind.PHOTO:
            return _("Photo taken at delivery")
        case _:
            return detail


def _state_alert(
    old: Shipment,
    new: Shipment,
    new_events: Sequence[TrackingEvent],
    reason: IncidentReason | None,
) -> Alert | None:
    """The one alert for the parcel's current state after new events or a status change
    (``reason``: the carrier's incident on ``new``, ``provider_incident``)."""
    changed = new.status is not old.status
    if not changed and not new_events:
        return None
    if new.status in _PROBLEM:
        if changed or reason is not provider_incident(old):
            return _incident_alert(new, reason or IncidentReason.OTHER)
    elif changed and new.status in _MILESTONE_OF:
        kind = _MILESTONE_OF[new.status]
        event = _status_event(new)
        if new.status in _ONCE:
            dedupe = _key(new, kind.value)
        else:
            dedupe = _key(new, kind.value, scan_identity(event) if event else "-")
        detail = proof_text(new.proof) if new.status is Status.DELIVERED else ""
        return Alert(kind, new.key, dedupe, event=event, detail=detail)
    if not new_events:
        return None
    newest = max(new_events, key=lambda event: event.time)
    latest_before = max((event.time for event in old.events), default=None)
    if latest_before is not None and newest.time <= latest_before:
        return None
    moved = _key(new, "moved", scan_identity(newest))
    return Alert(AlertKind.MOVED, new.key, moved, event=newest)


def _eta_alert(old: Shipment, new: Shipment) -> Alert | None:
    """A candidate: the most likely day changed. Whether a chat hears of it is decided per
    chat against what it was last told (``core.eta.news.chat_alerts``)."""
    if old.eta is None or new.eta is None or new.status in _NO_ETA_NEWS:
        return None
    new_day = new.eta.most_likely.astimezone(UTC).date()
    old_day = old.eta.most_likely.astimezone(UTC).date()
    if new_day == old_day:
        return None
    return Alert(
        AlertKind.ETA_CHANGED,
        new.key,
        _key(new, "eta", new_day.isoformat()),
        detail=old_day.isoformat(),
    )


def diff(
    old: Shipment | None,
    new: Shipment,
    now: datetime,
    *,
    assessment: Assessment | None = None,
) -> list[Alert]:
    """The alerts caused by going from ``old`` to ``new`` (see the module docstring).

    Pure and total: never raises on well-typed input. ``old.checked_at`` is when the old
    snapshot was evaluated; without it every currently open derived incident is reported
    (and the dedupe key drops any already sent). ``assessment`` may pass
    ``incidents.assess(new, now)`` when the caller has it already (it is not derived again).
    """
    if assessment is None:
        assessment = assess(new, now)
    reasons = assessment.reasons
    if old is None:
        return [_incident_alert(new, reasons[0])] if reasons else []
    alerts: list[Alert] = []
    new_events = _new_events(old, new)

    if not _has_scan(old) and _has_scan(new) and new.status is Status.IN_TRANSIT:
        alerts.append(
            Alert(
                AlertKind.SHIPPED,
                new.key,
                _key(new, "shipped"),
                event=_first_scan(new) or new.last_event,
            )
        )
    else:
        state = _state_alert(old, new, new_events, assessment.provider)
        if state is not None:
            alerts.append(state)

    derived = _derived_alerts(new, reasons)
    if derived and old.checked_at is not None:
        before = {a.dedupe_key for a in _derived_alerts(old, derive_all(old, old.checked_at))}
        derived = [alert for alert in derived if alert.dedupe_key not in before]
    alerts.extend(derived)

    eta = _eta_alert(old, new)
    if eta is not None:
        alerts.append(eta)

    if assessment.delivery_check_due and not (
        old.checked_at is not None and delivery_check_due(old, old.checked_at)
    ):
        alerts.append(_delivery_check(new))

    # One alert per key, first wins (a derived incident can coincide with the state alert).
    unique: dict[str, Alert] = {}
    for alert in alerts:
        unique.setdefault(alert.dedupe_key, alert)
    return list(unique.values())


NEVER_ACTIVATED = "never_activated"
"""``Alert.detail`` of the last alert for a parcel the carrier never scanned (see
``expiry_alert``)."""


def expiry_alert(shipment: Shipment) -> Alert:
    """The one last alert for a parcel that was never scanned and is no longer tracked.

    Its dedupe key is the parcel's ``expired`` milestone key, so a parcel is told it expired
    at most once, whichever way it expired.
    """
    return Alert(
        AlertKind.EXPIRED,
        shipment.key,
        _key(shipment, AlertKind.EXPIRED.value),
        event=shipment.last_event,
        detail=NEVER_ACTIVATED,
    )


def wanted(alert: Alert, preference: Preference) -> bool:
    """Whether a chat with ``preference`` should get ``alert`` (see ``PREFERENCE_KINDS``)."""
    return alert.kind in PREFERENCE_KINDS[preference]


def _scan_line(event: TrackingEvent | None, tz: str, seen: View | None) -> str:
    if event is None:
        return ""
    if seen is None:
        when = format_local(event.time, tz)
        if event.location.strip():
            return _("{scan} — {place} ({when})").format(
                scan=event.description, place=event.location, when=when
            )
        return _("{scan} ({when})").format(scan=event.description, when=when)
    return scan_text(event, tz, seen)


def _steps(steps: Sequence[str]) -> tuple[str, ...]:
    return (_("What to do:"), *(f"{index}. {step}" for index, step in enumerate(steps, 1)))


def _date(iso_day: str) -> str:
    try:
        day = datetime.fromisoformat(iso_day).replace(tzinfo=UTC)
    except ValueError:
        return iso_day
    return format_local(day, with_time=False)


def alert_reply(
    alert: Alert,
    shipment: Shipment,
    *,
    tz: str = "UTC",
    label: str = "",
    seen: View | None = None,
) -> Reply:
    """One short, plain message for ``alert`` about ``shipment`` in the chat's time zone.

    Incidents carry their explanation and next steps; every alert offers Refresh and
    Timeline buttons, the delivery follow-up a Report button instead of Refresh. What it
    carries follows ``seen`` (``core.privacy``; default: a private chat): where others read,
    the parcel is its label or masked number, the owner is mentioned and no button or scan
    text carries the number or a name.
    """
    name = seen.name(label, shipment.number) if seen is not None else label.strip()
    name = name or shipment.number
    args = (str(shipment.number), shipment.carrier)
    refresh = Button(_("Refresh"), action="track", args=args)
    timeline = Button(_("Timeline"), action="history", args=args)
    scan = _scan_line(alert.event, tz, seen)
    lines: tuple[str, ...]
    buttons: tuple[Button, ...] = (refresh, timeline)
    match alert.kind:
        case AlertKind.SHIPPED:
            title = _("On its way: {parcel}").format(parcel=name)
            lines = (_("The carrier has scanned your parcel."), scan)
        case AlertKind.MOVED:
            title = _("Tracking update: {parcel}").format(parcel=name)
            lines = (scan,)
        case AlertKind.OUT_FOR_DELIVERY:
            title = _("Out for delivery: {parcel}").format(parcel=name)
            lines = (_("It should arrive today."), scan)
        case AlertKind.AVAILABLE_FOR_PICKUP:
            title = _("Ready for pickup: {parcel}").format(parcel=name)
            lines = (_("Bring ID and the tracking number or pickup code."), scan)
        case AlertKind.DELIVERED:
            title = _("Delivered: {parcel}").format(parcel=name)
            when = shipment.delivered_at or (alert.event.time if alert.event else None)
            proof = alert.detail
            if seen is not None and not seen.has(Field.PERSON):
                proof = proof_text(shipment.proof, detail_ok=False) if proof else ""
            elif proof and shipment.proof is not None:
                # ``detail`` was put into (English) words when the alert was found: the same
                # proof is worded again in this chat's language.
                with in_english():
                    found = proof_text(shipment.proof)
                if proof == found:
                    proof = proof_text(shipment.proof)
            lines = (
                _("Delivered {when}.").format(when=format_local(when, tz))
                if when
                else _("Delivered."),
                f"{proof}." if proof else "",
            )
        case AlertKind.INCIDENT | AlertKind.LATE:
            reason = alert.incident or (
                IncidentReason.LATE if alert.kind is AlertKind.LATE else IncidentReason.OTHER
            )
            about = explain(reason)
            title = _("{incident}: {parcel}").format(incident=about.title, parcel=name)
            promised = (
                _("It was expected by {day}.").format(day=_date(alert.detail))
                if alert.kind is AlertKind.LATE and alert.detail
                else ""
            )
            lines = (about.what_happened, promised, scan, *_steps(about.next_steps))
        case AlertKind.ETA_CHANGED:
            title = _("New delivery estimate: {parcel}").format(parcel=name)
            new_day = (
                format_local(shipment.eta.most_likely, tz, with_time=False) if shipment.eta else ""
            )
            if not new_day:
                expected = _("The estimate changed.")
            elif alert.detail:
                expected = _("Now expected {day} (was {before}).").format(
                    day=new_day, before=_date(alert.detail)
                )
            else:
                expected = _("Now expected {day}.").format(day=new_day)
            lines = (expected,)
        case AlertKind.DELIVERY_CHECK:
            title = _("Did it arrive? {parcel}").format(parcel=name)
            lines = (
                _("The carrier says this parcel was delivered. If you do not have it:"),
                _(
                    "1. Check around your door, with neighbours and your building's reception "
                    "or mailroom."
                ),
                _("2. Still missing? Tap Report to get an evidence pack for the seller."),
            )
            buttons = (Button(_("Report a problem"), action="report", args=args), timeline)
        case AlertKind.EXPIRED if alert.detail == NEVER_ACTIVATED:
            title = _("Never scanned: {parcel}").format(parcel=name)
            lines = (
                _(
                    "The carrier has not scanned this parcel for 30 days, so I stopped tracking "
                    "it and moved it to your archive (/list)."
                ),
                *_steps(
                    (
                        _(
                            "Ask the seller whether it was really sent, and for a new tracking "
                            "number or a refund."
                        ),
                        _("Keep your order number and this message for the claim (/report)."),
                    )
                ),
            )
        case AlertKind.EXPIRED:
            about = explain_status(Status.EXPIRED)
            title = _("{incident}: {parcel}").format(incident=about.title, parcel=name)
            lines = (about.what_happened, *_steps(about.next_steps))
        case _:  # pragma: no cover - every kind is handled above
            title, lines = name, (scan,)
    if seen is not None and not seen.has(Field.NUMBER_BUTTONS):
        buttons = ()
    return Reply(
        title=title,
        lines=tuple(line for line in lines if line),
        buttons=buttons,
        kind=ReplyKind.ALERT,
        owner=seen.mention() if seen is not None else "",
    )
