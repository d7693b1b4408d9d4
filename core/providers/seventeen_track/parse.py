"""17TRACK answers → domain objects (``track_info`` → ``Shipment``, ``getquota`` → ``Quota``), and
the request items for register, gettrackinfo and retrack. Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models import Eta, Shipment, Status, TrackingEvent, TrackRequest
from core.providers._common import carrier_eta, join_parts, not_found_snapshot, timeline
from core.providers.http import first_time, parse_time, proof_from_text
from core.providers.seventeen_track.units import CARRIER_CODES, PROVIDER, TAG_PREFIX, map_status

__all__ = ["Quota", "build_items", "parse_quota", "parse_track_info"]


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


def pending(request: TrackRequest, now: datetime | None) -> Shipment:
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


def to_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def parse_quota(data: Mapping[str, Any]) -> Quota:
    """``getquota`` data → ``Quota`` (``today_used`` is optional)."""
    total = to_int(data.get("quota_total")) or 0
    used = to_int(data.get("quota_used")) or 0
    remain = to_int(data.get("quota_remain"))
    return Quota(
        total=total,
        used=used,
        remaining=remain if remain is not None else max(0, total - used),
        today_used=to_int(data.get("today_used")),
        max_daily=to_int(data.get("max_track_daily")),
    )


def error_of(raw: Mapping[str, Any]) -> tuple[object, str]:
    error = raw.get("error")
    if isinstance(error, Mapping):
        return error.get("code"), str(error.get("message") or "")
    return None, ""


class Lookup:
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
                code, message = error_of(raw)
                yield request, code, message

    def find(self, raw: object) -> TrackRequest | None:
        if not isinstance(raw, Mapping):
            return None
        candidates = self._by_number.get(str(raw.get("number") or "").strip().upper(), [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        code = to_int(raw.get("carrier"))
        for request in candidates:
            if CARRIER_CODES.get(request.carrier) == code:
                return request
        return candidates[0]
