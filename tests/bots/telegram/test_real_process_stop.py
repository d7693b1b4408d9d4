"""The real ``parcelbot run`` process on a loopback fake Bot API, stopped with SIGTERM while an
alert is on its way: the send finishes and is marked before the process exits, cleanly."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from pathlib import Path

from core.models import (
    ChatRef,
    Platform,
)
from storage.db import Database
from tests.bots.processes import start_bot
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.outbox_helpers import queue_alerts

CHAT = 4242


async def _seed(path: Path) -> None:
    async with Database.open(path) as db:
        who = ChatRef(Platform.TELEGRAM, str(CHAT), str(CHAT))
        await queue_alerts(db, [who], 2, datetime.now(UTC))


async def test_sigterm_finishes_the_send_in_flight_and_exits_cleanly(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    await _seed(database)
    api = FakeBotApi()
    gate = api.hold("sendMessage")
    async with api.serve():
        process = await start_bot(
            tmp_path,
            PARCELBOT_TELEGRAM_TOKEN=TOKEN,
            PARCELBOT_DB=str(database),
            PARCELBOT_POLL_INTERVAL="3600",
            PARCELBOT_LOG_LEVEL="INFO",
            PARCELBOT_TELEGRAM_API_BASE_URL=api.base_url,
        )
        try:
            # The first alert is at the platform, not yet answered, when the stop comes.
            await api.wait_held("sendMessage", within=60)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            gate.set()
            _out, err = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = err.decode()
    assert process.returncode == 0, log[-3000:]
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    assert len(api.sent(CHAT)) == 1
    async with Database.open(database) as db:
        # Marked before the exit: a restart sends only the alert that never left.
        assert await db.outbox.pending_count() == 1
