"""Storage write throughput: ``ShipmentRepository.save_many`` on a real SQLite file.

A parcel update is what a poll cycle writes for one parcel: its snapshot with the poll time
and next check, its full event history as the provider reports it, and its alerts. "mixed"
rounds are the usual poll (one parcel in three has a new scan and a new ETA, some of those
queue an alert to two chats; the rest are unchanged but for the poll time); "all moved"
rounds give every parcel a new scan and ETA. Reads (``get_many``, ``get``) are measured too.

    .venv/bin/python benchmarks/storage_write.py [--parcels 20000] [--events 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Eta,
    EtaSource,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    TrackingEvent,
    TrackingNumber,
)
from storage.db import Database

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
UPDATE_ROUNDS = 3
MIXED_MOVE_EVERY = 3
CHATS = (ChatRef(Platform.TELEGRAM, "100", "100"), ChatRef(Platform.DISCORD, "200", "201"))


def make_event(index: int) -> TrackingEvent:
    return TrackingEvent(
        time=START + timedelta(hours=6 * index),
        status=Status.IN_TRANSIT,
        description=f"Departed facility {index}",
        location=f"Hub {index}, Springfield",
        raw_code=f"T{index}",
    )


def moves(number: int, round_no: int, move_every: int) -> int:
    """How many update rounds up to ``round_no`` brought this parcel a new scan."""
    return sum(1 for r in range(1, round_no + 1) if (number + r) % move_every == 0)


def make_write(number: int, events: int, round_no: int, move_every: int) -> SnapshotWrite:
    """Parcel ``number`` as a poll in ``round_no`` sees it (round 0: the first save).

    In each update round one parcel in ``move_every`` moves: a new scan, a new ETA and, for
    a third of those, an alert to two chats. The others come back unchanged but for the
    poll time, as most parcels do on most polls.
    """
    moved = moves(number, round_no, move_every)
    history = tuple(make_event(i) for i in range(events + moved))
    shipment = Shipment(
        carrier="ups",
        number=TrackingNumber(f"1Z{number:016d}"),
        status=Status.IN_TRANSIT,
        events=history,
        eta=Eta(
            START + timedelta(days=3),
            START + timedelta(days=5),
            START + timedelta(days=4, hours=moved),
            EtaSource.LEARNED,
            0.8,
        ),
        checked_at=START + timedelta(minutes=round_no),
        provider="sandbox",
        origin="Shenzhen, CN",
        destination="Springfield, US",
    )
    alerts: tuple[tuple[ChatRef, Alert], ...] = ()
    if round_no and (number + round_no) % move_every == 0 and number % 3 == 0:
        alert = Alert(
            AlertKind.MOVED,
            shipment.key,
            f"{shipment.key}:moved:{round_no}",
            event=history[-1],
        )
        alerts = tuple((chat, alert) for chat in CHATS)
    return SnapshotWrite(
        shipment, START + timedelta(hours=1, minutes=round_no, seconds=number), alerts
    )


async def update_rounds(
    db: Database, parcels: int, events: int, batch: int, *, move_every: int, first_round: int
) -> tuple[float, float]:
    """Best wall-clock rate of ``UPDATE_ROUNDS`` rounds (the box is shared, so the best round
    is the least disturbed one) and that round's CPU time per parcel."""
    best = (0.0, 0.0)
    for round_no in range(first_round, first_round + UPDATE_ROUNDS):
        writes = [make_write(n, events, round_no, move_every) for n in range(parcels)]
        gc.collect()  # collect the input's garbage now, not inside the timed loop
        cpu, started = time.process_time(), time.perf_counter()
        for offset in range(0, parcels, batch):
            await db.shipments.save_many(writes[offset : offset + batch])
        rate = parcels / (time.perf_counter() - started)
        if rate > best[0]:
            best = (rate, (time.process_time() - cpu) / parcels * 1e6)
    return best


async def measure(path: Path, parcels: int, events: int, batch: int) -> dict[str, float]:
    result: dict[str, float] = {}
    async with Database.open(path) as db:
        writes = [make_write(n, events, 0, 1) for n in range(parcels)]
        gc.collect()
        started = time.perf_counter()
        for offset in range(0, parcels, batch):
            await db.shipments.save_many(writes[offset : offset + batch])
        result["insert"] = parcels / (time.perf_counter() - started)
        del writes
        result["mixed"], result["mixed_cpu"] = await update_rounds(
            db, parcels, events, batch, move_every=MIXED_MOVE_EVERY, first_round=1
        )
        result["moved"], result["moved_cpu"] = await update_rounds(
            db, parcels, events, batch, move_every=1, first_round=1 + UPDATE_ROUNDS
        )
        keys = [ShipmentKey("ups", TrackingNumber(f"1Z{n:016d}")) for n in range(parcels)]
        gc.collect()
        started = time.perf_counter()
        for offset in range(0, parcels, batch):
            await db.shipments.get_many(keys[offset : offset + batch])
        result["read"] = parcels / (time.perf_counter() - started)
        latencies = []
        for n in range(0, parcels, max(1, parcels // 500)):
            t0 = time.perf_counter()
            await db.shipments.get(keys[n])
            latencies.append((time.perf_counter() - t0) * 1000)
        result["get_p50_ms"] = statistics.median(latencies)
        result["get_p99_ms"] = statistics.quantiles(latencies, n=100)[98]
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parcels", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=8, help="events per parcel at first")
    parser.add_argument("--batches", default="100,500,1000")
    args = parser.parse_args()
    print(
        f"{args.parcels:,} parcels in a SQLite file, {args.events} events each at first. "
        f"mixed: 1 in {MIXED_MOVE_EVERY} parcels moves per poll; all moved: every one does."
    )
    header = (
        f"{'batch':>6} {'insert/s':>9} {'mixed/s':>9} {'cpu µs':>7} {'moved/s':>9} "
        f"{'cpu µs':>7} {'get_many/s':>11} {'get p50 ms':>11} {'get p99 ms':>11}"
    )
    print(header)
    print("-" * len(header))
    for batch in (int(b) for b in args.batches.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            r = await measure(Path(tmp) / "bench.db", args.parcels, args.events, batch)
        print(
            f"{batch:>6} {r['insert']:>9,.0f} {r['mixed']:>9,.0f} {r['mixed_cpu']:>7.1f} "
            f"{r['moved']:>9,.0f} {r['moved_cpu']:>7.1f} {r['read']:>11,.0f} "
            f"{r['get_p50_ms']:>11.3f} {r['get_p99_ms']:>11.3f}"
        )
    print(
        f"parcel updates/s: best of {UPDATE_ROUNDS} rounds, wall clock, one save_many per "
        "batch; cpu µs: CPU time per parcel over both threads (event loop + SQLite worker)"
    )


if __name__ == "__main__":
    asyncio.run(main())
