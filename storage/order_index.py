"""The shop's tracking number → order index (TikTok Shop cannot search orders by number).

Kept current from order webhooks and periodic order searches. It holds no personal data:
numbers, carriers and ids only.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.models import IndexedParcel, OrderId, TrackingNumber
from storage.codec import time_from_text, time_to_text
from storage.sql import Connection

__all__ = ["SqliteOrderIndex"]

_SELECT = "SELECT number, carrier, shop_id, order_id, package_id, updated_at FROM order_index "


def _row(row: Sequence[object]) -> IndexedParcel:
    number, carrier, shop_id, order_id, package_id, updated_at = row
    return IndexedParcel(
        number=TrackingNumber(str(number)),
        carrier=str(carrier),
        shop_id=str(shop_id),
        order_id=OrderId(str(order_id)),
        package_id=str(package_id),
        updated_at=time_from_text(str(updated_at)),
    )


def _select_known(numbers: Sequence[str]) -> tuple[str, list[str]]:
    marks = ",".join("?" * len(numbers))
    # Only "?" placeholders are formatted in; the values stay parameters.
    return f"SELECT number FROM order_index WHERE number IN ({marks})", list(numbers)  # noqa: S608


def _known(rows: Sequence[Sequence[object]]) -> set[str]:
    return {str(row[0]) for row in rows}


class SqliteOrderIndex:
    """The index on SQLite; one row per tracking number."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def upsert(self, entries: Sequence[IndexedParcel]) -> list[TrackingNumber]:
        """Add or update rows (an empty carrier or package id never replaces a known one);
        return the numbers that were not in the index before, in the order given."""
        if not entries:
            return []
        latest = {entry.number: entry for entry in entries}
        numbers = list(latest)
        async with self._conn.transaction() as tx:
            known = _known(await tx.read(*_select_known(numbers)))
            await tx.write_many(
                "INSERT INTO order_index (number, carrier, shop_id, order_id, package_id, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET "
                "carrier = CASE WHEN excluded.carrier = '' THEN carrier ELSE excluded.carrier END, "
                "shop_id = excluded.shop_id, order_id = excluded.order_id, "
                "package_id = CASE WHEN excluded.package_id = '' THEN package_id "
                "ELSE excluded.package_id END, updated_at = excluded.updated_at",
                [
                    (
                        e.number,
                        e.carrier,
                        e.shop_id,
                        e.order_id,
                        e.package_id,
                        time_to_text(e.updated_at),
                    )
                    for e in latest.values()
                ],
            )
        return [number for number in numbers if number not in known]

    async def known(self, numbers: Sequence[str]) -> set[str]:
        """The numbers among ``numbers`` that the index holds."""
        if not numbers:
            return set()
        return _known(await self._conn.read(*_select_known(numbers)))

    async def find(self, number: str) -> IndexedParcel | None:
        """The order a tracking number ships, or None."""
        rows = await self._conn.read(_SELECT + "WHERE number = ?", (number,))
        return _row(rows[0]) if rows else None

    async def for_order(self, order_id: str) -> list[IndexedParcel]:
        """Every indexed number of an order."""
        rows = await self._conn.read(_SELECT + "WHERE order_id = ? ORDER BY number", (order_id,))
        return [_row(row) for row in rows]

    async def count(self) -> int:
        rows = await self._conn.read("SELECT count(*) FROM order_index")
        return int(rows[0][0]) if rows else 0
