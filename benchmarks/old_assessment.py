"""What ``alerts.diff`` still derives about the previous snapshot, and what it costs.

Run: ``.venv/bin/python benchmarks/old_assessment.py [--size 10000]``

The refresh pipeline assesses each new snapshot once (``incidents.assess``) and hands that to
``alerts.diff`` and ``polling.next_check``. About the *previous* snapshot ``diff`` still asks
two things, and only in one case each: the incidents open when it was stored
(``derive_all(old, old.checked_at)``), only when the new snapshot has a derived incident, to
leave out alerts already sent; and whether the delivery check was due then, only when it is
due now. This runs ``benchmarks/core_track_poll.py``'s two workloads (first poll, steady
state) with both calls counted and timed, beside the time of the whole ``poll_due`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core_track_poll import Clock, PollRun, _poll_all_due, _seed

from core import alerts
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database


class _Counted:
    """A function counted and timed where ``alerts`` calls it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wrapped: Callable[..., Any] = getattr(alerts, name)
        self.calls = 0
        self.seconds = 0.0
        setattr(alerts, name, self)

    def __call__(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.wrapped(*args)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def take(self) -> tuple[int, float]:
        found = (self.calls, self.seconds)
        self.calls, self.seconds = 0, 0.0
        return found


async def main(size: int) -> None:
    counted = [_Counted("derive_all"), _Counted("delivery_check_due")]
    rows: list[tuple[str, PollRun, list[tuple[int, float]]]] = []
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        async with Database.open(Path(folder) / "bench.sqlite3") as db:
            await _seed(db, clock, size)
            service = ParcelService(
                provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(1)
            )
            clock.current += timedelta(days=2)
            first = PollRun()
            await _poll_all_due(service, 1000, first)
            rows.append(("first poll, all changed", first, [c.take() for c in counted]))
            steady = PollRun()
            for _ in range(24 * 6):
                clock.current += timedelta(minutes=10)
                await _poll_all_due(service, 1000, steady)
            rows.append(("steady, next 24 h", steady, [c.take() for c in counted]))
    print(f"| workload ({size:,} parcels) | updates | poll_due time | ", end="")
    print(" | ".join(f"`{c.name}(old, …)` calls, time (share)" for c in counted) + " |")
    print("|---|---|---|" + "---|" * len(counted))
    for name, run, taken in rows:
        cells = [
            f"{calls:,}, {seconds * 1000:.1f} ms ({seconds / run.seconds:.2%})"
            for calls, seconds in taken
        ]
        print(f"| {name} | {run.updates:,} | {run.seconds:.2f} s | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().size))
