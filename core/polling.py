"""When to ask the provider about a parcel again.

A fixed 10-minute poller makes 144 calls per parcel per day. Parcels do not change that
often: most of a journey is hours between hub scans, and the moments that matter (out for
delivery, a failed attempt) are short. ``next_check`` spends calls where news is likely:

===========================  ==========================================  =================
state                        condition                                   base
===========================  ==========================================  =================
out_for_delivery                                                         45 min
delivery_failed                                                          2.5 h
available_for_pickup         waiting < 1 day / longer                    3 h / 8 h
exception (open)             incident < 2 days old / older               4 h / 8 h
in_transit                   last scan < 12 h ago                        3 h
in_transit                   last scan 12–48 h ago                       6 h
in_transit                   quieter (long haul: once 24 h quiet)        10 h / 12 h
in_transit                   moving, arrival window opens within 12 h    at most 3 h
info_received, not_found     first seen < 48 h ago / < 7 days / older    6 h / 12 h / 24 h
delivered                    one recheck when the delivery check is due  once
expired, terminal incident   lost, destroyed, returned, cancelled        never
webhook-fed, any open state  pushes carry the news; safety net only      24 h
===========================  ==========================================  =================

A delivered parcel is checked once more, a day after delivery: that poll raises the "did it
really arrive?" follow-up and catches the return scans carriers sometimes add after a
delivery. After it, polling stops.

Every interval gets ±15 % jitter from the caller's ``random.Random`` so parcels added
together spread out instead of hitting the provider in bursts; the delivered recheck only
gets positive jitter so it never lands before the follow-up is due.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from core.incidents import (
    TERMINAL_REASONS,
    Assessment,
    RouteClass,
    assess,
    route_class,
)
from core.models import Shipment, Status

__all__ = ["JITTER", "MIN_INTERVAL", "SAFETY_NET", "base_interval", "next_check"]

JITTER = 0.15
"""Relative spread applied to every interval (±15 %)."""

MIN_INTERVAL = timedelta(minutes=5)
"""No parcel is checked more often than this, whatever the arithmetic says."""

SAFETY_NET = timedelta(hours=24)
"""How often a parcel whose provider pushes updates (webhooks) is polled anyway."""

_H = timedelta(hours=1)


def _since(moment: datetime | None, now: datetime) -> timedelta:
    return now - moment if moment is not None else timedelta(0)


def _first_seen(shipment: Shipment) -> datetime | None:
    candidates = [
        moment
        for moment in (
            shipment.first_seen,
            shipment.shipped_at,
            shipment.events[0].time if shipment.events else None,
        )
        if moment is not None
    ]
    return min(candidates, default=None)


def _status_since(shipment: Shipment) -> datetime | None:
    """When the parcel entered its current status (the oldest event of the latest run)."""
    since = None
    for event in reversed(shipment.events):
        if event.status is not shipment.status:
            break
        since = event.time
    return since


def _in_transit(shipment: Shipment, now: datetime, last_scan: datetime | None) -> timedelta:
    quiet = _since(last_scan, now)
    if quiet < 12 * _H:
        interval = 3 * _H
    elif quiet < 48 * _H:
        interval = 6 * _H
    else:
        interval = 10 * _H
    if route_class(shipment) is RouteClass.LONG_HAUL and quiet >= 24 * _H:
        interval = 12 * _H
    # In (or just before) the arrival window a moving parcel's next scan is likely "out for
    # delivery": look sooner. A parcel quiet for two days is not about to arrive.
    eta = shipment.eta
    if eta is not None and eta.earliest - 12 * _H <= now <= eta.latest and quiet < 48 * _H:
        interval = min(interval, 3 * _H)
    return interval


def base_interval(
    shipment: Shipment, now: datetime, assessment: Assessment | None = None
) -> timedelta | None:
    """The un-jittered wait before the next check for an open parcel, None when final.

    Delivered parcels are handled by ``next_check`` (one recheck at the delivery check).
    ``assessment`` is ``incidents.assess(shipment, now)`` when the caller has it.
    """
    if assessment is None:
        assessment = assess(shipment, now)
    status = shipment.status
    if status in (Status.DELIVERED, Status.EXPIRED):
        return None
    match status:
        case Status.OUT_FOR_DELIVERY:
            return timedelta(minutes=45)
        case Status.DELIVERY_FAILED:
            return 2.5 * _H
        case Status.AVAILABLE_FOR_PICKUP:
            waiting = _since(_status_since(shipment), now)
            return 3 * _H if waiting < 24 * _H else 8 * _H
        case Status.EXCEPTION:
            if assessment.provider in TERMINAL_REASONS:
                return None
            held = _since(_status_since(shipment), now)
            return 4 * _H if held < 48 * _H else 8 * _H
        case Status.IN_TRANSIT:
            return _in_transit(shipment, now, assessment.last_scan)
        case _:  # not found / label created: the first scan can take days.
            age = _since(_first_seen(shipment), now)
            if age < 48 * _H:
                return 6 * _H
            return 12 * _H if age < 7 * 24 * _H else 24 * _H


def next_check(
    shipment: Shipment,
    now: datetime,
    rng: random.Random,
    *,
    webhook_fed: bool = False,
    assessment: Assessment | None = None,
) -> datetime | None:
    """When to poll ``shipment`` next (aware UTC), or None to stop polling it.

    See the module docstring for the schedule. ``webhook_fed`` parcels get only the daily
    safety net while open. The result is always at least ``MIN_INTERVAL`` after ``now``.
    ``assessment`` is ``incidents.assess(shipment, now)`` when the caller has it (the
    refresh pipeline does: nothing is derived again).
    """
    if assessment is None:
        assessment = assess(shipment, now)
    if shipment.status is Status.DELIVERED:
        due = assessment.delivery_check_at
        if due is None or due <= now:
            return None
        # Only late, never early: the recheck must find the follow-up already due.
        return max(due + (due - now) * rng.uniform(0.0, JITTER), now + MIN_INTERVAL)
    interval = base_interval(shipment, now, assessment)
    if interval is None:
        return None
    if webhook_fed:
        interval = SAFETY_NET
    jittered = interval * rng.uniform(1.0 - JITTER, 1.0 + JITTER)
    return now + max(jittered, MIN_INTERVAL)
