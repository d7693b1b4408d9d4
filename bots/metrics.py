"""Prometheus metrics (``prometheus-client``), served at ``/metrics`` by ``bots.ops``.

Every series is named ``parcelbot_*``; one ``Metrics`` object per process holds its own
registry. The figures come from small hooks at the edges, none inside the core:

- the scheduler's poll and flush jobs report their ``PollStats`` / ``FlushStats``
  (alerts queued, sent, failed; the time of the last cycle), and so do webhook pushes through
  ``MeteredSink``;
- ``bots.metrics_http.MeteredTransport`` wraps the providers' shared HTTP client: calls,
  errors (connection failures, timeouts, 5xx) and 429 answers per provider, and the
  remaining requests of the current rate-limit window when the provider says so in a header;
- ``MeteredRouter`` counts chat commands by name and outcome and times them;
- the backlog gauges (outbox due and the age of its oldest alert, parcels overdue and the poll
  lag) are read from the database at each scrape (``storage.stats``);
- the webhook server's counters (``WebhookServer.counts``) are read at each scrape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from core.commands import CommandRouter
from core.errors import TrackingError
from core.flusher import FlushStats
from core.models import Backlog, ChatRef, PollStats, Shipment, ShopPush
from core.ports import PushReceiver
from core.replies import Reply
from core.service import ParcelService

__all__ = [
    "CONTENT_TYPE",
    "MeteredRouter",
    "MeteredSink",
    "Metrics",
    "WebhookCounts",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Outcomes of a push that mean it was taken (anything else was refused or failed).
_ACCEPTED = frozenset({"processed", "accepted", "duplicate", "ignored", "retracked", "polling"})
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The process's series and the hooks that move them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.alerts_queued = Counter(
            "parcelbot_alerts_queued", "Alerts queued in the outbox", registry=r
        )
        self.alerts_sent = Counter(
            "parcelbot_alerts_sent", "Alerts delivered to a chat", registry=r
        )
        self.alerts_failed = Counter(
            "parcelbot_alerts_failed",
            "Alert deliveries that failed (retried later, or parked for an unreachable chat)",
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "parcelbot_outbox_backlog", "Alerts due for sending and not sent yet", registry=r
        )
        self.outbox_age = Gauge(
            "parcelbot_outbox_oldest_age_seconds",
            "Age of the oldest alert due for sending (0: none)",
            registry=r,
        )
        self.parcels_due = Gauge(
            "parcelbot_parcels_due", "Parcels whose check is due or overdue", registry=r
        )
        self.poll_lag = Gauge(
            "parcelbot_poll_lag_seconds",
            "How long the most overdue parcel has waited past its check time (0: none)",
            registry=r,
        )
        self.last_poll = Gauge(
            "parcelbot_last_poll_timestamp_seconds",
            "Unix time the last poll cycle finished",
            registry=r,
        )
        self.last_flush = Gauge(
            "parcelbot_last_flush_timestamp_seconds",
            "Unix time the last outbox flush finished",
            registry=r,
        )
        self.provider_calls = Counter(
            "parcelbot_provider_calls", "HTTP calls to providers", ["provider"], registry=r
        )
        self.provider_errors = Counter(
            "parcelbot_provider_errors",
            "Provider calls that failed: connection error, timeout or 5xx",
            ["provider"],
            registry=r,
        )
        self.provider_throttled = Counter(
            "parcelbot_provider_throttled",
            "Provider calls answered 429 Too Many Requests",
            ["provider"],
            registry=r,
        )
        self.provider_quota = Gauge(
            "parcelbot_provider_quota_remaining",
            "What the provider last said is left: kind=rate_window, requests in the current "
            "rate-limit window (a response header); kind=registrations, new numbers the "
            "17TRACK key may still register (getquota)",
            ["provider", "kind"],
            registry=r,
        )
        self.commands = Counter(
            "parcelbot_commands",
            "Chat commands handled, by outcome (ok, refused: the user was told why, error)",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "parcelbot_command_duration_seconds",
            "Time to answer a chat command",
            ["command"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    # -- hooks --

    def polled(self, stats: PollStats) -> None:
        self.alerts_queued.inc(stats.alerts)
        self.last_poll.set_to_current_time()

    def flushed(self, stats: FlushStats) -> None:
        self.alerts_sent.inc(stats.sent)
        self.alerts_failed.inc(stats.failed + stats.paused)
        self.last_flush.set_to_current_time()

    def backlog(self, backlog: Backlog, now: datetime) -> None:
        self.outbox_backlog.set(backlog.outbox_due)
        self.outbox_age.set(_age(backlog.oldest_alert, now))
        self.parcels_due.set(backlog.parcels_due)
        self.poll_lag.set(_age(backlog.oldest_check, now))

    def watch_webhooks(self, counts: Mapping[str, int]) -> None:
        """Publish the webhook server's push counters (read at every scrape)."""
        self.registry.register(WebhookCounts(counts))

    def render(self) -> bytes:
        """The exposition text of every series."""
        return generate_latest(self.registry)


def _age(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


class WebhookCounts(Collector):
    """``parcelbot_webhook_pushes_total{provider, outcome, result}`` from the server's counts;
    ``result`` is ``accepted`` (taken, including repeats) or ``rejected``."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "parcelbot_webhook_pushes",
            "Pushes and updates received on the webhook server",
            labels=["provider", "outcome", "result"],
        )
        for key, value in sorted(dict(self._counts).items()):
            provider, _, outcome = key.rpartition(".")
            result = "accepted" if outcome in _ACCEPTED else "rejected"
            family.add_metric([provider, outcome, result], value)
        yield family


class MeteredRouter(CommandRouter):
    """``CommandRouter`` that counts and times every command it runs."""

    def __init__(self, service: ParcelService, metrics: Metrics) -> None:
        super().__init__(service)
        self._metrics = metrics

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        label = name.lower() if name.lower() in self.specs else "unknown"
        return await self._timed(label, super().run(chat, name, args))

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        if text.lstrip().startswith("/"):
            return await super().handle_text(chat, text)  # counted by ``run``
        return await self._timed("text", super().handle_text(chat, text))

    async def _timed(self, label: str, work: Awaitable[list[Reply]]) -> list[Reply]:
        started = time.perf_counter()
        outcome = "error"
        try:
            replies = await work
            outcome = "ok"
            return replies
        except TrackingError:
            outcome = "refused"
            raise
        finally:
            self._metrics.commands.labels(label, outcome).inc()
            self._metrics.command_seconds.labels(label).observe(time.perf_counter() - started)


class MeteredSink:
    """A ``PushReceiver`` that counts the alerts pushes queue, then hands on."""

    def __init__(self, inner: PushReceiver, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def ingest(self, shipments: Sequence[Shipment]) -> int:
        alerts = await self._inner.ingest(shipments)
        self._metrics.alerts_queued.inc(alerts)
        return alerts

    async def order_event(self, push: ShopPush) -> None:
        await self._inner.order_event(push)

    async def tracking_stopped(self, number: str, carrier: str) -> str:
        return await self._inner.tracking_stopped(number, carrier)
