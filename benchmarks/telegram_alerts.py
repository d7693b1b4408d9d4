"""Alerts at full speed: the outbox delivered to 200 Telegram chats under Telegram's limits.

Everything is the real thing except the network: alerts are queued in a real SQLite outbox
(the same ``save_many`` transaction polls use), delivered by ``ParcelService.run_delivery``
through ``TelegramSender`` of a running ``TelegramAdapter`` (real python-telegram-bot, real
HTTP over loopback) to the fake Bot API, which enforces 30 messages in any 1 s window and
1 message per second per chat, answering 429 otherwise.

Load: every ``--cycle`` seconds a "poll cycle" queues ``--per-cycle`` alerts to chats picked at
random (with repeats, so some chats get two or three in one cycle and must wait out their 1 s
spacing), ``--cycles`` times: by default 160 every 5 s, i.e. offered a little above the limit
(32/s), so a backlog always waits and the rate shows what the sender can do.

Measured per scenario, beside the limit (30/s) as the baseline: sustained rate = deliveries
between the 5th and the 95th percentile of arrival times over that time (the ramp-up and the
tail, where the last chats wait out their own 1 s spacing, left out), and the whole-run rate
(deliveries − 1) / (last arrival − first arrival), both as the fake saw them; queue-to-send =
arrival at the fake − the alert's ``created_at`` in the outbox (p50, p90, max); lost = queued
alerts never delivered; duplicated = deliveries beyond one per alert. Scenarios: no latency,
0.4 s of API latency, and 5 % of messages refused with 429 (each a ``retry_after`` of 1 s for
that chat).

Run: ``.venv/bin/python benchmarks/telegram_alerts.py [--cycles 12 --per-cycle 150 --cycle 5
--scenarios plain,latency,refusals]`` (about 70 s per scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.notifier import PlatformNotifier
from bots.telegram_bot import build_adapter
from core.clock import SystemClock
from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    Platform,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi, FloodLimits, NoCommands

LIMIT = 30.0
CHATS = 200
SCENARIOS = {
    "plain": {"latency": 0.0, "refuse_rate": 0.0},
    "latency": {"latency": 0.4, "refuse_rate": 0.0},
    "refusals": {"latency": 0.0, "refuse_rate": 0.05},
}
_TAG = re.compile(r"#A(\d+)#")


def _chat(index: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(1000 + index), str(1000 + index))


def _key(index: int) -> ShipmentKey:
    return ShipmentKey("ups", TrackingNumber(f"1ZBENCH{index:010d}"))


async def _queue_cycle(
    db: Database, rng: random.Random, first_id: int, count: int, events: dict[int, list[str]]
) -> int:
    """Queue ``count`` alerts to random chats in one snapshot transaction; return the next id."""
    now = datetime.now(UTC)
    per_chat: dict[int, list[int]] = {}
    for offset in range(count):
        per_chat.setdefault(rng.randrange(CHATS), []).append(first_id + offset)
    writes = []
    for index, ids in per_chat.items():
        key = _key(index)
        events[index].extend(f"#A{alert_id}#" for alert_id in ids)
        timeline = tuple(
            TrackingEvent(now - timedelta(seconds=len(events[index]) - i), Status.IN_TRANSIT, d)
            for i, d in enumerate(events[index])
        )
        shipment = Shipment("ups", key.number, Status.IN_TRANSIT, timeline, checked_at=now)
        alerts = tuple(
            (_chat(index), Alert(AlertKind.MOVED, key, f"{key}|moved|{alert_id}", event=event))
            for alert_id, event in zip(ids, timeline[-len(ids) :], strict=True)
        )
        writes.append(SnapshotWrite(shipment, None, alerts))
    await db.shipments.save_many(writes)
    return first_id + count


async def run(
    scenario: str, *, cycles: int, per_cycle: int, cycle: float, seed: int = 5
) -> dict[str, float]:
    options = SCENARIOS[scenario]
    api = FakeBotApi(
        flood_limits=FloodLimits(global_rate=int(LIMIT), period=1.0, chat_interval=1.0),
        clock=time.time,
        latency=options["latency"],
        refuse_rate=options["refuse_rate"],
        seed=seed,
    )
    rng = random.Random(seed)
    clock = SystemClock()
    queued_at: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with Database.open(Path(folder) / "bench.sqlite3", clock=clock) as db:
            start = clock.now()
            for index in range(CHATS):
                who, key = _chat(index), _key(index)
                await db.subscriptions.add(Subscription(who, key, created_at=start))
            service = ParcelService(provider=SandboxProvider(clock), store=db, clock=clock)
            async with api.serve():
                adapter = build_adapter(
                    TOKEN, NoCommands(), base_url=api.base_url, poll_timeout=1.0
                )
                async with adapter:
                    notifier = PlatformNotifier({Platform.TELEGRAM: adapter.sender})
                    delivery = asyncio.create_task(service.run_delivery(notifier, interval=1.0))
                    events: dict[int, list[str]] = {i: [] for i in range(CHATS)}
                    next_id = 0
                    begun = time.time()
                    for number in range(cycles):
                        await asyncio.sleep(max(0.0, begun + number * cycle - time.time()))
                        now = time.time()
                        for alert_id in range(next_id, next_id + per_cycle):
                            queued_at[alert_id] = now
                        next_id = await _queue_cycle(db, rng, next_id, per_cycle, events)
                        service.wake_delivery()
                    total = next_id
                    deadline = time.time() + 120
                    while await db.outbox.pending_count() and time.time() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(0.5)
                    await service.stop_delivery(grace=10)
                    await delivery
                    retries = adapter.flood_control.retries
    delivered: list[tuple[int, float]] = []
    for call in api.sent():
        match = _TAG.search(str(call.params.get("text", "")))
        if match:
            delivered.append((int(match.group(1)), call.at))
    counts = Counter(alert_id for alert_id, _ in delivered)
    arrivals = sorted(at for _, at in delivered)
    first_arrival: dict[int, float] = {}
    for alert_id, at in sorted(delivered, key=lambda pair: pair[1]):
        first_arrival.setdefault(alert_id, at)
    waits = sorted(first_arrival[i] - queued_at[i] for i in first_arrival)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    low, high = int(0.05 * (len(arrivals) - 1)), int(0.95 * (len(arrivals) - 1))
    middle = arrivals[high] - arrivals[low] if high > low else 0.0
    return {
        "queued": total,
        "delivered": len(counts),
        "lost": total - len(counts),
        "duplicated": sum(count - 1 for count in counts.values()),
        "http_429": api.flood_rejections,
        "chat_429": api.chat_flood_rejections,
        "injected_429": api.random_refusals,
        "retries": retries,
        "whole": (len(arrivals) - 1) / span if span else 0.0,
        "rate": (high - low) / middle if middle else 0.0,
        "p50": statistics.median(waits) if waits else 0.0,
        "p90": waits[int(0.9 * (len(waits) - 1))] if waits else 0.0,
        "max": waits[-1] if waits else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=12)
    parser.add_argument("--per-cycle", type=int, default=160)
    parser.add_argument("--cycle", type=float, default=5.0)
    parser.add_argument("--scenarios", default="plain,latency,refusals")
    opts = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    names = [name.strip() for name in opts.scenarios.split(",") if name.strip()]
    results = {
        name: asyncio.run(run(name, cycles=opts.cycles, per_cycle=opts.per_cycle, cycle=opts.cycle))
        for name in names
    }
    offered = opts.per_cycle / opts.cycle
    print(
        f"{CHATS} chats, {opts.cycles} cycles of {opts.per_cycle} alerts every {opts.cycle:g} s "
        f"(offered {offered:.0f}/s); the fake enforces {LIMIT:.0f} msg/s and 1 msg/s per chat\n"
    )
    rows: list[tuple[str, str, list[str]]] = [
        ("queued alerts", "", [f"{r['queued']:.0f}" for r in results.values()]),
        ("delivered (distinct)", "", [f"{r['delivered']:.0f}" for r in results.values()]),
        ("lost", "0", [f"{r['lost']:.0f}" for r in results.values()]),
        ("duplicated", "0", [f"{r['duplicated']:.0f}" for r in results.values()]),
        ("429 from flood limits", "", [f"{r['http_429']:.0f}" for r in results.values()]),
        ("  of which per chat", "", [f"{r['chat_429']:.0f}" for r in results.values()]),
        ("429 injected", "", [f"{r['injected_429']:.0f}" for r in results.values()]),
        ("RetryAfter waits", "", [f"{r['retries']:.0f}" for r in results.values()]),
        (
            "sustained rate",
            f"{LIMIT:.0f}/s (limit)",
            [f"{r['rate']:.2f}/s" for r in results.values()],
        ),
        ("share of the limit", "100%", [f"{r['rate'] / LIMIT:.1%}" for r in results.values()]),
        ("whole-run rate", "", [f"{r['whole']:.2f}/s" for r in results.values()]),
        ("queue→send p50", "", [f"{r['p50']:.2f} s" for r in results.values()]),
        ("queue→send p90", "≤ 15 s", [f"{r['p90']:.2f} s" for r in results.values()]),
        ("queue→send max", "", [f"{r['max']:.2f} s" for r in results.values()]),
    ]
    if "plain" in results and "refusals" in results:
        ratio = results["refusals"]["rate"] / results["plain"]["rate"]
        shown = [f"{ratio:.1%}" if name == "refusals" else "" for name in names]
        rows.append(("rate vs plain", "≥ 80%", shown))
    width = max(len(name) for name, _, _ in rows)
    header = " | ".join(f"{name:<12}" for name in names)
    print(f"{'metric':<{width}} | {'baseline / target':<18} | {header}")
    print("-" * width + "-+-" + "-" * 18 + "-+-" + "-+-".join("-" * 12 for _ in names))
    for name, baseline, values in rows:
        print(f"{name:<{width}} | {baseline:<18} | " + " | ".join(f"{v:<12}" for v in values))
    met = all(
        r["rate"] >= 0.9 * LIMIT and r["p90"] <= 15 and not r["lost"] and not r["duplicated"]
        for name, r in results.items()
        if name in {"plain", "latency"}
    )
    verdict = "met" if met else "NOT met"
    print(f"\n≥ 27/s, p90 ≤ 15 s, 0 lost, 0 duplicated without refusals: {verdict}")


if __name__ == "__main__":
    main()
