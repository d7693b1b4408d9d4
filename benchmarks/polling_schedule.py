"""Provider calls per parcel per day under ``core.polling.next_check``, per journey type.

Each journey is a scripted list of scans; a virtual clock polls the parcel whenever
``next_check`` says, sees only the scans that happened by then, and counts calls. Printed
per journey: calls while the parcel was open, calls per open day, calls per day over a
14-day window (the figure to compare with 144 for a fixed 10-minute poller), and the median
and p90 delay from a scan to the poll that saw it.

Run: ``python -m benchmarks.polling_schedule`` (about a second).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from core.polling import next_check

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)
FIXED_POLLER_PER_DAY = 144


@dataclass(frozen=True, slots=True)
class Journey:
    name: str
    scans: tuple[tuple[float, Status, str, IncidentReason | None], ...]
    origin: str = "US"
    destination: str = "US"
    eta_days: tuple[float, float] | None = None


def _s(
    hours: float, status: Status, place: str = "", incident: IncidentReason | None = None
) -> tuple[float, Status, str, IncidentReason | None]:
    return (hours, status, place, incident)


T, OFD, DLV = Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.DELIVERED
JOURNEYS = (
    Journey(
        "domestic, 3 days",
        (
            _s(1, Status.INFO_RECEIVED),
            _s(10, T, "Origin hub"),
            _s(20, T, "Regional hub"),
            _s(34, T, "Destination hub"),
            _s(47, T, "Local depot"),
            _s(71, OFD, "Local depot"),
            _s(77, DLV, "Front door"),
        ),
        eta_days=(2.5, 4),
    ),
    Journey(
        "domestic, failed attempt",
        (
            _s(1, Status.INFO_RECEIVED),
            _s(12, T, "Origin hub"),
            _s(30, T, "Destination hub"),
            _s(47, OFD, "Local depot"),
            _s(54, Status.DELIVERY_FAILED, "Local depot", IncidentReason.RECIPIENT_UNAVAILABLE),
            _s(71, OFD, "Local depot"),
            _s(75, DLV, "Front door"),
        ),
        eta_days=(2, 3),
    ),
    Journey(
        "pickup point, collected day 3",
        (
            _s(2, Status.INFO_RECEIVED),
            _s(14, T, "Origin hub"),
            _s(38, T, "Destination hub"),
            _s(52, Status.AVAILABLE_FOR_PICKUP, "Locker 12"),
            _s(52 + 72, DLV, "Locker 12"),
        ),
        eta_days=(2, 3),
    ),
    Journey(
        "not active for 3 days",
        (
            _s(0.5, Status.INFO_RECEIVED),
            _s(76, T, "Origin hub"),
            _s(96, T, "Destination hub"),
            _s(119, OFD, "Local depot"),
            _s(124, DLV, "Front door"),
        ),
        eta_days=(5, 6),
    ),
    Journey(
        "long haul CN→US, 12 days",
        (
            _s(2, Status.INFO_RECEIVED),
            _s(20, T, "Shenzhen sorting centre"),
            _s(40, T, "Shenzhen airport"),
            _s(60, T, "Departed origin country"),
            _s(8 * 24, T, "Arrived in destination country"),
            _s(9 * 24, T, "Customs cleared"),
            _s(10 * 24, T, "Destination hub"),
            _s(11 * 24 + 8, OFD, "Local depot"),
            _s(11 * 24 + 14, DLV, "Mailbox"),
        ),
        origin="CN",
        eta_days=(9, 14),
    ),
    Journey(
        "customs hold, duties",
        (
            _s(2, Status.INFO_RECEIVED),
            _s(20, T, "London hub"),
            _s(40, T, "Departed origin country"),
            _s(70, Status.EXCEPTION, "Customs", IncidentReason.DUTIES_DUE),
            _s(140, T, "Customs released"),
            _s(160, OFD, "Local depot"),
            _s(166, DLV, "Front door"),
        ),
        origin="GB",
        eta_days=(5, 8),
    ),
    Journey(
        "lost: no scans after day 2",
        (
            _s(1, Status.INFO_RECEIVED),
            _s(15, T, "Origin hub"),
            _s(40, T, "Regional hub"),
        ),
        eta_days=(3, 5),
    ),
)


def _snapshot(journey: Journey, now: datetime) -> Shipment:
    events = tuple(
        TrackingEvent(
            time=START + timedelta(hours=hours),
            status=status,
            description=status.value,
            location=place,
            incident=incident,
        )
        for hours, status, place, incident in journey.scans
        if START + timedelta(hours=hours) <= now
    )
    status = events[-1].status if events else Status.NOT_FOUND
    eta = None
    if journey.eta_days is not None:
        early, late = (START + timedelta(days=days) for days in journey.eta_days)
        eta = Eta(early, late, early + (late - early) / 2, EtaSource.PRIOR)
    return Shipment(
        carrier="sandbox",
        number=TrackingNumber("BENCH1"),
        status=status,
        events=events,
        eta=eta,
        first_seen=START,
        origin=journey.origin,
        destination=journey.destination,
        delivered_at=events[-1].time if status is Status.DELIVERED else None,
        checked_at=now,
    )


def simulate(journey: Journey, seed: int) -> tuple[int, timedelta, list[timedelta]]:
    """Calls made, how long the parcel was polled, and scan-to-poll delays."""
    rng = random.Random(seed)
    now, calls = START, 0
    delays: list[timedelta] = []
    scan_times = [START + timedelta(hours=hours) for hours, *_ in journey.scans]
    seen = 0
    while now < START + WINDOW:
        calls += 1
        visible = [moment for moment in scan_times if moment <= now]
        delays.extend(now - moment for moment in visible[seen:])
        seen = len(visible)
        upcoming = next_check(_snapshot(journey, now), now, rng)
        if upcoming is None:
            break
        now = upcoming
    return calls, min(now, START + WINDOW) - START, delays


def main() -> None:
    header = (
        f"{'journey':32} {'calls':>6} {'open days':>9} {'calls/open day':>14} "
        f"{'calls/day (14 d)':>16} {'median delay':>12} {'p90 delay':>9}"
    )
    print(header)
    print("-" * len(header))
    all_per_day: list[float] = []
    for journey in JOURNEYS:
        runs = [simulate(journey, seed) for seed in range(200)]
        calls = statistics.mean(run[0] for run in runs)
        open_days = statistics.mean(run[1].total_seconds() / 86400 for run in runs)
        delays = sorted(delay.total_seconds() / 3600 for run in runs for delay in run[2])
        per_day = calls / WINDOW.days
        all_per_day.append(per_day)
        p90 = delays[int(len(delays) * 0.9)]
        print(
            f"{journey.name:32} {calls:6.1f} {open_days:9.1f} {calls / open_days:14.1f} "
            f"{per_day:16.2f} {statistics.median(delays):11.1f}h {p90:8.1f}h"
        )
    mean_per_day = statistics.mean(all_per_day)
    print("-" * len(header))
    print(
        f"mean calls per parcel per day over 14 days: {mean_per_day:.2f} "
        f"(fixed 10-minute poller: {FIXED_POLLER_PER_DAY}; "
        f"{FIXED_POLLER_PER_DAY / mean_per_day:.0f}x fewer)"
    )


if __name__ == "__main__":
    main()
