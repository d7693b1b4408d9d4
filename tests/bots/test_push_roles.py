"""Pushes answered by one process and processed by another (the ``webhook`` and ``pushes``
roles) on one PostgreSQL database: the bot's own composition root twice, real HTTP."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bots.runtime import Runtime, _serves_webhooks, open_runtime
from bots.settings import Settings, load_settings
from core.models import AlertKind, ShipmentKey
from core.providers import seventeen_track
from storage.db import Database
from tests.core.test_pushes import NUMBER, PUSH_BODY, PUSH_KEY, follow_in, pushed_snapshot
from tests.fakes import chat
from tests.postgres import postgres_schema
from tests.workers.harness import wait_for

PARCEL = ShipmentKey("usps", NUMBER)


def _settings(url: str, roles: str, tmp_path: Path, **extra: object) -> Settings:
    return load_settings(
        database_url=url,
        db=str(tmp_path / "unused.sqlite3"),
        seventeen_track_api_key=PUSH_KEY,
        tracking_providers="17track",
        roles=roles,
        worker_name=roles,
        health_port=None,
        **extra,
    )


def test_only_the_pushes_role_processes_and_only_the_webhook_role_serves() -> None:
    assert not _serves_webhooks(load_settings(roles="pushes"))
    assert _serves_webhooks(load_settings(roles="webhook"))
    assert load_settings().role_set >= {"webhook", "pushes"}


async def test_a_push_answered_by_the_webhook_role_is_processed_by_the_pushes_role(
    tmp_path: Path,
) -> None:
    with postgres_schema() as url:
        async with AsyncExitStack() as stack:
            front: Runtime = await stack.enter_async_context(
                open_runtime(_settings(url, "webhook", tmp_path, webhook_port=0))
            )
            await follow_in(front.db, PARCEL)
            sign = seventeen_track.push_signature(PUSH_KEY, PUSH_BODY)
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"{front.webhook_url}/webhooks/17track",
                    content=PUSH_BODY,
                    headers={"sign": sign},
                )
            assert answer.json() == {"status": "accepted"}
            assert front.pushes is not None
            # Answered and stored, and left alone: nothing in this process processes it.
            await asyncio.sleep(0.5)
            assert await front.pushes.pending() == 1
            assert await _scans(front) == len(pushed_snapshot().events) - 1

            worker: Runtime = await stack.enter_async_context(
                open_runtime(_settings(url, "pushes", tmp_path))
            )
            assert worker.webhook_url == ""  # no server in the processing process

            async def processed() -> bool:
                return await _scans(front) == len(pushed_snapshot().events)

            assert await wait_for(processed, 20)
            assert await wait_for(lambda: _no_pending(front), 20)
        async with Database.open(url) as db:
            alerts = await db.outbox.due(datetime(2100, 1, 1, tzinfo=UTC), 10)
            # The pushed scan is news to the buyer (the clock is today's: it is old news too).
            assert {entry.chat for entry in alerts} == {chat("buyer")}
            assert AlertKind.MOVED in {entry.alert.kind for entry in alerts}


async def _scans(runtime: Runtime) -> int:
    stored = await runtime.db.shipments.get(PARCEL)
    return 0 if stored is None else len(stored.events)


async def _no_pending(runtime: Runtime) -> bool:
    assert runtime.pushes is not None
    return await runtime.pushes.pending() == 0


pytestmark = pytest.mark.timeout(120)
