"""Core benchmark: ``track`` on a stored parcel, and poll-cycle throughput.

Run: ``.venv/bin/python benchmarks/core_track_poll.py [--sizes 10000 100000]``

- track: p50/p99 latency of ``ParcelService.track`` answering from a stored snapshot (the
  common case: the parcel was refreshed minutes ago). Target p99 ≤ 10 ms.
- poll: parcel updates per second through ``poll_due`` on N sandbox parcels, each with one
  subscriber: provider call, incident derivation, alert diff, outbox rows and persistence in
  one transaction per cycle. Target ≥ 20,000 updates/s on 2 cores. Two workloads:

  - *first poll*: every parcel is polled once, two days after it was added, so every one of
    them changed (about 4.5 new scans each, and an alert for most): the heaviest cycle there is.
  - *steady state*: the scheduler's next day on the same parcels, one ``poll_due`` round per
    virtual 10 minutes for whatever is due; most polls find a parcel unchanged.

  The same two workloads run once more in a fresh process with the bot's garbage collector
  settings (``bots.gc_settings.apply_bot_gc_settings``, as ``parcelbot run`` applies them
  after start-up), and the peak resident memory of that process is compared with a fresh
  process running them under CPython's default settings (the rows above them use those).

  Only the ``poll_due`` calls are timed (not the seeding). The parcels are seeded through the
  same ``Database`` object that polls them, as in a running bot; ``--restart`` opens the file
  again before polling, so nothing the storage layer remembers from seeding is used.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing
import random
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ab import poller

from bots.gc_settings import apply_bot_gc_settings
from core import models
from core.models import (
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    Status,
    Subscription,
    TrackingNumber,
)
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService, ServiceConfig
from storage.db import Database

# ``benchmarks/ab.py`` runs this file against older checkouts too, where the write value still
# lived in ``core.ports``.
SnapshotWrite: Any = getattr(models, "SnapshotWrite", None) or (
    importlib.import_module("core.ports").SnapshotWrite
)


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


@dataclass
class PollRun:
    """Updates, alerts and the time spent inside ``poll_due``: wall-clock, and the CPU time of
    the whole process (the database thread's too), which other work on a shared machine
    disturbs less."""

    updates: int = 0
    alerts: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        """Updates per CPU second."""
        return self.updates / self.cpu_seconds if self.cpu_seconds else 0.0


async def _poll_all_due(service: ParcelService, batch: int, run: PollRun) -> None:
    while True:
        start, cpu = time.perf_counter(), time.process_time()
        stats = await poller(service).poll_due(batch)
        run.seconds += time.perf_counter() - start
        run.cpu_seconds += time.process_time() - cpu
        if stats.checked == 0:
            return
        run.updates += stats.checked
        run.alerts += stats.alerts


async def bench_poll(count: int, batch: int, *, restart: bool) -> tuple[PollRun, PollRun]:
    """(first poll, steady state) on ``count`` parcels; see the module docstring."""
    first, steady = PollRun(), PollRun()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite3"
        clock = Clock()
        async with Database.open(path) as db:
            await _seed(db, clock, count)
            if not restart:
                await _polls(db, clock, batch, first, steady)
        if restart:
            async with Database.open(path) as reopened:
                await _polls(reopened, clock, batch, first, steady)
    return first, steady


async def _polls(db: Database, clock: Clock, batch: int, first: PollRun, steady: PollRun) -> None:
    service = ParcelService(
        provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(1)
    )
    clock.current += timedelta(days=2)
    await _poll_all_due(service, batch, first)
    for _ in range(24 * 6):
        clock.current += timedelta(minutes=10)
        await _poll_all_due(service, batch, steady)


def _in_process(
    size: int, batch: int, restart: bool, bot_gc: bool
) -> tuple[PollRun, PollRun, float]:
    """Both poll workloads in a fresh process (optionally with the bot's garbage collector
    settings): (first poll, steady state, the process's peak resident memory in MiB)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_child, (size, batch, restart, bot_gc))


def _child(size: int, batch: int, restart: bool, bot_gc: bool) -> tuple[PollRun, PollRun, float]:
    if bot_gc:
        apply_bot_gc_settings()
    first, steady = asyncio.run(bench_poll(size, batch, restart=restart))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return first, steady, peak_kib / 1024


async def main(sizes: list[int], samples: int, batch: int, restart: bool) -> None:
    p50, p99 = await bench_track(samples)
    print("| measure | figure | target | ratio to target |")
    print("|---|---|---|---|")
    print(f"| track on a stored parcel, p50 | {p50:.2f} ms | — | — |")
    print(f"| track on a stored parcel, p99 | {p99:.2f} ms | ≤ 10 ms | {10 / p99:.1f}× |")
    after = ", after a restart" if restart else ""
    for size in sizes:
        first, steady = await bench_poll(size, batch, restart=restart)
        for name, run in (("first poll, all changed", first), ("steady state, next 24 h", steady)):
            print(
                f"| poll cycle, {size:,} parcels, {name}{after} ({run.updates:,} updates, "
                f"{run.alerts:,} alerts) | {run.rate:,.0f} updates/s | ≥ 20,000/s "
                f"| {run.rate / 20000:.2f}× |"
            )
        first, steady, tuned_peak = _in_process(size, batch, restart, bot_gc=True)
        for name, run in (("first poll, all changed", first), ("steady state, next 24 h", steady)):
            print(
                f"| poll cycle, {size:,} parcels, {name}{after}, bot's GC settings "
                f"({run.updates:,} updates, {run.alerts:,} alerts) | {run.rate:,.0f} updates/s "
                f"| ≥ 20,000/s | {run.rate / 20000:.2f}× |"
            )
        *_, default_peak = _in_process(size, batch, restart, bot_gc=False)
        print(
            f"| peak RSS of a process running both poll workloads, {size:,} parcels{after}: "
            f"default GC / bot's GC settings | {default_peak:,.0f} MiB / {tuned_peak:,.0f} MiB "
            "| — | — |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument(
        "--batch", type=int, default=1000, help="parcels per poll_due call (the poll batch)"
    )
    parser.add_argument(
        "--restart", action="store_true", help="reopen the database between seeding and polling"
    )
    options = parser.parse_args()
    asyncio.run(main(options.sizes, options.samples, options.batch, options.restart))
