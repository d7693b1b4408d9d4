"""Provider chaos: 30 % of provider calls fail (timeout, 5xx, 429, bad JSON) for four days.

Polling must carry on, the failing source must be logged once when it starts failing and once
when it recovers, and every journey must still end with its alerts delivered exactly once.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from core.errors import ProviderError, ProviderUnavailable, RateLimited
from core.models import AlertKind, ShipmentKey, Status, TrackBatch, TrackingNumber, TrackRequest
from core.providers.sandbox import SAMPLES, SandboxProvider, Scenario, journey
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import TimedNotifier, outbox_rows, walk
from tests.fakes import FakeClock, chat


def _failure(kind: str) -> ProviderError:
    """What the HTTP layer raises for each kind of failure (see core.providers._http)."""
    if kind == "429":
        return RateLimited(provider="chaos", retry_after=90.0)
    # Timeouts, 5xx and bodies that are not JSON all become ProviderUnavailable.
    return ProviderUnavailable(provider="chaos")


class ChaosProvider:
    """A sandbox that fails ``rate`` of its calls while ``active``."""

    name = "chaos"
    max_batch = 4

    def __init__(self, inner: SandboxProvider, rate: float, seed: int) -> None:
        self._inner = inner
        self._rng = random.Random(seed)
        self.rate = rate
        self.active = False
        self.calls = 0
        self.failures: Counter[str] = Counter()

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        self.calls += 1
        if self.active and self._rng.random() < self.rate:
            kind = self._rng.choice(("timeout", "5xx", "429", "bad_json"))
            self.failures[kind] += 1
            raise _failure(kind)
        return await self._inner.track(requests)


async def test_polling_survives_30_percent_failures_and_logs_once_each_way(
    db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    chaos = ChaosProvider(SandboxProvider(clock), rate=0.3, seed=4)
    service = ParcelService(provider=chaos, store=db, clock=clock, rng=random.Random(9))
    notifier = TimedNotifier(clock)
    parcels = [
        (chat(f"{scenario}-{carrier}"), SAMPLES[scenario][carrier], carrier)
        for scenario in Scenario
        for carrier in ("ups", "usps", "fedex")
    ]
    for who, number, carrier in parcels:
        await service.subscribe(who, number, carrier=carrier)
    caplog.set_level(logging.WARNING, logger="core.service")

    await walk(service, notifier, clock, hours=6)
    chaos.active = True
    calls_before = chaos.calls
    await walk(service, notifier, clock, hours=4 * 24, repeat_check=False)
    chaos.active = False
    chaos_calls = chaos.calls - calls_before
    await walk(service, notifier, clock, hours=10 * 24)

    assert chaos_calls >= 100
    assert sum(chaos.failures.values()) >= 0.2 * chaos_calls
    assert set(chaos.failures) == {"timeout", "5xx", "429", "bad_json"}
    messages = [r.getMessage() for r in caplog.records if r.name == "core.service"]
    assert len([m for m in messages if "is failing" in m]) == 1, messages
    assert len([m for m in messages if "recovered" in m]) == 1, messages
    assert service.failing_sources == frozenset()

    rows = await outbox_rows(db.path)
    assert all(row.sent_at is not None for row in rows)
    keys = Counter((row.chat_key, row.alert.dedupe_key) for row in rows)
    assert max(keys.values()) == 1
    for who, number, carrier in parcels:
        stored = await db.shipments.get(ShipmentKey(carrier, TrackingNumber(number)))
        assert stored is not None
        assert stored.status is journey(number, carrier).steps[-1].status
        kinds = {row.alert.kind for row in rows if row.chat_key == who.chat_key}
        if stored.status is Status.DELIVERED:
            assert AlertKind.DELIVERED in kinds, number
            assert AlertKind.DELIVERY_CHECK in kinds, number
        elif stored.status is Status.EXCEPTION:
            assert AlertKind.INCIDENT in kinds, number
        assert len(notifier.to(who)) == len([r for r in rows if r.chat_key == who.chat_key])
