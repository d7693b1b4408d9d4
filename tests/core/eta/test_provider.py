"""Arrival windows on tracked parcels, and learning from every delivery."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core import cooperative
from core.eta import provider as eta_provider
from core.eta.model import EtaModel, source_text
from core.eta.provider import FRESH_FOR, EstimatingProvider
from core.models import (
    Eta,
    EtaSource,
    Shipment,
    Status,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.replies import shipment_reply
from storage.db import Database
from tests.fakes import FakeClock
from tests.turns import Turns


def _request(scenario: Scenario, clock: FakeClock) -> TrackRequest:
    return TrackRequest(TrackingNumber(SAMPLE_NUMBERS[scenario]), "ups", clock.now())


async def test_parcel_in_transit_gets_a_window_ahead_of_now(db: Database, clock: FakeClock) -> None:
    provider = EstimatingProvider(SandboxProvider(clock), EtaModel(), clock, db.observations)
    request = _request(Scenario.LOST, clock)
    await provider.track([request])
    clock.advance(timedelta(hours=30))
    batch = await provider.track([request])
    shipment = batch.shipments[request.key]
    assert shipment.status is Status.IN_TRANSIT
    assert shipment.eta is not None
    assert shipment.eta.earliest <= shipment.eta.most_likely <= shipment.eta.latest
    assert shipment.eta.latest >= clock.now()
    lines = shipment_reply(shipment).lines
    assert source_text(shipment.eta, "UPS") in lines
    assert any(line.startswith("Arrives ") for line in lines)


async def test_carrier_eta_is_shown_as_the_carriers_when_we_know_little(
    db: Database, clock: FakeClock
) -> None:
    inner = SandboxProvider(clock)
    provider = EstimatingProvider(inner, EtaModel(), clock, db.observations)
    request = _request(Scenario.NORMAL, clock)
    raw = (await inner.track([request])).shipments[request.key]
    shown = (await provider.track([request])).shipments[request.key]
    assert raw.eta is not None and raw.eta.source is EtaSource.CARRIER
    assert shown.eta is not None
    assert shown.eta.source is EtaSource.CARRIER
    assert shown.eta.most_likely == raw.eta.most_likely


async def test_each_delivery_is_learned_once_and_survives_a_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "eta.sqlite3"
    model = EtaModel()
    request = _request(Scenario.NORMAL, clock)
    async with Database.open(path) as db:
        provider = EstimatingProvider(SandboxProvider(clock), model, clock, db.observations)
        await provider.track([request])
        clock.advance(timedelta(days=10))
        delivered = (await provider.track([request])).shipments[request.key]
        assert delivered.status is Status.DELIVERED
        assert delivered.eta is None
        await provider.track([request])
        assert len(model) == 1
        assert await db.observations.count() == 1
    async with Database.open(path) as db:
        again = EtaModel()
        assert again.observe_many(await db.observations.all()) == 1
        # A fresh process that polls the same delivered parcel does not count it twice.
        provider = EstimatingProvider(SandboxProvider(clock), again, clock, db.observations)
        await provider.track([request])
        assert await db.observations.count() == 1
        assert len(again) == 1


class _CountingModel(EtaModel):
    """An ``EtaModel`` that counts the estimates it works out."""

    def __init__(self) -> None:
        super().__init__()
        self.estimated = 0

    def estimate_shipment(self, shipment: Shipment, **kwargs: Any) -> Eta | None:
        self.estimated += 1
        return super().estimate_shipment(shipment, **kwargs)


def _in_transit(handed_at: datetime, *scans: TrackingEvent) -> Shipment:
    handed = TrackingEvent(handed_at, Status.IN_TRANSIT, "Picked up")
    return Shipment(
        carrier="ups",
        number=TrackingNumber("1ZSBX1230300000263"),
        status=scans[-1].status if scans else Status.IN_TRANSIT,
        events=(handed, *scans),
        origin="US",
        destination="US",
    )


async def _windows_before_and_after(
    clock: FakeClock, model: EtaModel, status: Status, description: str, place: str
) -> tuple[Shipment, Shipment]:
    """A parcel handed over now, enriched, then again two hours later with one new scan."""
    provider = EstimatingProvider(SandboxProvider(clock), model, clock)
    handed = clock.now()
    [first] = await provider.enrich([_in_transit(handed)])
    clock.advance(timedelta(hours=2))
    scan = TrackingEvent(clock.now(), status, description, place)
    [second] = await provider.enrich([_in_transit(handed, scan)])
    return first, second


async def test_a_new_scan_that_changes_nothing_the_estimate_reads_keeps_the_window(
    clock: FakeClock,
) -> None:
    # Every push carries a new scan; re-estimating for a scan the estimate does not read
    # (same status, same handover) was most of a push's processing.
    model = _CountingModel()
    first, second = await _windows_before_and_after(
        clock, model, Status.IN_TRANSIT, "Sorted at hub", "Louisville, KY"
    )
    assert first.eta is not None and first.eta.earliest > clock.now()
    assert model.estimated == 1
    assert second.eta == first.eta


async def test_a_scan_that_changes_the_stage_is_estimated_again(clock: FakeClock) -> None:
    model = _CountingModel()
    first, second = await _windows_before_and_after(
        clock, model, Status.OUT_FOR_DELIVERY, "Out for delivery", "Austin, TX"
    )
    assert model.estimated == 2
    assert first.eta is not None and second.eta is not None
    assert second.eta.latest <= first.eta.latest


async def test_a_begun_window_stands_for_minutes_of_scans_then_is_worked_out_again(
    clock: FakeClock,
) -> None:
    model = _CountingModel()
    provider = EstimatingProvider(SandboxProvider(clock), model, clock)
    handed = clock.now() - timedelta(days=3)  # its window has begun
    [first] = await provider.enrich([_in_transit(handed)])
    assert first.eta is not None and first.eta.earliest == clock.now()
    clock.advance(FRESH_FOR / 3)
    hub = TrackingEvent(clock.now(), Status.IN_TRANSIT, "Sorted at hub", "Louisville, KY")
    [second] = await provider.enrich([_in_transit(handed, hub)])
    assert model.estimated == 1
    assert second.eta is not None
    # The window never starts before now; only its start moved.
    assert second.eta.earliest == clock.now()
    assert (second.eta.latest, second.eta.source) == (first.eta.latest, first.eta.source)
    clock.advance(FRESH_FOR)
    await provider.enrich([_in_transit(handed, hub)])
    assert model.estimated == 2


async def test_a_full_memo_of_windows_is_let_go_in_slices(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cooperative, "SLICE", 0.0)  # every slice is a chance to give way
    monkeypatch.setattr(cooperative, "RELEASE_SLICE", 1)
    monkeypatch.setattr(eta_provider, "_SEEN_LIMIT", 4)
    turns = Turns()
    freed: list[int] = []

    class Watched(eta_provider._Seen):
        __slots__ = ()

        def __del__(self) -> None:
            freed.append(turns.count)

    monkeypatch.setattr(eta_provider, "_Seen", Watched)
    provider = EstimatingProvider(SandboxProvider(clock), EtaModel(), clock)
    handed = clock.now()
    parcels = [
        replace(_in_transit(handed), number=TrackingNumber(f"1ZMEMO{i:04d}")) for i in range(6)
    ]
    await provider.enrich(parcels[:4])  # the memo is full
    with turns:
        windows = await provider.enrich(parcels[4:])
    assert all(window.eta is not None for window in windows)
    # The four windows remembered before were freed one at a time, the other task running
    # in between.
    assert len(freed) == 4
    assert all(after > before for before, after in itertools.pairwise(freed))
