"""Pieces the providers share: batching, merging batch results, snapshots, ETAs, pushes.

Pure functions over ``core.models``; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from core.errors import ProviderError
from core.models import Eta, EtaSource, Shipment, Status, TrackBatch, TrackingEvent, TrackRequest

__all__ = [
    "carrier_eta",
    "chunked",
    "decode_push",
    "dedupe_requests",
    "join_parts",
    "merge_chunks",
    "not_found_snapshot",
    "text_of",
    "timeline",
]

T = TypeVar("T")


def text_of(raw: Mapping[str, Any], key: str) -> str:
    """``raw[key]`` as stripped text; "" when it is missing or null."""
    value = raw.get(key)
    return "" if value is None else str(value).strip()


def join_parts(*parts: object) -> str:
    """The non-empty parts (stripped) joined with ", ", e.g. the pieces of an address."""
    return ", ".join(str(p).strip() for p in parts if p is not None and str(p).strip())


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` cut into consecutive lists of at most ``size`` (≥ 1), order kept."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def dedupe_requests(requests: Sequence[TrackRequest]) -> list[TrackRequest]:
    """One request per shipment key, in first-seen order (a later duplicate replaces it)."""
    return list({r.key: r for r in requests}.values())


def merge_chunks(
    chunks: Sequence[Sequence[TrackRequest]],
    results: Sequence[TrackBatch | BaseException],
    into: TrackBatch | None = None,
    *,
    on_failure: Callable[[int, ProviderError], None] | None = None,
    unanswered: Callable[[int], Exception] | None = None,
) -> TrackBatch:
    """Merge what each chunk of requests came back with into ``into`` (a new batch by default).

    ``results[i]`` belongs to ``chunks[i]``. A ``ProviderError`` fails only its chunk: each of
    its requests gets that error (and ``on_failure(i, error)`` hears of it). Any other
    exception is raised. With ``unanswered``, a request its chunk answered neither way gets
    the error ``unanswered(i)`` returns. When every chunk failed, the first failure is raised,
    as the ``TrackingProvider`` protocol asks of a failing source.
    """
    batch = into if into is not None else TrackBatch()
    failures: list[ProviderError] = []
    for index, (chunk, result) in enumerate(zip(chunks, results, strict=True)):
        if isinstance(result, ProviderError):
            if on_failure is not None:
                on_failure(index, result)
            failures.append(result)
            for request in chunk:
                batch.errors[request.key] = result
        elif isinstance(result, BaseException):
            raise result
        else:
            batch.shipments.update(result.shipments)
            batch.errors.update(result.errors)
            if unanswered is not None:
                for request in chunk:
                    if request.key not in result.shipments and request.key not in result.errors:
                        batch.errors[request.key] = unanswered(index)
    if chunks and len(failures) == len(chunks):
        raise failures[0]
    return batch


def timeline(events: Iterable[TrackingEvent | None]) -> tuple[TrackingEvent, ...]:
    """The events oldest first; Nones dropped, repeats of one time and text kept once (the first).

    Providers repeat a scan across feeds (first and last mile, checkpoint lists); ties in time
    keep the order they came in.
    """
    unique: dict[tuple[datetime, str], TrackingEvent] = {}
    for event in events:
        if event is not None:
            unique.setdefault((event.time, event.description), event)
    return tuple(sorted(unique.values(), key=lambda e: e.time))


def not_found_snapshot(request: TrackRequest, now: datetime | None, provider: str) -> Shipment:
    """A number the provider accepted but has no scans for yet."""
    return Shipment(
        carrier=request.carrier,
        number=request.number,
        status=Status.NOT_FOUND,
        checked_at=now,
        provider=provider,
        first_seen=request.first_seen,
    )


def carrier_eta(
    low: datetime,
    high: datetime,
    most_likely: datetime | None = None,
    confidence: float | None = None,
) -> Eta:
    """The carrier's delivery window between ``low`` and ``high`` (either order).

    Without ``most_likely`` the middle of the window is taken; without ``confidence`` the
    ``Eta`` default stands.
    """
    eta = Eta(
        earliest=min(low, high),
        latest=max(low, high),
        most_likely=most_likely or low + (high - low) / 2,
        source=EtaSource.CARRIER,
    )
    return eta if confidence is None else replace(eta, confidence=confidence)


def decode_push(
    body: bytes, section: str, not_ours: str
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """A push body's JSON object and its ``section`` object.

    Raises ``ValueError`` (``not_ours`` as its message) when the body is not an object with
    such a section; undecodable JSON raises ``json.JSONDecodeError``, also a ``ValueError``.
    """
    doc = json.loads(body)
    if not isinstance(doc, Mapping) or not isinstance(doc.get(section), Mapping):
        raise ValueError(not_ours)
    return doc, doc[section]
