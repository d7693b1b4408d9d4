"""Time travel over every sandbox journey with adaptive polling, derive and diff.

A virtual clock polls each sample parcel whenever ``next_check`` says, for up to 14 days,
exactly as the service does: derive the incident, diff against the previous snapshot,
schedule the next check. Every alert key must be new, each journey's milestones and
incidents must be told, and the number of provider calls must stay low.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from core import alerts, incidents, polling
from core.carriers import detect
from core.models import AlertKind, IncidentReason, Shipment, Status, TrackingNumber, TrackRequest
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario, build_shipment

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAYS = 14


@dataclass
class Walk:
    calls: int
    keys: list[str]
    kinds: Counter[AlertKind]
    incidents: set[IncidentReason]
    last: Shipment


def walk(number: str, seed: int = 1) -> Walk:
    request = TrackRequest(TrackingNumber(number), detect(number)[0].carrier.code, START)
    rng = random.Random(seed)
    now, previous, calls = START, None, 0
    keys: list[str] = []
    kinds: Counter[AlertKind] = Counter()
    found: set[IncidentReason] = set()
    while now < START + timedelta(days=DAYS):
        calls += 1
        shipment = build_shipment(request, START, now, 1.0)
        shipment = replace(shipment, checked_at=now)
        shipment = replace(shipment, incident=incidents.derive(shipment, now))
        if previous is not None:
            for alert in alerts.diff(previous, shipment, now):
                keys.append(alert.dedupe_key)
                kinds[alert.kind] += 1
                if alert.incident is not None:
                    found.add(alert.incident)
                # Re-polling the same data never says anything new.
                assert alerts.diff(shipment, shipment, now) == []
        previous = shipment
        upcoming = polling.next_check(shipment, now, rng)
        if upcoming is None:
            break
        now = upcoming
    assert previous is not None
    return Walk(calls, keys, kinds, found, previous)


EXPECTED_INCIDENTS: dict[Scenario, set[IncidentReason]] = {
    Scenario.NOT_YET_ACTIVE: {IncidentReason.NOT_YET_ACTIVE},
    Scenario.FAILED_ATTEMPT: {IncidentReason.RECIPIENT_UNAVAILABLE},
    Scenario.WEATHER_DELAY: {IncidentReason.WEATHER_DELAY},
    Scenario.ADDRESS_ISSUE: {IncidentReason.ADDRESS_ISSUE},
    Scenario.CUSTOMS_DUTIES: {IncidentReason.CUSTOMS_HOLD, IncidentReason.DUTIES_DUE},
    Scenario.RETURNED: {IncidentReason.RETURNED},
    Scenario.LOST: {IncidentReason.STALE, IncidentReason.LOST},
}


@pytest.mark.parametrize("scenario", list(SAMPLE_NUMBERS))
def test_sandbox_journey_alerts_once_per_change(scenario: Scenario) -> None:
    result = walk(SAMPLE_NUMBERS[scenario])
    assert len(result.keys) == len(set(result.keys)), "an alert key repeated"
    assert EXPECTED_INCIDENTS.get(scenario, set()) <= result.incidents
    assert result.calls / DAYS <= 6
    if result.last.status is Status.DELIVERED:
        assert result.kinds[AlertKind.DELIVERED] == 1
        assert result.kinds[AlertKind.DELIVERY_CHECK] == 1
        assert result.kinds[AlertKind.SHIPPED] == 1
    if scenario is Scenario.PICKUP_POINT:
        assert result.kinds[AlertKind.AVAILABLE_FOR_PICKUP] == 1


def test_sandbox_schedule_is_far_cheaper_than_a_fixed_poller() -> None:
    calls = [walk(number, seed).calls for number in SAMPLE_NUMBERS.values() for seed in (1, 2)]
    per_parcel_per_day = sum(calls) / len(calls) / DAYS
    assert per_parcel_per_day <= 6 < 144 / 20
