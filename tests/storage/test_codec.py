"""Round trips of the core's value objects through their stored form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.models import (
    Alert,
    AlertKind,
    Eta,
    EtaSource,
    IncidentReason,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from storage.codec import (
    alert_from_json,
    alert_to_json,
    chat_from_columns,
    chat_to_columns,
    event_from_row,
    event_to_row,
    shipment_from_row,
    shipment_to_row,
    time_from_text,
    time_to_text,
)
from tests.storage.helpers import T0, chat, event, key

aware_times = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.just(UTC),
)


@given(aware_times)
def test_time_round_trip_is_exact(value: datetime) -> None:
    back = time_from_text(time_to_text(value))
    assert back == value
    assert back.tzinfo is UTC


@given(aware_times, aware_times)
def test_text_order_is_time_order(a: datetime, b: datetime) -> None:
    assert (time_to_text(a) < time_to_text(b)) == (a < b)


def test_other_offsets_are_stored_as_the_same_instant_in_utc() -> None:
    local = datetime(2026, 3, 2, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    text = time_to_text(local)
    assert text == "2026-03-02T09:30:00.000000+00:00"
    assert time_from_text(text) == local


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        time_to_text(datetime(2026, 3, 2, 9, 0))


def test_event_round_trip_with_incident() -> None:
    scan = TrackingEvent(
        time=T0,
        status=Status.EXCEPTION,
        description="Customs: duties due",
        location="Köln, DE",
        raw_code="CU-7",
        incident=IncidentReason.DUTIES_DUE,
    )
    assert event_from_row(event_to_row(scan)) == scan


def full_shipment() -> Shipment:
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1Z999AA10123456784"),
        status=Status.DELIVERED,
        events=(event(0), event(5)),
        eta=Eta(
            earliest=T0 + timedelta(days=2),
            latest=T0 + timedelta(days=4),
            most_likely=T0 + timedelta(days=3),
            source=EtaSource.COMBINED,
            confidence=0.8123456789,
        ),
        promised_by=T0 + timedelta(days=5),
        checked_at=T0 + timedelta(days=3, microseconds=17),
        delivered_at=T0 + timedelta(days=3),
        proof=ProofOfDelivery(ProofKind.SIGNATURE, "J. SMITH"),
        incident=IncidentReason.LATE,
        provider="17track",
        shipped_at=T0 - timedelta(days=1),
        first_seen=T0 - timedelta(days=1, hours=2),
        origin="Shenzhen, CN",
        destination="Springfield, US",
    )


def test_shipment_round_trip_keeps_every_field() -> None:
    original = full_shipment()
    row = shipment_to_row(original, T0, T0 + timedelta(hours=1))
    assert shipment_from_row(row, original.events) == original


def test_minimal_shipment_round_trip_and_first_seen_default() -> None:
    bare = Shipment(
        carrier="usps", number=TrackingNumber("9400100000000000000000"), status=Status.NOT_FOUND
    )
    row = shipment_to_row(bare, T0, None)
    back = shipment_from_row(row, ())
    assert back.first_seen == T0
    assert back == Shipment(
        carrier="usps",
        number=TrackingNumber("9400100000000000000000"),
        status=Status.NOT_FOUND,
        first_seen=T0,
    )


@pytest.mark.parametrize("with_event", [True, False])
def test_alert_round_trip(with_event: bool) -> None:
    original = Alert(
        kind=AlertKind.INCIDENT,
        key=key(),
        dedupe_key="ups:1Z999AA10123456784:incident:address_issue",
        event=event(3, "Adresse unvollständig — 住所") if with_event else None,
        incident=IncidentReason.ADDRESS_ISSUE if with_event else None,
        detail="Bring ID",
    )
    assert alert_from_json(alert_to_json(original)) == original


def test_chat_round_trip() -> None:
    group = chat("-100200", "42", group=True)
    chat_key, platform, chat_id, user_id, is_group = chat_to_columns(group)
    assert chat_key == group.chat_key
    assert chat_from_columns(platform, chat_id, user_id, is_group) == group


def test_repeated_times_keep_their_text() -> None:
    # Stored times are remembered with their text (storage.codec._texts): a repeat, an equal
    # instant given in another offset, and a naive twin must all still come out right.
    value = datetime(2026, 3, 2, 9, 30, 0, 123, tzinfo=UTC)
    text = time_to_text(value)
    assert time_to_text(value) == text == "2026-03-02T09:30:00.000123+00:00"
    assert time_to_text(value.astimezone(timezone(timedelta(hours=-5)))) == text
    with pytest.raises(ValueError, match="naive"):
        time_to_text(value.replace(tzinfo=None))


def test_more_distinct_times_than_are_remembered_are_all_right() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    values = [start + timedelta(seconds=n) for n in range(10_000)]
    for _ in range(2):
        texts = [time_to_text(value) for value in values]
        assert texts == [value.isoformat(timespec="microseconds") for value in values]
