"""Core benchmark: ``track`` on a stored parcel, and poll-cycle throughput.

Run: ``.venv/bin/python benchmarks/core_track_poll.py [--sizes 10000 100000]``

- track: p50/p99 latency of ``ParcelService.track`` answering from a stored snapshot (the
  common case: the parcel was refreshed minutes ago). Target p99 ≤ 10 ms.
- poll: parcel updates per second through ``poll_due`` on N sandbox parcels, each with one
  subscriber: provider call, incident derivation, alert diff, outbox rows and persistence in
  one transaction per cycle. Target ≥ 20,000 updates/s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.models import (
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    Status,
    Subscription,
    TrackingNumber,
)
from core.ports import SnapshotWrite
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService, ServiceConfig
from storage.db import Database


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


def _number(index: int) -> TrackingNumber:
    return TrackingNumber(f"1ZBENCH{index:011d}")


async def _seed(db: Database, clock: Clock, count: int) -> None:
    """N parcels first seen now, each followed by one chat, all due at once."""
    writes = []
    for index in range(count):
        shipment = Shipment(
            carrier="ups",
            number=_number(index),
            status=Status.INFO_RECEIVED,
            checked_at=clock.now(),
            first_seen=clock.now(),
        )
        writes.append(SnapshotWrite(shipment, clock.now()))
    for start in range(0, count, 5000):
        await db.shipments.save_many(writes[start : start + 5000])
    for index in range(count):
        chat = ChatRef(Platform.CONSOLE, f"chat{index}", f"user{index}")
        await db.subscriptions.add(
            Subscription(chat=chat, key=ShipmentKey("ups", _number(index)), created_at=clock.now())
        )


async def bench_track(samples: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        async with Database.open(Path(folder) / "bench.sqlite3") as db:
            service = ParcelService(
                provider=SandboxProvider(clock),
                store=db,
                clock=clock,
                config=ServiceConfig(user_requests_per_minute=10**9),
            )
            chat = ChatRef(Platform.CONSOLE, "bench", "bench")
            number = SAMPLE_NUMBERS[Scenario.NORMAL]
            await service.track(chat, number)
            timings = []
            for _ in range(samples):
                start = time.perf_counter()
                await service.track(chat, number)
                timings.append(time.perf_counter() - start)
    timings.sort()
    return statistics.median(timings) * 1000, timings[int(len(timings) * 0.99)] * 1000


async def bench_poll(count: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        async with Database.open(Path(folder) / "bench.sqlite3") as db:
            await _seed(db, clock, count)
            service = ParcelService(
                provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(1)
            )
            clock.current += timedelta(days=2)
            updates = alerts = 0
            start = time.perf_counter()
            while True:
                stats = await service.poll_due(1000)
                if stats.checked == 0:
                    break
                updates += stats.checked
                alerts += stats.alerts
            elapsed = time.perf_counter() - start
    return updates / elapsed, updates, alerts


async def main(sizes: list[int], samples: int) -> None:
    p50, p99 = await bench_track(samples)
    print("| measure | figure | target | ratio to target |")
    print("|---|---|---|---|")
    print(f"| track on a stored parcel, p50 | {p50:.2f} ms | — | — |")
    print(f"| track on a stored parcel, p99 | {p99:.2f} ms | ≤ 10 ms | {10 / p99:.1f}× |")
    for size in sizes:
        rate, updates, alerts = await bench_poll(size)
        print(
            f"| poll cycle, {size:,} parcels ({updates:,} updates, {alerts:,} alerts) "
            f"| {rate:,.0f} updates/s | ≥ 20,000/s | {rate / 20000:.2f}× |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samples", type=int, default=2000)
    options = parser.parse_args()
    asyncio.run(main(options.sizes, options.samples))
