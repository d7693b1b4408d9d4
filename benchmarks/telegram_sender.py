"""How close the Telegram alert sender gets to Telegram's flood limits without crossing them.

1,000 alerts to 200 private chats (5 each) go through ``TelegramSender`` of a running
``TelegramAdapter`` (real PTB bot, real HTTP over loopback) to the fake Bot API, which enforces
30 messages in any 1 s window and 1 message per second per chat, answering 429 otherwise.

"Achieved rate" is (messages − 1) / (last arrival − first arrival) as the fake saw them, and
"share of the limit" is that rate over 30 msg/s. Two orders are measured: ``rounds`` (alert i
goes to chat i mod 200, the way poll cycles produce them) and ``shuffled`` (a chat's alerts can
sit next to each other, so some wait out the 1 s per-chat limit, and the last ones always do).

Run: ``.venv/bin/python benchmarks/telegram_sender.py [--alerts 1000 --chats 200 --workers 50
--orders rounds,shuffled]`` (about 35 s per order).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.telegram_bot import build_adapter
from core.models import ChatRef, Platform
from core.replies import Button, Reply, ReplyKind
from tests.arrivals import most_in_window
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi, FloodLimits, NoCommands

GLOBAL_RATE = 30
PERIOD = 1.0
CHAT_INTERVAL = 1.0


def _alert(index: int) -> Reply:
    number = f"1ZSBX12303{index:08d}"
    return Reply(
        f"On its way: {number}",
        ("The carrier has scanned your parcel.", "Picked up — Phoenix, AZ, US"),
        buttons=(
            Button("Refresh", "track", (number, "ups")),
            Button("Timeline", "history", (number, "ups")),
        ),
        kind=ReplyKind.ALERT,
    )


async def run(alerts: int, chats: int, workers: int, order: str = "rounds") -> dict[str, float]:
    api = FakeBotApi(
        flood_limits=FloodLimits(
            global_rate=GLOBAL_RATE, period=PERIOD, chat_interval=CHAT_INTERVAL
        )
    )
    jobs = [(1 + i % chats, _alert(i)) for i in range(alerts)]
    if order == "shuffled":
        random.Random(5).shuffle(jobs)
    queue: asyncio.Queue[tuple[int, Reply]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    failures = 0

    async with api.serve():
        adapter = build_adapter(TOKEN, NoCommands(), base_url=api.base_url, poll_timeout=1.0)
        async with adapter:
            sender = adapter.sender

            async def worker() -> None:
                nonlocal failures
                while not queue.empty():
                    chat_id, reply = queue.get_nowait()
                    chat = ChatRef(Platform.TELEGRAM, str(chat_id), str(chat_id))
                    try:
                        await sender.send(chat, reply)
                    except Exception:  # counted and reported
                        failures += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            elapsed = time.perf_counter() - started
            retries = adapter.flood_control.retries

    arrivals = sorted(call.at for call in api.sent())
    span = arrivals[-1] - arrivals[0]
    busiest = most_in_window(arrivals, PERIOD)
    per_chat: dict[int, list[float]] = {}
    for call in api.sent():
        per_chat.setdefault(int(call.params["chat_id"]), []).append(call.at)
    closest = min(
        later - earlier
        for times in per_chat.values()
        for earlier, later in itertools.pairwise(times)
    )
    return {
        "alerts": alerts,
        "chats": chats,
        "workers": workers,
        "delivered": len(arrivals),
        "failed": failures,
        "http_429": api.flood_rejections,
        "retries": retries,
        "elapsed_s": elapsed,
        "span_s": span,
        "rate_per_s": (len(arrivals) - 1) / span if span else 0.0,
        "share": (len(arrivals) - 1) / span / (GLOBAL_RATE / PERIOD) if span else 0.0,
        "busiest_1s": busiest,
        "busiest_chat_1s": max(most_in_window(times, 1.0) for times in per_chat.values()),
        "closest_same_chat_s": closest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--orders", default="rounds,shuffled")
    opts = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    orders = [order.strip() for order in opts.orders.split(",") if order.strip()]
    results = [asyncio.run(run(opts.alerts, opts.chats, opts.workers, order)) for order in orders]
    rows: list[tuple[str, list[str]]] = [
        (
            "alerts / chats / workers",
            [f"{opts.alerts} / {opts.chats} / {opts.workers}"] * len(orders),
        ),
        ("delivered", [f"{r['delivered']:.0f}" for r in results]),
        ("failed sends", [f"{r['failed']:.0f}" for r in results]),
        ("429 answers from the fake", [f"{r['http_429']:.0f}" for r in results]),
        ("RetryAfter waits", [f"{r['retries']:.0f}" for r in results]),
        ("wall time", [f"{r['elapsed_s']:.2f} s" for r in results]),
        ("first→last arrival", [f"{r['span_s']:.2f} s" for r in results]),
        ("achieved rate", [f"{r['rate_per_s']:.2f} msg/s" for r in results]),
        ("share of the limit", [f"{r['share']:.1%}" for r in results]),
        ("busiest 1 s window [t, t+1)", [f"{r['busiest_1s']:.0f} msgs" for r in results]),
        ("busiest 1 s, one chat", [f"{r['busiest_chat_1s']:.0f} msgs" for r in results]),
        ("closest two msgs, same chat", [f"{r['closest_same_chat_s']:.3f} s" for r in results]),
    ]
    print(f"limits enforced by the fake: {GLOBAL_RATE} msg per {PERIOD:g} s, 1 msg/s per chat\n")
    width = max(len(name) for name, _ in rows)
    print(f"{'metric':<{width}} | " + " | ".join(f"{order:<18}" for order in orders))
    print("-" * width + "-+-" + "-+-".join("-" * 18 for _ in orders))
    for name, values in rows:
        print(f"{name:<{width}} | " + " | ".join(f"{value:<18}" for value in values))
    met = all(r["share"] >= 0.95 and r["http_429"] == 0 and not r["failed"] for r in results)
    print(f"\ntarget (≥ 95% of the limit, zero 429s) in every order: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
