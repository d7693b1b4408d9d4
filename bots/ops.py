"""The operations server: ``/health`` (liveness), ``/ready`` (readiness), ``/metrics``.

A small aiohttp app on its own port (``PARCELBOT_HEALTH_HOST`` / ``PARCELBOT_HEALTH_PORT``),
on whenever ``parcelbot run`` serves a chat platform (not in the interactive console), apart
from the internet-facing webhook server.

- ``/health`` answers 200 ``{"status": "ok"}`` while the event loop serves requests: a
  container or service manager restarts the process when it stops answering.
- ``/ready`` answers 200 ``{"status": "ready"}`` or 503 ``{"status": "not ready"}`` by the
  checks of ``bots.readiness`` (database, poll, flush, backlog, sources). The body names
  the failing checks and their figures only to a request with ``Authorization: Bearer
  <PARCELBOT_HEALTH_TOKEN>``; anyone else gets the status alone.
- ``/metrics`` is the Prometheus exposition (``bots.metrics``); with a health token set it
  needs the same bearer token.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bots.metrics import CONTENT_TYPE, Metrics
from bots.readiness import Readiness
from bots.webhooks import serve

__all__ = [
    "HEALTH_PATH",
    "METRICS_PATH",
    "READY_PATH",
    "make_ops_app",
    "serve_ops",
]

log = logging.getLogger(__name__)

HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"


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
                log.warning("metrics: some figures unavailable (%s)", type(err).__name__)
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
