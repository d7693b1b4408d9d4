"""Proactive updates at scale: 10,000 sandbox parcels over 14 days on a virtual clock.

Run: ``.venv/bin/python -m benchmarks.proactive_sim [--parcels 10000] [--days 14]``

Everything is the real thing except time: ``Refresher.poll_due`` and ``flush_outbox`` run
every ``--cycle`` virtual minutes (as the scheduler would) against a SQLite file, the sandbox
carrier and a notifier that records when each message went out. Parcels start over the first
two days, one chat each. Printed:

- provider requests per parcel per day (each parcel in a batch counts once), against 144 for
  a fixed 10-minute poller, and the ratio; also batched HTTP-level calls;
- the delay from a carrier scan to its alert reaching the chat (median, p90), overall and for
  out-for-delivery and delivered;
- poll-cycle throughput (parcels refreshed per wall-clock second inside ``poll_due``) and flush
  throughput (messages per second).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from core.incidents import DERIVED_REASONS
from core.models import (
    AlertKind,
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackBatch,
    TrackingNumber,
    TrackRequest,
)
from core.providers.sandbox import SandboxProvider
from core.replies import Reply
from core.service import ParcelService
from storage.codec import alert_from_json
from storage.db import Database

FIXED_POLLER_PER_DAY = 144
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SCAN_KINDS = frozenset(
    {
        AlertKind.SHIPPED,
        AlertKind.MOVED,
        AlertKind.OUT_FOR_DELIVERY,
        AlertKind.AVAILABLE_FOR_PICKUP,
        AlertKind.DELIVERED,
        AlertKind.INCIDENT,
    }
)


class VirtualClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current


class CountingProvider:
    """The sandbox, counting HTTP-level calls and parcels asked about."""

    def __init__(self, inner: SandboxProvider, max_batch: int) -> None:
        self.name = "sandbox"
        self.max_batch = max_batch
        self._inner = inner
        self.calls = 0
        self.parcels = 0

    def supports(self, carrier: str) -> bool:
        return True

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        self.calls += 1
        self.parcels += len(requests)
        return await self._inner.track(requests)


class NullNotifier:
    """Accepts every message (the outbox records when it was sent)."""

    def __init__(self) -> None:
        self.messages = 0

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        self.messages += 1


async def _seed(db: Database, parcels: int, rng: random.Random) -> None:
    writes: list[SnapshotWrite] = []
    for index in range(parcels):
        start = START + timedelta(seconds=rng.uniform(0, 2 * 86400))
        number = TrackingNumber(f"1ZBENCH{index:08d}")
        chat = ChatRef(Platform.CONSOLE, f"bench-{index}", f"user-{index}")
        await db.subscriptions.add(Subscription(chat, ShipmentKey("ups", number), created_at=start))
        shipment = Shipment("ups", number, Status.NOT_FOUND, checked_at=start, first_seen=start)
        writes.append(SnapshotWrite(shipment, start))
    await db.shipments.save_many(writes)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _delays(path: str) -> dict[str, list[float]]:
    """Minutes from each scan to the moment its alert was sent, per alert kind."""
    async with aiosqlite.connect(path) as conn:
        rows = await conn.execute_fetchall(
            "SELECT alert, sent_at FROM outbox WHERE sent_at IS NOT NULL"
        )
    found: dict[str, list[float]] = {"all scans": [], "out for delivery": [], "delivered": []}
    for text, sent_at in rows:
        alert = alert_from_json(text)
        if alert.kind not in SCAN_KINDS or alert.event is None:
            continue
        if alert.incident in DERIVED_REASONS:
            continue
        minutes = (datetime.fromisoformat(sent_at) - alert.event.time).total_seconds() / 60
        found["all scans"].append(minutes)
        if alert.kind is AlertKind.OUT_FOR_DELIVERY:
            found["out for delivery"].append(minutes)
        elif alert.kind is AlertKind.DELIVERED:
            found["delivered"].append(minutes)
    return found


async def run(parcels: int, days: int, cycle: timedelta, max_batch: int) -> None:
    rng = random.Random(2026)
    clock = VirtualClock(START)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sim.sqlite3"
        async with Database.open(path, clock=clock) as db:
            seed_started = time.perf_counter()
            await _seed(db, parcels, rng)
            seed_time = time.perf_counter() - seed_started
            provider = CountingProvider(SandboxProvider(clock), max_batch)
            service = ParcelService(provider=provider, store=db, clock=clock, rng=random.Random(1))
            notifier = NullNotifier()
            poll_time = flush_time = 0.0
            polled = cycles = 0
            busiest = 0
            kinds: Counter[str] = Counter()
            end = START + timedelta(days=days)
            while clock.current < end:
                clock.current += cycle
                cycles += 1
                started = time.perf_counter()
                while True:
                    stats = await service.refresh.poll_due(limit=5000)
                    polled += stats.checked
                    busiest = max(busiest, stats.checked)
                    if stats.checked < 5000:
                        break
                poll_time += time.perf_counter() - started
                started = time.perf_counter()
                while True:
                    flushed = await service.flush_outbox(notifier, limit=1000)
                    if flushed.messages == 0 and flushed.failed == 0:
                        break
                flush_time += time.perf_counter() - started
            pending = await db.outbox.pending_count()
            delays = await _delays(str(path))
            async with aiosqlite.connect(path) as conn:
                for kind, count in await conn.execute_fetchall(
                    "SELECT json_extract(alert, '$.kind'), count(*) FROM outbox GROUP BY 1"
                ):
                    kinds[str(kind)] = int(count)

    per_day = provider.parcels / (parcels * days)
    print(f"proactive simulation: {parcels:,} parcels, {days} days, poll every {cycle}")
    print(f"{'metric':<52}{'value':>14}")
    print("-" * 66)
    rows: list[tuple[str, str]] = [
        ("provider requests per parcel per day", f"{per_day:.2f}"),
        ("fixed 10-minute poller, per parcel per day", f"{FIXED_POLLER_PER_DAY}"),
        ("ratio (fixed / adaptive)", f"{FIXED_POLLER_PER_DAY / per_day:.1f}x"),
        (f"batched provider calls (max_batch {max_batch}), total", f"{provider.calls:,}"),
        ("parcels refreshed, total", f"{polled:,}"),
        ("busiest cycle, parcels", f"{busiest:,}"),
    ]
    for name, values in delays.items():
        rows.append(
            (
                f"scan → alert delay, {name}, median / p90 (min)",
                f"{statistics.median(values):.0f} / {_pct(values, 0.9):.0f}" if values else "-",
            )
        )
    rows += [
        ("poll throughput (parcels/s, wall clock)", f"{polled / poll_time:,.0f}"),
        ("flush throughput (messages/s)", f"{notifier.messages / max(flush_time, 1e-9):,.0f}"),
        ("messages sent", f"{notifier.messages:,}"),
        ("alerts still pending at the end", f"{pending}"),
        ("virtual cycles", f"{cycles:,}"),
        ("seeding time (s)", f"{seed_time:.1f}"),
        ("poll time / flush time (s)", f"{poll_time:.1f} / {flush_time:.1f}"),
    ]
    for name, value in rows:
        print(f"{name:<52}{value:>14}")
    print("alerts by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--parcels", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--cycle", type=float, default=5.0, help="virtual minutes per cycle")
    parser.add_argument("--max-batch", type=int, default=40)
    args = parser.parse_args(argv)
    asyncio.run(run(args.parcels, args.days, timedelta(minutes=args.cycle), args.max_batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
