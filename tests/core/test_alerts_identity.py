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
