"""What one chat has been told about a parcel's arrival, and when that deserves an alert.

Each chat following a parcel remembers (:class:`core.models.EtaTold`) the latest day it was
first promised — the shop's promise, else the last day of the first window it was shown — and
the most likely day it was last told, with when. From that, per chat:

- **New delivery estimate** when the most likely day has moved at least a day from the day
  this chat was last told, and it was last told at least a day ago (at most one such alert a
  day per parcel). The alert's "was" is the day last told, not the previous poll's.
- **Running late** once the parcel, not yet delivered, passes the latest day first promised
  to this chat. Windows slide forward as time passes (they never start in the past), so only
  the first promise can say a parcel is late; it is told once.

No estimate news for parcels that are out for delivery, waiting at a pickup point, finished,
not scanned yet, or never handed to the carrier (they get the never-handed-over incident).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo

from core.eta.calendar import resolve_zone
from core.models import Alert, AlertKind, Eta, EtaTold, IncidentReason, Shipment, Status

__all__ = ["ETA_NEWS_GAP", "NO_ARRIVAL_DATE", "chat_alerts", "estimate_news", "first_told"]

ETA_NEWS_GAP = timedelta(days=1)
"""Least time between two new-estimate alerts to one chat about one parcel."""

# On the van, at a pickup point or done: an estimate is no news. Not scanned yet: nothing
# happened, so a moving estimate would only slide (the never-handed-over incident speaks).
_QUIET = frozenset(
    {
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERED,
        Status.EXPIRED,
        Status.NOT_FOUND,
        Status.INFO_RECEIVED,
    }
)
NO_ARRIVAL_DATE = frozenset(
    {
        IncidentReason.REFUSED,
        IncidentReason.RETURNING,
        IncidentReason.RETURNED,
        IncidentReason.LOST,
        IncidentReason.DESTROYED,
        IncidentReason.CANCELLED,
        IncidentReason.NEVER_HANDED_OVER,
    }
)
"""Incidents after which no arrival date is shown or announced: the parcel is not coming
(refused, going back, lost…) or was probably never handed to the carrier."""


def _judged(shipment: Shipment) -> bool:
    """Whether estimate and lateness news are decided per chat for ``shipment`` now."""
    return (
        shipment.eta is not None
        and not shipment.is_final
        and shipment.status not in _QUIET
        and shipment.incident not in NO_ARRIVAL_DATE
    )


def _day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def first_told(
    eta: Eta, promised_by: datetime | None, now: datetime, tz: str | tzinfo = "UTC"
) -> EtaTold:
    """What a chat knows once shown ``eta`` for the first time at ``now``."""
    zone = resolve_zone(tz)
    first = _day(promised_by if promised_by is not None else eta.latest, zone)
    return EtaTold(first_latest=first, day=_day(eta.most_likely, zone), at=now)


def estimate_news(
    shipment: Shipment,
    told: EtaTold | None,
    now: datetime,
    *,
    tz: str | tzinfo = "UTC",
    promised_by: datetime | None = None,
) -> tuple[list[Alert], EtaTold | None]:
    """The estimate and lateness alerts one chat should get now, and what it then knows.

    ``told`` is what the chat knew (None: never shown an estimate; the current one becomes
    the first, silently). ``promised_by`` is the shop's promise as this chat knows it.
    Returns the alerts (at most one of each kind) and the new :class:`EtaTold`.
    """
    eta = shipment.eta
    if eta is None or not _judged(shipment):
        return [], told
    zone = resolve_zone(tz)
    if told is None:
        return [], first_told(eta, promised_by, now, zone)
    key = str(shipment.key)
    found: list[Alert] = []
    today = _day(now, zone)
    if not told.late and today > told.first_latest:
        found.append(
            Alert(
                AlertKind.LATE,
                shipment.key,
                f"{key}|late",
                incident=IncidentReason.LATE,
                detail=told.first_latest.isoformat(),
            )
        )
        told = replace(told, late=True)
    likely = _day(eta.most_likely, zone)
    if abs((likely - told.day).days) >= 1 and now - told.at >= ETA_NEWS_GAP:
        found.append(
            Alert(
                AlertKind.ETA_CHANGED,
                shipment.key,
                f"{key}|eta|{today.isoformat()}",
                detail=told.day.isoformat(),
            )
        )
        told = replace(told, day=likely, at=now)
    return found, told


def chat_alerts(
    found: Sequence[Alert],
    shipment: Shipment,
    told: EtaTold | None,
    now: datetime,
    *,
    tz: str | tzinfo = "UTC",
    promised_by: datetime | None = None,
) -> tuple[list[Alert], EtaTold | None]:
    """One chat's alerts from a parcel's diff (``found``): estimate news is decided for this
    chat (:func:`estimate_news`), everything else passes as it is.

    "Running late" is told to a chat once, whichever rule saw it first: the parcel passing the
    shop's promise (in ``found``) or the latest day first promised to this chat.
    """
    passed = [a for a in found if a.kind is not AlertKind.ETA_CHANGED]
    if not _judged(shipment):
        return passed, told
    already = told is not None and told.late
    news, told = estimate_news(shipment, told, now, tz=tz, promised_by=promised_by)
    if any(a.kind is AlertKind.LATE for a in passed):
        news = [a for a in news if a.kind is not AlertKind.LATE]
        if already:
            passed = [a for a in passed if a.kind is not AlertKind.LATE]
        elif told is not None:
            told = replace(told, late=True)
    return passed + news, told
