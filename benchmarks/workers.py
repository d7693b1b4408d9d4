"""Poll and send throughput with 1, 2 and 4 worker processes on PostgreSQL, beside one process
on SQLite, in one run; and whether the limits held in sum.

Each configuration seeds a fresh database (PostgreSQL: a schema of its own on the test
server; SQLite: a file), starts ``parcelbot run --role poller,sender`` processes against the
fake 17TRACK and Telegram Bot API of ``tests/workers/harness.py`` (real HTTP over loopback)
and waits until every parcel was fetched and every alert sent. Measured at the fakes:

- updates/s: parcels refreshed per second, first fetch to last;
- alerts/s: alerts delivered per second, first message to last (a backlog is queued before
  the workers start, so this is the senders' pace, not the pollers');
- max req/s and max msg/s: the most provider requests and Telegram messages that arrived in
  any one-second window, beside the limit every process together must stay under.

Two sets: the real limits (17TRACK 3 requests/s, Telegram 30 messages/s), where the limits
are the bottleneck and more workers must not raise the rates past them; and the limits lifted
(40 requests/s, 100 messages/s), which shows what the workers themselves do on this machine.
Configurations run interleaved, ``--rounds`` times; the table shows medians.

    .venv/bin/python benchmarks/workers.py [--rounds 3] [--parcels 1200]

Needs the PostgreSQL server of ``tests/postgres.py`` (``PARCELBOT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.postgres import postgres_schema
from tests.workers.harness import Edge, Fleet, Plan, most_in_window, seed, wait_until


@dataclass(frozen=True, slots=True)
class Limits:
    name: str
    provider: int
    telegram: int


@dataclass(frozen=True, slots=True)
class Result:
    updates: float
    alerts: float
    max_requests: int
    max_messages: int
    complete: bool


CONFIGS = (("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2), ("PostgreSQL", 4))


async def _run(location: str, workers: int, plan: Plan, limits: Limits, logs: Path) -> Result:
    now = datetime.now(UTC)
    edge = Edge(await seed(location, plan, now))
    port = await edge.start()
    fleet = Fleet(
        location,
        port,
        logs,
        settings={
            "PARCELBOT_POLL_INTERVAL": "0.5",
            "PARCELBOT_FLUSH_INTERVAL": "0.5",
            "PARCELBOT_POLL_BATCH": "200",
            "PARCELBOT_SEVENTEEN_TRACK_RATE": str(limits.provider),
            "PARCELBOT_TELEGRAM_RATE": str(limits.telegram),
            "PARCELBOT_HEALTH_PORT": "",
        },
    )
    alerts = plan.alerts()
    try:
        for index in range(workers):
            fleet.start(f"w{index}")
        complete = await wait_until(
            lambda: (
                len({n for _t, _w, n in edge.fetches}) >= plan.parcels and len(edge.sends) >= alerts
            ),
            600,
        )
    finally:
        fleet.stop_all()
        await edge.close()
    fetched = [at for at, _w, _n in edge.fetches]
    sent = [at for at, _w, _c, _t in edge.sends]
    return Result(
        updates=len(set(n for _t, _w, n in edge.fetches)) / max(1e-9, max(fetched) - min(fetched)),
        alerts=len(sent) / max(1e-9, max(sent) - min(sent)) if sent else 0.0,
        max_requests=most_in_window(edge.provider_calls),
        max_messages=most_in_window(sent),
        complete=complete,
    )


async def _one(backend: str, workers: int, plan: Plan, limits: Limits) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        if backend == "SQLite":
            return await _run(f"sqlite:///{logs / 'bench.sqlite3'}", workers, plan, limits, logs)
        with postgres_schema() as url:
            return await _run(url, workers, plan, limits, logs)


def _against(found: int, limit: int) -> str:
    """``found ≤ limit``, or ``found > limit!`` when the limit was broken."""
    return f"{found} ≤ {limit}" if found <= limit else f"{found} > {limit}!"


async def main(rounds: int, parcels: int, lifted_parcels: int) -> None:
    sets = (
        (Limits("real limits", 3, 30), Plan(parcels, per_chat=4, move_every=8, backlog=300)),
        (
            Limits("limits lifted", 40, 100),
            Plan(lifted_parcels, per_chat=4, move_every=20, backlog=600),
        ),
    )
    results: dict[tuple[str, str, int], list[Result]] = {}
    for _round in range(rounds):
        for limits, plan in sets:
            for backend, workers in CONFIGS:
                began = time.monotonic()
                result = await _one(backend, workers, plan, limits)
                results.setdefault((limits.name, backend, workers), []).append(result)
                print(
                    f"  {limits.name}, {backend} x{workers}: {result.updates:.0f} updates/s, "
                    f"{result.alerts:.1f} alerts/s ({time.monotonic() - began:.0f} s)",
                    flush=True,
                )
    print()
    header = (
        f"{'limits':<14} {'database':<11} {'workers':>7} {'updates/s':>10} {'vs SQLite':>9} "
        f"{'alerts/s':>9} {'max req/s':>10} {'max msg/s':>11} {'complete':>8}"
    )
    print(header)
    print("-" * len(header))
    for limits, plan in sets:
        base = statistics.median(r.updates for r in results[(limits.name, "SQLite", 1)])
        for backend, workers in CONFIGS:
            runs = results[(limits.name, backend, workers)]
            updates = statistics.median(r.updates for r in runs)
            print(
                f"{limits.name:<14} {backend:<11} {workers:>7} {updates:>10.0f} "
                f"{updates / base:>8.2f}x {statistics.median(r.alerts for r in runs):>9.1f} "
                f"{_against(max(r.max_requests for r in runs), limits.provider):>10} "
                f"{_against(max(r.max_messages for r in runs), limits.telegram):>11} "
                f"{all(r.complete for r in runs)!s:>7}"
            )
        print(
            f"{'':<14} ({plan.parcels} parcels, {plan.alerts()} alerts per run, "
            f"{len(plan.queued())} of them queued at the start)"
        )
    print(f"\nmedians of {rounds} round(s); max columns: the highest of any run")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--parcels", type=int, default=1200, help="parcels at the real limits")
    parser.add_argument("--lifted-parcels", type=int, default=4000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.parcels, args.lifted_parcels))
