"""Faults stay where they happen on Discord: a hundred members' alert rate with and without one
DM answering 500 and one refusing (403), A/B in one run.

The real discord.py bot logs in to the loopback fake Discord (REST and gateway); 100 members
get ``--per-chat`` alerts each through ``ParcelService.flush_outbox`` and ``DiscordSender``.
Run A has only the hundred; run B adds a member whose DM channel answers 500 to every message
(discord.py retries it itself; the sender cuts that short) and one whose DMs are closed (403).
"Rate" is the hundred members' deliveries over the time from the first to the last of them,
as the fake saw them.

Run: ``.venv/bin/python benchmarks/discord_faults.py [--per-chat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import discord
import yarl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.discord_bot import DiscordSender, build_bot
from bots.notifier import PlatformNotifier
from core.clock import SystemClock
from core.commands import CommandRouter
from core.models import (
    ChatRef,
    Platform,
)
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage.db import Database
from tests.bots.discord.fake_discord import FakeDiscord
from tests.outbox_helpers import queue_alerts

GOOD = [900_000_000_000_010_000 + i for i in range(100)]
BROKEN = 900_000_000_000_020_001
CLOSED = 900_000_000_000_020_002


def _dm(user_id: int) -> str:
    return f"/channels/{user_id + 7}/messages"


async def _queue(db: Database, users: list[int], per_chat: int) -> None:
    chats = [ChatRef(Platform.DISCORD, str(user), str(user)) for user in users]
    await queue_alerts(db, chats, per_chat, datetime.now(UTC))


async def run(faults: bool, per_chat: int) -> dict[str, float]:
    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    clock = SystemClock()
    arrivals: list[float] = []
    record = fake._record

    async def stamped(request):  # type: ignore[no-untyped-def]
        if request.method == "POST" and request.path in good_paths:
            arrivals.append(time.perf_counter())
        await record(request)

    good_paths = {_dm(user) for user in GOOD}
    fake._record = stamped  # type: ignore[method-assign]
    users = [*GOOD, BROKEN, CLOSED] if faults else list(GOOD)
    random.Random(1).shuffle(users)
    if faults:
        fake.fail[_dm(BROKEN)] = (500, 0)
        fake.fail[_dm(CLOSED)] = (403, 50007)
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with Database.open(Path(folder) / "bench.sqlite3", clock=clock) as db:
                service = ParcelService(provider=SandboxProvider(clock), store=db, clock=clock)
                bot = build_bot(CommandRouter(service), guilds=db.discord, guild_ready_timeout=0.05)
                await bot.login("fake-token")
                connection = asyncio.create_task(bot.connect(reconnect=False))
                try:
                    await asyncio.wait_for(bot.wait_until_ready(), 10)
                    await _queue(db, users, per_chat)
                    notifier = PlatformNotifier({Platform.DISCORD: DiscordSender(bot, db.discord)})
                    started = time.perf_counter()
                    stats = await service.flush_outbox(notifier)
                    elapsed = time.perf_counter() - started
                finally:
                    await bot.close()
                    await asyncio.wait_for(connection, 10)
    finally:
        await fake.stop()
    arrivals.sort()
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "good_delivered": len(arrivals),
        "sent": stats.sent,
        "failed": stats.failed,
        "parked": stats.paused,
        "span": span,
        "rate": (len(arrivals) - 1) / span if span else 0.0,
        "flush": elapsed,
        "broken_tries": sum(1 for r in fake.requests if r.path == _dm(BROKEN)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-chat", type=int, default=3)
    opts = parser.parse_args()
    plain = asyncio.run(run(False, opts.per_chat))
    faulty = asyncio.run(run(True, opts.per_chat))
    rows = [
        ("100 members' alerts delivered", "good_delivered", "{:.0f}"),
        ("alerts marked sent", "sent", "{:.0f}"),
        ("messages failed (retry later)", "failed", "{:.0f}"),
        ("chats parked", "parked", "{:.0f}"),
        ("requests to the 5xx DM", "broken_tries", "{:.0f}"),
        ("first→last delivery, 100 members", "span", "{:.2f} s"),
        ("rate to the 100 members", "rate", "{:.1f}/s"),
        ("whole flush", "flush", "{:.2f} s"),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'metric':<{width}} | {'A: 100 members':<16} | {'B: + 5xx + 403':<16}")
    print("-" * width + "-+-" + "-" * 16 + "-+-" + "-" * 16)
    for name, key, fmt in rows:
        print(f"{name:<{width}} | {fmt.format(plain[key]):<16} | {fmt.format(faulty[key]):<16}")
    print(f"\nrate B / A: {faulty['rate'] / plain['rate']:.1%} (target: within 10%)")


if __name__ == "__main__":
    main()
