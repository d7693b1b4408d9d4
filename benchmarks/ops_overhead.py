"""What the operations features cost, each beside its baseline measured in the same run.

1. Commands: ``/help`` through the plain ``CommandRouter`` and through ``MeteredRouter``
   (counted and timed), alternating in rounds on the same database.
2. Probes over loopback HTTP on one operations server: ``/health`` (answers at once, the
   baseline) against ``/ready`` (database file, heartbeat, outbox query, sources) and
   ``/metrics`` (outbox and due-parcel queries, then the exposition text).
3. Writes while a backup runs: subscriptions per second committed by the bot with no
   backup, and while ``storage.backup.backup`` copies the same database over and over in a
   thread; plus the time one backup takes at that size.

    .venv/bin/python benchmarks/ops_overhead.py [--rounds 5] [--parcels 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bots.metrics import MeteredRouter, Metrics
from bots.runtime import Runtime, open_ops_server, open_runtime
from bots.settings import load_settings
from core.commands import CommandRouter
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from storage.backup import backup

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


def chat(serial: int) -> ChatRef:
    return ChatRef(Platform.CONSOLE, f"b{serial}", f"b{serial}")


async def commands(runtime: Runtime, rounds: int, per_round: int) -> dict[str, list[float]]:
    routers = {
        "CommandRouter": CommandRouter(runtime.service),
        "MeteredRouter": MeteredRouter(runtime.service, Metrics()),
    }
    times: dict[str, list[float]] = {name: [] for name in routers}
    for index in range(rounds):
        order = list(routers) if index % 2 == 0 else list(reversed(routers))
        for name in order:
            router = routers[name]
            start = time.perf_counter()
            for serial in range(per_round):
                await router.run(chat(serial), "help", [])
            times[name].append((time.perf_counter() - start) / per_round * 1e6)
    return times


async def probes(runtime: Runtime, rounds: int, per_round: int) -> dict[str, list[float]]:
    paths = ["/health", "/ready", "/metrics"]
    times: dict[str, list[float]] = {path: [] for path in paths}
    async with open_ops_server(runtime) as url, httpx.AsyncClient() as client:
        for index in range(rounds):
            # Rotate the order so that no path always runs first.
            for path in paths[index % 3 :] + paths[: index % 3]:
                start = time.perf_counter()
                for _ in range(per_round):
                    answer = await client.get(url + path)
                    assert answer.status_code in (200, 503)
                times[path].append((time.perf_counter() - start) / per_round * 1e3)
    return times


async def writes_during_backup(
    runtime: Runtime, db: Path, seconds: float, rounds: int
) -> tuple[dict[str, list[float]], list[float]]:
    rates: dict[str, list[float]] = {"no backup": [], "backups running": []}
    backup_seconds: list[float] = []
    serial = 10_000_000

    async def write_for(duration: float) -> float:
        nonlocal serial
        done = 0
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            await runtime.service.subscribe(chat(serial), NUMBER, "bench")
            serial += 1
            done += 1
        return done / duration

    for index in range(rounds):
        for side in (
            ["no backup", "backups running"] if index % 2 == 0 else ["backups running", "no backup"]
        ):
            if side == "no backup":
                rates[side].append(await write_for(seconds))
                continue
            stop = threading.Event()

            def copy_repeatedly(stop: threading.Event = stop) -> None:
                with tempfile.TemporaryDirectory() as folder:
                    while not stop.is_set():
                        start = time.perf_counter()
                        backup(db, Path(folder) / "copy.sqlite3")
                        backup_seconds.append(time.perf_counter() - start)

            worker = threading.Thread(target=copy_repeatedly)
            worker.start()
            try:
                rates[side].append(await write_for(seconds))
            finally:
                stop.set()
                await asyncio.to_thread(worker.join)
    return rates, backup_seconds


def files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal")) if p.exists()]


def row(name: str, values: list[float], base: float, unit: str) -> str:
    middle = statistics.median(values)
    return f"| {name} | {middle:,.1f} {unit} | {middle / base:.2f} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parcels", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.sqlite3"
        settings = load_settings(db=str(db), health_port=0)
        async with open_runtime(settings) as runtime:
            for serial in range(args.parcels):
                await runtime.service.subscribe(chat(20_000_000 + serial), NUMBER, "seed")
            size = await asyncio.to_thread(lambda: sum(p.stat().st_size for p in files(db)))
            command_times = await commands(runtime, args.rounds, 500)
            probe_times = await probes(runtime, args.rounds, 100)
            rates, backup_seconds = await writes_during_backup(runtime, db, 1.0, args.rounds)
    print(
        f"Median of {args.rounds} interleaved rounds; database of {args.parcels:,} "
        f"subscriptions ({size / 1e6:.1f} MB with its WAL).\n"
    )
    print("| commands (/help) | per command | ratio to plain |\n|---|---|---|")
    base = statistics.median(command_times["CommandRouter"])
    for name, values in command_times.items():
        print(row(name, values, base, "µs"))
    print("\n| probe over loopback | per request | ratio to /health |\n|---|---|---|")
    base = statistics.median(probe_times["/health"])
    for name, values in probe_times.items():
        print(row(name, values, base, "ms"))
    print("\n| bot writes (subscribe) | per second | ratio to no backup |\n|---|---|---|")
    base = statistics.median(rates["no backup"])
    for name, values in rates.items():
        print(row(name, values, base, "/s"))
    if backup_seconds:
        print(
            f"\nOne backup: median {statistics.median(backup_seconds) * 1e3:,.0f} ms over "
            f"{len(backup_seconds)} copies while the bot wrote."
        )


if __name__ == "__main__":
    asyncio.run(main())
