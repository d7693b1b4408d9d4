"""``alerts.diff`` gives the same alerts whatever time zone the scans' times carry.

UTC times take a fast path that compares scan identities as tuples; other zones compare the
formatted ``event_key``. Both must agree, microseconds and all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from core.alerts import diff
from core.models import Shipment, ShipmentKey, Status, TrackingEvent, TrackingNumber

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PLUS7 = timezone(timedelta(hours=7))
KEY = ShipmentKey("ups", TrackingNumber("1ZIDENTITY0001"))

events = st.builds(
    TrackingEvent,
    time=st.tuples(st.integers(0, 6), st.sampled_from([0, 1, 999_999])).map(
        lambda spec: T0 + timedelta(hours=spec[0], microseconds=spec[1])
    ),
    status=st.sampled_from([Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.EXCEPTION]),
    description=st.sampled_from(["Arrived", "Departed"]),
    location=st.sampled_from(["", "Hub A, US", "Hub B, US"]),
    raw_code=st.sampled_from(["", "-", "AR", "A" * 45, "A" * 41]),
)
snapshots = st.builds(
    lambda evs, status: Shipment(
        carrier=KEY.carrier,
        number=KEY.number,
        status=status,
        events=tuple(sorted(evs, key=lambda event: event.time)),
        checked_at=T0,
        first_seen=T0,
    ),
    st.lists(events, max_size=5),
    st.sampled_from([Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.EXCEPTION]),
)


def _in_plus7(shipment: Shipment) -> Shipment:
    return replace(
        shipment,
        events=tuple(replace(e, time=e.time.astimezone(PLUS7)) for e in shipment.events),
    )


@settings(max_examples=300, deadline=None)
@given(snapshots, snapshots)
def test_diff_does_not_depend_on_the_time_zone_of_scans(old: Shipment, new: Shipment) -> None:
    now = T0 + timedelta(hours=7)
    assert diff(old, new, now) == diff(_in_plus7(old), _in_plus7(new), now)
    assert diff(old, new, now) == diff(old, _in_plus7(new), now)


def _as_reported_by(code: str, when: datetime, *, checked: datetime) -> Shipment:
    """The same two scans as one provider reports them (its own status codes)."""
    scans = (
        TrackingEvent(when - timedelta(hours=30), Status.INFO_RECEIVED, "Label", "", code + "0"),
        TrackingEvent(when, Status.IN_TRANSIT, "Departed facility", "Hub A, US", code + "1"),
    )
    return Shipment(
        KEY.carrier, KEY.number, Status.IN_TRANSIT, scans, checked_at=checked, first_seen=T0
    )


def test_alert_identity_does_not_depend_on_the_provider_that_reported_the_scan() -> None:
    scan_time = T0 + timedelta(hours=1)
    later = T0 + timedelta(days=9)  # long after the last scan: the parcel is stale
    via_17track = _as_reported_by("17T-", scan_time, checked=later)
    via_aftership = _as_reported_by("AS-", scan_time, checked=later)
    old = replace(via_17track, events=via_17track.events[:1], checked_at=T0)
    moved_a, *_ = diff(old, via_17track, T0 + timedelta(hours=2))
    moved_b, *_ = diff(old, via_aftership, T0 + timedelta(hours=2))
    assert moved_a.dedupe_key == moved_b.dedupe_key
    stale_a = {a.dedupe_key for a in diff(None, via_17track, later)}
    stale_b = {a.dedupe_key for a in diff(None, via_aftership, later)}
    assert stale_a and stale_a == stale_b
