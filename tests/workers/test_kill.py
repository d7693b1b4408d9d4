"""Four worker processes share one PostgreSQL database; workers are killed (SIGKILL) at random
moments while they poll and send, and restarted.

Contract (``core.service`` module docstring, "Many workers"): every due parcel is fetched in
its interval — twice only when the worker that first fetched it died before storing it; no
alert is lost; an alert is sent twice only when the worker that sent it first was killed
before marking it, at most one such alert per kill (each sender has one message in flight,
``PARCELBOT_SEND_CONCURRENCY=1``). The provider key's request rate and the
bot's send rate stay under their limits in sum over all workers (the fakes count arrivals).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from storage.limits import RateSpec
from tests.postgres import postgres_schema
from tests.workers.harness import (
    Edge,
    Fleet,
    Plan,
    most_in_window,
    number,
    seed,
    wait_for,
    wait_until,
)

PLAN = Plan(parcels=10_000, per_chat=4, move_every=20)
WORKERS = 4
POLL_BATCH = 200
LEASE = 8.0
PROVIDER_RATE = 40
SEND_RATE = 100
SETTINGS = {
    "PARCELBOT_POLL_INTERVAL": "0.5",
    "PARCELBOT_FLUSH_INTERVAL": "0.5",
    "PARCELBOT_POLL_BATCH": str(POLL_BATCH),
    "PARCELBOT_POLL_LEASE": str(LEASE),
    "PARCELBOT_SEND_LEASE": str(LEASE),
    # One message in flight per sender: a killed sender repeats at most the one message the
    # platform had accepted and it had not marked sent.
    "PARCELBOT_SEND_CONCURRENCY": "1",
    # Faster than the real 3 requests/s and 30 messages/s, so ten thousand parcels fit in a
    # test; the limits are held just the same (benchmarks/workers.py runs the real ones).
    "PARCELBOT_SEVENTEEN_TRACK_RATE": str(PROVIDER_RATE),
    "PARCELBOT_TELEGRAM_RATE": str(SEND_RATE),
    "PARCELBOT_HEALTH_PORT": "",
}
_NUMBER = re.compile(r"9400111206\d{12}")


# Four processes and a server on a shared machine: about 90 s when it is quiet, longer when
# it is busy (the waits inside bound each step).
@pytest.mark.timeout(900)
async def test_killed_workers_lose_nothing_and_repeat_only_their_last_work(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261207)
    with postgres_schema() as url:
        now = datetime.now(UTC)
        edge = Edge(await seed(url, PLAN, now))
        port = await edge.start()
        fleet = Fleet(url, port, tmp_path, settings=SETTINGS)
        killed: list[str] = []
        try:
            for index in range(WORKERS):
                fleet.start(f"w{index}")
            moving = len(PLAN.moving())
            # Kills while parcels are being fetched, and while alerts are being sent.
            for stage, goal in (("fetch", 0.2), ("fetch", 0.55), ("send", 0.5)):
                reached = _progress(
                    edge, stage, goal * (PLAN.parcels if stage == "fetch" else moving)
                )
                assert await wait_until(reached, 180), fleet.log_tail()
                await asyncio.sleep(rng.uniform(0.0, 0.8))
                slot = f"w{rng.randrange(WORKERS)}"
                killed.append(fleet.kill(slot).name)
                fleet.start(slot)

            expected = {(str(PLAN.chat_of(i)), number(i)) for i in PLAN.moving()}

            def delivered() -> set[tuple[str, str]]:
                return {(chat, _number_in(text)) for _t, _w, chat, text in edge.sends}

            everything = await wait_until(
                lambda: (
                    len({n for _t, _w, n in edge.fetches}) == PLAN.parcels
                    and delivered() >= expected
                ),
                300,
            )
            assert everything, fleet.log_tail()
            # A killed sender's unmarked message is sent again once its lease ran out and its
            # place under the chat's rate limit freed itself (it never reported its end).
            async with Database.open(url) as db:
                emptied = await wait_for(lambda: _outbox_empty(db), LEASE * 3 + RateSpec(1).hold)
                assert emptied, "every alert was marked sent"
        finally:
            codes = fleet.stop_all()
            await edge.close()
    assert codes == [0] * WORKERS, fleet.log_tail()

    # Every parcel fetched; a second fetch only where the first was a killed worker's.
    fetched = Counter(n for _t, _w, n in edge.fetches)
    assert len(fetched) == PLAN.parcels
    first: dict[str, str] = {}
    for _at, worker, text in sorted(edge.fetches):
        first.setdefault(text, worker)
    again = [text for text, times in fetched.items() if times > 1]
    assert max(fetched.values()) <= 2
    assert all(first[text] in killed for text in again), "only a killed worker's work repeats"
    assert len(again) <= len(killed) * POLL_BATCH

    # Every alert delivered; at most one duplicate per kill, each first sent by the killed.
    sent = Counter((chat, _number_in(text)) for _t, _w, chat, text in edge.sends)
    assert set(sent) == expected, "0 alerts lost, none unexpected"
    duplicates = {pair: times for pair, times in sent.items() if times > 1}
    assert sum(times - 1 for times in duplicates.values()) <= len(killed)
    first_sender: dict[tuple[str, str], str] = {}
    for _at, worker, chat, text in sorted(edge.sends):
        first_sender.setdefault((chat, _number_in(text)), worker)
    assert all(first_sender[pair] in killed for pair in duplicates)

    # Senders only send: updates are another process's to receive (Telegram allows one).
    assert not {"getUpdates", "deleteWebhook", "setWebhook"} & set(edge.other_calls)

    # The limits held in sum over every worker, in every one-second window.
    assert most_in_window(edge.provider_calls) <= PROVIDER_RATE
    assert most_in_window([at for at, _w, _c, _t in edge.sends]) <= SEND_RATE
    print(
        f"\n{PLAN.parcels} parcels, {WORKERS} workers, kills {killed}: "
        f"{len(again)} parcels fetched twice, {len(duplicates)} alerts sent twice; "
        f"max {most_in_window(edge.provider_calls)} provider requests/s (limit "
        f"{PROVIDER_RATE}), max {most_in_window([s[0] for s in edge.sends])} messages/s "
        f"(limit {SEND_RATE})"
    )


def _progress(edge: Edge, stage: str, target: float) -> Callable[[], bool]:
    """Whether ``target`` numbers were fetched (``fetch``) or messages sent (``send``)."""
    records: list[Any] = edge.fetches if stage == "fetch" else edge.sends
    return lambda: len(records) >= target


def _number_in(text: str) -> str:
    found = _NUMBER.search(text)
    assert found is not None, text
    return found.group(0)


async def _outbox_empty(db: Database) -> bool:
    return await db.outbox.pending_count() == 0
