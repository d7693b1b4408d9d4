"""Poll and send throughput with 1, 2 and 4 worker processes on PostgreSQL, beside one process
on SQLite, in one run; and whether the limits held in sum.

Each configuration seeds a fresh database (PostgreSQL: a schema of its own on the test
server; SQLite: a file), starts ``parcelbot run --role poller,sender`` processes against the
fake 17TRACK and Telegram Bot API of ``tests/workers/harness.py`` (real HTTP over loopback)
and waits until every parcel was fetched and every alert sent. Measured at the fakes:

- updates/s: parcels refreshed per second, first fetch to last;
- alerts/s: alerts delivered per second, first message to last (a backlog is queued before
  the workers start, so this is the senders' pace, not the pollers');
- req/s and msg/s: provider requests and Telegram messages per second as they arrived, first
  to last, beside the limit (how close the limiters let the workers get to it);
- max req/1s, max msg/1s and max chat/1s: the most provider requests, Telegram messages and
  messages to any one chat that arrived in any half-open one-second window ``[t, t + 1 s)``
  (``tests.arrivals.most_in_window``), beside the limit every process together must stay
  under (17TRACK 3 per key, Telegram 30 per bot and 1 per chat). The fakes record a request
  when their handler runs, after any delay on the way: the limiters must hold there.

Two sets: the real limits (17TRACK 3 requests/s, Telegram 30 messages/s), where the limits
are the bottleneck and more workers must not raise the rates past them; and the limits lifted
(40 requests/s, 100 messages/s), which shows what the workers themselves do on this machine.
Configurations run interleaved, ``--rounds`` times; the table shows medians. With ``--base``
(another checkout, e.g. ``git worktree add /tmp/parcelbot-base <commit>``) every configuration
runs that checkout's workers too, right before this one's, and the table has both.

    .venv/bin/python benchmarks/workers.py [--rounds 3] [--parcels 1200] [--base PATH]

Needs the PostgreSQL server of ``tests/postgres.py`` (``PARCELBOT_TEST_POSTGRES_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.arrivals import most_in_window, most_per_key
from tests.postgres import postgres_schema
from tests.workers.harness import ROOT, Edge, Fleet, Plan, seed, wait_until


@dataclass(frozen=True, slots=True)
class Limits:
    name: str
    provider: int
    telegram: int


@dataclass(frozen=True, slots=True)
class Result:
    updates: float
    alerts: float
    requests: float
    max_requests: int
    max_messages: int
    max_chat: int
    complete: bool


CONFIGS = (("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2), ("PostgreSQL", 4))


async def _run(  # noqa: PLR0917 - one configuration, spelled out
    location: str, workers: int, plan: Plan, limits: Limits, logs: Path, root: Path
) -> Result:
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
        root=root,
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
    calls = edge.provider_calls
    return Result(
        updates=len(set(n for _t, _w, n in edge.fetches)) / max(1e-9, max(fetched) - min(fetched)),
        alerts=_rate(sent),
        requests=_rate(calls),
        max_requests=most_in_window(calls),
        max_messages=most_in_window(sent),
        max_chat=max(most_per_key((c, at) for at, _w, c, _t in edge.sends).values(), default=0),
        complete=complete,
    )


def _rate(times: list[float]) -> float:
    """Events per second, first to last."""
    return (len(times) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0


async def _one(backend: str, workers: int, plan: Plan, limits: Limits, root: Path) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        if backend == "SQLite":
            location = f"sqlite:///{logs / 'bench.sqlite3'}"
            return await _run(location, workers, plan, limits, logs, root)
        with postgres_schema() as url:
            return await _run(url, workers, plan, limits, logs, root)


def _row(  # noqa: PLR0917 - one table row
    code: str, limits: Limits, backend: str, workers: int, runs: list[Result], first: float
) -> None:
    updates = statistics.median(r.updates for r in runs)
    print(
        f"{code:<5} {limits.name:<14} {backend:<11} {workers:>7} {updates:>10.0f} "
        f"{updates / first:>8.2f}x {statistics.median(r.requests for r in runs):>6.2f} "
        f"{_against(max(r.max_requests for r in runs), limits.provider):>10} "
        f"{statistics.median(r.alerts for r in runs):>9.1f} "
        f"{_against(max(r.max_messages for r in runs), limits.telegram):>11} "
        f"{_against(max(r.max_chat for r in runs), 1):>11} "
        f"{all(r.complete for r in runs)!s:>8}"
    )


def _against(found: int, limit: int) -> str:
    """``found ≤ limit``, or ``found > limit!`` when the limit was broken."""
    return f"{found} ≤ {limit}" if found <= limit else f"{found} > {limit}!"


async def main(
    rounds: int, parcels: int, lifted_parcels: int, base: Path | None, *, real_only: bool = False
) -> None:
    sets: tuple[tuple[Limits, Plan], ...] = (
        (Limits("real limits", 3, 30), Plan(parcels, per_chat=4, move_every=8, backlog=300)),
        (
            Limits("limits lifted", 40, 100),
            Plan(lifted_parcels, per_chat=4, move_every=20, backlog=600),
        ),
    )
    if real_only:
        sets = sets[:1]
    roots = [("base", base), ("this", ROOT)] if base is not None else [("this", ROOT)]
    results: dict[tuple[str, str, str, int], list[Result]] = {}
    for _round in range(rounds):
        for limits, plan in sets:
            for backend, workers in CONFIGS:
                for code, root in roots:
                    began = time.monotonic()
                    result = await _one(backend, workers, plan, limits, root)
                    results.setdefault((code, limits.name, backend, workers), []).append(result)
                    print(
                        f"  {code}, {limits.name}, {backend} x{workers}: "
                        f"{result.updates:.0f} updates/s, {result.requests:.2f} req/s "
                        f"(max {result.max_requests} in 1 s), {result.alerts:.1f} alerts/s "
                        f"(max {result.max_messages} in 1 s, {result.max_chat} to one chat), "
                        f"complete {result.complete} ({time.monotonic() - began:.0f} s)",
                        flush=True,
                    )
    print()
    header = (
        f"{'code':<5} {'limits':<14} {'database':<11} {'workers':>7} {'updates/s':>10} "
        f"{'vs SQLite':>9} "
        f"{'req/s':>6} {'max req/1s':>10} {'alerts/s':>9} {'max msg/1s':>11} "
        f"{'max chat/1s':>11} {'complete':>8}"
    )
    print(header)
    print("-" * len(header))
    for limits, plan in sets:
        for code, _root in roots:
            sqlite = results[(code, limits.name, "SQLite", 1)]
            first = statistics.median(r.updates for r in sqlite)
            for backend, workers in CONFIGS:
                runs = results[(code, limits.name, backend, workers)]
                _row(code, limits, backend, workers, runs, first)
        print(
            f"{'':<20} ({plan.parcels} parcels, {plan.alerts()} alerts per run, "
            f"{len(plan.queued())} of them queued at the start)"
        )
    print(
        f"\nmedians of {rounds} round(s); max columns: the highest of any run, in any half-open "
        f"1 s window; load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--parcels", type=int, default=1200, help="parcels at the real limits")
    parser.add_argument("--lifted-parcels", type=int, default=4000)
    parser.add_argument("--base", type=Path, help="a baseline checkout, run interleaved")
    parser.add_argument("--real-only", action="store_true", help="skip the lifted limits")
    args = parser.parse_args()
    asyncio.run(
        main(args.rounds, args.parcels, args.lifted_parcels, args.base, real_only=args.real_only)
    )
