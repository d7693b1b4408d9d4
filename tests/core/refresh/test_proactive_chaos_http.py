"""Provider chaos over real HTTP: the real 17TRACK client against a flaky loopback 17TRACK.

The fake answers like 17TRACK (``tests.providers.fake_17track``) with parcels that follow the
sandbox journeys as a fake clock moves. A seeded RNG fails about 30 % of the requests with a
read timeout, HTTP 500, HTTP 503, HTTP 429 (``Retry-After: 0``), an HTML page with status
200 or truncated JSON; no more than two in a row, so the client's retries absorb them. Once,
the provider goes down for a stretch (every request fails) and then turns flaky again.

The real ``ParcelService`` on a real SQLite file polls and flushes through ten virtual days.
A failed poll is retried a second later (the scheduler's next tick), so the chaos run looks at
every parcel at the same virtual moments as a control run with no failures: both must deliver
exactly the same alerts, each once per subscriber. The outage must be reported (WARNING, by
any logger) once when it starts and once when it ends, by the service alone; the flaky requests
around it, absorbed by the client's retries, must not be reported at all.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.config import ServiceConfig
from core.models import (
    AlertKind,
    ChatRef,
    IncidentReason,
    ShipmentKey,
    Status,
    TrackingNumber,
)
from core.pacing import SlidingWindow
from core.providers.http import RetryPolicy, create_http_client
from core.providers.sandbox import SAMPLES, Journey, Scenario, Step, journey
from core.providers.seventeen_track import (
    SeventeenTrackClient,
    carrier_from_code,
    map_status,
)
from core.service import ParcelService
from storage.db import Database
from tests.core.proactive_helpers import OutboxRow, health_changes, outbox_rows
from tests.fakes import FakeClock, RecordingNotifier, chat
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, Recorded, Reply, html_page, json_reply, slow

log = logging.getLogger(__name__)

TIMEOUT = 0.2
"""The client's per-request timeout (seconds); a "timeout" answer arrives well after it."""
ATTEMPTS = 3
RETRY = RetryPolicy(attempts=ATTEMPTS, base_delay=0.001, max_delay=0.01, jitter=0.0)
RATE = 0.3
SEED = 17
OUTAGE_REQUESTS = 4 * ATTEMPTS
"""The outage: this many requests in a row fail, i.e. four whole calls."""
OUTAGE_HOUR = 30
HOURS = 10 * 24
TICK = timedelta(seconds=1)
"""How soon a failed poll is retried (the scheduler's next tick)."""

KINDS = ("timeout", "500", "503", "429", "html-200", "truncated-json")

PARCELS: tuple[tuple[Scenario, str], ...] = (
    (Scenario.NORMAL, "ups"),
    (Scenario.OUT_FOR_DELIVERY_SIGNED, "usps"),
    (Scenario.LEFT_AT_DOOR, "fedex"),
    (Scenario.FAILED_ATTEMPT, "fedex"),
    (Scenario.WEATHER_DELAY, "ups"),
    (Scenario.ADDRESS_ISSUE, "usps"),
    (Scenario.CUSTOMS_DUTIES, "fedex"),
    (Scenario.PICKUP_POINT, "ups"),
    (Scenario.RETURNED, "usps"),
    (Scenario.LOST, "fedex"),
)
FAMILY = chat("family", group=True)
"""A group chat that follows every other parcel too: alerts fan out to two subscribers."""


# --- 17TRACK payloads from sandbox journeys ---------------------------------------------------

_SUB_STATUS: Mapping[tuple[Status, IncidentReason | None], str] = {
    (Status.INFO_RECEIVED, None): "InfoReceived",
    (Status.IN_TRANSIT, None): "InTransit_Other",
    (Status.OUT_FOR_DELIVERY, None): "OutForDelivery_Other",
    (Status.AVAILABLE_FOR_PICKUP, None): "AvailableForPickup_Other",
    (Status.DELIVERED, None): "Delivered_Other",
    (Status.DELIVERY_FAILED, IncidentReason.RECIPIENT_UNAVAILABLE): "DeliveryFailure_NoBody",
    (Status.DELIVERY_FAILED, IncidentReason.REFUSED): "DeliveryFailure_Rejected",
    (Status.EXCEPTION, IncidentReason.WEATHER_DELAY): "Exception_Delayed",
    (Status.EXCEPTION, IncidentReason.ADDRESS_ISSUE): "Exception_Other",
    (Status.EXCEPTION, IncidentReason.CUSTOMS_HOLD): "Exception_Security",
    (Status.EXCEPTION, IncidentReason.DUTIES_DUE): "Exception_Security",
    (Status.EXCEPTION, IncidentReason.RETURNING): "Exception_Returning",
    (Status.EXCEPTION, IncidentReason.RETURNED): "Exception_Returned",
    (Status.EXCEPTION, IncidentReason.LOST): "Exception_Lost",
}


def sub_status(step: Step) -> str:
    """17TRACK's sub-status for a sandbox scan (the pickup scan has its own)."""
    if step.status is Status.IN_TRANSIT and step.code == "PU":
        return "InTransit_PickedUp"
    return _SUB_STATUS[(step.status, step.incident)]


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def _country(place: str) -> str:
    return place.rsplit(",", 1)[-1].strip()


def track_info(trip: Journey, start: datetime, now: datetime) -> dict[str, Any]:
    """The ``track_info`` 17TRACK would show at ``now`` for a journey that began at ``start``.

    Same shape as the recorded fixture: events newest first, latest status and event,
    milestones, the carrier's delivery window and the route's countries.
    """
    visible = [step for step in trip.steps if start + step.at <= now]
    events = [
        {
            "time_utc": _stamp(start + step.at),
            "description": step.description,
            "location": step.location,
            "stage": sub_status(step).split("_", 1)[0],
            "sub_status": sub_status(step),
        }
        for step in reversed(visible)
    ]
    last = visible[-1] if visible else None
    milestones = []
    picked_up = next((step for step in visible if step.status is Status.IN_TRANSIT), None)
    if picked_up is not None:
        milestones.append({"key_stage": "PickedUp", "time_utc": _stamp(start + picked_up.at)})
    if last is not None and last.status is Status.DELIVERED:
        milestones.append({"key_stage": "Delivered", "time_utc": _stamp(start + last.at)})
    window = None
    if last is not None and last.eta is not None:
        likely = start + last.eta
        window = {
            "source": "Official",
            "from": _stamp(likely - timedelta(hours=6)),
            "to": _stamp(likely + timedelta(hours=4)),
        }
    return {
        "shipping_info": {
            "shipper_address": {"country": _country(trip.origin)},
            "recipient_address": {"country": _country(trip.destination)},
        },
        "latest_status": {
            "status": sub_status(last).split("_", 1)[0] if last else "NotFound",
            "sub_status": sub_status(last) if last else "NotFound_Other",
        },
        "latest_event": events[0] if events else None,
        "time_metrics": {"estimated_delivery_date": window},
        "milestone": milestones,
        "tracking": {"providers": [{"provider": {"key": 0}, "events": events}]},
    }


# --- the flaky provider -----------------------------------------------------------------------


class ChaosTrack:
    """17TRACK on loopback whose parcels follow sandbox journeys on ``clock``, with failures.

    ``rate`` of the requests fail (the kind picked by a seeded RNG) but never more than
    ``max_streak`` in a row. ``down`` makes that many requests in a row fail, whatever the
    streak: the provider is out. A timed-out or truncated answer was processed by the server
    (only the answer got lost); the other failures were not.
    """

    def __init__(self, clock: FakeClock, *, rate: float, seed: int, max_streak: int) -> None:
        self.api = Fake17Track()
        self.clock = clock
        self.rate = rate
        self.max_streak = max_streak
        self.down = 0
        self.requests = 0
        self.failures: Counter[str] = Counter()
        self.outage_failures: Counter[str] = Counter()
        self.starts: dict[str, datetime] = {}
        self._rng = random.Random(seed)
        self._streak = 0

    def install(self, server: FakeServer) -> None:
        for action in ("register", "gettrackinfo", "getquota"):
            server.route("POST", f"{PREFIX}/{action}", self.answer)

    def answer(self, request: Recorded) -> Reply:
        self.requests += 1
        outage = self.down > 0
        kind = self._failure()
        if kind is None:
            return self._serve(request)
        (self.outage_failures if outage else self.failures)[kind] += 1
        if kind == "timeout":
            return slow(TIMEOUT + 0.15, self._serve(request))
        if kind == "truncated-json":
            body = self._serve(request).body
            return Reply(body=body[: len(body) // 2])
        if kind == "500":
            return json_reply({"code": 500, "data": {"errors": []}}, status=500)
        if kind == "503":
            return html_page(503)
        if kind == "429":
            return json_reply(
                {"code": 429, "data": {"errors": [{"code": 429, "message": "Too many requests."}]}},
                status=429,
                headers={"retry-after": "0"},
            )
        return html_page(200)

    def _failure(self) -> str | None:
        if self.down > 0:
            self.down -= 1
        elif self._streak >= self.max_streak or self._rng.random() >= self.rate:
            self._streak = 0
            return None
        self._streak += 1
        return self._rng.choice(KINDS)

    def _serve(self, request: Recorded) -> Reply:
        """The real answer, with every asked-for number's data as of the clock's ``now``."""
        if request.path.endswith("/gettrackinfo"):
            now = self.clock.now()
            for item in request.json():
                number = str(item["number"])
                start = self.starts.setdefault(number, now)
                trip = journey(number, carrier_from_code(item.get("carrier")))
                self.api.infos[number] = track_info(trip, start, now)
        return self.api.answer(request)


async def _no_wait(seconds: float) -> None:
    """Retry back-off without real waiting (the delays are tiny anyway)."""


@asynccontextmanager
async def tracking_over_http(
    chaos: ChaosTrack, clock: FakeClock
) -> AsyncIterator[SeventeenTrackClient]:
    server = FakeServer()
    chaos.install(server)
    url = await server.start()
    try:
        async with create_http_client(timeout=TIMEOUT, connect_timeout=TIMEOUT) as http:
            yield SeventeenTrackClient(
                http,
                api_key=KEY,
                base_url=url + PREFIX,
                limiter=SlidingWindow(1000),
                retry=RETRY,
                clock=clock,
                sleep=_no_wait,
                timeout=TIMEOUT,
            )
    finally:
        await server.close()


# --- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    chaos: ChaosTrack
    rows: list[OutboxRow]
    messages: list[tuple[str, str, tuple[str, ...]]]
    finals: dict[ShipmentKey, Status]
    failed_polls: int
    polls: int
    failing_after: frozenset[str]


def parcels() -> list[tuple[ChatRef, str, str]]:
    return [
        (chat(f"{scenario}-{carrier}"), SAMPLES[scenario][carrier], carrier)
        for scenario, carrier in PARCELS
    ]


async def run_journeys(db: Database, *, rate: float, outage: int = 0) -> Run:
    """Subscribe every parcel, then poll and flush hourly for ``HOURS`` virtual hours.

    A poll with errors is repeated ``TICK`` later until it gets through; ``poll_due`` must
    never raise. With ``outage``, that many requests fail in a row from ``OUTAGE_HOUR`` on.
    """
    clock = FakeClock()
    chaos = ChaosTrack(clock, rate=rate, seed=SEED, max_streak=ATTEMPTS - 1)
    notifier = RecordingNotifier()
    failed_polls = polls = 0
    async with tracking_over_http(chaos, clock) as client:
        service = ParcelService(
            provider=client,
            store=db,
            clock=clock,
            config=ServiceConfig(error_retry=TICK),
            rng=random.Random(9),
        )
        for index, (who, number, carrier) in enumerate(parcels()):
            await service.subscribe(who, number, carrier=carrier)
            if index % 2 == 0:
                await service.subscribe(FAMILY, number, carrier=carrier)
        for hour in range(1, HOURS + 1):
            clock.advance(timedelta(hours=1))
            if outage and hour == OUTAGE_HOUR:
                log.warning("outage starts")
                chaos.down = outage
            for _ in range(10):
                stats = await service.refresh.poll_due()
                polls += 1
                if not stats.errors:
                    break
                failed_polls += 1
                clock.advance(TICK)
            else:
                raise AssertionError(f"polling never got through at hour {hour}")
            await service.flush_outbox(notifier)
    finals: dict[ShipmentKey, Status] = {}
    for _who, number, carrier in parcels():
        key = ShipmentKey(carrier, TrackingNumber(number))
        stored = await db.shipments.get(key)
        assert stored is not None
        finals[key] = stored.status
    return Run(
        chaos=chaos,
        rows=await outbox_rows(db.path),
        messages=[(who.chat_key, reply.title, reply.lines) for who, reply in notifier.sent],
        finals=finals,
        failed_polls=failed_polls,
        polls=polls,
        failing_after=service.failing_sources,
    )


# --- tests ------------------------------------------------------------------------------------


def test_fake_payloads_read_back_as_the_journey_statuses() -> None:
    """The fake's vocabulary maps back to the sandbox statuses through the real parser."""
    for scenario in Scenario:
        for carrier, number in SAMPLES[scenario].items():
            for step in journey(number, carrier).steps:
                main = sub_status(step).split("_", 1)[0]
                assert map_status(main, sub_status(step), step.description)[0] is step.status


async def test_chaos_over_http_delivers_every_alert_once_and_logs_the_outage_once(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Every logger counts, at DEBUG for the core and its providers.
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="core")
    async with Database.open(tmp_path / "control.sqlite3") as control_db:
        control = await run_journeys(control_db, rate=0.0)
    assert control.failed_polls == 0
    assert sum(control.chaos.failures.values()) == 0
    caplog.clear()

    chaos = await run_journeys(db, rate=RATE, outage=OUTAGE_REQUESTS)

    # About 30 % of the requests failed, every kind of failure among them.
    flaky_requests = chaos.chaos.requests - OUTAGE_REQUESTS
    assert flaky_requests >= 150
    assert 0.2 * flaky_requests <= sum(chaos.chaos.failures.values()) <= 0.4 * flaky_requests
    assert set(chaos.chaos.failures) == set(KINDS)
    assert sum(chaos.chaos.outage_failures.values()) == OUTAGE_REQUESTS

    # Polling carried on: retries absorbed the flaky requests; only the outage failed polls.
    assert chaos.failed_polls == OUTAGE_REQUESTS // ATTEMPTS
    assert chaos.failing_after == frozenset()

    # The outage is reported once going down and once coming back, by the service alone.
    changes = health_changes(caplog.records)
    config = ServiceConfig()
    assert len(changes) == 3, changes
    assert changes[0] == "outage starts"
    assert changes[1].startswith(
        f"source 17track is failing ({config.fail_after_calls} failed calls in a row, last "
    )
    assert (
        changes[2] == f"source 17track recovered ({config.recover_after_calls} good calls in a row)"
    )
    assert KEY not in caplog.text

    # Every parcel reached the end of its journey, in both runs.
    for _who, number, carrier in parcels():
        key = ShipmentKey(carrier, TrackingNumber(number))
        assert chaos.finals[key] is journey(number, carrier).steps[-1].status, number
    assert chaos.finals == control.finals

    # Every alert was sent exactly once per subscriber, and none is missing against the control.
    assert all(row.sent_at is not None for row in chaos.rows)
    sent = Counter((row.chat_key, row.alert.dedupe_key) for row in chaos.rows)
    assert max(sent.values()) == 1
    assert set(sent) == {(row.chat_key, row.alert.dedupe_key) for row in control.rows}
    assert chaos.messages == control.messages
    family = [row for row in chaos.rows if row.chat_key == FAMILY.chat_key]
    for who, number, _carrier in parcels()[::2]:
        own = {row.alert.dedupe_key for row in chaos.rows if row.chat_key == who.chat_key}
        shared = {row.alert.dedupe_key for row in family if row.alert.key.number == number}
        assert own == shared, number
    for who, _number, _carrier in parcels():
        kinds = {row.alert.kind for row in chaos.rows if row.chat_key == who.chat_key}
        assert AlertKind.SHIPPED in kinds, who.chat_key
        assert kinds & {AlertKind.DELIVERED, AlertKind.INCIDENT}, who.chat_key
