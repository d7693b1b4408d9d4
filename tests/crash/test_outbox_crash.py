"""SIGKILL the outbox flusher at random moments; after restarts nothing is lost and the only
duplicates are the documented ones.

Contract (``core.service`` module docstring): every queued alert is delivered at least once;
a message is sent twice only when the process died after the platform acknowledged it and
before ``mark_sent`` committed — at most one message per chat in flight at the crash, and it
is always the last message the killed process delivered to that chat. A clean stop (SIGTERM)
lets the messages in flight finish and be marked: it repeats nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from storage.db import Database

ROOT = Path(__file__).resolve().parents[2]
KILLS = 24
CHATS = 4
PER_CHAT = 150


async def _seed(path: Path) -> set[tuple[str, str]]:
    """Queue PER_CHAT distinct alerts for each of CHATS chats; return (chat key, text) pairs."""
    now = datetime.now(UTC) - timedelta(days=1)
    expected: set[tuple[str, str]] = set()
    async with Database.open(path) as db:
        writes = []
        for c in range(CHATS):
            who = ChatRef(Platform.CONSOLE, f"crash-{c}", f"user-{c}")
            key = ShipmentKey("ups", TrackingNumber(f"1ZCRASH{c:04d}"))
            events = tuple(
                TrackingEvent(
                    now + timedelta(minutes=i), Status.IN_TRANSIT, f"alert {c}-{i}", "Hub"
                )
                for i in range(PER_CHAT)
            )
            await db.subscriptions.add(Subscription(who, key, created_at=now))
            alerts = tuple(
                (who, Alert(AlertKind.MOVED, key, f"{key}|moved|{i}", event=events[i]))
                for i in range(PER_CHAT)
            )
            writes.append(
                SnapshotWrite(
                    Shipment("ups", key.number, Status.IN_TRANSIT, events, checked_at=now),
                    None,
                    alerts,
                )
            )
            expected.update((who.chat_key, f"alert {c}-{i}") for i in range(PER_CHAT))
        await db.shipments.save_many(writes)
    return expected


def _start(db: Path, log: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.crash.flusher_child", str(db), str(log)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def test_sigkill_loses_nothing_and_duplicates_only_in_the_window(tmp_path: Path) -> None:
    db, log = tmp_path / "crash.sqlite3", tmp_path / "deliveries.log"
    expected = asyncio.run(_seed(db))
    rng = random.Random(20260302)
    killed: list[int] = []
    started = time.monotonic()
    while len(killed) < KILLS:
        child = _start(db, log)
        time.sleep(rng.uniform(0.0, 0.04))
        if child.poll() is not None:  # finished before the kill: everything was sent
            break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        killed.append(child.pid)
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    final = _start(db, log)
    _out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    elapsed = time.monotonic() - started

    lines = [line.split("\t") for line in log.read_text().splitlines()]
    deliveries = [(int(pid), chat_key, text) for pid, chat_key, text in lines]
    counts = Counter((chat_key, text) for _pid, chat_key, text in deliveries)
    assert set(counts) == expected, "an alert was lost or an unknown one was sent"
    last_of_run: dict[tuple[int, str], str] = {}
    for pid, chat_key, text in deliveries:
        last_of_run[pid, chat_key] = text
    # Every delivery but an alert's last must be the final message of a killed run to that
    # chat: the platform had acknowledged it and the process died before committing "sent".
    runs_of: dict[tuple[str, str], list[int]] = {}
    for pid, chat_key, text in deliveries:
        runs_of.setdefault((chat_key, text), []).append(pid)
    extra = 0
    for item, pids in runs_of.items():
        for pid in pids[:-1]:
            assert pid in killed, f"{item} sent twice without a crash"
            assert last_of_run[pid, item[0]] == item[1], f"{item} repeated outside the window"
            extra += 1
    per_run = Counter(pid for pids in runs_of.values() for pid in pids[:-1])
    assert all(count <= CHATS for count in per_run.values())
    assert len(killed) >= 20, f"only {len(killed)} kills landed before the outbox was empty"
    duplicates = sum(1 for count in counts.values() if count > 1)
    print(f"\n{len(killed)} kills, {extra} repeats of {duplicates} alerts, {elapsed:.1f}s")


def test_sigterm_stops_cleanly_and_repeats_nothing(tmp_path: Path) -> None:
    db, log = tmp_path / "stop.sqlite3", tmp_path / "deliveries.log"
    expected = asyncio.run(_seed(db))
    rng = random.Random(20260303)
    stops = 0
    for _ in range(12):
        child = _start(db, log)
        time.sleep(rng.uniform(0.0, 0.04))
        child.send_signal(signal.SIGTERM)
        _out, err = child.communicate(timeout=30)
        assert child.returncode == 0, err
        assert "Traceback" not in err
        stops += 1
    final = _start(db, log)
    _out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    counts = Counter(tuple(line.split("\t")[1:]) for line in log.read_text().splitlines())
    assert set(counts) == expected
    assert max(counts.values()) == 1, "a clean stop repeated a message"
    assert stops == 12
