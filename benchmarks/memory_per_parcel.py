"""Resident memory of a polling bot: many parcels stored, some of them polled.

Run: ``.venv/bin/python benchmarks/memory_per_parcel.py --base /path/to/old/checkout``

A database with ``--stored`` parcels is built once (finished parcels nobody follows, and
``--polled`` followed parcels due now), copied for every run. Each side (``base``, ``this``;
see ``benchmarks/ab.py``) then runs in a fresh process with the bot's garbage collector
settings: the service on the sandbox carrier polls every followed parcel (the first poll: each
has news) and then keeps polling for six virtual hours, as the scheduler would. The process's
resident memory (VmRSS) is read at the end, and its peak (VmHWM). Run for two ``--polled``
sizes, the growth per followed parcel is the difference of the two divided by the difference
of the sizes.

Targets: ≤ 200 MiB with 1,000,000 stored of which 100,000 polled, ≤ 400 MiB with all polled.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ab import checkouts, child_result, interleave, median, poller, run_child

from bots.gc_settings import apply_bot_gc_settings
from core.models import ChatRef, Platform
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database

_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_BATCH = 1000


class _Clock:
    def __init__(self) -> None:
        self.current = _NOW

    def now(self) -> datetime:
        return self.current


def _text(moment: datetime) -> str:
    return moment.isoformat()


async def _schema(path: Path) -> None:
    async with Database.open(path):
        pass


def _build(path: Path, checkout: Path, stored: int, polled: int) -> None:
    """The database: ``polled`` followed parcels due now, the rest finished and unfollowed.

    The schema is ``checkout``'s own (made in a child of that checkout): an older checkout
    cannot open a newer schema."""
    run_child(checkout, Path(__file__).resolve(), ["--child-schema", str(path)])
    old = _text(_NOW - timedelta(days=60))
    fresh = _text(_NOW - timedelta(days=2))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO shipments (carrier, number, status, checked_at, first_seen, "
            "delivered_at, next_check_at) VALUES ('ups', ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"1ZMEM{index:013d}",
                    "info_received" if index < polled else "delivered",
                    fresh if index < polled else old,
                    fresh if index < polled else old,
                    None if index < polled else old,
                    _text(_NOW) if index < polled else None,
                )
                for index in range(stored)
            ),
        )
        rows = []
        for index in range(polled):
            chat = ChatRef(Platform.TELEGRAM, f"{index}", f"{index}")
            rows.append(
                (
                    chat.chat_key,
                    chat.platform.value,
                    chat.chat_id,
                    chat.user_id,
                    "ups",
                    f"1ZMEM{index:013d}",
                    _text(_NOW - timedelta(days=2)),
                )
            )
        conn.executemany(
            "INSERT INTO subscriptions (chat_key, platform, chat_id, user_id, carrier, number, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _status(field: str) -> float:
    """A VmRSS/VmHWM figure of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(path: Path) -> dict[str, Any]:
    apply_bot_gc_settings()
    clock = _Clock()
    updates = 0
    async with Database.open(path) as db:
        service = ParcelService(
            provider=SandboxProvider(clock), store=db, clock=clock, rng=random.Random(1)
        )
        for step in range(13):
            if step:
                clock.current += timedelta(minutes=30)
            while True:
                stats = await poller(service).poll_due(_BATCH)
                if stats.checked == 0:
                    break
                updates += stats.checked
        return {"rss": _status("VmRSS"), "peak": _status("VmHWM"), "updates": updates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="another parcelbot checkout to compare with")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--polled", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-schema", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_result(asyncio.run(_run(Path(options.child))))
        return
    if options.child_schema:
        asyncio.run(_schema(Path(options.child_schema)))
        child_result({})
        return
    sides = checkouts(options.base)
    script = Path(__file__).resolve()
    results: dict[int, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder) / "run.sqlite3"
        for polled in options.polled:
            templates = {
                label: Path(folder) / f"template-{label}-{polled}.sqlite3" for label, _ in sides
            }
            for label, checkout in sides:
                _build(templates[label], checkout, options.stored, polled)

            def run(
                label: str, checkout: Path, templates: dict[str, Path] = templates
            ) -> dict[str, Any]:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{work}{suffix}").unlink(missing_ok=True)
                shutil.copyfile(templates[label], work)
                return run_child(checkout, script, ["--child", str(work)])

            results[polled] = interleave(options.rounds, sides, run)
            for template in templates.values():
                template.unlink()
    print()
    print(f"{options.stored:,} parcels stored; medians of {options.rounds} interleaved rounds.")
    print()
    print("| measure | " + " | ".join(label for label, _ in sides) + " | target |")
    print("|---|" + "---|" * len(sides) + "---|")
    for polled, per_side in results.items():
        target = "≤ 200 MiB" if polled <= 100_000 else "≤ 400 MiB"
        cells = [f"{median([r['rss'] for r in per_side[label]]):,.0f} MiB" for label, _ in sides]
        print(f"| RSS after polling {polled:,} of them | " + " | ".join(cells) + f" | {target} |")
        cells = [f"{median([r['peak'] for r in per_side[label]]):,.0f} MiB" for label, _ in sides]
        print(f"| peak RSS, {polled:,} polled | " + " | ".join(cells) + " | — |")
    if len(results) >= 2:
        small, large = sorted(results)[0], sorted(results)[-1]
        cells = []
        for label, _ in sides:
            grow = median([r["rss"] for r in results[large][label]]) - median(
                [r["rss"] for r in results[small][label]]
            )
            cells.append(f"{grow * 1024 * 1024 / (large - small):,.0f} bytes")
        print(
            f"| growth per polled parcel ({small:,} → {large:,}) | " + " | ".join(cells) + " | — |"
        )


if __name__ == "__main__":
    main()
