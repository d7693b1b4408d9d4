"""Provider chaos: 30 % of provider requests fail (timeout, 5xx, 429, bad JSON) for four days.

The fake provider stands in for a client over ``core.providers.http``: each call makes up to
``ATTEMPTS`` requests and fails only when all of them do, as the HTTP layer retries. Within the
four flaky days the provider is out once (``OUTAGE_CALLS`` calls in a row fail outright).
Polling must carry on, the outage must be reported (WARNING, by any logger) once when it starts
and once when it ends, the flaky requests around it must not be reported at all, and every
journey must still end with its alerts delivered exactly once.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence

import pytest

from core.config import ServiceConfig
from core.errors import ProviderError, ProviderUnavailable, RateLimited
from core.models import AlertKind, ShipmentKey, Status, TrackBatch, TrackingNumber, TrackRequest
from core.providers.sandbox import SAMPLES, SandboxProvider, Scenario, journey
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import TimedNotifier, health_changes, outbox_rows, walk
from tests.fakes import FakeClock, chat

log = logging.getLogger(__name__)

ATTEMPTS = 4
"""Requests per call before the call fails (``RetryPolicy.attempts``' default)."""
OUTAGE_CALLS = 6
"""The outage: this many calls in a row fail, more than ``ServiceConfig.fail_after_calls``."""


def _failure(kind: str) -> ProviderError:
    """What the HTTP layer raises for each kind of failure (see core.providers.http)."""
    if kind == "429":
        return RateLimited(provider="chaos", retry_after=90.0)
    # Timeouts, 5xx and bodies that are not JSON all become ProviderUnavailable.
    return ProviderUnavailable(provider="chaos")


class ChaosProvider:
    """A sandbox whose requests fail at ``rate`` while ``active``; ``down`` calls fail outright.

    A call retries a failed request up to ``ATTEMPTS`` times in all and raises the last
    failure when none got through, like ``core.providers.http.request_json``.
    """

    name = "chaos"
    max_batch = 4

    def __init__(self, inner: SandboxProvider, rate: float, seed: int) -> None:
        self._inner = inner
        self._rng = random.Random(seed)
        self.rate = rate
        self.active = False
        self.down = 0
        self.calls = 0
        self.requests = 0
        self.failed_calls = 0
        self.failures: Counter[str] = Counter()

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        self.calls += 1
        if self.down > 0:
            self.down -= 1
            self.failed_calls += 1
            raise ProviderUnavailable(provider=self.name)
        kind = ""
        for _ in range(ATTEMPTS):
            self.requests += 1
            if not self.active or self._rng.random() >= self.rate:
                return await self._inner.track(requests)
            kind = self._rng.choice(("timeout", "5xx", "429", "bad_json"))
            self.failures[kind] += 1
        self.failed_calls += 1
        raise _failure(kind)


async def test_polling_survives_30_percent_failures_and_logs_the_outage_once_each_way(
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
    # Every logger counts; the clients' own health lines are captured too (at DEBUG).
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="core")

    await walk(service, notifier, clock, hours=6)
    chaos.active = True
    calls_before, requests_before = chaos.calls, chaos.requests
    await walk(service, notifier, clock, hours=2 * 24, repeat_check=False)
    log.warning("outage starts")
    chaos.down = OUTAGE_CALLS
    await walk(service, notifier, clock, hours=2 * 24, repeat_check=False)
    chaos.active = False
    chaos_calls = chaos.calls - calls_before
    flaky = chaos.requests - requests_before
    await walk(service, notifier, clock, hours=10 * 24)

    assert chaos.down == 0
    assert chaos_calls >= 100
    assert 0.2 * flaky <= sum(chaos.failures.values()) <= 0.4 * flaky
    assert set(chaos.failures) == {"timeout", "5xx", "429", "bad_json"}
    # Flaky requests almost never fail a whole call; only the outage fails several in a row.
    assert OUTAGE_CALLS <= chaos.failed_calls <= OUTAGE_CALLS + 3
    changes = health_changes(caplog.records)
    fail_after = ServiceConfig().fail_after_calls
    recover_after = ServiceConfig().recover_after_calls
    assert changes == [
        "outage starts",
        f"source chaos is failing ({fail_after} failed calls in a row, last "
        "ProviderUnavailable); parcels are retried later",
        f"source chaos recovered ({recover_after} good calls in a row)",
    ], changes
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
