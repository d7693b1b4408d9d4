"""``/track`` latency while a big poll runs in the same process, and poll throughput.

Run: ``.venv/bin/python benchmarks/track_during_poll.py --base /path/to/old/checkout``

Each side (``base``, ``this``; see ``benchmarks/ab.py``) runs in a fresh process per round,
alternating, on the same rows:

- *idle*: ``ParcelService.track`` of a stored, fresh parcel (the common case), 400 requests
  10 ms apart, nothing else running;
- *during a poll*: the same, one request every 10 ms, while ``poll_due`` works through N
  subscribed sandbox parcels in batches of 1,000 (every parcel changed since its last check:
  new scans, alerts and outbox rows — the heaviest cycle there is). Targets: p99 ≤ 3 ms idle,
  ≤ 10 ms during the poll. The process has the bot's garbage collector and thread switching
  settings (``bots.gc_settings``, ``bots.thread_settings``), as ``parcelbot run`` has.
- *poll throughput*: ``benchmarks/core_track_poll.py``'s two workloads (first poll, every
  parcel changed; steady state, the next 24 h) on N parcels, alone in the process.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ab import checkouts, child_result, interleave, median, percentile, poller, run_child
from core_track_poll import Clock, _seed, bench_poll

from bots.gc_settings import apply_bot_gc_settings
from core.models import ChatRef, Platform
from core.providers.sandbox import SAMPLE_NUMBERS, SandboxProvider, Scenario
from core.service import ParcelService, ServiceConfig
from storage.db import Database

try:
    from bots.thread_settings import apply_bot_thread_settings
except ImportError:  # an older checkout (``--base``), from before the bot set the interval

    def apply_bot_thread_settings() -> float:
        return sys.getswitchinterval()


_BATCH = 1000


async def _requests(
    service: ParcelService,
    chat: ChatRef,
    number: str,
    every: float,
    enough: Callable[[int], bool],
) -> list[float]:
    """``/track`` requests arriving every ``every`` seconds until ``enough(count)``.

    Requests arrive from another thread, as a chat update arrives from the network: each
    wakes the event loop and is answered in a task of its own. Its latency counts from its
    arrival, so waiting for a busy event loop is part of it."""
    loop = asyncio.get_running_loop()
    arrivals: asyncio.Queue[float | None] = asyncio.Queue()
    stop = threading.Event()

    def send() -> None:
        while not stop.wait(every):
            loop.call_soon_threadsafe(arrivals.put_nowait, time.perf_counter())
        loop.call_soon_threadsafe(arrivals.put_nowait, None)

    latencies: list[float] = []

    async def answer(arrived: float) -> None:
        await service.track(chat, number)
        latencies.append(time.perf_counter() - arrived)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    tasks: list[asyncio.Task[None]] = []
    while True:
        arrived = await arrivals.get()
        if arrived is None:
            break
        tasks.append(asyncio.create_task(answer(arrived)))
        if enough(len(tasks)):
            stop.set()
    await asyncio.gather(*tasks)
    sender.join()
    return latencies


async def _track_while_polling(size: int) -> dict[str, float]:
    # As ``parcelbot run`` does after start-up.
    apply_bot_gc_settings()
    apply_bot_thread_settings()
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        async with Database.open(Path(folder) / "bench.sqlite3") as db:
            await _seed(db, clock, size)
            clock.current += timedelta(days=2)
            service = ParcelService(
                provider=SandboxProvider(clock),
                store=db,
                clock=clock,
                config=ServiceConfig(user_requests_per_minute=10**9),
                rng=random.Random(1),
            )
            chat = ChatRef(Platform.CONSOLE, "bench", "bench")
            number = SAMPLE_NUMBERS[Scenario.NORMAL]
            await service.track(chat, number)

            idle = await _requests(service, chat, number, 0.01, lambda done: done >= 300)
            polling = True
            updates = 0

            async def poll() -> float:
                nonlocal polling, updates
                start = time.perf_counter()
                while True:
                    stats = await poller(service).poll_due(_BATCH)
                    if stats.checked == 0:
                        break
                    updates += stats.checked
                polling = False
                return time.perf_counter() - start

            seconds, busy = await asyncio.gather(
                poll(), _requests(service, chat, number, 0.01, lambda _done: not polling)
            )
    return {
        "idle_p50": median(idle) * 1000,
        "idle_p99": percentile(idle, 0.99) * 1000,
        "busy_p50": median(busy) * 1000,
        "busy_p99": percentile(busy, 0.99) * 1000,
        "busy_max": max(busy) * 1000,
        "busy_n": len(busy),
        "poll_rate": updates / seconds,
    }


async def _throughput(size: int) -> dict[str, float]:
    first, steady = await bench_poll(size, _BATCH, restart=False)
    return {
        "first": first.rate,
        "steady": steady.rate,
        "first_cpu": first.cpu_rate,
        "steady_cpu": steady.cpu_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--base",
        action="append",
        help="another parcelbot checkout to compare with (``label=path``; may be repeated)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--track-size", type=int, default=100_000, help="0: skip the /track runs")
    parser.add_argument("--poll-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--child", choices=["track", "poll"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child == "track":
        child_result(asyncio.run(_track_while_polling(options.size)))
        return
    if options.child == "poll":
        child_result(asyncio.run(_throughput(options.size)))
        return
    sides = checkouts(options.base)
    script = Path(__file__).resolve()
    track = (
        interleave(
            options.rounds,
            sides,
            lambda _label, path: run_child(
                path, script, ["--child", "track", "--size", str(options.track_size)]
            ),
        )
        if options.track_size
        else {}
    )

    def poller(size: int) -> Callable[[str, Path], dict[str, Any]]:
        return lambda _label, path: run_child(
            path, script, ["--child", "poll", "--size", str(size)]
        )

    polls = {size: interleave(options.rounds, sides, poller(size)) for size in options.poll_sizes}
    rounds = options.rounds
    print()
    print(f"Medians of {rounds} interleaved rounds (each round a fresh process per side).")
    print()
    print("| measure | " + " | ".join(label for label, _ in sides) + " | target |")
    print("|---|" + "---|" * len(sides) + "---|")

    def row(name: str, values: dict[str, list[float]], unit: str, target: str) -> None:
        cells = [f"{median(values[label]):,.2f} {unit}" for label, _ in sides]
        print(f"| {name} | " + " | ".join(cells) + f" | {target} |")

    size = f"{options.track_size:,}"
    for key, name, target in (
        ()
        if not track
        else (
            ("idle_p50", "/track p50, idle", "—"),
            ("idle_p99", "/track p99, idle", "≤ 3 ms"),
            ("busy_p50", f"/track p50 during a {size}-parcel poll", "—"),
            ("busy_p99", f"/track p99 during a {size}-parcel poll", "≤ 10 ms"),
            ("busy_max", f"/track max during a {size}-parcel poll", "—"),
        )
    ):
        row(name, {label: [r[key] for r in track[label]] for label, _ in sides}, "ms", target)
    if track:
        row(
            f"poll rate with /track running, {size} parcels",
            {label: [r["poll_rate"] for r in track[label]] for label, _ in sides},
            "updates/s",
            "—",
        )
    for count, results in polls.items():
        for key, name in (("first", "first poll, all changed"), ("steady", "steady, next 24 h")):
            for suffix, unit in (("", "updates/s"), ("_cpu", "updates/CPU s")):
                values = {label: [r[key + suffix] for r in results[label]] for label, _ in sides}
                row(f"poll throughput, {count:,} parcels, {name}", values, unit, "≥ base")
                # On a shared machine other work only ever slows a round down.
                best = {label: [max(found)] for label, found in values.items()}
                row(f"… best of {rounds} rounds", best, unit, "—")


if __name__ == "__main__":
    main()
