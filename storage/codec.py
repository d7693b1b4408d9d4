"""Conversions between the core's value objects and SQLite values.

Times are stored as fixed-width ISO 8601 text in UTC (``2024-05-01T10:00:00.000000+00:00``),
so text order is time order and a value read back equals the one written. A naive datetime
is rejected: it is a bug, and storing it would silently shift it by the host's offset.
Small nested objects (an alert and its event) are stored as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from core.models import (
    Alert,
    AlertKind,
    ChatRef,
    ChatSettings,
    Eta,
    EtaSource,
    EtaTold,
    IncidentReason,
    Platform,
    Preference,
    ProofKind,
    ProofOfDelivery,
    Shipment,
    ShipmentKey,
    Status,
    Subscription,
    TrackingEvent,
    TrackingNumber,
)

__all__ = [
    "EVENT_COLUMNS",
    "SETTINGS_COLUMNS",
    "SHIPMENT_COLUMNS",
    "alert_from_json",
    "alert_to_json",
    "chat_from_columns",
    "chat_to_columns",
    "event_from_row",
    "event_to_row",
    "events_by_parent",
    "opt_text",
    "opt_time",
    "settings_from_row",
    "shipment_from_row",
    "shipment_to_row",
    "subscription_from_row",
    "time_from_text",
    "time_to_text",
]

# Column order of ``shipment_to_row``/``shipment_from_row`` (after the id).
SHIPMENT_COLUMNS: tuple[str, ...] = (
    "carrier",
    "number",
    "status",
    "incident",
    "provider",
    "origin",
    "destination",
    "eta_earliest",
    "eta_latest",
    "eta_most_likely",
    "eta_source",
    "eta_confidence",
    "promised_by",
    "checked_at",
    "delivered_at",
    "shipped_at",
    "proof_kind",
    "proof_detail",
    "first_seen",
    "next_check_at",
)

# Column order of ``event_to_row``/``event_from_row`` (after the shipment id).
EVENT_COLUMNS: tuple[str, ...] = (
    "time",
    "status",
    "description",
    "location",
    "raw_code",
    "incident",
)


# Value → member tables: a dict lookup is many times faster than ``Status(value)``, and
# decoding runs once per stored event on every read.
_STATUS = {member.value: member for member in Status}
_INCIDENT = {member.value: member for member in IncidentReason}
_ETA_SOURCE = {member.value: member for member in EtaSource}
_PROOF_KIND = {member.value: member for member in ProofKind}
_PLATFORM = {member.value: member for member in Platform}
_PREFERENCE = {member.value: member for member in Preference}


def time_to_text(value: datetime) -> str:
    """Aware datetime → fixed-width UTC ISO text. Raises ValueError for a naive datetime."""
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime cannot be stored: {value!r}")
        return _isoformat(value.astimezone(UTC), "T", "microseconds")
    # Most times of a poll repeat (its own time on every parcel and alert, shared first-seen
    # and estimate times): a lookup costs a fraction of formatting. Only UTC values are kept:
    # two of them are equal exactly when their text is.
    text = _texts.get(value)
    if text is None:
        # Positional arguments: keyword parsing costs as much as the formatting itself, and
        # this runs for every stored time of every poll.
        text = _isoformat(value, "T", "microseconds")
        if len(_texts) >= _TEXTS_LIMIT:
            _texts.clear()
            if not _TEXTS_LIMIT:
                return text  # turned off (``benchmarks/caches.py``)
        _texts[value] = text
    return text


_isoformat = datetime.isoformat

# Recently stored times and their text (bounded; when full it starts over).
_texts: dict[datetime, str] = {}
_TEXTS_LIMIT = 4096


def time_from_text(text: str) -> datetime:
    """The inverse of ``time_to_text``: an aware UTC datetime."""
    return datetime.fromisoformat(text)


def opt_time(value: datetime | None) -> str | None:
    """``time_to_text`` that passes None through."""
    return None if value is None else time_to_text(value)


def opt_text(text: str | None) -> datetime | None:
    """``time_from_text`` that passes None through."""
    return None if text is None else datetime.fromisoformat(text)


def event_to_row(event: TrackingEvent) -> tuple[str, str, str, str, str, str | None]:
    """The event's columns in ``EVENT_COLUMNS`` order."""
    # Enum members go in as they are: a StrEnum member is the str of its value.
    return (
        time_to_text(event.time),
        event.status,
        event.description,
        event.location,
        event.raw_code,
        event.incident,
    )


def event_from_row(row: Sequence[Any]) -> TrackingEvent:
    """A ``TrackingEvent`` from columns in ``EVENT_COLUMNS`` order."""
    time, status, description, location, raw_code, incident = row
    return TrackingEvent(
        time=datetime.fromisoformat(time),
        status=_STATUS[status],
        description=description,
        location=location,
        raw_code=raw_code,
        incident=None if incident is None else _INCIDENT[incident],
    )


def events_by_parent(rows: Iterable[Sequence[Any]]) -> dict[int, tuple[TrackingEvent, ...]]:
    """Decode rows of (parent id, ``EVENT_COLUMNS``…) into each parent's events, in row order.

    The bulk form of ``event_from_row``: histories are read on every poll, so this avoids a
    function call and a row slice per event.
    """
    grouped: dict[int, list[TrackingEvent]] = {}
    parent = None
    bucket: list[TrackingEvent] = []
    fromisoformat = datetime.fromisoformat
    statuses, incidents = _STATUS, _INCIDENT
    for parent_id, time, status, description, location, raw_code, incident in rows:
        if parent_id != parent:
            parent = parent_id
            bucket = grouped.setdefault(parent_id, [])
        bucket.append(
            TrackingEvent(
                fromisoformat(time),
                statuses[status],
                description,
                location,
                raw_code,
                None if incident is None else incidents[incident],
            )
        )
    return {parent_id: tuple(events) for parent_id, events in grouped.items()}


def shipment_to_row(
    shipment: Shipment, first_seen: datetime, next_check_at: datetime | None
) -> tuple[Any, ...]:
    """The snapshot's columns in ``SHIPMENT_COLUMNS`` order.

    ``first_seen`` is used only when the shipment does not carry its own.
    """
    # On the hot path of every poll: written out flat, no per-field helper calls, and enum
    # members passed as they are (a StrEnum member is the str of its value).
    eta = shipment.eta
    proof = shipment.proof
    promised_by = shipment.promised_by
    checked_at = shipment.checked_at
    delivered_at = shipment.delivered_at
    shipped_at = shipment.shipped_at
    return (
        shipment.carrier,
        shipment.number,
        shipment.status,
        shipment.incident,
        shipment.provider,
        shipment.origin,
        shipment.destination,
        *(
            _NO_ETA
            if eta is None
            else (
                time_to_text(eta.earliest),
                time_to_text(eta.latest),
                time_to_text(eta.most_likely),
                eta.source,
                eta.confidence,
            )
        ),
        None if promised_by is None else time_to_text(promised_by),
        None if checked_at is None else time_to_text(checked_at),
        None if delivered_at is None else time_to_text(delivered_at),
        None if shipped_at is None else time_to_text(shipped_at),
        None if proof is None else proof.kind,
        None if proof is None else proof.detail,
        time_to_text(shipment.first_seen or first_seen),
        None if next_check_at is None else time_to_text(next_check_at),
    )


_NO_ETA = (None, None, None, None, None)


def shipment_from_row(row: Sequence[Any], events: tuple[TrackingEvent, ...]) -> Shipment:
    """A ``Shipment`` from columns in ``SHIPMENT_COLUMNS`` order (``next_check_at`` ignored)."""
    (
        carrier,
        number,
        status,
        incident,
        provider,
        origin,
        destination,
        eta_earliest,
        eta_latest,
        eta_most_likely,
        eta_source,
        eta_confidence,
        promised_by,
        checked_at,
        delivered_at,
        shipped_at,
        proof_kind,
        proof_detail,
        first_seen,
        _next_check_at,
    ) = row
    eta = None
    if eta_source is not None:
        eta = Eta(
            earliest=datetime.fromisoformat(eta_earliest),
            latest=datetime.fromisoformat(eta_latest),
            most_likely=datetime.fromisoformat(eta_most_likely),
            source=_ETA_SOURCE[eta_source],
            confidence=eta_confidence,
        )
    proof = None
    if proof_kind is not None:
        proof = ProofOfDelivery(kind=_PROOF_KIND[proof_kind], detail=proof_detail)
    return Shipment(
        carrier=carrier,
        number=TrackingNumber(number),
        status=_STATUS[status],
        events=events,
        eta=eta,
        promised_by=opt_text(promised_by),
        checked_at=opt_text(checked_at),
        delivered_at=opt_text(delivered_at),
        proof=proof,
        incident=None if incident is None else _INCIDENT[incident],
        provider=provider,
        shipped_at=opt_text(shipped_at),
        first_seen=opt_text(first_seen),
        origin=origin,
        destination=destination,
    )


def _event_to_json(event: TrackingEvent) -> list[Any]:
    return list(event_to_row(event))


# One encoder for every alert: ``json.dumps`` with options builds a new encoder per call.
_ALERT_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def alert_to_json(alert: Alert) -> str:
    """The alert as compact JSON (what the outbox stores)."""
    key = alert.key
    event = alert.event
    incident = alert.incident
    return _ALERT_ENCODER.encode(
        {
            "kind": alert.kind._value_,
            "carrier": key.carrier,
            "number": key.number,
            "dedupe_key": alert.dedupe_key,
            "event": None if event is None else _event_to_json(event),
            "incident": None if incident is None else incident._value_,
            "detail": alert.detail,
        }
    )


def alert_from_json(text: str) -> Alert:
    """The inverse of ``alert_to_json``."""
    data = json.loads(text)
    event = data["event"]
    incident = data["incident"]
    return Alert(
        kind=AlertKind(data["kind"]),
        key=ShipmentKey(data["carrier"], TrackingNumber(data["number"])),
        dedupe_key=data["dedupe_key"],
        event=None if event is None else event_from_row(event),
        incident=None if incident is None else _INCIDENT[incident],
        detail=data["detail"],
    )


def chat_to_columns(chat: ChatRef) -> tuple[str, str, str, str, int]:
    """(chat_key, platform, chat_id, user_id, is_group) as stored."""
    return (chat.chat_key, chat.platform, chat.chat_id, chat.user_id, int(chat.is_group))


def chat_from_columns(platform: str, chat_id: str, user_id: str, is_group: int) -> ChatRef:
    """The inverse of ``chat_to_columns`` (without the derived chat_key)."""
    return ChatRef(_PLATFORM[platform], chat_id, user_id, bool(is_group))


SETTINGS_COLUMNS = "preference, timezone, quiet_start, quiet_end, paused, language, language_chosen"
"""The ``chats`` columns ``settings_from_row`` reads, in its order."""


def settings_from_row(row: Sequence[Any]) -> ChatSettings:
    """(preference, timezone, quiet_start, quiet_end, paused, language, language_chosen) →
    ``ChatSettings`` (``SETTINGS_COLUMNS``)."""
    preference, timezone, quiet_start, quiet_end, paused, language, chosen = row
    return ChatSettings(
        preference=_PREFERENCE[preference],
        timezone=timezone,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        paused=bool(paused),
        language=language,
        language_chosen=bool(chosen),
    )


def subscription_from_row(row: Sequence[Any]) -> Subscription:
    """(platform, chat_id, user_id, is_group, carrier, number, label, preference, muted,
    archived, created_at, eta_first_latest, eta_day, eta_told_at, eta_late) →
    ``Subscription``."""
    (
        platform,
        chat_id,
        user_id,
        is_group,
        carrier,
        number,
        label,
        preference,
        muted,
        archived,
        created_at,
        first_latest,
        day,
        told_at,
        late,
    ) = row
    told = None
    if first_latest is not None and day is not None and told_at is not None:
        told = EtaTold(
            first_latest=date.fromisoformat(first_latest),
            day=date.fromisoformat(day),
            at=datetime.fromisoformat(told_at),
            late=bool(late),
        )
    return Subscription(
        chat=chat_from_columns(platform, chat_id, user_id, is_group),
        key=ShipmentKey(carrier, TrackingNumber(number)),
        label=label,
        preference=None if preference is None else _PREFERENCE[preference],
        muted=bool(muted),
        archived=bool(archived),
        created_at=opt_text(created_at),
        told=told,
    )
