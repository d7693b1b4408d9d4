"""Derived incidents at and just under their thresholds, route classes, loops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.incidents import (
    DELIVERY_CHECK_AFTER,
    NOT_YET_ACTIVE_AFTER,
    STALE_AFTER,
    RouteClass,
    delivery_check_at,
    delivery_check_due,
    derive,
    derive_all,
    find_loop,
    provider_incident,
    route_class,
    settled_until,
    stale_after,
)
from core.models import (
    Eta,
    EtaSource,
    IncidentReason,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def ev(
    hours: float,
    status: Status = Status.IN_TRANSIT,
    location: str = "",
    incident: IncidentReason | None = None,
    code: str = "",
) -> TrackingEvent:
    return TrackingEvent(
        time=T0 + timedelta(hours=hours),
        status=status,
        description=f"{status.value} scan",
        location=location,
        raw_code=code,
        incident=incident,
    )


def parcel(
    status: Status,
    *events: TrackingEvent,
    carrier: str = "ups",
    origin: str = "",
    destination: str = "",
    eta: Eta | None = None,
    promised_by: datetime | None = None,
    first_seen: datetime | None = T0,
    incident: IncidentReason | None = None,
) -> Shipment:
    return Shipment(
        carrier=carrier,
        number=TrackingNumber("1Z999AA10123456784"),
        status=status,
        events=events,
        eta=eta,
        promised_by=promised_by,
        first_seen=first_seen,
        origin=origin,
        destination=destination,
        incident=incident,
    )


# ---------------------------------------------------------------- not yet active


@pytest.mark.parametrize("status", [Status.NOT_FOUND, Status.INFO_RECEIVED])
def test_not_yet_active_fires_at_48_hours_not_before(status: Status) -> None:
    shipment = parcel(status)
    at = T0 + NOT_YET_ACTIVE_AFTER
    assert timedelta(hours=48) == NOT_YET_ACTIVE_AFTER
    assert derive(shipment, at - SECOND) is None
    assert derive(shipment, at) is IncidentReason.NOT_YET_ACTIVE


def test_not_yet_active_counts_from_the_label_event_when_older_than_first_seen() -> None:
    shipment = parcel(
        Status.INFO_RECEIVED,
        ev(0, Status.INFO_RECEIVED),
        first_seen=T0 + timedelta(hours=30),
    )
    assert derive(shipment, T0 + timedelta(hours=48)) is IncidentReason.NOT_YET_ACTIVE


def test_not_yet_active_needs_some_start_time() -> None:
    assert derive(parcel(Status.NOT_FOUND, first_seen=None), T0 + timedelta(days=9)) is None


def test_a_carrier_scan_ends_not_yet_active() -> None:
    shipment = parcel(Status.IN_TRANSIT, ev(0, Status.INFO_RECEIVED), ev(50, location="Hub A"))
    assert IncidentReason.NOT_YET_ACTIVE not in derive_all(shipment, T0 + timedelta(hours=51))


# ---------------------------------------------------------------- stale


@pytest.mark.parametrize(
    ("origin", "destination", "carrier", "route", "days"),
    [
        ("US", "US", "ups", RouteClass.DOMESTIC, 4),
        ("Berlin, DE", "FR", "dhl", RouteClass.REGIONAL, 6),
        ("GB", "ZA", "dhl", RouteClass.CROSS_BORDER, 8),
        ("CHN", "USA", "usps", RouteClass.LONG_HAUL, 10),
        ("", "", "yanwen", RouteClass.LONG_HAUL, 10),
        ("", "", "usps", RouteClass.DOMESTIC, 4),
        ("", "", "ups", RouteClass.UNKNOWN, 6),
    ],
)
def test_stale_threshold_depends_on_route(
    origin: str, destination: str, carrier: str, route: RouteClass, days: int
) -> None:
    last = ev(10, location="Hub A")
    shipment = parcel(
        Status.IN_TRANSIT, last, carrier=carrier, origin=origin, destination=destination
    )
    assert route_class(shipment) is route
    assert stale_after(shipment) == STALE_AFTER[route] == timedelta(days=days)
    at = last.time + timedelta(days=days)
    assert derive(shipment, at - SECOND) is None
    assert derive(shipment, at) is IncidentReason.STALE


def test_stale_applies_out_for_delivery_but_not_at_a_pickup_point() -> None:
    at = T0 + timedelta(days=30)
    ofd = parcel(Status.OUT_FOR_DELIVERY, ev(0, Status.OUT_FOR_DELIVERY, "Depot"))
    pickup = parcel(Status.AVAILABLE_FOR_PICKUP, ev(0, Status.AVAILABLE_FOR_PICKUP, "Locker"))
    assert IncidentReason.STALE in derive_all(ofd, at)
    assert derive_all(pickup, at) == ()


def test_a_new_scan_resets_stale() -> None:
    old = parcel(Status.IN_TRANSIT, ev(0, location="Hub A"))
    at = T0 + timedelta(days=7)
    assert derive(old, at) is IncidentReason.STALE
    moved = parcel(Status.IN_TRANSIT, ev(0, location="Hub A"), ev(24 * 6, location="Hub B"))
    assert derive(moved, at) is None


# ---------------------------------------------------------------- late


def _eta(latest: datetime) -> Eta:
    return Eta(latest - timedelta(days=2), latest, latest - timedelta(days=1), EtaSource.CARRIER)


def test_late_fires_just_after_eta_latest() -> None:
    latest = T0 + timedelta(days=3)
    shipment = parcel(Status.IN_TRANSIT, ev(24 * 3 - 1, location="Hub"), eta=_eta(latest))
    assert derive(shipment, latest) is None
    assert derive(shipment, latest + SECOND) is IncidentReason.LATE


def test_late_fires_after_the_promised_date_without_an_eta() -> None:
    promised = T0 + timedelta(days=5)
    shipment = parcel(Status.INFO_RECEIVED, promised_by=promised, first_seen=T0 + timedelta(days=4))
    assert derive(shipment, promised) is None
    assert derive(shipment, promised + SECOND) is IncidentReason.LATE


@pytest.mark.parametrize("status", [Status.DELIVERED, Status.EXPIRED, Status.AVAILABLE_FOR_PICKUP])
def test_never_late_once_arrived_or_ended(status: Status) -> None:
    shipment = parcel(status, ev(0, status, "Somewhere"), eta=_eta(T0))
    assert IncidentReason.LATE not in derive_all(shipment, T0 + timedelta(days=3))


def test_late_outranks_stale_and_both_are_listed() -> None:
    shipment = parcel(Status.IN_TRANSIT, ev(0, location="Hub"), eta=_eta(T0 + timedelta(days=1)))
    at = T0 + timedelta(days=10)
    assert derive_all(shipment, at) == (IncidentReason.LATE, IncidentReason.STALE)
    assert derive(shipment, at) is IncidentReason.LATE


# ---------------------------------------------------------------- loop


def test_loop_detects_a_to_b_to_a() -> None:
    events = (ev(0, location="Hub A"), ev(5, location="Hub B"), ev(10, location="hub  a"))
    assert find_loop(events) == events[2]
    assert derive(parcel(Status.IN_TRANSIT, *events), T0 + timedelta(hours=11)) is (
        IncidentReason.LOOP
    )


def test_consecutive_scans_at_one_place_are_not_a_loop() -> None:
    events = (ev(0, location="Hub A"), ev(1, location="Hub A"), ev(5, location="Hub B"))
    assert find_loop(events) is None


def test_loop_closes_when_the_parcel_moves_on() -> None:
    events = (
        ev(0, location="Hub A"),
        ev(5, location="Hub B"),
        ev(10, location="Hub A"),
        ev(15, location="Hub C"),
    )
    assert find_loop(events) is None


def test_back_at_the_depot_after_a_delivery_attempt_is_not_a_loop() -> None:
    events = (
        ev(0, location="Depot 7"),
        ev(5, Status.DELIVERY_FAILED, "Main Street"),
        ev(9, location="Depot 7"),
    )
    assert find_loop(events) is None


def test_country_only_locations_do_not_make_loops() -> None:
    events = (ev(0, location="Hub A"), ev(5, location="US"), ev(10, location="Hub A"))
    assert find_loop(events) is None


def test_the_loop_scan_is_the_first_of_the_revisit() -> None:
    events = (
        ev(0, location="Hub A"),
        ev(5, location="Hub B"),
        ev(10, location="Hub A"),
        ev(11, location="Hub A"),
    )
    assert find_loop(events) == events[2]


# ---------------------------------------------------------------- provider incidents


def test_provider_incident_comes_from_the_latest_event_of_the_status() -> None:
    shipment = parcel(
        Status.EXCEPTION,
        ev(0, location="Hub"),
        ev(5, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD),
        ev(9, Status.EXCEPTION, "Customs", IncidentReason.DUTIES_DUE),
    )
    assert provider_incident(shipment) is IncidentReason.DUTIES_DUE
    assert derive(shipment, T0 + timedelta(hours=10)) is IncidentReason.DUTIES_DUE


def test_provider_incident_falls_back_to_the_snapshot_then_other() -> None:
    bare = parcel(Status.DELIVERY_FAILED, ev(0, Status.DELIVERY_FAILED, "Door"))
    assert provider_incident(bare) is IncidentReason.OTHER
    noted = parcel(Status.EXCEPTION, incident=IncidentReason.WEATHER_DELAY)
    assert provider_incident(noted) is IncidentReason.WEATHER_DELAY
    derived_only = parcel(Status.EXCEPTION, incident=IncidentReason.STALE)
    assert provider_incident(derived_only) is IncidentReason.OTHER
    assert provider_incident(parcel(Status.IN_TRANSIT, incident=IncidentReason.LOST)) is None


def test_terminal_incident_hides_derived_ones() -> None:
    shipment = parcel(
        Status.EXCEPTION,
        ev(0, Status.EXCEPTION, "Hub", IncidentReason.LOST),
        eta=_eta(T0),
    )
    assert derive_all(shipment, T0 + timedelta(days=30)) == (IncidentReason.LOST,)


def test_open_provider_incident_still_reports_late() -> None:
    shipment = parcel(
        Status.EXCEPTION,
        ev(0, Status.EXCEPTION, "Customs", IncidentReason.CUSTOMS_HOLD),
        eta=_eta(T0),
    )
    assert derive_all(shipment, T0 + timedelta(days=1)) == (
        IncidentReason.CUSTOMS_HOLD,
        IncidentReason.LATE,
    )


def test_delivered_and_expired_have_no_incident() -> None:
    at = T0 + timedelta(days=60)
    for status in (Status.DELIVERED, Status.EXPIRED):
        assert derive(parcel(status, ev(0, location="Hub"), eta=_eta(T0)), at) is None


# ---------------------------------------------------------------- delivery check


def test_delivery_check_is_due_from_a_day_to_a_week_after_delivery() -> None:
    delivered = parcel(Status.DELIVERED, ev(0, location="Hub"), ev(5, Status.DELIVERED, "Door"))
    due = T0 + timedelta(hours=5) + DELIVERY_CHECK_AFTER
    assert delivery_check_at(delivered) == due
    assert not delivery_check_due(delivered, due - SECOND)
    assert delivery_check_due(delivered, due)
    assert delivery_check_due(delivered, due + timedelta(days=5))
    assert not delivery_check_due(delivered, due + timedelta(days=6))
    assert delivery_check_at(parcel(Status.IN_TRANSIT)) is None
    assert delivery_check_at(parcel(Status.DELIVERED)) is None


def _settled_cases() -> list[Shipment]:
    def scan(
        hours: float, status: Status = Status.IN_TRANSIT, place: str = "Leeds, GB"
    ) -> TrackingEvent:
        return TrackingEvent(T0 + timedelta(hours=hours), status, f"scan {hours}", place)

    eta = Eta(
        earliest=T0 + timedelta(days=2),
        latest=T0 + timedelta(days=3),
        most_likely=T0 + timedelta(days=2, hours=12),
        source=EtaSource.CARRIER,
    )
    return [
        Shipment(
            "royal-mail",
            TrackingNumber("AB123456785GB"),
            Status.IN_TRANSIT,
            events=(scan(0), scan(5)),
            eta=eta,
            origin="GB",
            destination="GB",
        ),
        Shipment(
            "ups",
            TrackingNumber("1ZSETTLED0000001"),
            Status.INFO_RECEIVED,
            events=(scan(0, Status.INFO_RECEIVED),),
            first_seen=T0,
            promised_by=T0 + timedelta(days=5),
        ),
        Shipment("ups", TrackingNumber("1ZSETTLED0000002"), Status.NOT_FOUND, first_seen=T0),
        Shipment(
            "ups",
            TrackingNumber("1ZSETTLED0000003"),
            Status.DELIVERED,
            events=(scan(0), scan(30, Status.DELIVERED)),
            eta=eta,
        ),
        Shipment(
            "ups",
            TrackingNumber("1ZSETTLED0000004"),
            Status.OUT_FOR_DELIVERY,
            events=(scan(0), scan(2, Status.OUT_FOR_DELIVERY)),
            promised_by=T0 + timedelta(days=1),
        ),
        Shipment(
            "ups",
            TrackingNumber("1ZSETTLED0000005"),
            Status.EXCEPTION,
            events=(scan(0), scan(3, Status.EXCEPTION)),
            eta=eta,
        ),
        Shipment(
            "ups",
            TrackingNumber("1ZSETTLED0000006"),
            Status.AVAILABLE_FOR_PICKUP,
            events=(scan(0), scan(3, Status.AVAILABLE_FOR_PICKUP)),
            eta=eta,
        ),
    ]


@pytest.mark.parametrize("shipment", _settled_cases(), ids=lambda s: s.status.value)
@pytest.mark.parametrize("start_hours", [0, 20, 47.5, 71, 100, 200])
def test_settled_until_nothing_time_based_changes_before_it(
    shipment: Shipment, start_hours: float
) -> None:
    since = T0 + timedelta(hours=start_hours)
    until = settled_until(shipment, since)
    assert until is None or until >= since
    reasons, check = derive_all(shipment, since), delivery_check_due(shipment, since)
    changed_at = None
    moment = since
    while moment < since + timedelta(days=20):
        if (derive_all(shipment, moment), delivery_check_due(shipment, moment)) != (
            reasons,
            check,
        ):
            changed_at = moment
            break
        moment += timedelta(minutes=10)
    if changed_at is not None:
        assert until is not None and until <= changed_at
    if until is not None and until > since:
        last = until - timedelta(microseconds=1)
        assert derive_all(shipment, last) == reasons
        assert delivery_check_due(shipment, last) == check
