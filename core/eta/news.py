"""What one chat has been told about a parcel's arrival, and when that deserves an alert.

Each chat following a parcel remembers (:class:`core.models.EtaTold`) the latest day it was
first promised — the shop's promise, else the last day of the first window it was shown — and
the most likely day it was last told, with when. From that, per chat:

- **New delivery estimate** when the most likely day has moved at least a day from the day
  this chat was last told, and it was last told at least a day ago (at most one such alert a
  day per parcel). The alert's "was" is the day last told, not the previous poll's.
- **Running late** once the parcel, not yet delivered, passes the latest day first promised
  to this chat: the shop's promise on this chat's order link when there is one (it wins over
  any window), else the last day of the first window this chat was shown. Windows slide
  forward as time passes (they never start in the past), so only the first promise can say a
  parcel is late; it is told once.

No estimate news for parcels that are out for delivery, waiting at a pickup point, finished,
not scanned yet, or never handed to the carrier (they get the never-handed-over incident).
A shop's promise is judged whatever the parcel's stage short of arriving or not coming: a
label still unscanned the day after the shop promised delivery is late too.

Most polls find a parcel as it was. ``next_news_at`` says, once every chat following it was
judged, from when any of them could have news while the parcel stays as it is (time passing
a first promise, or an estimate held back a day): until then a poll need not judge it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from core.eta.calendar import resolve_zone
from core.models import Alert, AlertKind, Eta, EtaTold, IncidentReason, Shipment, Status

__all__ = [
    "ETA_NEWS_GAP",
    "NEWS_NEVER",
    "NO_ARRIVAL_DATE",
    "chat_alerts",
    "estimate_news",
    "first_told",
    "lateness_judged",
    "next_news_at",
]

ETA_NEWS_GAP = timedelta(days=1)
"""Least time between two new-estimate alerts to one chat about one parcel."""

NEWS_NEVER = datetime.max.replace(tzinfo=UTC)
"""``next_news_at`` when no news can come while the parcel stays as it is."""

# The first moment of a calendar day anywhere on Earth (UTC+14), and a little more: a day's
# first moment in the chat's own zone is never earlier.
_EARLIEST_OFFSET = timedelta(hours=15)

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


# Arrived or waiting for the buyer: no longer late, whatever was promised.
_ARRIVED = frozenset({Status.DELIVERED, Status.AVAILABLE_FOR_PICKUP, Status.EXPIRED})


def lateness_judged(shipment: Shipment) -> bool:
    """Whether a promise to a chat can still be broken: on the way, not arrived or waiting at a
    pickup point, and not refused, returning, lost or never handed over (those say more)."""
    return (
        not shipment.is_final
        and shipment.status not in _ARRIVED
        and shipment.incident not in NO_ARRIVAL_DATE
    )


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
    the first, silently). ``promised_by`` is the shop's promise on this chat's order link;
    when given, its day is the latest day first promised, whatever ``told`` remembers.
    Returns the alerts (at most one of each kind) and the new :class:`EtaTold`.
    """
    zone = resolve_zone(tz)
    found: list[Alert] = []
    today = _day(now, zone)
    promised_day = _day(promised_by, zone) if promised_by is not None else None
    eta = shipment.eta
    if told is None:
        if eta is not None and _judged(shipment):
            told = first_told(eta, promised_by, now, zone)
        if promised_day is not None and lateness_judged(shipment) and today > promised_day:
            # Past the shop's promise before this chat was ever shown a window.
            found.append(_late(shipment, promised_day))
            if told is not None:
                told = replace(told, late=True)
        return found, told
    # Our own first window speaks only while estimates do; the shop's promise while the
    # parcel can still be late at all.
    if promised_day is not None:
        first_latest, judged = promised_day, lateness_judged(shipment)
    else:
        first_latest, judged = told.first_latest, _judged(shipment)
    if not told.late and judged and today > first_latest:
        found.append(_late(shipment, first_latest))
        told = replace(told, late=True)
    # Without a shop's promise ``judged`` is ``_judged(shipment)`` already.
    if eta is None or not (judged if promised_day is None else _judged(shipment)):
        return found, told
    likely = _day(eta.most_likely, zone)
    if abs((likely - told.day).days) >= 1 and now - told.at >= ETA_NEWS_GAP:
        found.append(
            Alert(
                AlertKind.ETA_CHANGED,
                shipment.key,
                f"{shipment.key}|eta|{today.isoformat()}",
                detail=told.day.isoformat(),
            )
        )
        told = replace(told, day=likely, at=now)
    return found, told


def next_news_at(
    shipment: Shipment,
    told: EtaTold | None,
    now: datetime,
    *,
    tz: str | tzinfo = "UTC",
    promised_by: datetime | None = None,
) -> datetime:
    """From when ``chat_alerts`` could give one chat news about ``shipment`` again, as long as
    the parcel's estimate, status and incident stay as they are and so does the shop's
    promise (``promised_by``): ``told`` is what the chat knows *after* being judged at
    ``now``. Never later than the true moment (it may be earlier); ``now`` when the chat
    must be judged at every poll; ``NEWS_NEVER`` when nothing can come without a change.
    """
    if not lateness_judged(shipment):
        return NEWS_NEVER  # ``chat_alerts`` passes the diff's alerts only
    judged = _judged(shipment)
    if told is None:
        if judged:
            return now  # a window to show it first: judged at once
        # No window to show: only the shop's promise can make it late, from the promise on
        # at every judgement (the outbox keeps the one alert).
        return NEWS_NEVER if promised_by is None else promised_by
    moments: list[datetime] = []
    if not told.late:
        if promised_by is not None:
            # Late the day after the promise's day, in any zone: never before the promise.
            moments.append(promised_by)
        elif judged:
            day_after = datetime.combine(told.first_latest + timedelta(days=1), time(), UTC)
            moments.append(day_after - _EARLIEST_OFFSET)
    eta = shipment.eta
    if eta is not None and judged:
        likely = _day(eta.most_likely, resolve_zone(tz))
        if abs((likely - told.day).days) >= 1:
            moments.append(told.at + ETA_NEWS_GAP)
    return min(moments, default=NEWS_NEVER)


def _late(shipment: Shipment, first_latest: date) -> Alert:
    return Alert(
        AlertKind.LATE,
        shipment.key,
        f"{shipment.key}|late",
        incident=IncidentReason.LATE,
        detail=first_latest.isoformat(),
    )


def chat_alerts(
    found: Sequence[Alert],
    shipment: Shipment,
    told: EtaTold | None,
    now: datetime,
    *,
    tz: str | tzinfo = "UTC",
    promised_by: datetime | None = None,
) -> tuple[list[Alert], EtaTold | None]:
    """One chat's alerts from a parcel's diff (``found``, possibly empty): estimate and
    lateness news are decided for this chat (:func:`estimate_news`, with the shop's promise
    on this chat's order link), everything else passes as it is.

    "Running late" is told to a chat once, whichever rule saw it first: the parcel passing
    the end of its current window (a derived incident in ``found``) or the latest day first
    promised to this chat.
    """
    passed = [a for a in found if a.kind is not AlertKind.ETA_CHANGED]
    if not lateness_judged(shipment):
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
