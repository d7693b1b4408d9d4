"""Property: whatever sequence of snapshots is saved, the stored parcel is the last snapshot
with the union of every reported event, each stored once, oldest first."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import Shipment, Status, TrackingEvent
from storage.db import Database
from tests.storage.helpers import T0, key, shipment, write

events = st.builds(
    TrackingEvent,
    time=st.integers(0, 5).map(lambda h: T0 + timedelta(hours=h)),
    status=st.sampled_from([Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.EXCEPTION]),
    description=st.sampled_from(["Arrived", "Departed", "Held – ü 住所"]),
    location=st.sampled_from(["", "Hub A"]),
)
snapshots = st.builds(
    lambda evs, status, hours: shipment(
        events=tuple(evs), status=status, checked_at=T0 + timedelta(hours=hours)
    ),
    st.lists(events, max_size=6),
    st.sampled_from(list(Status)),
    st.integers(0, 48),
)


def expected(saved: list[Shipment]) -> Shipment:
    seen: dict[tuple[object, ...], tuple[int, TrackingEvent]] = {}
    for snapshot in saved:
        for event in snapshot.events:
            identity = (event.time, event.description, event.status)
            seen.setdefault(identity, (len(seen), event))
    history = sorted(seen.values(), key=lambda item: (item[1].time, item[0]))
    return replace(saved[-1], events=tuple(e for _, e in history), first_seen=saved[0].checked_at)


@settings(max_examples=40, deadline=None)
@given(st.lists(snapshots, min_size=1, max_size=5), st.booleans())
def test_stored_parcel_is_last_snapshot_plus_all_history(
    tmp_path_factory: pytest.TempPathFactory, saved: list[Shipment], one_batch: bool
) -> None:
    path = tmp_path_factory.mktemp("prop") / "parcelbot.sqlite3"

    async def run() -> Shipment | None:
        async with Database.open(path) as db:
            for snapshot in saved[: len(saved) // 2]:
                await db.shipments.save_many([write(snapshot)])
        # The rest comes through a new connection that remembers nothing, in one batch or not.
        async with Database.open(path) as db:
            rest = saved[len(saved) // 2 :]
            if one_batch:
                await db.shipments.save_many([write(s) for s in rest])
            else:
                for snapshot in rest:
                    await db.shipments.save_many([write(snapshot)])
            return await db.shipments.get(key())

    assert asyncio.run(run()) == expected(saved)
