"""Signed 17TRACK pushes against the real bot process: acknowledgement latency and whether
every push is processed.

Run: ``.venv/bin/python benchmarks/push_load.py --base /path/to/old/checkout``

Each side (``base``, ``this``; see ``benchmarks/ab.py``) runs in a fresh process per round,
alternating: the bot's own composition root (``bots.runtime.open_runtime``) with a 17TRACK key
and the webhook server on a loopback port, on a fresh database where ``--parcels`` parcels
are each followed by one chat, with the collector and thread-switch settings ``parcelbot run``
applies once it has started. With ``--base`` and several ``--layouts`` every checkout runs in
every layout, each pair a column of its own. A client in another process sends signed pushes
over HTTP (up to 64 at once):

- *burst*: ``--burst`` pushes as fast as they are answered (what a carrier sends after an
  outage). Target: ≥ 3,000 acknowledged per second, p99 acknowledgement ≤ 50 ms.
- *steady*: ``--rate`` pushes per second for ``--seconds`` seconds, sent on schedule; a
  push's latency counts from its scheduled time. Target: p99 ≤ 50 ms.

Every push adds one new scan to its parcel and carries the parcel's whole history, as
17TRACK's do. After the client is done the bot is given time to finish processing, then the
stored scans are counted: "lost" is the number of pushes answered 200 whose scan is not stored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import multiprocessing
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import psycopg
from ab import THIS, checkouts, child_result, interleave, median, percentile, run_child
from aiohttp import web

from bots.runtime import open_runtime
from bots.settings import load_settings
from core.models import ChatRef, Platform, ShipmentKey, Subscription, TrackingNumber
from core.providers import seventeen_track

_VECTORS = Path(__file__).resolve().parent.parent / "tests/data/providers/seventeen_track"
# The recorded push's moments (scans up to 1 January 2026, the carrier's window on 3 January)
# are moved to the days around now, whole days at a time: the parcels are on their way, as a
# carrier's pushes after an outage are. Scanned months ago, a parcel is long past any window
# and its estimate is worked out again at every push.
_RECORDED_AT = datetime(2026, 1, 2, tzinfo=UTC)
_SHIFT = timedelta(days=(datetime.now(UTC) - _RECORDED_AT).days)
_BASE_TIME = _RECORDED_AT + _SHIFT
_CONCURRENCY = 64
# The longest a client run may take: a client process that died fails the run instead of
# leaving it waiting for an answer that never comes.
_CLIENT_PATIENCE = 900.0


def _template() -> tuple[str, dict[str, Any]]:
    doc = json.loads((_VECTORS / "webhook_vectors.json").read_text(encoding="utf-8"))
    return doc["security_key"], _shifted(json.loads(doc["vectors"][0]["raw_body"]))


def _shifted(value: Any) -> Any:
    """``value`` with every moment in it (an ISO 8601 date and time) moved by ``_SHIFT``."""
    if isinstance(value, dict):
        return {key: _shifted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shifted(item) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        text = (moment + _SHIFT).isoformat()
        return text.replace("+00:00", "Z") if value.endswith("Z") else text
    return value


def _number(parcel: int) -> str:
    return f"94001112062064{parcel:08d}"


def _body(template: dict[str, Any], parcel: int, scans: int) -> bytes:
    """The push for ``parcel`` carrying its whole history: the template's scans and
    ``scans`` new ones."""
    doc = copy.deepcopy(template)
    doc["data"]["number"] = _number(parcel)
    provider = doc["data"]["track_info"]["tracking"]["providers"][0]
    first = provider["events"][0]
    added = []
    for scan in range(scans, 0, -1):
        at = _BASE_TIME + timedelta(minutes=scan)
        event = dict(first, description=f"Sorted at hub {scan}", time_utc=at.isoformat())
        event["time_iso"] = at.isoformat()
        added.append(event)
    provider["events"] = added + provider["events"]
    doc["data"]["track_info"]["latest_event"] = added[0] if added else first
    return json.dumps(doc, separators=(",", ":")).encode()


# -- the client (a process of its own) -------------------------------------------------------


def _client(url: str, mode: str, count: int, rate: float, parcels: int) -> dict[str, Any]:
    return asyncio.run(_send(url, mode, count, rate, parcels))


async def _send(url: str, mode: str, count: int, rate: float, parcels: int) -> dict[str, Any]:
    key, template = _template()
    # Bodies prepared before the clock starts: the client measures the server, not JSON.
    bodies: list[tuple[bytes, str]] = []
    sent_per_parcel = [0] * parcels
    for index in range(count):
        parcel = index % parcels
        sent_per_parcel[parcel] += 1
        body = _body(template, parcel, sent_per_parcel[parcel])
        bodies.append((body, seventeen_track.push_signature(key, body)))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=_CONCURRENCY)
    patience = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=patience) as http:

        async def post(index: int, due: float | None) -> None:
            body, sign = bodies[index]
            # A burst's latency counts from the send: the client's own queue is not the bot's.
            sent = time.perf_counter() if due is None else due
            try:
                async with http.post(
                    f"{url}/webhooks/17track", data=body, headers={"sign": sign}
                ) as r:
                    answer = await r.json() if r.status == 200 else {"status": str(r.status)}
            except (aiohttp.ClientError, TimeoutError):
                # Not answered within the client's patience: counted, not timed.
                statuses["no answer in 30 s"] = statuses.get("no answer in 30 s", 0) + 1
                return
            latencies.append(time.perf_counter() - sent)
            word = str(answer.get("status", r.status))
            statuses[word] = statuses.get(word, 0) + 1

        start = time.perf_counter()
        if mode == "burst":
            queue = iter(range(count))

            async def worker() -> None:
                for index in queue:
                    await post(index, None)

            await asyncio.gather(*(worker() for _ in range(_CONCURRENCY)))
        else:
            tasks = []
            for index in range(count):
                due = start + index / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(post(index, due)))
            await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {
        "latencies": latencies,
        "statuses": statuses,
        "elapsed": elapsed,
        "per_parcel": sent_per_parcel,
    }


# -- the bot (this process) -------------------------------------------------------------------


LAYOUTS = ("sqlite", "postgres", "split")
"""Where the bot runs: one process on a SQLite file (the default bot), one process on
PostgreSQL, or on PostgreSQL a process answering (``--role webhook``, the one measured) and
another processing (``--role pushes``)."""


def _settings(layout: str, folder: str, url: str, role: str) -> Any:
    key, _ = _template()
    where: dict[str, Any] = {"db": str(Path(folder) / "push.sqlite3")}
    if layout != "sqlite":
        where.update(database_url=url, worker_name=role, roles=role)
    return load_settings(
        **where,
        seventeen_track_api_key=key,
        tracking_providers="17track",
        webhook_port=0,
        webhook_host="127.0.0.1",
        log_level="WARNING",
        health_port=None,
    )


def _started() -> None:
    """What ``parcelbot run`` does to its process once the runtime is open (the collector's
    and the interpreter's thread settings), where the checkout measured has it."""
    with contextlib.suppress(ImportError):
        from bots.gc_settings import apply_bot_gc_settings  # noqa: PLC0415

        apply_bot_gc_settings()
    with contextlib.suppress(ImportError):
        from bots.thread_settings import apply_bot_thread_settings  # noqa: PLC0415

        apply_bot_thread_settings()


def _processor(url: str, folder: str, ready: Any, stop: Any, report: Any) -> None:
    """The ``pushes`` process of the split layout: processes until ``stop`` is set, then
    sends its CPU seconds through ``report``."""

    async def run() -> None:
        async with open_runtime(_settings("split", folder, url, "pushes")):
            _started()
            ready.set()
            await asyncio.to_thread(stop.wait)

    asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.send(usage.ru_utime + usage.ru_stime)


async def _serve(mode: str, count: int, rate: float, parcels: int, layout: str) -> dict[str, Any]:
    with contextlib.ExitStack() as scope:
        folder = scope.enter_context(tempfile.TemporaryDirectory())
        url = ""
        if layout != "sqlite":
            # Imported here: the checkout on the import path is the one measured.
            from tests.postgres import postgres_schema  # noqa: PLC0415

            url = scope.enter_context(postgres_schema())
        role = "webhook" if layout == "split" else "all"
        context = multiprocessing.get_context("spawn")
        async with open_runtime(_settings(layout, folder, url, role)) as runtime:
            for parcel in range(parcels):
                await runtime.db.subscriptions.add(
                    Subscription(
                        chat=ChatRef(Platform.TELEGRAM, f"c{parcel}", f"c{parcel}"),
                        key=ShipmentKey("usps", TrackingNumber(_number(parcel))),
                    )
                )
            _started()
            helper = None
            if layout == "split":
                ready, stop = context.Event(), context.Event()
                report, sent_cpu = context.Pipe(duplex=False)
                helper = context.Process(
                    target=_processor, args=(url, folder, ready, stop, sent_cpu)
                )
                helper.start()
                await asyncio.to_thread(ready.wait, 120)
            cpu_before = resource.getrusage(resource.RUSAGE_SELF)
            with context.Pool(1) as pool:
                pending = pool.apply_async(
                    _client, (runtime.webhook_url, mode, count, rate, parcels)
                )
                # Waited for on a thread: the bot keeps serving meanwhile.
                sent = await asyncio.to_thread(pending.get, _CLIENT_PATIENCE)
            cpu_answered = resource.getrusage(resource.RUSAGE_SELF)
            # Let the bot finish what it accepted (the old code processed in the request).
            finish = time.perf_counter()
            deadline = finish + 300
            # Where the checkout keeps tracking pushes: their own inbox, else the main one.
            waiting = getattr(runtime, "pushes", None) or runtime.db.inbox
            count_waiting = getattr(waiting, "pending", None) or waiting.pending_count
            while time.perf_counter() < deadline:
                rows = await count_waiting()
                if rows == 0:
                    break
                await asyncio.sleep(0.1)
            backlog = time.perf_counter() - finish
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            helper_cpu = 0.0
            if helper is not None:
                stop.set()
                helper_cpu = await asyncio.to_thread(report.recv)
                await asyncio.to_thread(helper.join, 60)
            stored = await asyncio.to_thread(_stored_scans, url or runtime.db.path)
    answered = sum(n for word, n in sent["statuses"].items() if word in {"processed", "accepted"})
    expected = sum(sent["per_parcel"])

    def cpu(before: Any, after: Any) -> float:
        return float(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

    return {
        "p50": median(sent["latencies"]) * 1000,
        "p99": percentile(sent["latencies"], 0.99) * 1000,
        "rate": count / sent["elapsed"],
        "statuses": sent["statuses"],
        "answered": answered,
        "lost": max(0, answered - stored) if answered < count else expected - stored,
        "backlog_s": backlog,
        # Every process of the bot, answering and processing.
        "cpu_ms_per_push": 1000 * (cpu(cpu_before, cpu_after) + helper_cpu) / count,
        # The answering process while the client sent.
        "answer_cpu_ms_per_push": 1000 * cpu(cpu_before, cpu_answered) / count,
    }


def _ceiling(count: int, parcels: int) -> dict[str, float]:
    return asyncio.run(_empty_server(count, parcels))


async def _empty_server(count: int, parcels: int) -> dict[str, float]:
    """The client against an HTTP handler that reads the body and answers at once."""

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted"})

    app = web.Application()
    app.router.add_post("/webhooks/17track", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            pending = pool.apply_async(_client, (url, "burst", count, 0.0, parcels))
            sent = await asyncio.to_thread(pending.get, _CLIENT_PATIENCE)
    finally:
        await runner.cleanup()
    return {"rate": count / sent["elapsed"], "p99": percentile(sent["latencies"], 0.99) * 1000}


def _stored_scans(where: str) -> int:
    """New scans stored, over all parcels (each push added one), in the SQLite file or
    PostgreSQL database at ``where``."""
    query = "SELECT count(*) FROM events WHERE description LIKE 'Sorted at hub %'"
    if where.startswith("postgresql:"):
        with psycopg.connect(where) as pg:
            found = pg.execute(query).fetchone()
    else:
        with sqlite3.connect(where) as conn:
            found = conn.execute(query).fetchone()
    return int(found[0]) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="another parcelbot checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parcels", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--layouts",
        default="sqlite",
        help=f"comma separated, each a column of its own (per checkout with --base): "
        f"{', '.join(LAYOUTS)}",
    )
    parser.add_argument("--layout", choices=LAYOUTS, default="sqlite", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["burst", "steady"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_result(
            asyncio.run(
                _serve(options.child, options.count, options.rate, options.parcels, options.layout)
            )
        )
        return
    layouts = [name.strip() for name in options.layouts.split(",") if name.strip()]
    if unknown := [name for name in layouts if name not in LAYOUTS]:
        raise SystemExit(f"unknown layout {unknown[0]!r}; use {', '.join(LAYOUTS)}")
    found = checkouts(options.base) if options.base else [("this", THIS)]
    if len(found) == 1 or len(layouts) > 1:
        # A column per checkout and layout: "sqlite", or "base sqlite" beside "this sqlite".
        sides = [
            (layout if len(found) == 1 else f"{label} {layout}", path)
            for layout in layouts
            for label, path in found
        ]
    else:
        sides = found
    script = Path(__file__).resolve()
    common = ["--parcels", str(options.parcels), "--rate", str(options.rate)]
    steady_count = int(options.rate * options.seconds)

    def runner(args: list[str]) -> Callable[[str, Path], dict[str, Any]]:
        def run(label: str, path: Path) -> dict[str, Any]:
            named = label.rsplit(" ", 1)[-1]
            layout = named if named in LAYOUTS else layouts[0]
            return run_child(path, script, [*args, "--layout", layout])

        return run

    results = {}
    for mode, count in (("burst", options.burst), ("steady", steady_count)):
        args = ["--child", mode, "--count", str(count), *common]
        results[mode] = interleave(options.rounds, sides, runner(args))
    # What this machine allows at all: the same client against a handler that does nothing.
    ceiling = [_ceiling(options.burst, options.parcels) for _ in range(options.rounds)]
    print()
    print(f"Medians of {options.rounds} interleaved rounds; {options.parcels:,} followed parcels.")
    print()
    print("| measure | " + " | ".join(label for label, _ in sides) + " | target |")
    print("|---|" + "---|" * len(sides) + "---|")

    def row(name: str, mode: str, key: str, unit: str, target: str, *, fmt: str = ",.1f") -> None:
        cells = [
            f"{median([r[key] for r in results[mode][label]]):{fmt}} {unit}".strip()
            for label, _ in sides
        ]
        print(f"| {name} | " + " | ".join(cells) + f" | {target} |")

    burst = f"burst of {options.burst:,}"
    row(f"{burst}: acknowledged per second", "burst", "rate", "/s", "≥ 3,000/s", fmt=",.0f")
    row(f"{burst}: ack p50", "burst", "p50", "ms", "—")
    row(f"{burst}: ack p99", "burst", "p99", "ms", "≤ 50 ms")
    row(f"{burst}: pushes lost", "burst", "lost", "", "0", fmt=",.0f")
    row(f"{burst}: processing left after the last ack", "burst", "backlog_s", "s", "—", fmt=",.2f")
    row(
        f"{burst}: bot CPU per push, all its processes",
        "burst",
        "cpu_ms_per_push",
        "ms",
        "—",
        fmt=",.2f",
    )
    row(
        f"{burst}: CPU per push of the answering process while answering",
        "burst",
        "answer_cpu_ms_per_push",
        "ms",
        "—",
        fmt=",.2f",
    )
    steady = f"steady {options.rate:,.0f}/s for {options.seconds:.0f} s"
    row(f"{steady}: ack p50", "steady", "p50", "ms", "—")
    row(f"{steady}: ack p99", "steady", "p99", "ms", "≤ 50 ms")
    row(f"{steady}: pushes lost", "steady", "lost", "", "0", fmt=",.0f")
    row(
        f"{steady}: processing left after the last ack", "steady", "backlog_s", "s", "—", fmt=",.2f"
    )
    print(
        f"| reference: burst of {options.burst:,} against an empty handler, same client "
        f"| {median([c['rate'] for c in ceiling]):,.0f}/s, p99 "
        f"{median([c['p99'] for c in ceiling]):,.1f} ms | — |" + " |" * (len(sides) - 1)
    )
    for mode in results:
        for label, _ in sides:
            print(f"answers, {mode}, {label}: {[r['statuses'] for r in results[mode][label]]}")


if __name__ == "__main__":
    main()
