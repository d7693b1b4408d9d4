"""17TRACK Tracking API v2.2: a ``TrackingProvider`` for any carrier 17TRACK knows.

Every endpoint is ``POST <base>/<action>`` with a JSON array body and the ``17token`` header.
Limits: 40 numbers per request and 3 requests per second per key, so all calls of a client
share one rate limiter. A number must be registered (billed once) before ``gettrackinfo``
returns anything; the client asks ``gettrackinfo`` first and registers only the numbers
17TRACK does not know yet, so steady-state polling costs one call per 40 numbers and no quota.
Vendor vocabulary becomes ``Status``/``IncidentReason`` here (statuses.md §4).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from core.errors import (
    CarrierNotDetected,
    InvalidInput,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    TrackingError,
)
from core.models import (
    Eta,
    IncidentReason,
    Shipment,
    ShipmentKey,
    Status,
    TrackBatch,
    TrackingEvent,
    TrackingNumber,
    TrackRequest,
)
from core.ports import Clock
from core.providers._common import (
    carrier_eta,
    chunked,
    decode_push,
    dedupe_requests,
    join_parts,
    merge_chunks,
    not_found_snapshot,
    timeline,
)
from core.providers._http import (
    Envelope,
    HttpResult,
    ProviderTransport,
    RetryPolicy,
    Sleep,
    first_time,
    parse_time,
    proof_from_text,
)

__all__ = [
    "BASE_URL",
    "CARRIER_CODES",
    "MAIN_STATUS_MAP",
    "MAX_BATCH",
    "QUOTA_MESSAGE",
    "SUB_STATUS_MAP",
    "TAG_PREFIX",
    "PushEvent",
    "Quota",
    "SeventeenTrackClient",
    "build_items",
    "carrier_from_code",
    "carrier_from_tag",
    "make_limiter",
    "map_status",
    "number_error",
    "parse_push",
    "parse_quota",
    "parse_track_info",
    "push_signature",
    "retrack_error",
    "verify_push_signature",
]

log = logging.getLogger(__name__)

BASE_URL = "https://api.17track.net/track/v2.2"
MAX_BATCH = 40
PROVIDER = "17track"

QUOTA_MESSAGE = (
    "The tracking service has no quota left for new parcels, so this number cannot be added "
    "yet. The bot's operator has been told."
)

# Catalogue code → 17TRACK carrier key. Unlisted carriers are registered without a key and
# 17TRACK detects them itself.
CARRIER_CODES: Mapping[str, int] = {
    "usps": 21051,
    "ups": 100002,
    "fedex": 100003,
    "dhl": 100001,
    "china_post": 3011,
    "australia_post": 1151,
    "royal_mail": 11031,
    "yunexpress": 190008,
}
_CODE_CARRIERS: Mapping[int, str] = {code: name for name, code in CARRIER_CODES.items()}


def carrier_from_code(code: object) -> str:
    """Our catalogue code for a 17TRACK carrier key, or "" when it is not in the table."""
    return _CODE_CARRIERS.get(code, "") if isinstance(code, int) else ""


_S = Status
_R = IncidentReason

MAIN_STATUS_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "NotFound": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit": (_S.IN_TRANSIT, None),
    "Expired": (_S.EXPIRED, None),
    "AvailableForPickup": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery": (_S.OUT_FOR_DELIVERY, None),
    "DeliveryFailure": (_S.DELIVERY_FAILED, _R.OTHER),
    "Delivered": (_S.DELIVERED, None),
    "Exception": (_S.EXCEPTION, _R.OTHER),
}

SUB_STATUS_MAP: Mapping[str, tuple[Status, IncidentReason | None]] = {
    "NotFound_Other": (_S.NOT_FOUND, None),
    "NotFound_InvalidCode": (_S.NOT_FOUND, None),
    "InfoReceived": (_S.INFO_RECEIVED, None),
    "InTransit_PickedUp": (_S.IN_TRANSIT, None),
    "InTransit_Other": (_S.IN_TRANSIT, None),
    "InTransit_Departure": (_S.IN_TRANSIT, None),
    "InTransit_Arrival": (_S.IN_TRANSIT, None),
    "InTransit_CustomsProcessing": (_S.IN_TRANSIT, None),
    "InTransit_CustomsReleased": (_S.IN_TRANSIT, None),
    "InTransit_CustomsRequiringInformation": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Expired_Other": (_S.EXPIRED, None),
    "AvailableForPickup_Other": (_S.AVAILABLE_FOR_PICKUP, None),
    "OutForDelivery_Other": (_S.OUT_FOR_DELIVERY, None),
    "DeliveryFailure_Other": (_S.DELIVERY_FAILED, _R.OTHER),
    "DeliveryFailure_NoBody": (_S.DELIVERY_FAILED, _R.RECIPIENT_UNAVAILABLE),
    "DeliveryFailure_Security": (_S.DELIVERY_FAILED, _R.CUSTOMS_HOLD),
    "DeliveryFailure_Rejected": (_S.DELIVERY_FAILED, _R.REFUSED),
    "DeliveryFailure_InvalidAddress": (_S.DELIVERY_FAILED, _R.ADDRESS_ISSUE),
    "Delivered_Other": (_S.DELIVERED, None),
    "Exception_Other": (_S.EXCEPTION, _R.OTHER),
    "Exception_Returning": (_S.EXCEPTION, _R.RETURNING),
    "Exception_Returned": (_S.EXCEPTION, _R.RETURNED),
    "Exception_NoBody": (_S.EXCEPTION, _R.RECIPIENT_UNAVAILABLE),
    "Exception_Security": (_S.EXCEPTION, _R.CUSTOMS_HOLD),
    "Exception_Damage": (_S.EXCEPTION, _R.DAMAGED),
    "Exception_Lost": (_S.EXCEPTION, _R.LOST),
    "Exception_Rejected": (_S.EXCEPTION, _R.REFUSED),
    "Exception_Delayed": (_S.EXCEPTION, _R.CARRIER_DELAY),
    "Exception_Destroyed": (_S.EXCEPTION, _R.DESTROYED),
    "Exception_Cancel": (_S.EXCEPTION, _R.CANCELLED),
}

# "*_Security" covers customs holds and unpaid fees alike; the scan text tells them apart.
_FEES = re.compile(r"\b(fee|fees|duty|duties|tax|taxes|payment|pay|charges?)\b", re.I)


def map_status(
    status: str, sub_status: str = "", text: str = ""
) -> tuple[Status, IncidentReason | None]:
    """17TRACK main status + sub-status → our status and incident reason.

    The sub-status wins; an unknown sub-status falls back to its prefix, then to the main
    status, then to in-transit (a scan exists, so the parcel is somewhere).
    """
    mapped = SUB_STATUS_MAP.get(sub_status)
    if mapped is None:
        prefix = sub_status.split("_", 1)[0]
        mapped = MAIN_STATUS_MAP.get(prefix) or MAIN_STATUS_MAP.get(status)
    if mapped is None:
        return Status.IN_TRANSIT, None
    state, reason = mapped
    if sub_status.endswith("_Security") and _FEES.search(text):
        reason = IncidentReason.DUTIES_DUE
    return state, reason


def make_limiter(rate: float = 3.0, period: float = 1.0, margin: float = 0.02) -> AsyncLimiter:
    """A limiter that spaces calls evenly at ``rate`` per ``period``, ``margin`` slower.

    Even spacing (bucket size 1) rather than bursts keeps every sliding one-second window at or
    under the limit, which is how the API counts.
    """
    return AsyncLimiter(1, period / rate * (1.0 + margin))


TAG_PREFIX = "pb:"


def build_items(requests: Sequence[TrackRequest], *, tagged: bool = False) -> list[dict[str, Any]]:
    """The JSON array for register/gettrackinfo: number plus the carrier key when we know it.

    ``tagged`` (for ``register``) stores our carrier code as the number's ``tag``; 17TRACK
    echoes it in pushes, so a push maps back to our parcel even for carriers without a key.
    """
    items: list[dict[str, Any]] = []
    for request in requests:
        item: dict[str, Any] = {"number": str(request.number)}
        code = CARRIER_CODES.get(request.carrier)
        if code is not None:
            item["carrier"] = code
        if tagged and request.carrier:
            item["tag"] = TAG_PREFIX + request.carrier
        items.append(item)
    return items


def carrier_from_tag(tag: str) -> str:
    """Our carrier code from a tag we set at registration, or ""."""
    return tag[len(TAG_PREFIX) :] if tag.startswith(TAG_PREFIX) else ""


# Per-number rejection codes (providers.md §2).
_ALREADY_REGISTERED = -18019901
_NOT_REGISTERED = -18019902
_NO_INFO_YET = -18019909
_QUOTA_EXHAUSTED = -18019908
_DAILY_LIMIT = -18019907
_AUTH_CODES = frozenset({-18010001, -18010002})


def number_error(code: object, message: str = "") -> TrackingError | None:
    """The error for one rejected number; None when the number is fine but has no data yet."""
    if code in (_ALREADY_REGISTERED, _NO_INFO_YET):
        return None
    if code == -18010012:
        return InvalidInput(
            "That number is not in a format the carrier uses. Check it and send it again."
        )
    if code in (-18019903, -18019910):
        return CarrierNotDetected()
    if code == _QUOTA_EXHAUSTED:
        return ProviderAuthError(QUOTA_MESSAGE, provider=PROVIDER)
    if code == _DAILY_LIMIT:
        return RateLimited(
            "The tracking service's daily limit for new parcels is reached. Please try again "
            "tomorrow.",
            provider=PROVIDER,
            retry_after=3600.0,
        )
    if code in _AUTH_CODES:
        return ProviderAuthError(provider=PROVIDER)
    log.info("%s rejected a number with code %s", PROVIDER, code)
    return ProviderUnavailable(provider=PROVIDER)


_RETRACK_REFUSED = frozenset({-18019904, -18019905})


def retrack_error(code: object, message: str = "") -> TrackingError | None:
    """The error for a number ``retrack`` rejected; None when it is being tracked anyway."""
    if code in _RETRACK_REFUSED:
        # The restart rules (one restart per number, only stopped numbers) said no.
        return ProviderError(provider=PROVIDER)
    return number_error(code, message)


def _event_location(raw: Mapping[str, Any]) -> str:
    location = raw.get("location")
    if isinstance(location, str) and location.strip():
        return location.strip()
    address = raw.get("address")
    if isinstance(address, Mapping):
        return join_parts(address.get("city"), address.get("state"), address.get("country"))
    return ""


def _parse_event(raw: Mapping[str, Any]) -> TrackingEvent | None:
    when = first_time(raw, "time_utc", "time_iso")
    if when is None:
        return None
    description = str(raw.get("description") or "").strip()
    sub = str(raw.get("sub_status") or "")
    stage = str(raw.get("stage") or "")
    status, reason = map_status(stage, sub, description)
    return TrackingEvent(
        time=when,
        status=status,
        description=description,
        location=_event_location(raw),
        raw_code=sub or stage,
        incident=reason,
    )


def _country(info: Mapping[str, Any], which: str) -> str:
    shipping = info.get("shipping_info")
    if not isinstance(shipping, Mapping):
        return ""
    address = shipping.get(which)
    if not isinstance(address, Mapping):
        return ""
    return str(address.get("country") or "").strip()


def _milestone(info: Mapping[str, Any], stage: str) -> datetime | None:
    for raw in info.get("milestone") or []:
        if isinstance(raw, Mapping) and raw.get("key_stage") == stage:
            return first_time(raw, "time_utc", "time_iso")
    return None


def _eta(info: Mapping[str, Any]) -> Eta | None:
    metrics = info.get("time_metrics")
    if not isinstance(metrics, Mapping):
        return None
    edd = metrics.get("estimated_delivery_date")
    if not isinstance(edd, Mapping):
        return None
    start = parse_time(edd.get("from"))
    end = parse_time(edd.get("to"))
    earliest = start or end
    latest = end or start
    if earliest is None or latest is None:
        return None
    if latest < earliest:
        earliest, latest = latest, earliest
    return carrier_eta(earliest, latest)


def parse_track_info(
    info: Mapping[str, Any], request: TrackRequest, now: datetime | None = None
) -> Shipment:
    """One accepted ``track_info`` → a ``Shipment`` keyed like ``request``.

    Events of every provider (first and last mile) are merged, de-duplicated on time and text
    and ordered oldest first.
    """
    tracking = info.get("tracking")
    providers = tracking.get("providers") if isinstance(tracking, Mapping) else None
    ordered = timeline(
        _parse_event(raw)
        for provider in providers or []
        if isinstance(provider, Mapping)
        for raw in provider.get("events") or []
        if isinstance(raw, Mapping)
    )
    if not ordered and isinstance(info.get("latest_event"), Mapping):
        latest = _parse_event(info["latest_event"])
        ordered = (latest,) if latest is not None else ()
    latest_status = info.get("latest_status")
    latest_status = latest_status if isinstance(latest_status, Mapping) else {}
    text = ordered[-1].description if ordered else ""
    main = str(latest_status.get("status") or "")
    sub = str(latest_status.get("sub_status") or "")
    if main or sub:
        status, reason = map_status(main, sub, text)
    else:
        status, reason = (Status.IN_TRANSIT, None) if ordered else (Status.NOT_FOUND, None)
    delivered_at = None
    proof = None
    if status is Status.DELIVERED:
        delivered_at = _milestone(info, "Delivered") or (ordered[-1].time if ordered else None)
        proof = proof_from_text(text)
    shipped_at = _milestone(info, "PickedUp") or next(
        (e.time for e in ordered if e.status is Status.IN_TRANSIT), None
    )
    return Shipment(
        carrier=request.carrier,
        number=request.number,
        status=status,
        events=ordered,
        eta=_eta(info),
        checked_at=now,
        delivered_at=delivered_at,
        proof=proof,
        incident=reason,
        provider=PROVIDER,
        shipped_at=shipped_at,
        first_seen=request.first_seen,
        origin=_country(info, "shipper_address"),
        destination=_country(info, "recipient_address"),
    )


def _pending(request: TrackRequest, now: datetime | None) -> Shipment:
    """A registered number 17TRACK has no data for yet."""
    return not_found_snapshot(request, now, PROVIDER)


@dataclass(frozen=True, slots=True)
class Quota:
    """The key's registration quota (``getquota``)."""

    total: int
    used: int
    remaining: int
    today_used: int | None = None
    max_daily: int | None = None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def parse_quota(data: Mapping[str, Any]) -> Quota:
    """``getquota`` data → ``Quota`` (``today_used`` is optional)."""
    total = _int(data.get("quota_total")) or 0
    used = _int(data.get("quota_used")) or 0
    remain = _int(data.get("quota_remain"))
    return Quota(
        total=total,
        used=used,
        remaining=remain if remain is not None else max(0, total - used),
        today_used=_int(data.get("today_used")),
        max_daily=_int(data.get("max_track_daily")),
    )


def push_signature(security_key: str, body: bytes) -> str:
    """Hex SHA-256 of ``raw body + "/" + key`` (plain SHA-256, not an HMAC)."""
    return hashlib.sha256(body + b"/" + security_key.encode()).hexdigest()


def verify_push_signature(security_key: str, body: bytes, sign: str) -> bool:
    """Constant-time check of a push's ``sign`` header."""
    expected = push_signature(security_key, body)
    return hmac.compare_digest(expected.encode(), sign.strip().lower().encode())


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A decoded push: ``TRACKING_UPDATED`` carries ``track_info``, ``TRACKING_STOPPED`` not.

    ``carrier`` is our catalogue code (from the registration tag, else the carrier key), or ""
    when neither tells.
    """

    event: str
    number: TrackingNumber
    carrier: str
    carrier_code: int | None
    tag: str = ""
    track_info: Mapping[str, Any] | None = field(default=None, repr=False)

    def shipment(self, carrier: str | None = None, now: datetime | None = None) -> Shipment | None:
        """The snapshot it carries, keyed with ``carrier`` (default: the mapped carrier)."""
        if self.track_info is None:
            return None
        request = TrackRequest(self.number, carrier if carrier is not None else self.carrier)
        return parse_track_info(self.track_info, request, now)


def parse_push(body: bytes) -> PushEvent:
    """Decode a push body; raise ``ValueError`` when it is not a 17TRACK push."""
    doc, data = decode_push(body, "data", "not a 17TRACK push")
    number = str(data.get("number") or "").strip()
    if not number:
        raise ValueError("push without a number")
    code = _int(data.get("carrier"))
    info = data.get("track_info")
    tag = str(data.get("tag") or "")
    return PushEvent(
        event=str(doc.get("event") or ""),
        number=TrackingNumber(number),
        carrier=carrier_from_tag(tag) or carrier_from_code(code),
        carrier_code=code,
        tag=tag,
        track_info=info if isinstance(info, Mapping) else None,
    )


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
        limiter: AsyncLimiter | None = None,
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
        self._limiter = limiter or make_limiter()
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._quota_recheck = quota_recheck
        self._quota_exhausted_at: datetime | None = None
        self._warm = False
        self._warming = asyncio.Lock()

    def supports(self, carrier: str) -> bool:
        """Every carrier: unknown ones are registered for 17TRACK's own detection."""
        return True

    async def _acquire(self) -> None:
        await self._limiter.acquire()

    async def _post(self, action: str, items: list[dict[str, Any]]) -> Mapping[str, Any]:
        """POST one action; return ``data`` or raise the whole-call error."""
        if not self._warm:
            # The first call opens the connection, which can take longer than the limiter's
            # spacing: later calls would reach the API bunched up behind it. So it runs alone
            # and its slot is counted again from the moment it has surely arrived.
            async with self._warming:
                if not self._warm:
                    try:
                        return await self._post_once(action, items)
                    finally:
                        self._warm = True
                        await self._limiter.acquire()
        return await self._post_once(action, items)

    async def _post_once(self, action: str, items: list[dict[str, Any]]) -> Mapping[str, Any]:
        body = json.dumps(items, separators=(",", ":")).encode()
        result = await self._io.request(
            "POST",
            f"{self._base}/{action}",
            headers={"17token": self._key, "content-type": "application/json"},
            content=body,
            classify=_classify,
            before_attempt=self._acquire,
        )
        envelope = Envelope.of(result)
        if envelope.code == 0 and isinstance(envelope.data, Mapping):
            return envelope.data
        raise self._call_error(result.status, envelope.code)

    def _call_error(self, status: int, code: object) -> ProviderError:
        log.warning("%s call failed: HTTP %s, code %s", PROVIDER, status, code)
        if code == _QUOTA_EXHAUSTED:
            self._mark_quota_exhausted()
            return ProviderAuthError(QUOTA_MESSAGE, provider=PROVIDER)
        if code in _AUTH_CODES or status in (401, 403):
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
            lookup = _Lookup(chunk)
            for accepted, _ in lookup.accepted(data):
                outcome[accepted.key] = None
            for rejected, code, message in lookup.rejected(data):
                if code == _QUOTA_EXHAUSTED:
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
            lookup = _Lookup(chunk)
            for accepted, _ in lookup.accepted(data):
                outcome[accepted.key] = None
            for rejected, code, message in lookup.rejected(data):
                if code == _NOT_REGISTERED:
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
        lookup = _Lookup(chunk)
        unregistered: list[TrackRequest] = []
        for request, raw in lookup.accepted(data):
            info = raw.get("track_info")
            if isinstance(info, Mapping):
                batch.shipments[request.key] = parse_track_info(info, request, now)
            else:
                batch.shipments[request.key] = _pending(request, now)
        for request, code, message in lookup.rejected(data):
            if code == _NOT_REGISTERED:
                unregistered.append(request)
                continue
            error = number_error(code, message)
            if error is None:
                batch.shipments[request.key] = _pending(request, now)
            else:
                batch.errors[request.key] = error
        if unregistered:
            async with self._slots:
                registered = await self.register(unregistered)
            for request in unregistered:
                error = registered.get(request.key)
                if error is None:
                    batch.shipments[request.key] = _pending(request, now)
                else:
                    batch.errors[request.key] = error
        for request in chunk:
            if request.key not in batch.shipments and request.key not in batch.errors:
                batch.errors[request.key] = ProviderUnavailable(provider=PROVIDER)
        return batch


def _error_of(raw: Mapping[str, Any]) -> tuple[object, str]:
    error = raw.get("error")
    if isinstance(error, Mapping):
        return error.get("code"), str(error.get("message") or "")
    return None, ""


class _Lookup:
    """Finds the request an answer item belongs to: by number, then by carrier key."""

    def __init__(self, requests: Sequence[TrackRequest]) -> None:
        self._by_number: dict[str, list[TrackRequest]] = {}
        for request in requests:
            self._by_number.setdefault(str(request.number).upper(), []).append(request)

    def accepted(self, data: Mapping[str, Any]) -> Iterator[tuple[TrackRequest, Mapping[str, Any]]]:
        """Each item of ``data["accepted"]`` that belongs to a request, with its request."""
        for raw in data.get("accepted") or []:
            request = self.find(raw)
            if request is not None:
                yield request, raw

    def rejected(self, data: Mapping[str, Any]) -> Iterator[tuple[TrackRequest, object, str]]:
        """(request, error code, message) for each item of ``data["rejected"]`` that is ours."""
        for raw in data.get("rejected") or []:
            request = self.find(raw)
            if request is not None:
                code, message = _error_of(raw)
                yield request, code, message

    def find(self, raw: object) -> TrackRequest | None:
        if not isinstance(raw, Mapping):
            return None
        candidates = self._by_number.get(str(raw.get("number") or "").strip().upper(), [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        code = _int(raw.get("carrier"))
        for request in candidates:
            if CARRIER_CODES.get(request.carrier) == code:
                return request
        return candidates[0]
