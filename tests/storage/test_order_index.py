"""The tracking number → order index on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import IndexedParcel, OrderId, TrackingNumber
from storage.db import Database

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def parcel(number: str, order: str = "576000000000000001", **changes: str) -> IndexedParcel:
    fields = {"carrier": "usps", "shop_id": "shop-1", "package_id": "pkg-1", **changes}
    return IndexedParcel(
        TrackingNumber(number),
        fields["carrier"],
        fields["shop_id"],
        OrderId(order),
        fields["package_id"],
        T0,
    )


async def test_upsert_returns_the_new_numbers_and_known_agrees(db: Database) -> None:
    index = db.order_index
    assert await index.known(["9400111206206406260787"]) == set()
    assert await index.upsert([parcel("9400111206206406260787"), parcel("1Z5R89390357567127")]) == [
        "9400111206206406260787",
        "1Z5R89390357567127",
    ]
    later = parcel("9400111206206406260787", "576000000000000002", carrier="", package_id="")
    assert await index.upsert([later, parcel("771200000041")]) == ["771200000041"]
    assert await index.known(["771200000041", "1Z5R89390357567127", "UNKNOWN1"]) == {
        "771200000041",
        "1Z5R89390357567127",
    }
    assert await index.known([]) == set()

    found = await index.find("9400111206206406260787")
    assert found is not None
    # The newer order wins; an empty carrier or package id never replaces a known one.
    assert (found.order_id, found.carrier, found.package_id) == (
        "576000000000000002",
        "usps",
        "pkg-1",
    )
    assert await index.find("UNKNOWN1") is None
    assert await index.count() == 3
    assert found.updated_at == T0
