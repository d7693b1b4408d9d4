"""The operations server: ``/health`` (liveness), ``/ready`` (readiness), ``/metrics``.

A small aiohttp app on its own port (``PARCELBOT_HEALTH_HOST`` / ``PARCELBOT_HEALTH_PORT``),
on whenever the bot runs, apart from the internet-facing webhook server.

- ``/health`` answers 200 ``{"status": "ok"}`` while the event loop serves requests: a
  container or service manager restarts the process when it stops answering.
- ``/ready`` answers 200 ``{"status": "ready"}`` or 503 ``{"status": "not ready"}``. It is
  not ready when any of these holds (each a named check):

  ``database``  the database file cannot be opened and read within a few seconds (a fresh
                read-only connection, so a hung or vanished volume shows);
  ``poll``      the last finished poll cycle is older than 3 × the poll interval;
  ``flush``     the last finished outbox flush is older than 3 × the flush interval;
  ``backlog``   more alerts are due for sending than ``PARCELBOT_READY_MAX_BACKLOG``;
  ``sources``   every tracking source (providers, the shop) is failing.

  Until the first cycle finishes, the start time counts as the last cycle. The body names
  the failing checks and their figures only to a request with ``Authorization: Bearer
  <PARCELBOT_HEALTH_TOKEN>``; anyone else gets the status alone.
- ``/metrics`` is the Prometheus exposition (``bots.metrics``); with a health token set it
  needs the same bearer token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bots.metrics import CONTENT_TYPE, Metrics
from bots.webhooks import serve
from storage.stats import Backlog

__all__ = [
    "HEALTH_PATH",
    "METRICS_PATH",
    "READY_PATH",
    "Heartbeat",
    "Readiness",
    "database_reachable",
    "make_ops_app",
    "serve_ops",
]

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"
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

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): every check's verdict and figures."""
        checks: dict[str, dict[str, Any]] = {}
        problem = await _within(
            asyncio.to_thread(database_reachable, self.db_path, self.db_timeout),
            self.db_timeout + 1.0,
        )
        checks["database"] = {"ok": problem is None, **({"error": problem} if problem else {})}
        for name, last, interval in (
            ("poll", self.heartbeat.last_poll, self.poll_interval),
            ("flush", self.heartbeat.last_flush, self.flush_interval),
        ):
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


class OpsServer:
    """The request handlers; build the app with :func:`make_ops_app`."""

    def __init__(
        self,
        readiness: Readiness,
        metrics: Metrics,
        *,
        token: str = "",
        details: Callable[[], Mapping[str, Any]] | None = None,
        before_scrape: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._readiness = readiness
        self._metrics = metrics
        self._token = token
        self._details = details
        self._before_scrape = before_scrape

    def _authorised(self, request: web.Request) -> bool:
        if not self._token:
            return False
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._token.encode()
        )

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        ready, checks = await self._readiness.check()
        body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
        if self._authorised(request):
            body["failing"] = [name for name, check in checks.items() if not check["ok"]]
            body["checks"] = checks
            if self._details is not None:
                body.update(self._details())
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        if self._token and not self._authorised(request):
            return web.json_response({"error": "unauthorised"}, status=401)
        if self._before_scrape is not None:
            try:
                await self._before_scrape()
            except Exception as err:  # a scrape still shows every counter
                log.warning("metrics: backlog figures unavailable (%s)", type(err).__name__)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def make_ops_app(
    readiness: Readiness,
    metrics: Metrics,
    *,
    token: str = "",
    details: Callable[[], Mapping[str, Any]] | None = None,
    before_scrape: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """``/health``, ``/ready`` and ``/metrics``; ``details`` adds to ``/ready``'s detail body,
    ``before_scrape`` refreshes figures read from the database before ``/metrics`` answers."""
    server = OpsServer(
        readiness, metrics, token=token, details=details, before_scrape=before_scrape
    )
    app = web.Application(client_max_size=4096)
    app.router.add_get(HEALTH_PATH, server.health)
    app.router.add_get(READY_PATH, server.ready)
    app.router.add_get(METRICS_PATH, server.metrics)
    return app


@asynccontextmanager
async def serve_ops(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` on ``host:port`` (0: any free port); yield its base URL, or "" when the
    port cannot be bound (logged: the bot runs on, and a liveness probe reports it)."""
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(serve(app, host, port, shutdown_timeout=1.0))
        except OSError as err:
            log.error("health server cannot listen on %s:%s: %s", host, port, err.strerror or err)
            url = ""
        yield url
