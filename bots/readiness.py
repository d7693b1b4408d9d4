"""Readiness: the checks behind ``/ready`` (served by ``bots.ops``).

Not ready when any of these holds (each a named check):

``database``  the database file cannot be opened and read within a few seconds (a fresh
              read-only connection, so a hung or vanished volume shows);
``poll``      the last finished poll cycle is older than 3 × the poll interval;
``flush``     the last finished outbox flush is older than 3 × the flush interval;
``backlog``   more alerts are due for sending than ``PARCELBOT_READY_MAX_BACKLOG``;
``sources``   every tracking source (providers, the shop) is failing.

Until the first cycle finishes, the start time counts as the last cycle.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.models import Backlog

__all__ = ["STALE_FACTOR", "Heartbeat", "Readiness", "database_reachable"]

STALE_FACTOR = 3.0
"""A cycle is overdue when its last run is older than this many intervals."""


@dataclass
class Heartbeat:
    """When the poll and flush jobs last finished a cycle (monotonic seconds)."""

    monotonic: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    last_poll: float | None = None
    last_flush: float | None = None

    def __post_init__(self) -> None:
        self.started = self.monotonic()

    def polled(self) -> None:
        self.last_poll = self.monotonic()

    def flushed(self) -> None:
        self.last_flush = self.monotonic()

    def age(self, last: float | None) -> float:
        """Seconds since ``last`` (the start when it never happened)."""
        return self.monotonic() - (self.started if last is None else last)


def database_reachable(path: str, timeout: float) -> str | None:
    """None when the database file opens and answers a query; else why not (one line).

    A separate read-only connection: the bot's own connection keeps a file open even after
    its volume went away, and a write would queue behind the bot's own writes.
    """
    if path == ":memory:":
        return None
    try:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=timeout)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as err:
        return f"{type(err).__name__}: {err}"
    return None


@dataclass
class Readiness:
    """Runs the readiness checks (see the module docstring)."""

    db_path: str
    heartbeat: Heartbeat
    poll_interval: float
    flush_interval: float
    max_backlog: int
    backlog: Callable[[], Awaitable[Backlog]]
    sources: Callable[[], Mapping[str, str]]
    db_timeout: float = 3.0
    probe: Callable[[], Awaitable[str | None]] | None = None
    """Asks a database server instead of opening ``db_path`` (PostgreSQL): None when it
    answered, else why not."""
    cycles: frozenset[str] = frozenset({"poll", "flush"})
    """The cycles this process runs (its roles): a sender's readiness does not wait for polls."""

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): every check's verdict and figures."""
        checks: dict[str, dict[str, Any]] = {}
        asked = (
            self.probe()
            if self.probe is not None
            else asyncio.to_thread(database_reachable, self.db_path, self.db_timeout)
        )
        problem = await _within(asked, self.db_timeout + 1.0)
        checks["database"] = {"ok": problem is None, **({"error": problem} if problem else {})}
        for name, last, interval in (
            ("poll", self.heartbeat.last_poll, self.poll_interval),
            ("flush", self.heartbeat.last_flush, self.flush_interval),
        ):
            if name not in self.cycles:
                continue
            age = self.heartbeat.age(last)
            limit = interval * STALE_FACTOR
            checks[name] = {"ok": age <= limit, "age_seconds": round(age, 1), "limit": limit}
        try:
            waiting = await asyncio.wait_for(self.backlog(), self.db_timeout)
            checks["backlog"] = {
                "ok": waiting.outbox_due <= self.max_backlog,
                "due": waiting.outbox_due,
                "limit": self.max_backlog,
            }
        except Exception as err:
            checks["backlog"] = {"ok": False, "error": type(err).__name__}
        states = dict(self.sources())
        all_down = bool(states) and all(state != "ok" for state in states.values())
        checks["sources"] = {"ok": not all_down, "states": states}
        ready = all(check["ok"] for check in checks.values())
        return ready, checks


async def _within(work: Awaitable[str | None], seconds: float) -> str | None:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        return "no answer in time"
