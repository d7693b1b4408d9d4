"""``next_news_at``: a poll may wait that long before judging a parcel's followers again.

Whatever the parcel, the chat's zone, what it was told and the shop's promise: judging the chat
at any moment before ``next_news_at`` (the parcel unchanged) gives no alert and changes
nothing the chat knows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.eta.news import NEWS_NEVER, chat_alerts, next_news_at
from core.models import Eta, EtaSource, EtaTold, IncidentReason, Shipment, Status, TrackingNumber

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Jakarta", "America/New_York"]


def _parcel(status: Status, incident: IncidentReason | None, likely_hours: int | None) -> Shipment:
    eta = None
    if likely_hours is not None:
        likely = T0 + likely_hours * H
        eta = Eta(likely - D, likely + D, likely, EtaSource.LEARNED, based_on=50)
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z999AA10123456784"),
        status=status,
        incident=incident,
        eta=eta,
        first_seen=T0 - 3 * D,
    )


parcels = st.builds(
    _parcel,
    st.sampled_from(
        [Status.IN_TRANSIT, Status.INFO_RECEIVED, Status.OUT_FOR_DELIVERY, Status.DELIVERED]
    ),
    st.sampled_from([None, IncidentReason.STALE, IncidentReason.LATE, IncidentReason.RETURNING]),
    st.none() | st.integers(-72, 120),
)
tolds = st.none() | st.builds(
    lambda first, day, at, late: EtaTold(
        first_latest=date(2026, 12, 7) + timedelta(days=first),
        day=date(2026, 12, 7) + timedelta(days=day),
        at=T0 - at * H,
        late=late,
    ),
    st.integers(-3, 6),
    st.integers(-3, 6),
    st.integers(0, 60),
    st.booleans(),
)
promises = st.none() | st.integers(-72, 120).map(lambda hours: T0 + hours * H)


@settings(max_examples=400, deadline=None)
@given(parcels, tolds, promises, st.sampled_from(ZONES), st.integers(1, 120))
def test_nothing_is_due_before_next_news_at(
    shipment: Shipment,
    told: EtaTold | None,
    promised_by: datetime | None,
    zone: str,
    later_hours: int,
) -> None:
    # What the chat knows once judged at T0, and from when it could hear more.
    _, known = chat_alerts([], shipment, told, T0, tz=zone, promised_by=promised_by)
    until = next_news_at(shipment, known, T0, tz=zone, promised_by=promised_by)
    later = T0 + later_hours * H
    if later >= until:
        return
    found, again = chat_alerts([], shipment, known, later, tz=zone, promised_by=promised_by)
    assert found == []
    assert again == known


def test_a_quiet_parcel_waits_for_its_first_promise_or_a_held_back_estimate() -> None:
    shipment = _parcel(Status.IN_TRANSIT, None, 48)
    first = EtaTold(first_latest=date(2026, 12, 10), day=date(2026, 12, 9), at=T0)
    # Told the current day: only the first promise's day passing can bring news.
    assert next_news_at(shipment, first, T0) == datetime(2026, 12, 11, tzinfo=UTC) - 15 * H
    # Told another day less than a day ago: the estimate is due a day after it was told.
    moved = EtaTold(first_latest=date(2026, 12, 10), day=date(2026, 12, 8), at=T0 - 2 * H)
    assert next_news_at(shipment, moved, T0) == T0 + 22 * H
    # A shop's promise counts from the promise itself.
    promised = T0 + 30 * H
    assert next_news_at(shipment, first, T0, promised_by=promised) == promised
    # Already told it is late, told the current day: nothing until the parcel changes.
    late = EtaTold(first_latest=date(2026, 12, 10), day=date(2026, 12, 9), at=T0, late=True)
    assert next_news_at(shipment, late, T0) == NEWS_NEVER


def test_a_chat_never_shown_a_window_is_judged_at_once() -> None:
    assert next_news_at(_parcel(Status.IN_TRANSIT, None, 48), None, T0) == T0


def test_arrived_or_not_coming_parcels_have_no_news() -> None:
    told = EtaTold(first_latest=date(2026, 12, 1), day=date(2026, 12, 1), at=T0 - 9 * D)
    for shipment in (
        _parcel(Status.DELIVERED, None, 0),
        _parcel(Status.IN_TRANSIT, IncidentReason.RETURNING, 48),
    ):
        assert next_news_at(shipment, told, T0, promised_by=T0 - D) == NEWS_NEVER
