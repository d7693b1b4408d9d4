"""Claims on the seen-notification table, on both backends: of several callers on separate
connections (as webhook front ends in separate processes), exactly one takes an id; a
forgotten claim can be taken again."""

from __future__ import annotations

import asyncio
import contextlib

from storage.db import Database
from tests.storage.helpers import T0


async def test_one_of_several_connections_claims_an_update(
    store: Database, store_location: str
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        others = [await stack.enter_async_context(Database.open(store_location)) for _ in range(3)]
        every = [store, *others]
        for update_id in ("1", "2", "3"):
            won = await asyncio.gather(
                *(db.webhook_seen.claim("telegram", update_id, T0) for db in every)
            )
            assert sorted(won) == [False, False, False, True]
    assert await store.webhook_seen.seen("telegram", "2")
    await store.webhook_seen.forget("telegram", "2")
    assert not await store.webhook_seen.seen("telegram", "2")
    assert await store.webhook_seen.claim("telegram", "2", T0)
    assert not await store.webhook_seen.claim("telegram", "2", T0)
