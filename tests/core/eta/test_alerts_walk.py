"""Sandbox walks with the bot's own estimates: exactly the estimate, late and never-handed-over
alerts each journey deserves, none repeated.

Each scenario's parcel is tracked through ``EstimatingProvider`` (the model learns from the
sandbox's deliveries as the walk goes), followed by one chat, and polled hourly for two weeks
with the real service, SQLite store and outbox.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

import pytest

from core.eta.model import EtaModel
from core.eta.provider import EstimatingProvider
from core.models import AlertKind, IncidentReason
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, SandboxShop, Scenario
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import OutboxRow, outbox_rows
from tests.fakes import FakeClock, RecordingNotifier, chat

LATE = {Scenario.WEATHER_DELAY, Scenario.LOST}
"""Journeys that pass the latest day first promised: delayed by weather, and lost."""


async def walk(scenario: Scenario, db: Database, clock: FakeClock) -> list[OutboxRow]:
    service = ParcelService(
        provider=EstimatingProvider(SandboxProvider(clock), EtaModel(), clock, db.observations),
        store=db,
        clock=clock,
        orders=SandboxShop(clock),
        rng=random.Random(7),
    )
    notifier = RecordingNotifier()
    me = chat("walker")
    await service.subscribe(me, SAMPLE_NUMBERS[scenario])
    for _ in range(14 * 24):
        clock.advance(timedelta(hours=1))
        await service.poll_due()
        await service.flush_outbox(notifier)
    rows = [row for row in await outbox_rows(db.path) if row.chat_key == me.chat_key]
    assert all(row.sent_at is not None for row in rows)
    return rows


@pytest.mark.parametrize("scenario", list(Scenario))
async def test_each_journey_gets_exactly_its_estimate_late_and_handover_alerts(
    scenario: Scenario, db: Database, clock: FakeClock
) -> None:
    rows = await walk(scenario, db, clock)
    keys = [row.alert.dedupe_key for row in rows]
    assert len(keys) == len(set(keys)), "an alert repeated"

    never = [r for r in rows if r.alert.incident is IncidentReason.NEVER_HANDED_OVER]
    late = [r for r in rows if r.alert.kind is AlertKind.LATE]
    news = [r for r in rows if r.alert.kind is AlertKind.ETA_CHANGED]
    assert len(never) == (1 if scenario is Scenario.NOT_YET_ACTIVE else 0)
    assert len(late) == (1 if scenario in LATE else 0)
    if scenario is Scenario.NOT_YET_ACTIVE:
        # No estimate sliding day after day for a label the carrier never scanned.
        assert news == []
    # New estimates: at most one a day, each saying which day it was before.
    times = [row.created_at for row in news]
    assert all(b - a >= timedelta(days=1) for a, b in itertools.pairwise(times))
    assert all(row.alert.detail for row in news)
    kinds = Counter(row.alert.kind for row in rows)
    assert kinds[AlertKind.ETA_CHANGED] <= 14
