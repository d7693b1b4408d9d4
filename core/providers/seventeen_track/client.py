"""``SeventeenTrackClient``: the thin I/O class over 17TRACK v2.2 (rate limit, quota, batches).

The package's only module that does I/O (through ``core.providers.http``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    TrackingError,
)
from core.models import ShipmentKey, TrackBatch, TrackRequest
from core.pacing import SlidingWindow
from core.ports import Clock, Pacer
from core.providers._common import chunked, dedupe_requests, merge_chunks
from core.providers.http import Envelope, HttpResult, ProviderTransport, RetryPolicy, Sleep
from core.providers.seventeen_track.parse import (
    Lookup,
    Quota,
    build_items,
    parse_quota,
    parse_track_info,
    pending,
)
from core.providers.seventeen_track.units import (
    AUTH_CODES,
    BASE_URL,
    MAX_BATCH,
    NOT_REGISTERED,
    PROVIDER,
    QUOTA_EXHAUSTED,
    QUOTA_MESSAGE,
    number_error,
    retrack_error,
)

__all__ = ["SeventeenTrackClient", "make_limiter"]

log = logging.getLogger(__name__)


def make_limiter(rate: float = 3.0, period: float = 1.0) -> SlidingWindow:
    """At most ``rate`` requests reach the API in any ``period`` (which is how it counts),
    however long each takes to get there (``core.pacing``), started evenly spaced.

    A rate below one a period is counted over a longer window: one call per
    ``period / rate``."""
    calls = max(1, round(rate))
    return SlidingWindow(calls, period * calls / rate, spacing=period / rate)


def _classify(result: HttpResult) -> ProviderError | None:
    """A 200 envelope that says "too many requests" is retried like an HTTP 429."""
    if Envelope.of(result).code == 429:
        return RateLimited(provider=PROVIDER, retry_after=1.0)
    return None


class SeventeenTrackClient:
    """``TrackingProvider`` over 17TRACK v2.2.

    ``track`` asks ``gettrackinfo`` in batches of 40 (several batches in flight, all paced by
    the shared limiter), registers the numbers 17TRACK does not know yet and reports them as
    not found until the first data arrives. A used-up quota turns new numbers into
    ``ProviderAuthError`` entries with :data:`QUOTA_MESSAGE` until ``getquota`` shows room
    again; numbers already registered keep being tracked.
    """

    name = PROVIDER
    max_batch = MAX_BATCH

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = BASE_URL,
        limiter: Pacer | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
        concurrency: int = 4,
        quota_recheck: timedelta = timedelta(minutes=10),
    ) -> None:
        self._io = ProviderTransport(
            http, PROVIDER, retry=retry, clock=clock, sleep=sleep, timeout=timeout
        )
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._limiter: Pacer = limiter or make_limiter()
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._quota_recheck = quota_recheck
        self._quota_exhausted_at: datetime | None = None

    def supports(self, carrier: str) -> bool:
        """Every carrier: unknown ones are registered for 17TRACK's own detection."""
        return True

    async def _post(self, action: str, items: list[dict[str, Any]]) -> Mapping[str, Any]:
        """POST one action; return ``data`` or raise the whole-call error."""
        body = json.dumps(items, separators=(",", ":")).encode()
        result = await self._io.request(
            "POST",
            f"{self._base}/{action}",
            headers={"17token": self._key, "content-type": "application/json"},
            content=body,
            classify=_classify,
            pacer=self._limiter,
        )
        envelope = Envelope.of(result)
        if envelope.code == 0 and isinstance(envelope.data, Mapping):
            return envelope.data
        raise self._call_error(result.status, envelope.code)

    def _call_error(self, status: int, code: object) -> ProviderError:
        log.warning("%s call failed: HTTP %s, code %s", PROVIDER, status, code)
        if code == QUOTA_EXHAUSTED:
            self._mark_quota_exhausted()
            return ProviderAuthError(QUOTA_MESSAGE, provider=PROVIDER)
        if code in AUTH_CODES or status in (401, 403):
            return ProviderAuthError(provider=PROVIDER)
        return ProviderUnavailable(provider=PROVIDER)

    def _mark_quota_exhausted(self) -> None:
        if self._quota_exhausted_at is None:
            log.warning("%s quota exhausted: new numbers cannot be registered", PROVIDER)
        self._quota_exhausted_at = self._io.clock.now()

    async def get_quota(self) -> Quota:
        """The key's quota; also clears the "exhausted" state when room is back."""
        quota = parse_quota(await self._post("getquota", []))
        if quota.remaining > 0 and self._quota_exhausted_at is not None:
            log.warning("%s quota available again (%d left)", PROVIDER, quota.remaining)
            self._quota_exhausted_at = None
        elif quota.remaining <= 0:
            self._mark_quota_exhausted()
        return quota

    async def _quota_blocked(self) -> bool:
        if self._quota_exhausted_at is None:
            return False
        if self._io.clock.now() - self._quota_exhausted_at < self._quota_recheck:
            return True
        try:
            await self.get_quota()
        except ProviderError:
            return True
        return self._quota_exhausted_at is not None

    async def register(
        self, requests: Sequence[TrackRequest]
    ) -> dict[ShipmentKey, TrackingError | None]:
        """Register numbers (≤ 40 per call); None means registered (or already was)."""
        outcome: dict[ShipmentKey, TrackingError | None] = {}
        for chunk in chunked(requests, MAX_BATCH):
            if await self._quota_blocked():
                for request in chunk:
                    outcome[request.key] = ProviderAuthError(QUOTA_MESSAGE, provider=PROVIDER)
                continue
            data = await self._post("register", build_items(chunk, tagged=True))
            lookup = Lookup(chunk)
            for accepted, _ in lookup.accepted(data):
                outcome[accepted.key] = None
            for rejected, code, message in lookup.rejected(data):
                if code == QUOTA_EXHAUSTED:
                    self._mark_quota_exhausted()
                outcome[rejected.key] = number_error(code, message)
            for request in chunk:
                outcome.setdefault(request.key, ProviderUnavailable(provider=PROVIDER))
        return outcome

    async def retrack(
        self, requests: Sequence[TrackRequest]
    ) -> dict[ShipmentKey, TrackingError | None]:
        """Restart tracking of stopped numbers (``retrack``, ≤ 40 per call; free).

        17TRACK stops a number by itself (about 30 days without news, 15 after delivery) and
        allows one restart per number. Numbers it no longer knows are registered again (that
        costs quota). None means the number is tracked again; an error says why not (e.g. the
        one restart is used up), and the caller must fall back to polling.
        """
        outcome: dict[ShipmentKey, TrackingError | None] = {}
        unregistered: list[TrackRequest] = []
        for chunk in chunked(dedupe_requests(requests), MAX_BATCH):
            data = await self._post("retrack", build_items(chunk))
            lookup = Lookup(chunk)
            for accepted, _ in lookup.accepted(data):
                outcome[accepted.key] = None
            for rejected, code, message in lookup.rejected(data):
                if code == NOT_REGISTERED:
                    unregistered.append(rejected)
                else:
                    outcome[rejected.key] = retrack_error(code, message)
            for request in chunk:
                if request not in unregistered:
                    outcome.setdefault(request.key, ProviderUnavailable(provider=PROVIDER))
        if unregistered:
            outcome.update(await self.register(unregistered))
        return outcome

    async def track(self, requests: Sequence[TrackRequest]) -> TrackBatch:
        """Snapshots for every request, or a per-number error; see the class docstring."""
        chunks = chunked(dedupe_requests(requests), MAX_BATCH)
        results = await asyncio.gather(
            *(self._track_chunk(chunk) for chunk in chunks), return_exceptions=True
        )
        return merge_chunks(chunks, results)

    async def _track_chunk(self, chunk: list[TrackRequest]) -> TrackBatch:
        async with self._slots:
            data = await self._post("gettrackinfo", build_items(chunk))
        now = self._io.clock.now()
        batch = TrackBatch()
        lookup = Lookup(chunk)
        unregistered: list[TrackRequest] = []
        for request, raw in lookup.accepted(data):
            info = raw.get("track_info")
            if isinstance(info, Mapping):
                batch.shipments[request.key] = parse_track_info(info, request, now)
            else:
                batch.shipments[request.key] = pending(request, now)
        for request, code, message in lookup.rejected(data):
            if code == NOT_REGISTERED:
                unregistered.append(request)
                continue
            error = number_error(code, message)
            if error is None:
                batch.shipments[request.key] = pending(request, now)
            else:
                batch.errors[request.key] = error
        if unregistered:
            async with self._slots:
                registered = await self.register(unregistered)
            for request in unregistered:
                error = registered.get(request.key)
                if error is None:
                    batch.shipments[request.key] = pending(request, now)
                else:
                    batch.errors[request.key] = error
        for request in chunk:
            if request.key not in batch.shipments and request.key not in batch.errors:
                batch.errors[request.key] = ProviderUnavailable(provider=PROVIDER)
        return batch
