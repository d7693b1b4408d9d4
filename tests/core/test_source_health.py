"""The one outage report: failing after K failed calls in a row, recovered after M good ones.

Every path that calls a source feeds it (polls, /track, order lookups, ``track_batch``), each
source is judged on its own, and nothing else logs an outage at WARNING.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from core.config import ServiceConfig
from core.errors import ProviderError, ProviderUnavailable, RateLimited, ShipmentNotFound
from core.eta.model import EtaModel
from core.eta.provider import EstimatingProvider
from core.models import (
    Shipment,
    Status,
    TrackBatch,
    TrackingNumber,
    TrackRequest,
)
from core.providers.router import ProviderRouter
from core.providers.sandbox import SAMPLES, SandboxShop, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.fakes import FakeClock, chat

K = 3
M = 4
CONFIG = ServiceConfig(fail_after_calls=K, recover_after_calls=M)


class ScriptedProvider:
    """Answers each call as told: "ok", "raise", "errors" (every number a source failure)
    or "missing" (every number not found); "ok" once the script runs out."""

    max_batch = 10

    def __init__(self, name: str, carriers: Sequence[str] = ("ups",)) -> None:
        self.name = name
        self._carriers = frozenset(carriers)
        self.script: list[str] = []

    def supports(self, carrier: str) -> bool:
        return carrier in self._carriers

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        step = self.script.pop(0) if self.script else "ok"
        if step == "raise":
            raise ProviderUnavailable(provider=self.name)
        batch = TrackBatch()
        for request in requests:
            if step == "errors":
                batch.errors[request.key] = RateLimited(provider=self.name, retry_after=1.0)
            elif step == "missing":
                batch.errors[request.key] = ShipmentNotFound()
            else:
                batch.shipments[request.key] = Shipment(
                    request.carrier, request.number, Status.IN_TRANSIT
                )
        return batch


def request(carrier: str = "ups", number: str = "1Z999AA10123456784") -> TrackRequest:
    return TrackRequest(TrackingNumber(number), carrier)


def reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Outage lines at WARNING or above, from any logger."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING
        and ("failing" in record.getMessage() or "recovered" in record.getMessage())
    ]


async def call(service: ParcelService, outcome: str, provider: ScriptedProvider) -> None:
    provider.script.append(outcome)
    try:
        await service.refresh.track_batch([request()])
    except ProviderError:
        assert outcome == "raise"


@pytest.fixture
def scripted() -> ScriptedProvider:
    return ScriptedProvider("demo")


@pytest.fixture
def health_service(db: Database, clock: FakeClock, scripted: ScriptedProvider) -> ParcelService:
    return ParcelService(
        provider=scripted, store=db, clock=clock, config=CONFIG, rng=random.Random(1)
    )


def test_the_defaults_have_hysteresis_both_ways() -> None:
    config = ServiceConfig()
    assert config.fail_after_calls > 1
    assert config.recover_after_calls >= config.fail_after_calls


async def test_fewer_than_k_failures_in_a_row_report_nothing(
    health_service: ParcelService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    for _ in range(3):
        for _ in range(K - 1):
            await call(health_service, "raise", scripted)
        await call(health_service, "ok", scripted)
    assert reports(caplog) == []
    assert health_service.failing_sources == frozenset()


async def test_k_failures_in_a_row_report_once(
    health_service: ParcelService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    for _ in range(K):
        await call(health_service, "raise", scripted)
    assert reports(caplog) == [
        f"source demo is failing ({K} failed calls in a row, last ProviderUnavailable); "
        "parcels are retried later"
    ]
    assert health_service.failing_sources == {"demo"}
    for _ in range(10):
        await call(health_service, "raise", scripted)
    assert len(reports(caplog)) == 1


async def test_flapping_below_m_successes_reports_no_recovery(
    health_service: ParcelService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    for _ in range(K):
        await call(health_service, "raise", scripted)
    for _ in range(5):
        for _ in range(M - 1):
            await call(health_service, "ok", scripted)
        await call(health_service, "raise", scripted)
    assert len(reports(caplog)) == 1
    assert health_service.failing_sources == {"demo"}
    for _ in range(M):
        await call(health_service, "ok", scripted)
    assert reports(caplog)[1:] == [f"source demo recovered ({M} good calls in a row)"]
    assert health_service.failing_sources == frozenset()
    # Once recovered, a new outage needs K failures in a row again.
    for _ in range(K - 1):
        await call(health_service, "raise", scripted)
    assert len(reports(caplog)) == 2


async def test_a_batch_of_source_errors_fails_and_not_found_succeeds(
    health_service: ParcelService, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(K):
        await call(health_service, "errors", scripted)
    assert health_service.failing_sources == {"demo"}
    for _ in range(M):
        await call(health_service, "missing", scripted)
    assert health_service.failing_sources == frozenset()
    assert len(reports(caplog)) == 2


async def test_each_source_behind_a_router_and_the_eta_wrapper_is_judged_alone(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ups = ScriptedProvider("ups-api", ("ups",))
    usps = ScriptedProvider("usps-api", ("usps",))
    router = ProviderRouter([ups, usps])
    wrapped = EstimatingProvider(router, EtaModel(), clock)
    service = ParcelService(
        provider=wrapped, store=db, clock=clock, config=CONFIG, routing=router.routing
    )
    both = [request("ups"), request("usps", "9400100000000000000000")]
    for _ in range(K):
        ups.script.append("raise")
        batch = await service.refresh.track_batch(both)
        assert len(batch.shipments) == 1
    assert service.failing_sources == {"ups-api"}
    assert reports(caplog) == [
        f"source ups-api is failing ({K} failed calls in a row, last ProviderUnavailable); "
        "parcels are retried later"
    ]


async def test_track_and_polls_feed_the_same_count(
    health_service: ParcelService,
    scripted: ScriptedProvider,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    who = chat("health")
    number = SAMPLES[Scenario.NORMAL]["ups"]
    await health_service.subscribe(who, number, carrier="ups")
    scripted.script.extend(["raise"] * (K - 1))
    for _ in range(K - 1):
        clock.advance(CONFIG.refresh_after * 2)  # the stored snapshot is stale: ask again
        # The failure counts; the person gets the stored snapshot, said to be old.
        reply = await health_service.track(who, number, carrier="ups")
        assert "not answering right now" in reply.plain_text()
    assert reports(caplog) == []
    scripted.script.append("raise")
    clock.advance(timedelta(days=1))
    stats = await health_service.refresh.poll_due()
    assert stats.errors == 1
    assert health_service.failing_sources == {"demo"}
    assert len(reports(caplog)) == 1


async def test_order_lookups_count_for_the_shop(
    db: Database, clock: FakeClock, scripted: ScriptedProvider, caplog: pytest.LogCaptureFixture
) -> None:
    shop = SandboxShop(clock)
    service = ParcelService(provider=scripted, store=db, clock=clock, orders=shop, config=CONFIG)
    who = chat("buyer")
    shop.unavailable = True
    for _ in range(K):
        with pytest.raises(ProviderError):
            await service.lookup_order(who, "576000000000000001", "12345")
    assert service.failing_sources == {shop.name}
    assert reports(caplog)[0].startswith(f"source {shop.name} is failing ({K} failed calls")
