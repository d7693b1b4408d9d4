"""Which chats follow which parcels; and forgetting a chat entirely."""

from __future__ import annotations

import json
from collections.abc import Sequence

from core.budgets import SUBSCRIPTION_MEMO_BYTES, entries
from core.cooperative import Breather, let_go
from core.models import ChatRef, EtaTold, Platform, ShipmentKey, Subscription
from core.ports import Clock
from storage.codec import chat_to_columns, subscription_from_row, time_to_text
from storage.shipments import NEWS_AGAIN
from storage.sql import Connection, Row, Tx

__all__ = ["SqliteSubscriptions"]

# Column order of storage.codec.subscription_from_row.
_SELECT = """
SELECT s.platform, s.chat_id, s.user_id, s.is_group, s.carrier, s.number, s.label,
    s.preference, s.muted, s.archived, s.created_at,
    s.eta_first_latest, s.eta_day, s.eta_told_at, s.eta_late
FROM subscriptions AS s
"""


# Bounds the decoded-subscription memo (about 700 bytes a row with its key); when full it
# starts over.
_DECODED_LIMIT = entries(SUBSCRIPTION_MEMO_BYTES, 700)


_TELL = (
    "UPDATE subscriptions SET eta_first_latest = ?, eta_day = ?, eta_told_at = ?, "
    "eta_late = ? WHERE chat_key = ? AND carrier = ? AND number = ?"
)


class SqliteSubscriptions:
    """``SubscriptionRepository`` on SQLite.

    A subscription belongs to a chat (``ChatRef.chat_key``), not to the person who made it:
    in a group, one member subscribing a parcel subscribes the group, and the stored user is
    the last one who added it.
    """

    def __init__(self, conn: Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        # Subscriptions decoded by ``subscribers``, by their row: every poll reads the same
        # rows again, and a row is its own cache key (any change makes another row).
        self._decoded: dict[Row, Subscription] = {}
        self._decoded_limit = _DECODED_LIMIT
        # Rows ``subscribers`` found decoded already, and rows it decoded.
        self._decode_hits = self._decode_misses = 0

    async def add(self, subscription: Subscription) -> bool:
        """Add the subscription, or update an existing one; True when it is new or was archived.

        On an existing one, a non-empty label and a non-None preference replace the stored
        ones, and it becomes active again. A reactivated subscription counts as created now,
        so it is listed first.
        """
        chat, key = subscription.chat, subscription.key
        created_at = time_to_text(subscription.created_at or self._clock.now())
        async with self._conn.transaction() as tx:
            rows = await tx.read(
                "SELECT archived FROM subscriptions "
                "WHERE chat_key = ? AND carrier = ? AND number = ?",
                (chat.chat_key, key.carrier, key.number),
            )
            await tx.write(
                "INSERT INTO subscriptions (chat_key, platform, chat_id, user_id, is_group, "
                "carrier, number, label, preference, muted, archived, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (chat_key, carrier, number) DO UPDATE SET "
                "user_id = excluded.user_id, is_group = excluded.is_group, "
                "label = CASE WHEN excluded.label != '' THEN excluded.label "
                "ELSE subscriptions.label END, "
                "preference = coalesce(excluded.preference, subscriptions.preference), "
                "created_at = CASE WHEN subscriptions.archived <> 0 "
                "THEN excluded.created_at ELSE subscriptions.created_at END, "
                "archived = 0",
                (
                    *chat_to_columns(chat),
                    key.carrier,
                    key.number,
                    subscription.label,
                    None if subscription.preference is None else subscription.preference.value,
                    int(subscription.muted),
                    int(subscription.archived),
                    created_at,
                ),
            )
            # A new follower: the parcel's arrival news is judged again at the next poll.
            await tx.write(NEWS_AGAIN, (key.carrier, key.number))
        return not rows or bool(rows[0][0])

    async def remove(self, chat: ChatRef, key: ShipmentKey) -> bool:
        """Delete the subscription; True when there was one."""
        changed = await self._conn.write(
            "DELETE FROM subscriptions WHERE chat_key = ? AND carrier = ? AND number = ?",
            (chat.chat_key, key.carrier, key.number),
        )
        return changed > 0

    async def get(self, chat: ChatRef, key: ShipmentKey) -> Subscription | None:
        """The chat's subscription to the parcel (active or archived), or None."""
        rows = await self._conn.read(
            _SELECT + "WHERE s.chat_key = ? AND s.carrier = ? AND s.number = ?",
            (chat.chat_key, key.carrier, key.number),
        )
        return subscription_from_row(rows[0]) if rows else None

    async def update(self, subscription: Subscription) -> None:
        """Overwrite label, preference, muted and archived of an existing subscription.

        Does nothing when the chat does not follow the parcel.
        """
        key = subscription.key
        async with self._conn.transaction() as tx:
            changed = await tx.write(
                "UPDATE subscriptions SET label = ?, preference = ?, muted = ?, archived = ? "
                "WHERE chat_key = ? AND carrier = ? AND number = ?",
                (
                    subscription.label,
                    None if subscription.preference is None else subscription.preference.value,
                    int(subscription.muted),
                    int(subscription.archived),
                    subscription.chat.chat_key,
                    key.carrier,
                    key.number,
                ),
            )
            if changed and not subscription.archived:
                # Possibly following again: judged again at the next poll.
                await tx.write(NEWS_AGAIN, (key.carrier, key.number))

    async def tell(self, chat: ChatRef, key: ShipmentKey, told: EtaTold) -> None:
        """Remember what the chat has now been told about the parcel's arrival.

        Does nothing when the chat does not follow the parcel.
        """
        await self.tell_many([(chat, key, told)])

    async def tell_many(self, items: Sequence[tuple[ChatRef, ShipmentKey, EtaTold]]) -> None:
        """``tell`` for many (chat, parcel) pairs in one transaction (one round trip on
        PostgreSQL, where a poll cycle's hundreds of single writes were most of its time)."""
        if not items:
            return
        rows = []
        # A poll cycle tells chats about a thousand parcels at a time: encoded in slices.
        breathe = Breather()
        for chat, key, told in items:
            await breathe()
            rows.append(
                (
                    told.first_latest.isoformat(),
                    told.day.isoformat(),
                    time_to_text(told.at),
                    int(told.late),
                    chat.chat_key,
                    key.carrier,
                    key.number,
                )
            )

        async def work(tx: Tx) -> None:
            await tx.write_many(_TELL, rows)

        await self._conn.run_transaction(work)

    async def for_chat(self, chat: ChatRef, *, include_archived: bool = True) -> list[Subscription]:
        """The chat's subscriptions, newest first."""
        rows = await self._conn.read(
            _SELECT + "WHERE s.chat_key = ? AND (? = 1 OR s.archived = 0) "
            "ORDER BY s.created_at DESC, s.id DESC",
            (chat.chat_key, int(include_archived)),
        )
        return [subscription_from_row(row) for row in rows]

    async def subscribers(
        self, keys: Sequence[ShipmentKey]
    ) -> dict[ShipmentKey, list[Subscription]]:
        """Active (not archived) subscriptions per parcel; parcels with none are absent."""
        if not keys:
            return {}
        rows = await self._conn.read(
            _SELECT + f"JOIN {self._conn.dialect.pairs} "
            "ON s.carrier = j.value ->> 0 "
            "AND s.number = j.value ->> 1 "
            "WHERE s.archived = 0 ORDER BY s.id",
            (json.dumps([[k.carrier, k.number] for k in keys], ensure_ascii=False),),
        )
        # Grouped under the caller's own key objects: a poll reads one row per parcel, and
        # identical keys make its later lookups cheaper.
        asked = {(key.carrier, key.number): key for key in keys}
        found: dict[ShipmentKey, list[Subscription]] = {}
        decoded = self._decoded
        # A poll cycle's alerting parcels can be thousands of rows: decoded in slices.
        breathe = Breather()
        if len(decoded) + len(rows) > self._decoded_limit:
            # Starting over frees every row and subscription the memo held, milliseconds of
            # work for a full one: a fresh memo takes its place at once, and the old one is
            # let go in slices.
            self._decoded = {}
            await let_go(decoded, breathe)
            decoded = self._decoded
        keep = self._decoded_limit > 0
        for row in rows:
            await breathe()
            # The same row (every column equal) decodes to an equal subscription: reuse it.
            subscription = decoded.get(row)
            if subscription is None:
                self._decode_misses += 1
                subscription = subscription_from_row(row)
                if keep:
                    decoded[row] = subscription
            else:
                self._decode_hits += 1
            key = asked.get((subscription.key.carrier, subscription.key.number))
            if key is None:
                key = subscription.key
            bucket = found.get(key)
            if bucket is None:
                found[key] = [subscription]
            else:
                bucket.append(subscription)
        return found

    def decode_stats(self) -> tuple[int, int]:
        """(rows ``subscribers`` found decoded already, rows it decoded)."""
        return self._decode_hits, self._decode_misses

    async def archive(self, key: ShipmentKey) -> int:
        """Archive every active subscription to the parcel; return how many."""
        return await self._conn.write(
            "UPDATE subscriptions SET archived = 1 "
            "WHERE carrier = ? AND number = ? AND archived = 0",
            (key.carrier, key.number),
        )

    async def count_active(self, key: ShipmentKey) -> int:
        """How many chats actively follow the parcel."""
        rows = await self._conn.read(
            "SELECT count(*) FROM subscriptions WHERE carrier = ? AND number = ? AND archived = 0",
            (key.carrier, key.number),
        )
        return int(rows[0][0])

    async def forget_chat(self, chat: ChatRef) -> int:
        """Delete everything stored about the chat; return how many rows went.

        That is its subscriptions (active and archived), its settings, its remembered carrier
        picks, its order links, every outbox row addressed to it (sent ones too: they hold
        its ids and the alerts it received) and, on Discord, where its alerts go. Parcels are
        handled by ``SqliteShipments.forget_unfollowed``.
        """
        chat_key = chat.chat_key
        removed = 0
        async with self._conn.transaction() as tx:
            for table in ("subscriptions", "chats", "carrier_picks", "outbox", "order_links"):
                # Table names come from the fixed tuple above, never from input.
                removed += await tx.write(
                    f"DELETE FROM {table} WHERE chat_key = ?",  # noqa: S608
                    (chat_key,),
                )
            if chat.platform is Platform.DISCORD and chat.user_id.isdigit():
                # Where the person's Discord alerts go (server channel, DM state).
                removed += await tx.write(
                    "DELETE FROM discord_members WHERE user_id = ?", (int(chat.user_id),)
                )
        return removed
