"""``/health``, ``/ready`` and ``/metrics`` over loopback HTTP on a real runtime.

The sandbox runtime (and, for the sources check, the real 17TRACK client against a loopback
fake) with a real SQLite file; only the heartbeat's monotonic clock is moved by hand so that
"older than 3 × the interval" needs no waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bots.readiness import Heartbeat
from bots.runtime import Runtime, open_ops_server, open_runtime
from bots.settings import load_settings
from core.check_digits import gs1_mod10
from core.config import ServiceConfig
from core.errors import TrackingError
from core.models import Platform
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.fakes import RecordingNotifier, chat
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track
from tests.providers.fake_server import FakeServer, Recorded, Reply, json_reply

pytestmark = pytest.mark.usefixtures("clean_environment")

TOKEN = "ops-token-5f2c1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NUMBERS = [SAMPLE_NUMBERS[s] for s in (Scenario.NORMAL, Scenario.LEFT_AT_DOOR, Scenario.LOST)]


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Ops:
    def __init__(self, runtime: Runtime, url: str, client: httpx.AsyncClient, ticks: Ticks):
        self.runtime, self.url, self.client, self.ticks = runtime, url, client, ticks

    async def ready(self, *, token: bool = True) -> tuple[int, dict[str, Any]]:
        answer = await self.client.get(self.url + "/ready", headers=AUTH if token else {})
        body: dict[str, Any] = answer.json()
        return answer.status_code, body

    async def metrics(self) -> dict[str, float]:
        answer = await self.client.get(self.url + "/metrics", headers=AUTH)
        assert answer.status_code == 200
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def beat(self) -> None:
        self.runtime.heartbeat.polled()
        self.runtime.heartbeat.flushed()


QUOTA = "parcelbot_provider_quota_remaining{kind=registrations,provider=17track}"
"""The sample of 17TRACK's registration quota."""


def live_values(tmp_path: Path, fake: FakeServer) -> dict[str, Any]:
    """Settings for a runtime on the real 17TRACK client, pointed at ``fake``."""
    return {
        "db": str(tmp_path / "live.sqlite3"),
        "seventeen_track_api_key": KEY,
        "seventeen_track_base_url": fake.url + PREFIX,
    }


async def open_ops(settings_values: dict[str, Any]) -> AsyncIterator[Ops]:
    settings = load_settings(health_port=0, health_token=TOKEN, **settings_values)
    ticks = Ticks()
    async with open_runtime(settings) as runtime:
        runtime.heartbeat = Heartbeat(monotonic=ticks)
        # A scrape waits up to ``QUOTA_WAIT`` for a quota reading; the longer timeout keeps
        # a test that shows a scrape no longer waiting for a slow reading from hanging.
        async with open_ops_server(runtime) as url, httpx.AsyncClient(timeout=30) as client:
            assert url
            yield Ops(runtime, url, client, ticks)


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[Ops]:
    values = {"db": str(tmp_path / "ops.sqlite3"), "ready_max_backlog": 2}
    async for opened in open_ops(values):
        yield opened


async def queue_alerts(runtime: Runtime) -> int:
    """Follow three sandbox parcels, move the sandbox clock, poll: alerts wait in the outbox."""
    for number in NUMBERS:
        await runtime.service.subscribe(chat("7"), number)
    assert runtime.sandbox
    runtime.clock.advance(timedelta(days=3))  # type: ignore[attr-defined]
    stats = await runtime.service.refresh.poll_due(500)
    runtime.polled(stats)
    return stats.alerts


async def test_health_is_plain_and_ready_shows_details_only_with_the_token(ops: Ops) -> None:
    health = await ops.client.get(ops.url + "/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    status, body = await ops.ready(token=False)
    assert (status, body) == (200, {"status": "ready"})
    wrong = await ops.client.get(ops.url + "/ready", headers={"Authorization": "Bearer nope"})
    assert wrong.json() == {"status": "ready"}
    status, body = await ops.ready()
    assert status == 200 and body["failing"] == []
    assert set(body["checks"]) == {"database", "poll", "flush", "backlog", "sources"}
    assert body["mode"] == "sandbox" and body["webhooks"] == {}
    assert (await ops.client.get(ops.url + "/metrics")).status_code == 401


async def test_ready_fails_while_the_database_file_is_gone_and_recovers(
    ops: Ops, tmp_path: Path
) -> None:
    db = tmp_path / "ops.sqlite3"
    moved = tmp_path / "elsewhere.sqlite3"
    db.rename(moved)
    try:
        status, body = await ops.ready()
        assert status == 503 and body["failing"] == ["database"]
        assert (await ops.ready(token=False))[1] == {"status": "not ready"}
    finally:
        moved.rename(db)
    status, body = await ops.ready()
    assert status == 200 and body["failing"] == []


@pytest.mark.parametrize("job", ["poll", "flush"])
async def test_ready_fails_when_a_job_is_three_intervals_late_and_recovers(
    ops: Ops, job: str
) -> None:
    settings = ops.runtime.settings
    interval = settings.poll_interval if job == "poll" else settings.flush_interval
    ops.beat()
    ops.ticks.now += interval * 3 - 0.5
    if job == "poll":
        ops.runtime.heartbeat.flushed()
    else:
        ops.runtime.heartbeat.polled()
    assert (await ops.ready())[0] == 200
    ops.ticks.now += 1.0
    status, body = await ops.ready()
    assert status == 503 and body["failing"] == [job]
    assert body["checks"][job]["limit"] == interval * 3
    ops.beat()
    assert (await ops.ready())[0] == 200


async def test_ready_fails_over_the_backlog_limit_and_recovers_once_sent(ops: Ops) -> None:
    queued = await queue_alerts(ops.runtime)
    assert queued > 2
    status, body = await ops.ready()
    assert status == 503 and body["failing"] == ["backlog"]
    assert body["checks"]["backlog"] == {"ok": False, "due": queued, "limit": 2}

    notifier = RecordingNotifier()
    ops.runtime.notifier.register(Platform.CONSOLE, notifier)
    ops.runtime.flushed(await ops.runtime.service.flush_outbox(ops.runtime.notifier))
    assert notifier.sent
    status, body = await ops.ready()
    assert status == 200 and body["checks"]["backlog"]["due"] == 0


async def test_metrics_parse_and_move_when_alerts_are_queued_and_sent(ops: Ops) -> None:
    before = await ops.metrics()
    assert before["parcelbot_alerts_sent_total"] == 0
    assert before["parcelbot_outbox_backlog"] == 0

    queued = await queue_alerts(ops.runtime)
    waiting = await ops.metrics()
    assert waiting["parcelbot_alerts_queued_total"] == queued
    assert waiting["parcelbot_outbox_backlog"] == queued
    assert waiting["parcelbot_outbox_oldest_age_seconds"] >= 0

    notifier = RecordingNotifier()
    ops.runtime.notifier.register(Platform.CONSOLE, notifier)
    ops.runtime.flushed(await ops.runtime.service.flush_outbox(ops.runtime.notifier))
    after = await ops.metrics()
    assert after["parcelbot_alerts_sent_total"] == queued
    assert after["parcelbot_alerts_failed_total"] == 0
    assert after["parcelbot_outbox_backlog"] == 0
    assert after["parcelbot_last_flush_timestamp_seconds"] > 0

    # Commands are counted and timed by name and outcome.
    await ops.runtime.router.run(chat("7"), "list", [])
    with pytest.raises(Exception, match="tracking number"):
        await ops.runtime.router.handle_text(chat("7"), "/track")
    counted = await ops.metrics()
    assert counted["parcelbot_commands_total{command=list,outcome=ok}"] == 1
    assert counted["parcelbot_commands_total{command=track,outcome=refused}"] == 1
    assert counted["parcelbot_command_duration_seconds_count{command=list}"] == 1


async def test_ready_fails_when_every_source_fails_and_recovers(
    tmp_path: Path, fake: FakeServer
) -> None:
    tracker = Fake17Track()
    tracker.install(fake)
    values = live_values(tmp_path, fake)
    number = "9400111206206406260787"
    async for ops in open_ops(values):
        await ops.runtime.service.track(chat("8"), number)
        assert (await ops.ready())[0] == 200

        down = json_reply({"code": -1}, status=503, headers={"Retry-After": "0"})
        for action in ("register", "gettrackinfo"):
            fake.route("POST", f"{PREFIX}/{action}", down)
        with pytest.raises(TrackingError):
            await ops.runtime.service.track(chat("8"), usps(900))
        # One failed call is a blip, not an outage: still ready.
        assert (await ops.ready())[0] == 200
        for serial in range(901, 900 + ServiceConfig().fail_after_calls):
            with pytest.raises(TrackingError):
                await ops.runtime.service.track(chat("8"), usps(serial))
        status, body = await ops.ready()
        assert status == 503 and body["failing"] == ["sources"]
        assert body["checks"]["sources"]["states"] == {"17track": "failing"}
        samples = await ops.metrics()
        assert samples["parcelbot_provider_errors_total{provider=17track}"] >= 1
        assert samples[QUOTA] == tracker.quota  # getquota still answers
        last_reading = tracker.quota
        assert samples["parcelbot_provider_calls_total{provider=17track}"] >= 2

        tracker.install(fake)
        # The service calls a source back after several good calls in a row (hysteresis).
        for serial in range(ServiceConfig().recover_after_calls):
            await ops.runtime.service.track(chat("9"), usps(serial))
        status, body = await ops.ready()
        assert status == 200, body
        ops.runtime._quota_read_at = None  # the next scrape reads the quota again
        fake.route("POST", f"{PREFIX}/getquota", down)
        samples = await ops.metrics()  # a failed reading keeps the last one; the scrape answers
        assert samples[QUOTA] == last_reading != tracker.quota
        assert samples["parcelbot_outbox_backlog"] == 0


def usps(serial: int) -> str:
    """A valid USPS number (GS1 mod-10 check digit) per serial."""
    body = f"940011120620640626{serial:03d}"
    return body + gs1_mod10(body)


async def test_a_scrape_does_not_wait_for_a_slow_quota_reading(
    tmp_path: Path, fake: FakeServer
) -> None:
    """17TRACK answering ``getquota`` slowly holds no scrape: ``/metrics`` answers without the
    reading, and the reading sets the gauge once 17TRACK answers."""
    tracker = Fake17Track(quota=123)
    tracker.install(fake)
    answer = asyncio.Event()

    async def held(recorded: Recorded) -> Reply:
        await answer.wait()
        return tracker.answer(recorded)

    fake.route("POST", f"{PREFIX}/getquota", held)
    values = live_values(tmp_path, fake)
    async for ops in open_ops(values):
        # Before the change the scrape waited for getquota, which answers only once released.
        first = await ops.metrics()
        assert QUOTA not in first
        assert len(fake.calls("POST", f"{PREFIX}/getquota")) == 1
        answer.set()
        for _ in range(200):
            samples = await ops.metrics()
            if QUOTA in samples:
                break
            await asyncio.sleep(0.05)
        assert samples[QUOTA] == 123
        assert len(fake.calls("POST", f"{PREFIX}/getquota")) == 1  # one reading, not one a scrape
