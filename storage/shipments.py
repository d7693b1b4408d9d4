"""Parcels, their event history, their polling schedule — and the outbox rows they cause."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.models import Shipment, ShipmentKey, TrackingEvent, TrackingNumber
from core.ports import Clock, SnapshotWrite
from storage.codec import (
    alert_to_json,
    chat_to_columns,
    event_to_row,
    events_by_parent,
    opt_time,
    shipment_from_row,
    shipment_to_row,
    time_to_text,
)
from storage.connection import SerialConnection

__all__ = ["SqliteShipments"]

# Column order: storage.codec.SHIPMENT_COLUMNS. first_seen is kept from the first insert.
_UPSERT_SHIPMENT = """
INSERT INTO shipments (
    carrier, number, status, incident, provider, origin, destination,
    eta_earliest, eta_latest, eta_most_likely, eta_source, eta_confidence,
    promised_by, checked_at, delivered_at, shipped_at, proof_kind, proof_detail,
    first_seen, next_check_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (carrier, number) DO UPDATE SET
    status = excluded.status, incident = excluded.incident, provider = excluded.provider,
    origin = excluded.origin, destination = excluded.destination,
    eta_earliest = excluded.eta_earliest, eta_latest = excluded.eta_latest,
    eta_most_likely = excluded.eta_most_likely, eta_source = excluded.eta_source,
    eta_confidence = excluded.eta_confidence, promised_by = excluded.promised_by,
    checked_at = excluded.checked_at, delivered_at = excluded.delivered_at,
    shipped_at = excluded.shipped_at, proof_kind = excluded.proof_kind,
    proof_detail = excluded.proof_detail, next_check_at = excluded.next_check_at
"""

# Column order: carrier, number, then storage.codec.EVENT_COLUMNS. The shipment id comes
# from a sub-select so events need no extra round trip to learn ids.
_INSERT_EVENT = """
INSERT INTO events (shipment_id, time, status, description, location, raw_code, incident)
VALUES ((SELECT id FROM shipments WHERE carrier = ? AND number = ?), ?, ?, ?, ?, ?, ?)
ON CONFLICT (shipment_id, time, description, status) DO NOTHING
"""

_INSERT_OUTBOX = """
INSERT INTO outbox (
    chat_key, platform, chat_id, user_id, is_group, carrier, number, dedupe_key, alert,
    created_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (chat_key, dedupe_key) DO NOTHING
"""

_SELECT_SHIPMENTS = """
SELECT s.id,
    s.carrier, s.number, s.status, s.incident, s.provider, s.origin, s.destination,
    s.eta_earliest, s.eta_latest, s.eta_most_likely, s.eta_source, s.eta_confidence,
    s.promised_by, s.checked_at, s.delivered_at, s.shipped_at, s.proof_kind, s.proof_detail,
    s.first_seen, s.next_check_at
FROM json_each(?) AS j
JOIN shipments AS s
    ON s.carrier = json_extract(j.value, '$[0]') AND s.number = json_extract(j.value, '$[1]')
"""

_SELECT_EVENTS = """
SELECT shipment_id, time, status, description, location, raw_code, incident
FROM events
WHERE shipment_id IN (SELECT value FROM json_each(?))
ORDER BY shipment_id, time, id
"""


# Only the poll's own columns, for a snapshot that is otherwise what this object last saved.
_TOUCH_SHIPMENT = """
UPDATE shipments SET checked_at = ?, next_check_at = ? WHERE carrier = ? AND number = ?
"""

# Bounds the memo's memory (about 150 bytes a parcel); when full it starts over.
_MEMO_LIMIT = 500_000


def _snapshot_hash(shipment: Shipment) -> int:
    """Hash of every stored snapshot field except the poll's own (checked_at, next check) and
    first_seen (fixed by the first save)."""
    return hash(
        (
            shipment.status._value_,
            shipment.incident,
            shipment.eta,
            shipment.promised_by,
            shipment.delivered_at,
            shipment.proof,
            shipment.provider,
            shipment.shipped_at,
            shipment.origin,
            shipment.destination,
        )
    )


def _event_hashes(events: tuple[TrackingEvent, ...]) -> tuple[int, ...]:
    # Identity is (time, description, status), the same as the events table's unique key.
    return tuple([hash((e.time, e.description, e.status._value_)) for e in events])


def _keys_json(keys: Sequence[ShipmentKey]) -> str:
    return json.dumps([[key.carrier, key.number] for key in keys], ensure_ascii=False)


class SqliteShipments:
    """``ShipmentRepository`` on SQLite.

    A parcel's history only grows: saving a snapshot adds the events not stored yet (the same
    time, description and status is the same event) and never deletes older ones, so
    ``get`` returns every event ever seen, oldest first. ``first_seen`` is fixed by the first
    save (the shipment's own value, else its ``checked_at``, else the clock).

    Most polls find a parcel unchanged. This object remembers what it last committed per
    parcel, so such a save writes only ``checked_at`` and the next check, and only the events
    it has not stored yet. When two processes write the same parcel, the last *changed*
    snapshot wins: re-saving the snapshot this object saved before does not overwrite a
    different one another process stored meanwhile.
    """

    def __init__(self, conn: SerialConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        # What this object last committed per parcel: (n, hash of the first n events'
        # identities, snapshot hash). Those events are stored, and stored events are never
        # deleted, so a snapshot that starts with them needs only its remaining events
        # written; a snapshot whose other fields are unchanged needs only its poll columns.
        self._memo: dict[tuple[str, str], tuple[int, int, int]] = {}

    def clear_event_memo(self) -> None:
        """Forget what this object knows is stored.

        Call it after deleting parcels or events (nothing in parcelbot does today); until
        then a re-created parcel could miss events this object believes are stored.
        """
        self._memo.clear()

    async def get(self, key: ShipmentKey) -> Shipment | None:
        """The stored snapshot with its full history, or None when never saved."""
        return (await self.get_many([key])).get(key)

    async def get_many(self, keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, Shipment]:
        """Snapshots for the keys that are stored; unknown keys are absent."""
        if not keys:
            return {}
        async with self._conn.snapshot() as tx:
            rows = await tx.read(_SELECT_SHIPMENTS, (_keys_json(keys),))
            if not rows:
                return {}
            ids = [row[0] for row in rows]
            event_rows = await tx.read(_SELECT_EVENTS, (json.dumps(ids),))
        events = events_by_parent(event_rows)
        found: dict[ShipmentKey, Shipment] = {}
        for row in rows:
            shipment = shipment_from_row(row[1:], events.get(row[0], ()))
            found[shipment.key] = shipment
        return found

    async def save_many(self, writes: Sequence[SnapshotWrite]) -> int:
        """Upsert every snapshot, add its new events, set its next check and queue its alerts,
        all in one transaction. Returns how many outbox rows were new (repeats are ignored)."""
        if not writes:
            return 0
        now = self._clock.now()
        memo = self._memo
        # Encode before taking the lock: other tasks can use the connection meanwhile.
        full_rows: list[tuple[Any, ...]] = []
        touch_rows: list[tuple[Any, ...]] = []
        touched: list[SnapshotWrite] = []
        event_rows: list[tuple[Any, ...]] = []
        outbox_rows: list[tuple[Any, ...]] = []
        learned: list[tuple[tuple[str, str], tuple[int, int, int]]] = []
        # A parcel saved twice in one batch keeps the later snapshot (and both histories).
        last = {(w.shipment.carrier, w.shipment.number): i for i, w in enumerate(writes)}
        for index, write in enumerate(writes):
            shipment = write.shipment
            carrier, number = shipment.carrier, shipment.number
            seen = memo.get((carrier, number))
            snapshot_hash = _snapshot_hash(shipment)
            if last[carrier, number] != index:
                pass  # a later write in this batch carries the parcel's snapshot
            elif seen is not None and seen[2] == snapshot_hash:
                touch_rows.append(
                    (opt_time(shipment.checked_at), opt_time(write.next_check_at), carrier, number)
                )
                touched.append(write)
            else:
                full_rows.append(
                    shipment_to_row(shipment, shipment.checked_at or now, write.next_check_at)
                )
            events = shipment.events
            hashes = _event_hashes(events)
            if seen is not None and seen[0] <= len(hashes) and hash(hashes[: seen[0]]) == seen[1]:
                events = events[seen[0] :]
            event_rows.extend((carrier, number, *event_to_row(e)) for e in events)
            learned.append(((carrier, number), (len(hashes), hash(hashes), snapshot_hash)))
            if write.alerts:
                created_at = time_to_text(shipment.checked_at or now)
                # One alert usually goes to several chats: encode it once.
                encoded: dict[int, str] = {}
                for chat, alert in write.alerts:
                    text = encoded.get(id(alert))
                    if text is None:
                        text = encoded[id(alert)] = alert_to_json(alert)
                    outbox_rows.append(
                        (
                            *chat_to_columns(chat),
                            alert.key.carrier,
                            alert.key.number,
                            alert.dedupe_key,
                            text,
                            created_at,
                        )
                    )
        async with self._conn.transaction() as tx:
            if full_rows:
                await tx.write_many(_UPSERT_SHIPMENT, full_rows)
            if touch_rows and await tx.write_many(_TOUCH_SHIPMENT, touch_rows) < len(touch_rows):
                # A parcel this object saved before is gone (deleted elsewhere): write those
                # parcels whole again, history included.
                await tx.write_many(
                    _UPSERT_SHIPMENT,
                    [
                        shipment_to_row(w.shipment, w.shipment.checked_at or now, w.next_check_at)
                        for w in touched
                    ],
                )
                event_rows.extend(
                    (w.shipment.carrier, w.shipment.number, *event_to_row(e))
                    for w in touched
                    for e in w.shipment.events
                )
            if event_rows:
                await tx.write_many(_INSERT_EVENT, event_rows)
            added = await tx.write_many(_INSERT_OUTBOX, outbox_rows) if outbox_rows else 0
        # Only after the commit: the memo must never claim something that is not stored.
        if len(memo) + len(learned) > _MEMO_LIMIT:
            memo.clear()
        memo.update(learned)
        return added

    async def due(self, now: datetime, limit: int) -> list[ShipmentKey]:
        """Parcels whose next check is at or before ``now``, the most overdue first.

        Parcels with no next check (finished, or never scheduled) are never due.
        """
        rows = await self._conn.read(
            "SELECT carrier, number FROM shipments WHERE next_check_at <= ? "
            "ORDER BY next_check_at, id LIMIT ?",
            (time_to_text(now), limit),
        )
        return [ShipmentKey(carrier, TrackingNumber(number)) for carrier, number in rows]

    async def schedule(self, key: ShipmentKey, next_check_at: datetime | None) -> None:
        """Set when to check a parcel next (None: never again). Unknown parcels are ignored."""
        await self._conn.write(
            "UPDATE shipments SET next_check_at = ? WHERE carrier = ? AND number = ?",
            (opt_time(next_check_at), key.carrier, key.number),
        )

    async def next_check(self, key: ShipmentKey) -> datetime | None:
        """When the parcel is due next (None: never, or not stored)."""
        rows = await self._conn.read(
            "SELECT next_check_at FROM shipments WHERE carrier = ? AND number = ?",
            (key.carrier, key.number),
        )
        return None if not rows or rows[0][0] is None else datetime.fromisoformat(rows[0][0])

    async def count(self) -> int:
        """How many parcels are stored."""
        rows = await self._conn.read("SELECT count(*) FROM shipments")
        return int(rows[0][0])

    async def mark_pushed(self, keys: Sequence[ShipmentKey], at: datetime) -> None:
        """Record that a provider pushed these parcels (webhooks) at ``at``."""
        if not keys:
            return
        await self._conn.write(
            "UPDATE shipments SET pushed_at = ? WHERE id IN ("
            "SELECT s.id FROM json_each(?) AS j JOIN shipments AS s "
            "ON s.carrier = json_extract(j.value, '$[0]') "
            "AND s.number = json_extract(j.value, '$[1]'))",
            (time_to_text(at), _keys_json(keys)),
        )

    async def pushed_since(self, keys: Sequence[ShipmentKey], since: datetime) -> set[ShipmentKey]:
        """The parcels among ``keys`` pushed at or after ``since``."""
        if not keys:
            return set()
        rows = await self._conn.read(
            "SELECT s.carrier, s.number FROM json_each(?) AS j JOIN shipments AS s "
            "ON s.carrier = json_extract(j.value, '$[0]') "
            "AND s.number = json_extract(j.value, '$[1]') WHERE s.pushed_at >= ?",
            (_keys_json(keys), time_to_text(since)),
        )
        return {ShipmentKey(carrier, TrackingNumber(number)) for carrier, number in rows}

    async def finished(
        self, done_before: datetime, inactive_before: datetime, limit: int
    ) -> list[ShipmentKey]:
        """Parcels with active subscriptions that are ready for the archive.

        Final ones (delivered at or before ``done_before``; expired, or an exception with a
        terminal incident, last checked at or before it) and never-scanned ones (not found /
        label created) first seen at or before ``inactive_before``. Oldest first.
        """
        rows = await self._conn.read(
            "SELECT s.carrier, s.number FROM shipments AS s "
            "WHERE EXISTS (SELECT 1 FROM subscriptions AS u WHERE u.carrier = s.carrier "
            "AND u.number = s.number AND u.archived = 0) AND ("
            "(s.status = 'delivered' AND coalesce(s.delivered_at, s.checked_at) <= ?) "
            "OR (s.status = 'expired' AND s.checked_at <= ?) "
            "OR (s.status = 'exception' AND s.incident IN "
            "('lost', 'destroyed', 'returned', 'cancelled') AND s.checked_at <= ?) "
            "OR (s.status IN ('not_found', 'info_received') AND s.first_seen <= ?)) "
            "ORDER BY s.checked_at, s.id LIMIT ?",
            (
                time_to_text(done_before),
                time_to_text(done_before),
                time_to_text(done_before),
                time_to_text(inactive_before),
                limit,
            ),
        )
        return [ShipmentKey(carrier, TrackingNumber(number)) for carrier, number in rows]
