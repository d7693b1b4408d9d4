"""The sandbox carrier reuses its last answer while no new scan is visible (poll throughput)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.models import TrackingNumber, TrackRequest
from core.providers.sandbox import SAMPLES, SandboxProvider, Scenario, build_shipment
from core.providers.sandbox import provider as sandbox_provider

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current


def _request(scenario: Scenario = Scenario.NORMAL) -> TrackRequest:
    return TrackRequest(TrackingNumber(SAMPLES[scenario]["ups"]), "ups", T0)


async def test_an_unchanged_parcel_gets_the_same_scans_and_a_new_check_time() -> None:
    clock = Clock()
    provider = SandboxProvider(clock)
    request = _request()
    clock.current = T0 + timedelta(hours=30)
    first = (await provider.track([request])).shipments[request.key]
    clock.current += timedelta(minutes=10)
    second = (await provider.track([request])).shipments[request.key]
    assert second == build_shipment(request, T0, clock.current, 1.0)
    assert second.events is first.events
    assert second.checked_at == clock.current
    assert second.first_seen == T0


async def test_new_scans_keep_the_earlier_scan_objects_and_match_a_fresh_build() -> None:
    clock = Clock()
    provider = SandboxProvider(clock)
    for scenario in Scenario:
        request = _request(scenario)
        clock.current = T0 + timedelta(hours=10)
        before = (await provider.track([request])).shipments[request.key]
        for hours in (21, 60, 90, 150, 250):
            clock.current = T0 + timedelta(hours=hours)
            after = (await provider.track([request])).shipments[request.key]
            assert after == build_shipment(request, T0, clock.current, 1.0), (scenario, hours)
            shared = min(len(before.events), len(after.events))
            assert all(a is b for a, b in zip(before.events, after.events, strict=False))
            assert len(after.events) >= shared
            before = after


async def test_another_start_speed_or_an_earlier_clock_is_built_afresh() -> None:
    clock = Clock()
    provider = SandboxProvider(clock)
    request = _request()
    clock.current = T0 + timedelta(hours=60)
    await provider.track([request])
    moved = replace(request, first_seen=T0 + timedelta(hours=5))
    got = (await provider.track([moved])).shipments[request.key]
    assert got == build_shipment(moved, moved.first_seen or T0, clock.current, 1.0)
    provider.speed = 2.0
    got = (await provider.track([request])).shipments[request.key]
    assert got == build_shipment(request, T0, clock.current, 2.0)
    provider.speed = 1.0
    clock.current = T0 + timedelta(hours=1)  # a clock set back sees fewer scans
    got = (await provider.track([request])).shipments[request.key]
    assert got == build_shipment(request, T0, clock.current, 1.0)


async def test_a_full_memory_forgets_its_oldest_answer_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_provider, "_RECENT_LIMIT", 2)
    clock = Clock()
    provider = SandboxProvider(clock)
    clock.current = T0 + timedelta(hours=30)
    oldest, kept, newest = (
        _request(scenario)
        for scenario in (Scenario.NORMAL, Scenario.LEFT_AT_DOOR, Scenario.WEATHER_DELAY)
    )
    first = {
        request.key: (await provider.track([request])).shipments[request.key]
        for request in (oldest, kept, newest)
    }
    clock.current += timedelta(minutes=10)
    again = {
        request.key: (await provider.track([request])).shipments[request.key]
        for request in (kept, oldest)
    }
    # The answer still remembered reuses its scans; the forgotten one is built afresh.
    assert again[kept.key].events is first[kept.key].events
    assert again[oldest.key].events is not first[oldest.key].events
    for request in (kept, oldest):
        assert again[request.key] == build_shipment(request, T0, clock.current, 1.0)
