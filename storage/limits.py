"""Rate limits that hold in sum over every process sharing one database.

A provider key's quota (17TRACK: 3 requests a second) and a bot's send allowance (Telegram: 30
messages a second, one a second per chat) belong to the key or the bot, not to a process: with
four workers each keeping its own limiter, the provider would see four times the limit. Here
each limit is one row of ``rate_limits``: the start times of its last calls (JSON) and the
earliest time the next may start. A caller locks the row, reads the database's clock and
either records its start and goes, or learns how long to wait and tries again. Because the
decision is taken at the moment the call starts, a late wake-up can never put more than
``rate`` starts into one window, whatever the process or machine.

``window`` is ``period`` plus a margin for the jitter between the start recorded here and the
request's arrival; ``pace`` spreads calls evenly a little under the limit (as
``bots.telegram_bot.limiter`` does in one process), so a backlog does not leave in bursts.
Times are the database server's (PostgreSQL) so machines' clocks need not agree.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from storage.sql import Connection, Tx

__all__ = ["RateSpec", "SharedLimits", "SharedRate"]

_NOW = {
    "postgresql": "SELECT extract(epoch FROM clock_timestamp())::float8",
    # julianday('now') has millisecond resolution; the epoch is Julian day 2440587.5.
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}

_ENSURE = (
    "INSERT INTO rate_limits (name, next_at, starts) VALUES (?, 0, '[]') "
    "ON CONFLICT (name) DO NOTHING"
)


_SELECT = "SELECT next_at, starts FROM rate_limits WHERE name = ?"


@dataclass(frozen=True, slots=True)
class RateSpec:
    """At most ``rate`` starts in any ``period`` seconds (plus ``margin``), evenly paced at
    ``pace`` of the rate."""

    rate: int
    period: float = 1.0
    margin: float = 0.05
    pace: float = 0.95

    @property
    def window(self) -> float:
        return self.period + self.margin

    @property
    def spacing(self) -> float:
        return self.period / (self.rate * self.pace)


class SharedLimits:
    """Every named limit on one database; ``acquire`` waits for a start under one of them."""

    def __init__(self, conn: Connection, *, sleep: Any = asyncio.sleep) -> None:
        self._conn = conn
        self._sleep = sleep
        backend = conn.dialect.name
        self._now = _NOW[backend]
        # SQLite's write transaction already holds the whole file.
        self._select = _SELECT + (" FOR UPDATE" if backend == "postgresql" else "")
        self.waits = 0
        """How often a caller had to wait (for benchmarks and monitoring)."""

    async def acquire(self, name: str, spec: RateSpec) -> float:
        """Return when a call under ``name`` may start now; it is counted as started at the
        returned time (seconds since the epoch on the database's clock)."""
        while True:
            wait, now = await self._conn.run_transaction(lambda tx: self._try(tx, name, spec))
            if wait <= 0:
                return now
            self.waits += 1
            await self._sleep(wait)

    async def _try(self, tx: Tx, name: str, spec: RateSpec) -> tuple[float, float]:
        """(0, now): start now; else (seconds to wait before trying again, now). One
        transaction."""
        await tx.write(_ENSURE, (name,))
        next_at, starts_text = (await tx.read(self._select, (name,)))[0]
        # Read after the row lock was granted: waiting for it is part of the wait.
        now = float((await tx.read(self._now))[0][0])
        starts = [t for t in json.loads(starts_text) if t > now - spec.window]
        waits = [float(next_at) - now]
        if len(starts) >= spec.rate:
            waits.append(starts[-spec.rate] + spec.window - now)
        wait = max(waits)
        if wait > 0:
            return wait, now
        starts.append(now)
        await tx.write(
            "UPDATE rate_limits SET next_at = ?, starts = ? WHERE name = ?",
            (now + spec.spacing, json.dumps(starts[-spec.rate :]), name),
        )
        return 0.0, now

    async def forget_idle(self, older_than: float = 3600.0) -> int:
        """Delete limits not used for ``older_than`` seconds (per-chat rows pile up)."""
        now = float((await self._conn.read(self._now))[0][0])
        return await self._conn.write(
            "DELETE FROM rate_limits WHERE next_at < ?", (now - older_than,)
        )


class SharedRate:
    """One named limit with an ``acquire()`` like ``aiolimiter.AsyncLimiter``'s, to hand to a
    provider client in place of its own limiter."""

    def __init__(self, limits: SharedLimits, name: str, spec: RateSpec) -> None:
        self._limits = limits
        self.name = name
        self.spec = spec

    async def acquire(self) -> None:
        """Wait until a call may start; it is counted."""
        await self._limits.acquire(self.name, self.spec)
