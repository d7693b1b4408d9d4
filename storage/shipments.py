"""Parcels, their event history, their polling schedule — and the outbox rows they cause."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter, is_
from typing import Any, NamedTuple

from core.budgets import READ_CACHE_BYTES, WRITE_MEMO_BYTES, entries, snapshot_bytes
from core.cooperative import Breather, let_go
from core.models import (
    DueParcels,
    Shipment,
    ShipmentKey,
    SnapshotWrite,
    TrackingEvent,
    TrackingNumber,
)
from core.ports import Clock
from storage.cache import CacheStats, ReadCache
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
from storage.observations import country_only, parcel_digest
from storage.sql import Connection, Dialect, Tx

__all__ = [
    "NEWS_AGAIN",
    "NEWS_AGAIN_FOR_CHAT",
    "NEWS_AGAIN_FOR_NUMBER",
    "SqliteShipments",
    "read_snapshot",
]

# A parcel's followers changed in a way that can bring arrival news sooner (a new follower, a
# new promise, another time zone): its next poll judges them again, and a poll that judged
# them before this stores nothing (``core.models.SnapshotWrite``). One parcel; every parcel
# with that number; every parcel (the default time zone changed); every parcel a chat follows.
NEWS_AGAIN = (
    "UPDATE shipments SET news_epoch = news_epoch + 1, news_due_at = NULL "
    "WHERE carrier = ? AND number = ?"
)
NEWS_AGAIN_FOR_NUMBER = (
    "UPDATE shipments SET news_epoch = news_epoch + 1, news_due_at = NULL WHERE number = ?"
)
NEWS_AGAIN_EVERYWHERE = "UPDATE shipments SET news_epoch = news_epoch + 1, news_due_at = NULL"
NEWS_AGAIN_FOR_CHAT = (
    "UPDATE shipments SET news_epoch = news_epoch + 1, news_due_at = NULL "
    "WHERE id IN (SELECT s.id FROM shipments AS s JOIN subscriptions AS u "
    "ON u.carrier = s.carrier AND u.number = s.number WHERE u.chat_key = ?)"
)

# Column order: storage.codec.SHIPMENT_COLUMNS, then news_due_at (and, after the values, the
# news epoch the writer read: a different one leaves news_due_at unknown, see
# core.models.SnapshotWrite). first_seen is kept from the first insert.
_UPSERT_SHIPMENT = """
INSERT INTO shipments (
    carrier, number, status, incident, provider, origin, destination,
    eta_earliest, eta_latest, eta_most_likely, eta_source, eta_confidence,
    promised_by, checked_at, delivered_at, shipped_at, proof_kind, proof_detail,
    first_seen, next_check_at, news_due_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (carrier, number) DO UPDATE SET
    status = excluded.status, incident = excluded.incident, provider = excluded.provider,
    origin = excluded.origin, destination = excluded.destination,
    eta_earliest = excluded.eta_earliest, eta_latest = excluded.eta_latest,
    eta_most_likely = excluded.eta_most_likely, eta_source = excluded.eta_source,
    eta_confidence = excluded.eta_confidence, promised_by = excluded.promised_by,
    checked_at = excluded.checked_at, delivered_at = excluded.delivered_at,
    shipped_at = excluded.shipped_at, proof_kind = excluded.proof_kind,
    proof_detail = excluded.proof_detail, next_check_at = excluded.next_check_at,
    news_due_at = CASE WHEN shipments.news_epoch = ? THEN excluded.news_due_at ELSE NULL END
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

# The stored parcels among a JSON list of [carrier, number] pairs (the ``?``, see _keys_json);
# {pairs}: ``Dialect.pairs``.
_KEYED = """FROM {pairs}
JOIN shipments AS s
    ON s.carrier = j.value ->> 0 AND s.number = j.value ->> 1
"""

_SHIPMENT_COLUMNS = """
SELECT s.id,
    s.carrier, s.number, s.status, s.incident, s.provider, s.origin, s.destination,
    s.eta_earliest, s.eta_latest, s.eta_most_likely, s.eta_source, s.eta_confidence,
    s.promised_by, s.checked_at, s.delivered_at, s.shipped_at, s.proof_kind, s.proof_detail,
    s.first_seen, s.next_check_at
"""
_SELECT_SHIPMENT = _SHIPMENT_COLUMNS + "FROM shipments AS s WHERE s.carrier = ? AND s.number = ?"

_SELECT_OWN_EVENTS = """
SELECT shipment_id, time, status, description, location, raw_code, incident
FROM events WHERE shipment_id = ? ORDER BY time, id
"""

_SELECT_EVENTS = """
SELECT shipment_id, time, status, description, location, raw_code, incident
FROM events
WHERE shipment_id IN ({ids})
ORDER BY shipment_id, time, id
"""


# ``due`` plus, per parcel, whether an active subscription follows it and whether it was
# pushed recently (both answered from indexes, row by row).
_SELECT_DUE = """
SELECT s.carrier, s.number,
    EXISTS (
        SELECT 1 FROM subscriptions AS u
        WHERE u.carrier = s.carrier AND u.number = s.number AND u.archived = 0
    ),
    CASE WHEN s.pushed_at >= ? THEN 1 ELSE 0 END,
    s.news_due_at, s.news_epoch
FROM shipments AS s
WHERE s.next_check_at <= ?
ORDER BY s.next_check_at, s.id
LIMIT ?
"""

# ``_SELECT_DUE`` for a poller that claims what it takes: the row ids and the times they were
# due, and {lock} (``Dialect.skip_locked``) so that pollers running at once on PostgreSQL take
# disjoint rows instead of waiting for each other.
_CLAIM_DUE = """
SELECT s.id, s.carrier, s.number, s.next_check_at,
    EXISTS (
        SELECT 1 FROM subscriptions AS u
        WHERE u.carrier = s.carrier AND u.number = s.number AND u.archived = 0
    ),
    CASE WHEN s.pushed_at >= ? THEN 1 ELSE 0 END,
    s.news_due_at, s.news_epoch
FROM shipments AS s
WHERE s.next_check_at <= ?
ORDER BY s.next_check_at, s.id
LIMIT ?
{lock}
"""

# The archive scan (``finished``). Driven by the active subscriptions' index, not by a scan of
# every stored parcel: its cost follows the parcels people follow, however many finished ones
# are kept.
_SELECT_FINISHED = """
SELECT s.carrier, s.number
FROM subscriptions AS u {hint}
{join} shipments AS s ON s.carrier = u.carrier AND s.number = u.number
WHERE u.archived = 0 AND (
    (s.status = 'delivered' AND coalesce(s.delivered_at, s.checked_at) <= ?)
    OR (s.status = 'expired' AND s.checked_at <= ?)
    OR (s.status = 'exception' AND s.incident IN ('lost', 'destroyed', 'returned', 'cancelled')
        AND s.checked_at <= ?)
    OR (s.status IN ('not_found', 'info_received') AND s.first_seen <= ?))
GROUP BY s.id
ORDER BY s.checked_at, s.id
LIMIT ?
"""

# Only the poll's own columns, for a snapshot that is otherwise what this object last saved;
# news_due_at stays, or (_TOUCH_NEWS) is set when the news epoch is still the one read.
_TOUCH_SHIPMENT = """
UPDATE shipments SET checked_at = ?, next_check_at = ? WHERE carrier = ? AND number = ?
"""
_TOUCH_NEWS = """
UPDATE shipments SET checked_at = ?, next_check_at = ?,
    news_due_at = CASE WHEN news_epoch = ? THEN ? ELSE NULL END
WHERE carrier = ? AND number = ?
"""

# Bounds the memo (about 200 bytes a parcel); when a batch would not fit, it starts over.
_MEMO_LIMIT = entries(WRITE_MEMO_BYTES, 200)

# Bounds the stored-snapshot cache in bytes (``core.budgets.snapshot_bytes``); see
# ``storage.cache.ReadCache.put`` for what happens when it is full.
_CACHE_LIMIT = READ_CACHE_BYTES

_TIME = attrgetter("time")


def _reads_back_as_is(shipment: Shipment, events: Sequence[TrackingEvent]) -> bool:
    """Whether every time of the snapshot (``events`` standing for its history) is in UTC, so
    reading it back gives equal *and* identical-looking values (times come back in UTC)."""
    for moment in (
        shipment.checked_at,
        shipment.first_seen,
        shipment.promised_by,
        shipment.delivered_at,
        shipment.shipped_at,
    ):
        if moment is not None and moment.tzinfo is not UTC:
            return False
    eta = shipment.eta
    if eta is not None and not (
        eta.earliest.tzinfo is UTC and eta.latest.tzinfo is UTC and eta.most_likely.tzinfo is UTC
    ):
        return False
    return all(event.time.tzinfo is UTC for event in events)


def _planned_in_place(
    key: tuple[str, str], before: Shipment, shipment: Shipment
) -> _Learned | None:
    """``SqliteShipments._plan``'s common case, for a parcel saved once in its batch whose
    stored snapshot is cached (``before``, holding the very history ``shipment`` has) and
    whose save writes only its poll columns: the cached snapshot with the new check time.
    None when ``_plan`` must look at it (a check time outside UTC)."""
    checked = shipment.checked_at
    if checked is not None and checked.tzinfo is not UTC:
        return None
    # Same history, so the same size.
    return _Learned(key, before, before.rechecked(checked, before.first_seen, before.events), True)


class _Learned(NamedTuple):
    """What to cache about one parcel once a ``save_many`` commits (``SqliteShipments._plan``):
    ``after`` in place of ``before`` (None: not cached; ``after`` None: forget it). A tuple:
    one is made per parcel saved, and a frozen dataclass costs four times as much to make."""

    key: tuple[str, str]
    before: Shipment | None
    after: Shipment | None
    same_size: bool = False
    """``after`` has ``before``'s history: swapped in without counting sizes again."""


def _same(events: Sequence[TrackingEvent], others: Sequence[TrackingEvent]) -> bool:
    """Whether both hold the very same event objects (no field-by-field comparison)."""
    return len(events) == len(others) and all(map(is_, events, others))


def _merged(
    history: tuple[TrackingEvent, ...], added: Sequence[TrackingEvent]
) -> tuple[TrackingEvent, ...]:
    """The stored history after inserting ``added`` into ``history``, as ``get`` reads it.

    Mirrors the events table: the first event with a given (time, description, status) is
    kept, later copies are ignored, and rows come back by time, then insertion order.
    """
    if not added:
        return history
    latest = history[-1].time if history else None
    # Events newer than the whole history cannot repeat one of it.
    if latest is None or all(event.time > latest for event in added):
        seen: set[tuple[Any, ...]] = set()
    else:
        seen = {(event.time, event.description, event.status) for event in history}
    fresh: list[TrackingEvent] = []
    for event in added:
        identity = (event.time, event.description, event.status)
        if identity not in seen:
            seen.add(identity)
            fresh.append(event)
    if not fresh:
        return history
    events = [*history, *fresh]
    events.sort(key=_TIME)  # stable: equal times keep insertion order, like the id column
    return tuple(events)


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


def _full_row(write: SnapshotWrite, now: datetime) -> tuple[Any, ...]:
    """``_UPSERT_SHIPMENT``'s parameters for ``write``."""
    shipment = write.shipment
    return (
        *shipment_to_row(shipment, shipment.checked_at or now, write.next_check_at),
        opt_time(write.news_due_at) if write.news_epoch is not None else None,
        write.news_epoch,
    )


def _key_of(write: SnapshotWrite) -> tuple[str, str]:
    return (write.shipment.carrier, write.shipment.number)


def _keys_json(keys: Sequence[ShipmentKey]) -> str:
    return json.dumps([[key.carrier, key.number] for key in keys], ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class _Statements:
    """The statements that hold a ``Dialect`` fragment, spelled for one backend."""

    select_shipments: str
    select_events: str
    select_existing: str
    select_pushed: str
    set_pushed: str
    select_finished: str
    claim_due: str
    lease_due: str


def _statements(dialect: Dialect) -> _Statements:
    """The statements for ``dialect``, built once per repository (no memo: a few string
    joins when a database is opened)."""
    keyed = _KEYED.format(pairs=dialect.pairs)
    return _Statements(
        select_shipments=_SHIPMENT_COLUMNS + keyed,
        select_events=_SELECT_EVENTS.format(ids=dialect.ids),
        select_existing="SELECT s.carrier, s.number\n" + keyed,
        select_pushed="SELECT s.carrier, s.number\n" + keyed + "WHERE s.pushed_at >= ?",
        # Constants joined, no values: those stay parameters.
        set_pushed="UPDATE shipments SET pushed_at = ? WHERE id IN (SELECT s.id\n"  # noqa: S608
        + keyed
        + ")",
        select_finished=_SELECT_FINISHED.format(
            hint=dialect.indexed_by("subscriptions_active"), join=dialect.ordered_join
        ),
        claim_due=_CLAIM_DUE.format(lock=dialect.skip_locked("s")),
        lease_due=f"UPDATE shipments SET next_check_at = ? WHERE id IN ({dialect.ids})",  # noqa: S608
    )


async def read_snapshot(tx: Tx, key: ShipmentKey) -> Shipment | None:
    """The stored snapshot of one parcel with its full history, read inside the caller's
    read transaction; None when never saved."""
    rows = await tx.read(_SELECT_SHIPMENT, (key.carrier, key.number))
    if not rows:
        return None
    row = rows[0]
    events = events_by_parent(await tx.read(_SELECT_OWN_EVENTS, (row[0],)))
    return shipment_from_row(row[1:], events.get(row[0], ()))


_EVENT_SLICE = 256
"""Event rows decoded between two chances to give way (about half a millisecond)."""

_APPLY_SLICE = 128
"""Parcels whose plan is applied to the read cache between two chances to give way."""


async def _events_in_slices(
    rows: Sequence[Sequence[Any]], breathe: Breather
) -> dict[int, tuple[TrackingEvent, ...]]:
    """``events_by_parent`` of rows ordered by parent, giving way between slices of rows;
    a parcel's history is never split between two slices."""
    found: dict[int, tuple[TrackingEvent, ...]] = {}
    start, total = 0, len(rows)
    while start < total:
        await breathe()
        end = min(start + _EVENT_SLICE, total)
        parent = rows[end - 1][0]
        while end < total and rows[end][0] == parent:
            end += 1
        found.update(events_by_parent(rows[start:end]))
        start = end
    return found


def _due_parcels(
    rows: Sequence[Sequence[Any]], due_at_texts: Sequence[str | None] = ()
) -> DueParcels:
    """``DueParcels`` from rows of (carrier, number, followed, pushed, news due at, news epoch)
    and, for claimed parcels, when each was due (``due_at_texts``, in the same order)."""
    keys: list[ShipmentKey] = []
    followed: list[ShipmentKey] = []
    pushed: list[ShipmentKey] = []
    news_due_at: dict[ShipmentKey, datetime] = {}
    epochs: list[int] = []
    # Runs once per due parcel of every cycle: one pass, nothing built that is not kept.
    for carrier, number, active, recent, news_due, epoch in rows:
        key = ShipmentKey(carrier, TrackingNumber(number))
        keys.append(key)
        if active:
            followed.append(key)
        if recent:
            pushed.append(key)
        if news_due is not None:
            news_due_at[key] = datetime.fromisoformat(news_due)
        epochs.append(epoch)
    due_at = {
        key: datetime.fromisoformat(was)
        for key, was in zip(keys, due_at_texts, strict=False)
        if was is not None
    }
    return DueParcels(
        tuple(keys),
        frozenset(followed),
        frozenset(pushed),
        due_at,
        news_due_at,
        dict(zip(keys, map(int, epochs), strict=True)),
    )


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

    Reads go through a bounded cache (``storage.cache.ReadCache``) of the snapshots this
    object last read or committed, valid as long as no other connection has written to the
    database since (SQLite's ``PRAGMA data_version``, checked on every read and write); any
    outside write empties it. A cached snapshot equals what reading the rows would return,
    history included.
    """

    def __init__(
        self,
        conn: Connection,
        clock: Clock,
        *,
        cache_bytes: int | None = None,
        memo_entries: int | None = None,
    ) -> None:
        """``cache_bytes`` bounds the read cache (default ``core.budgets.READ_CACHE_BYTES``;
        0 keeps nothing) and ``memo_entries`` the write memo (default from
        ``core.budgets.WRITE_MEMO_BYTES``; 0 remembers nothing): the benchmark that shows
        each pays (``benchmarks/caches.py``) turns them off."""
        self._conn = conn
        self._clock = clock
        self._sql = _statements(conn.dialect)
        # What this object last committed per parcel: (n, hash of the first n events'
        # identities, snapshot hash). Those events are stored, and stored events are never
        # deleted, so a snapshot that starts with them needs only its remaining events
        # written; a snapshot whose other fields are unchanged needs only its poll columns.
        self._memo: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._memo_limit = _MEMO_LIMIT if memo_entries is None else memo_entries
        # Snapshots saved whose parcel the memo knew, and did not know.
        self._memo_hits = self._memo_misses = 0
        # The stored snapshots (as ``get`` returns them) this object last read or committed,
        # valid while the database's data version is still the cache's.
        self._cache: ReadCache[tuple[str, str], Shipment] = ReadCache(
            _CACHE_LIMIT if cache_bytes is None else cache_bytes, snapshot_bytes
        )

    def cache_stats(self) -> CacheStats:
        """What the read cache did so far (for benchmarks and tests)."""
        return self._cache.stats()

    def memo_stats(self) -> tuple[int, int]:
        """(snapshots saved whose parcel the write memo knew, those it did not)."""
        return self._memo_hits, self._memo_misses

    def clear_event_memo(self) -> None:
        """Forget what this object knows is stored.

        Call it after deleting parcels or events through this object's own connection
        (nothing in parcelbot does today); until then a re-created parcel could miss events
        this object believes are stored. Writes by other connections are noticed by itself.
        """
        self._memo.clear()
        self._cache.clear()

    async def get(self, key: ShipmentKey) -> Shipment | None:
        """The stored snapshot with its full history, or None when never saved."""
        return (await self.get_many([key])).get(key)

    async def get_many(self, keys: Sequence[ShipmentKey]) -> dict[ShipmentKey, Shipment]:
        """Snapshots for the keys that are stored; unknown keys are absent."""
        if not keys:
            return {}
        sql = self._sql
        async with self._conn.snapshot() as tx:

            async def load(missing: list[tuple[str, str]]) -> dict[tuple[str, str], Shipment]:
                rows = await tx.read(
                    sql.select_shipments, (json.dumps(missing, ensure_ascii=False),)
                )
                ids = [row[0] for row in rows]
                found = await tx.read(sql.select_events, (json.dumps(ids),)) if ids else []
                # A poll cycle that misses the cache decodes a thousand histories: in slices.
                breathe = Breather()
                events = await _events_in_slices(found, breathe)
                loaded: dict[tuple[str, str], Shipment] = {}
                for row in rows:
                    await breathe()
                    shipment = shipment_from_row(row[1:], events.get(row[0], ()))
                    loaded[shipment.carrier, shipment.number] = shipment
                return loaded

            # The version and the rows read come from one read transaction.
            known = await self._cache.read(
                [(key.carrier, key.number) for key in keys], await tx.data_version(), load
            )
        found: dict[ShipmentKey, Shipment] = {}
        for key in keys:
            stored = known.get((key.carrier, key.number))
            if stored is not None:
                found[key] = stored
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
        news_rows: list[tuple[Any, ...]] = []
        touched: list[SnapshotWrite] = []
        event_rows: list[tuple[Any, ...]] = []
        outbox_rows: list[tuple[Any, ...]] = []
        learned: list[tuple[tuple[str, str], tuple[int, int, int]]] = []
        # Per parcel, the events handed to the database, for the read cache.
        sent: dict[tuple[str, str], list[TrackingEvent]] = {}
        # A parcel saved twice in one batch keeps the later snapshot (and both histories).
        last: dict[tuple[str, str], int] = {_key_of(w): i for i, w in enumerate(writes)}
        cached = self._cache
        # What to cache once this commits (``_plan``). For a batch of distinct parcels the
        # common case, a parcel polled again with nothing new, is worked out here in the same
        # pass (``_planned_in_place``); ``_plan`` does the others after it.
        # Indexed like ``writes``: the plan of each parcel sits at its last write.
        plan: list[_Learned | None] = [None] * len(writes)
        inline = len(last) == len(writes)
        planned: set[tuple[str, str]] = set()
        breathe = Breather()
        for index, write in enumerate(writes):
            await breathe()
            shipment = write.shipment
            carrier, number = shipment.carrier, shipment.number
            seen = memo.get((carrier, number))
            if seen is None:
                self._memo_misses += 1
            else:
                self._memo_hits += 1
            snapshot_hash = _snapshot_hash(shipment)
            if last[carrier, number] != index:
                pass  # a later write in this batch carries the parcel's snapshot
            elif seen is not None and seen[2] == snapshot_hash:
                checked, next_check = opt_time(shipment.checked_at), opt_time(write.next_check_at)
                if write.news_epoch is None:
                    touch_rows.append((checked, next_check, carrier, number))
                else:
                    news_rows.append(
                        (
                            checked,
                            next_check,
                            write.news_epoch,
                            opt_time(write.news_due_at),
                            carrier,
                            number,
                        )
                    )
                touched.append(write)
            else:
                full_rows.append(_full_row(write, now))
            events = shipment.events
            stored = cached.get((carrier, number))
            if inline and stored is None and seen is not None:
                # Stored before (this object saved it, so it is not new) and not cached: there
                # is nothing to learn, only a copy some read caches meanwhile to forget.
                plan[index] = _Learned((carrier, number), None, None)
                planned.add((carrier, number))
            if seen is not None and stored is not None and stored.events is events:
                # The very history the cache holds as stored: nothing to add, and what the
                # memo says about its events stays true (stored events are never deleted).
                events = ()
                known = (seen[0], seen[1], snapshot_hash)
                if inline and seen[2] == snapshot_hash:
                    learned_now = _planned_in_place((carrier, number), stored, shipment)
                    if learned_now is not None:
                        plan[index] = learned_now
                        planned.add((carrier, number))
            else:
                hashes = _event_hashes(events)
                if (
                    seen is not None
                    and seen[0] <= len(hashes)
                    and hash(hashes[: seen[0]]) == seen[1]
                ):
                    events = events[seen[0] :]
                known = (len(hashes), hash(hashes), snapshot_hash)
            event_rows.extend([(carrier, number, *event_to_row(e)) for e in events])
            sent.setdefault((carrier, number), []).extend(events)
            learned.append(((carrier, number), known))
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
        cache = self._cache
        # What the cache will hold once this commits, worked out now, in slices, while the
        # event loop is free to run other tasks between them (``_apply_plan`` after the commit).
        if len(planned) < len(last):
            await self._plan(
                writes,
                last,
                sent,
                touched={_key_of(w) for w in touched},
                now=now,
                breathe=breathe,
                plan=plan,
                skip=planned,
            )
        cached_version = cache.version
        select_existing = self._sql.select_existing

        async def transact(tx: Tx) -> tuple[int | None, set[tuple[str, str]], bool, int]:
            # On SQLite this runs on the connection's worker thread between BEGIN IMMEDIATE
            # and COMMIT: one hand-off for the whole write. The cache is only looked at here;
            # it changes on the event loop (``check_version``, ``_apply_plan``).
            version = await tx.data_version()
            # Parcels the cache does not know (all of them when another connection wrote
            # since it was filled: it is emptied below): the new ones are cached once stored.
            # Held or not, a cached parcel is a stored one (``peek``).
            if version is not None and version == cached_version:
                unknown = [key for key in sent if cache.peek(key) is None]
            else:
                unknown = list(sent)
            new = set(unknown)
            if unknown:
                existing = await tx.read(
                    select_existing, (json.dumps(unknown, ensure_ascii=False),)
                )
                new.difference_update((carrier, number) for carrier, number in existing)
            if full_rows:
                await tx.write_many(_UPSERT_SHIPMENT, full_rows)
            rewritten = False
            found = await tx.write_many(_TOUCH_SHIPMENT, touch_rows) if touch_rows else 0
            if news_rows:
                found += await tx.write_many(_TOUCH_NEWS, news_rows)
            if found < len(touched):
                rewritten = True
                # A parcel this object saved before is gone (deleted elsewhere): write those
                # parcels whole again, history included.
                await tx.write_many(_UPSERT_SHIPMENT, [_full_row(w, now) for w in touched])
                event_rows.extend(
                    (w.shipment.carrier, w.shipment.number, *event_to_row(e))
                    for w in touched
                    for e in w.shipment.events
                )
            if event_rows:
                await tx.write_many(_INSERT_EVENT, event_rows)
            added = await tx.write_many(_INSERT_OUTBOX, outbox_rows) if outbox_rows else 0
            return version, new, rewritten, added

        # From before the commit until the plan is applied, the cached values of these
        # parcels may be older than their rows: nobody else takes them from the cache.
        held = cache.hold(last)
        try:
            try:
                version, new, rewritten, added = await self._conn.run_transaction(transact)
            except asyncio.CancelledError:
                # The transaction runs on to its end regardless and may well have committed:
                # nothing cached about these parcels can be trusted any more.
                cache.clear()
                raise
            cache.check_version(version)
            # Only after the commit: the memo must never claim something that is not stored.
            memo = self._memo
            full = len(memo) + len(learned) > self._memo_limit
            if full:
                # Starting over: a fresh memo at once, the old one let go in slices below.
                self._memo = {}
            if self._memo_limit:
                self._memo.update(learned)
            if rewritten:
                cache.clear()  # rows vanished under this object: trust nothing it knew
            else:
                await self._apply_plan(plan, new, held, breathe)
        finally:
            # Parcels not settled (the write failed, or stopped while applying) are dropped.
            cache.release(held)
        if full:
            await let_go(memo, breathe)
        return added

    async def _plan(
        self,
        writes: Sequence[SnapshotWrite],
        last: dict[tuple[str, str], int],
        sent: dict[tuple[str, str], list[TrackingEvent]],
        *,
        touched: set[tuple[str, str]],
        now: datetime,
        breathe: Breather,
        plan: list[_Learned | None],
        skip: set[tuple[str, str]],
    ) -> None:
        """What to cache about each parcel of a ``save_many`` once it commits, for parcels whose
        stored state before it was known (cached, or not stored at all): worked out before the
        commit, giving way between parcels, and applied by ``_apply_plan`` after it. Each
        parcel's goes to ``plan`` at the index of its last write. ``touched`` parcels have only
        their poll columns written: any other writer's snapshot stays in place. Parcels in
        ``skip`` were planned already (``_planned_in_place``)."""
        cache = self._cache
        for key, index in last.items():
            if key in skip:
                continue
            await breathe()
            before = cache.get(key)
            shipment = writes[index].shipment
            if before is not None and key in touched and not sent[key]:
                # The common case, a poll that found nothing new: only ``checked_at`` (and the
                # next check, not part of a snapshot) changed in the stored row.
                checked = shipment.checked_at
                if checked is None or checked.tzinfo is UTC:
                    events = before.events
                    if events is not shipment.events and _same(events, shipment.events):
                        events = shipment.events  # share the caller's tuple from now on
                    # Same history, so the same size.
                    rechecked = before.rechecked(checked, before.first_seen, events)
                    plan[index] = _Learned(key, before, rechecked, True)
                    continue
            if not _reads_back_as_is(shipment, sent[key]):
                plan[index] = _Learned(key, before, None)
                continue
            base = shipment
            if before is not None:
                first_seen = before.first_seen
                events = _merged(before.events, sent[key])
                if key in touched:
                    base = before  # only the poll columns are written; the rest stays
            else:
                first_seen = shipment.first_seen or shipment.checked_at or now
                if first_seen.tzinfo is not UTC:
                    plan[index] = _Learned(key, before, None)
                    continue
                events = _merged((), sent[key])
            if _same(events, shipment.events):
                events = shipment.events
            if base is not shipment or first_seen is not shipment.first_seen:
                shipment = base.rechecked(shipment.checked_at, first_seen, events)
            elif events is not shipment.events:
                shipment = shipment.rechecked(shipment.checked_at, first_seen, events)
            plan[index] = _Learned(key, before, shipment)

    async def _apply_plan(
        self,
        plan: Sequence[_Learned | None],
        new: set[tuple[str, str]],
        held: set[tuple[str, str]],
        breathe: Breather,
    ) -> None:
        """Cache what a committed ``save_many`` left stored (``_plan``; None: no parcel's plan
        at that place); ``new``: the parcels it stored first. A parcel whose cached value is no
        longer the one its plan started from (another task read or saved it meanwhile, or the
        cache was emptied) is forgotten rather than guessed at: the next read loads it.

        Gives way between slices of parcels; ``held`` (``ReadCache.hold``) keeps the parcels
        not settled yet out of everyone else's reads meanwhile, and each leaves it once
        settled."""
        cache = self._cache
        for start in range(0, len(plan), _APPLY_SLICE):
            await breathe()
            for learned in plan[start : start + _APPLY_SLICE]:
                if learned is None:
                    continue
                key, before, after = learned.key, learned.before, learned.after
                if cache.peek(key) is not before or after is None:
                    cache.discard(key)
                elif before is None:
                    # Not cached: known only when this save stored it first.
                    if key in new:
                        cache.put(key, after)
                elif learned.same_size:
                    # The most recently used from now on; cheaper than ``put``.
                    cache.replace(key, after)
                else:
                    cache.put(key, after)
                held.discard(key)

    async def due(self, now: datetime, limit: int) -> list[ShipmentKey]:
        """Parcels whose next check is at or before ``now``, the most overdue first.

        Parcels with no next check (finished, or never scheduled) are never due.
        """
        return list((await self.due_parcels(now, limit, now)).keys)

    async def due_parcels(
        self,
        now: datetime,
        limit: int,
        pushed_since: datetime,
        lease_until: datetime | None = None,
    ) -> DueParcels:
        """``due(now, limit)``, and which of those parcels have an active subscription and
        which were pushed at or after ``pushed_since`` — one query.

        With ``lease_until`` the parcels are claimed: in the same transaction their next check
        moves to ``lease_until``, so no other poller (in this process or another) takes them
        until then. Saving a snapshot (``save_many``) or ``schedule`` ends the lease; a poller
        that dies holding it loses nothing: the parcels are due again at ``lease_until``.
        ``DueParcels.due_at`` keeps when each was due, to hand back untried ones.
        """
        if lease_until is None:
            rows = await self._conn.read(
                _SELECT_DUE, (time_to_text(pushed_since), time_to_text(now), limit)
            )
            return _due_parcels(rows)
        statements = self._sql
        params = (time_to_text(pushed_since), time_to_text(now), limit)
        lease = time_to_text(lease_until)

        async def claim(tx: Tx) -> list[Any]:
            found = await tx.read(statements.claim_due, params)
            if found:
                ids = json.dumps([row[0] for row in found])
                await tx.write(statements.lease_due, (lease, ids))
            return found

        claimed = await self._conn.run_transaction(claim)
        return _due_parcels([(*row[1:3], *row[4:]) for row in claimed], [row[3] for row in claimed])

    async def news_again_everywhere(self) -> int:
        """Every parcel's followers are judged again at its next poll, and a poll that read a
        parcel before this stores no judgement: what the bot's default time zone changing
        needs, since every chat without a zone of its own follows it. Returns the parcels
        stored."""
        return await self._conn.write(NEWS_AGAIN_EVERYWHERE)

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
        await self._set_pushed(keys, time_to_text(at))

    async def _set_pushed(self, keys: Sequence[ShipmentKey], value: str | None) -> None:
        if keys:
            await self._conn.write(
                self._sql.set_pushed,
                (value, _keys_json(keys)),
            )

    async def pushed_since(self, keys: Sequence[ShipmentKey], since: datetime) -> set[ShipmentKey]:
        """The parcels among ``keys`` pushed at or after ``since``."""
        if not keys:
            return set()
        rows = await self._conn.read(
            self._sql.select_pushed,
            (_keys_json(keys), time_to_text(since)),
        )
        return {ShipmentKey(carrier, TrackingNumber(number)) for carrier, number in rows}

    async def forget_unfollowed(self, keys: Sequence[ShipmentKey]) -> int:
        """Delete the parcels among ``keys`` that no chat follows or linked to an order any
        more, with their events (a proof of delivery names a person, scans hold addresses),
        and reduce what arrival estimates learned from them to facts that identify no one
        (no parcel digest, no promised date, countries instead of places). Returns the rows
        deleted or changed. For ``/forget``; parcels someone else follows stay.
        """
        changed = 0
        async with self._conn.transaction() as tx:
            for key in keys:
                followed = await tx.read(
                    "SELECT 1 FROM subscriptions WHERE carrier = ? AND number = ? "
                    "UNION ALL SELECT 1 FROM order_links WHERE carrier = ? AND number = ? "
                    "LIMIT 1",
                    (key.carrier, key.number, key.carrier, key.number),
                )
                if followed:
                    continue
                # Events go with their parcel (ON DELETE CASCADE).
                changed += await tx.write(
                    "DELETE FROM shipments WHERE carrier = ? AND number = ?",
                    (key.carrier, key.number),
                )
                learned = await tx.read(
                    "SELECT id, origin, destination FROM eta_observations WHERE parcel = ?",
                    (parcel_digest(key),),
                )
                for row_id, origin, destination in learned:
                    changed += await tx.write(
                        "UPDATE eta_observations SET parcel = NULL, promised_by = NULL, "
                        "origin = ?, destination = ? WHERE id = ?",
                        (country_only(origin), country_only(destination), row_id),
                    )
        # Parcels were deleted through this connection: what it remembers is stale.
        self.clear_event_memo()
        return changed

    async def clear_pushed(self, keys: Sequence[ShipmentKey]) -> None:
        """Forget that these parcels were pushed: polling alone follows them from now on."""
        await self._set_pushed(keys, None)

    async def finished(
        self, done_before: datetime, inactive_before: datetime, limit: int
    ) -> list[ShipmentKey]:
        """Parcels with active subscriptions that are ready for the archive.

        Final ones (delivered at or before ``done_before``; expired, or an exception with a
        terminal incident, last checked at or before it) and never-scanned ones (not found /
        label created) first seen at or before ``inactive_before``. Oldest first.
        """
        rows = await self._conn.read(
            self._sql.select_finished,
            (
                time_to_text(done_before),
                time_to_text(done_before),
                time_to_text(done_before),
                time_to_text(inactive_before),
                limit,
            ),
        )
        return [ShipmentKey(carrier, TrackingNumber(number)) for carrier, number in rows]
