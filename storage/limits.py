"""Rate limits that hold in sum over every process sharing one database, where they are
counted: at the server.

A provider key's quota (17TRACK: 3 requests a second) and a bot's send allowance (Telegram: 30
messages a second, one a second per chat, 20 a minute per group) belong to the key or the bot,
not to a process: with four workers each keeping its own limiter, the provider would see four
times the limit. Here each limit is one row of ``rate_limits``: its places (JSON) and the
earliest time the next request may start (even pacing).

A request holds a place from when it starts until ``period`` after it finished, as
``core.pacing.SlidingWindow`` does in one process (its docstring says why counting from the
start cannot promise anything about arrivals, and what holding costs): the server saw request
``i`` before it answered, and request ``i + rate`` starts only ``period`` after that answer
was reported here, so no half-open window of ``period`` at the server holds more than
``rate``, whatever the network, the event loops or the server do with the timing. Every time
is read from the database's clock (PostgreSQL's ``clock_timestamp()``) inside the transaction
that holds the row, so the machines' clocks need not agree. A process killed mid-request never
reports its finish: its place counts for ``hold`` seconds from its start (longer than any
request may take), then frees itself.

This is written here rather than taken from a library because the place must live in the
shared database and be held until the answer came back; the limiters on PyPI keep their state
in one process (aiolimiter) or in Redis, and count at the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.sql import Connection, Tx

__all__ = ["Held", "RateSpec", "SharedLimits", "SharedRate"]

log = logging.getLogger(__name__)

_NOW = {
    "postgresql": "extract(epoch FROM clock_timestamp())::float8",
    # julianday('now') has millisecond resolution (``margin`` covers the rounding); the epoch
    # is Julian day 2440587.5.
    "sqlite": "(julianday('now') - 2440587.5) * 86400.0",
}

_ENSURE = (
    "INSERT INTO rate_limits (name, next_at, starts) VALUES (?, 0, '[]') "
    "ON CONFLICT (name) DO NOTHING"
)

_UPDATE = "UPDATE rate_limits SET next_at = ?, starts = ? WHERE name = ?"


@dataclass(frozen=True, slots=True)
class RateSpec:
    """At most ``rate`` requests in any ``period`` seconds (plus ``margin``) at the server,
    started evenly at ``pace`` of the rate; a place whose request never reported its end is
    freed ``hold`` seconds after its start."""

    rate: int
    period: float = 1.0
    margin: float = 0.01
    pace: float = 1.0
    hold: float = 20.0
    """Longer than a request takes to leave (the HTTP clients connect within 5 s and have
    sent a request within 15 s more) so a place a killed process never reported counts until
    its request surely arrived; a live request always reports its end."""

    @property
    def window(self) -> float:
        return self.period + self.margin

    @property
    def spacing(self) -> float:
        return self.period / (self.rate * self.pace)

    @property
    def poll(self) -> float:
        """How often a waiter looks again while every place is held by a running request in
        another process (one in this process wakes it when it ends)."""
        return min(0.1, max(0.01, self.spacing / 2))


@dataclass(frozen=True, slots=True)
class Held:
    """A place taken under ``name``: the request started at ``start`` (database clock)."""

    name: str
    spec: RateSpec
    token: str
    start: float


@dataclass(slots=True)
class _Local:
    """This process's waiters for one name: they ask the database one at a time, in order."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


# A place: [start, end reported (None while the request runs), token].
_Place = list[Any]


def _places(text: str, spec: RateSpec) -> list[_Place]:
    # Rows written before places were held kept bare start times: each counts from its start.
    return [
        [item, item + spec.window, ""] if isinstance(item, int | float) else list(item)
        for item in json.loads(text)
    ]


def _until(place: _Place, spec: RateSpec) -> float:
    """When ``place`` stops counting."""
    ended = place[1]
    return float(place[0]) + spec.hold if ended is None else float(ended)


class SharedLimits:
    """Every named limit on one database (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        backend = conn.dialect.name
        self._now = _NOW[backend]
        # The rows and the database's clock in one round trip, locked in name order (no
        # deadlocks). The clock may be read before a wait for a lock: an earlier "now" only
        # makes the places look busier. SQLite's write transaction holds the whole file.
        self._select = (
            f"SELECT name, next_at, starts, {self._now} FROM rate_limits "  # noqa: S608 - fixed
            "WHERE name IN ({}) ORDER BY name" + (" FOR UPDATE" if backend == "postgresql" else "")
        )
        self._local: dict[str, _Local] = {}
        self._reports: set[asyncio.Task[None]] = set()
        # Set whenever a request in this process reported its end: its waiters look again.
        self._freed = asyncio.Event()
        self.waits = 0
        """How often a caller had to wait (for benchmarks and monitoring)."""

    @contextlib.asynccontextmanager
    async def hold(self, *limits: tuple[str, RateSpec]) -> AsyncIterator[list[Held]]:
        """Take a place under every one of ``limits`` at once, run the block (the request),
        then report its end to all of them. The request must be made inside the block and be
        finished when it is left."""
        held = await self.acquire(*limits)
        try:
            yield held
        finally:
            # Reported in the background: the caller goes on (to its next message) without
            # waiting for the write; a later report only keeps the places a little longer.
            task = asyncio.get_running_loop().create_task(self._report(held))
            self._reports.add(task)
            task.add_done_callback(self._reports.discard)

    async def _report(self, held: list[Held]) -> None:
        try:
            await self.release(held)
        except Exception as err:
            log.warning(
                "could not report the end of a rate-limited request (%s); its places free "
                "themselves %.0f s after its start",
                type(err).__name__,
                max(h.spec.hold for h in held),
            )

    async def drain(self) -> None:
        """Wait for the ends reported in the background (before the database closes)."""
        while self._reports:
            await asyncio.gather(*self._reports)

    async def acquire(self, *limits: tuple[str, RateSpec]) -> list[Held]:
        """Wait until there is a place under every one of ``limits`` and take them together
        (one transaction); they are held until ``release``."""
        wanted = sorted(dict(limits).items())  # rows are locked in name order: no deadlocks
        locals_ = [self._local.setdefault(name, _Local()) for name, _spec in wanted]
        for local in locals_:
            local.users += 1
        token = secrets.token_hex(8)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for local in locals_:
                    await stack.enter_async_context(local.lock)
                while True:
                    wait, now = await self._conn.run_transaction(
                        lambda tx: self._try(tx, wanted, token)
                    )
                    if wait <= 0:
                        return [Held(name, spec, token, now) for name, spec in wanted]
                    self.waits += 1
                    self._freed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._freed.wait(), wait)
        finally:
            for (name, _spec), local in zip(wanted, locals_, strict=True):
                local.users -= 1
                if not local.users:
                    del self._local[name]

    async def _rows(self, tx: Tx, names: list[str]) -> tuple[dict[str, tuple[float, str]], float]:
        """Lock the rows of ``names`` (sorted), creating missing ones: {name: (next_at,
        places)}, and the database's clock."""
        select = self._select.format(", ".join("?" * len(names)))
        found = await tx.read(select, names)
        if len(found) < len(names):
            await tx.write_many(_ENSURE, [(name,) for name in names])
            found = await tx.read(select, names)
        now = float(found[0][3])
        return {str(r[0]): (float(r[1]), str(r[2])) for r in found}, now

    async def _try(
        self, tx: Tx, wanted: list[tuple[str, RateSpec]], token: str
    ) -> tuple[float, float]:
        """(0, now): every place is taken; else (seconds to wait before asking again, now)."""
        rows, now = await self._rows(tx, [name for name, _spec in wanted])
        wait = 0.0
        kept: list[list[_Place]] = []
        for name, spec in wanted:
            next_at, text = rows[name]
            places = [p for p in _places(text, spec) if _until(p, spec) > now]
            kept.append(places)
            wait = max(wait, next_at - now)
            if len(places) >= spec.rate:
                ended = [float(p[1]) for p in places if p[1] is not None]
                free = min(ended) - now if ended else math.inf
                if len(ended) < len(places):
                    # A running request may end any moment; in another process nothing wakes
                    # us.
                    free = min(free, spec.poll)
                wait = max(wait, free)
        if wait > 0:
            return wait, now
        updates = []
        for (name, spec), places in zip(wanted, kept, strict=True):
            places.append([now, None, token])
            # A start less than one spacing late is made up by the next one instead of
            # lowering the rate (the places keep the hard limit); after a pause the pace
            # starts from now.
            next_at = rows[name][0]
            planned = (next_at if now - next_at < spec.spacing else now) + spec.spacing
            updates.append((planned, json.dumps(places), name))
        await tx.write_many(_UPDATE, updates)
        return 0.0, now

    async def release(self, held: Sequence[Held]) -> None:
        """Report that the requests of ``held`` ended: each place counts until ``window``
        from now. One transaction."""
        by_name = {h.name: h for h in held}

        async def work(tx: Tx) -> None:
            rows, now = await self._rows(tx, sorted(by_name))
            updates = []
            for name, (next_at, text) in rows.items():
                place = by_name[name]
                places = [p for p in _places(text, place.spec) if _until(p, place.spec) > now]
                for item in places:
                    if item[2] == place.token:
                        item[1] = now + place.spec.window
                updates.append((next_at, json.dumps(places), name))
            await tx.write_many(_UPDATE, updates)

        await self._conn.run_transaction(work)
        self._freed.set()

    async def forget_idle(self, older_than: float = 3600.0) -> int:
        """Delete limits not used for ``older_than`` seconds (per-chat rows pile up)."""
        now = float((await self._conn.read(f"SELECT {self._now}"))[0][0])
        return await self._conn.write(
            "DELETE FROM rate_limits WHERE next_at < ?", (now - older_than,)
        )


class SharedRate:
    """One named limit as a ``core.ports.Pacer``, to hand to a provider client in place of
    its own ``core.pacing.SlidingWindow``."""

    def __init__(self, limits: SharedLimits, name: str, spec: RateSpec) -> None:
        self._limits = limits
        self.name = name
        self.spec = spec

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place; the request is made inside the block."""
        async with self._limits.hold((self.name, self.spec)):
            yield
