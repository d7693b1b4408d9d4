"""Two Telegram webhook front ends behind one URL: two real ``parcelbot run`` processes with
the role ``telegram`` in webhook mode on one PostgreSQL database, against the fake Bot API
over loopback. A load balancer hands each some of the updates, and Telegram, retrying, posts
some updates to both: every update is answered exactly once."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from bots.telegram_bot import SECRET_HEADER
from tests.bots.processes import start_bot
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.postgres import postgres_schema

SECRET = "fronts-Secret_0123456789"
CHATS = [9100 + n for n in range(12)]
TWICE = set(CHATS[:4])
"""Chats whose update is posted to both front ends."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _post(http: httpx.AsyncClient, port: int, update: dict[str, Any]) -> None:
    """Post like Telegram, and like Telegram try again while the front end is not up yet
    (connection refused) or not ready for updates (503)."""
    hook = f"http://127.0.0.1:{port}/webhooks/telegram"
    body = json.dumps(update).encode()
    headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
    deadline = time.monotonic() + 90
    while True:
        try:
            answer = await http.post(hook, content=body, headers=headers)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"front end on {port} never took the update"
        await asyncio.sleep(0.2)


async def test_two_front_ends_answer_every_update_once(tmp_path: Path) -> None:
    api = FakeBotApi()
    ports = [_free_port(), _free_port()]
    with postgres_schema() as url:
        async with api.serve(), httpx.AsyncClient(timeout=30) as http:
            fronts = [
                await start_bot(
                    tmp_path,
                    PARCELBOT_DATABASE_URL=url,
                    PARCELBOT_ROLES="telegram",
                    PARCELBOT_WORKER_NAME=f"front{index}",
                    PARCELBOT_TELEGRAM_TOKEN=TOKEN,
                    PARCELBOT_TELEGRAM_API_BASE_URL=api.base_url,
                    PARCELBOT_TELEGRAM_WEBHOOK="true",
                    PARCELBOT_TELEGRAM_WEBHOOK_SECRET=SECRET,
                    PARCELBOT_PUBLIC_URL="https://bot.example.com",
                    PARCELBOT_WEBHOOK_PORT=str(port),
                    PARCELBOT_HEALTH_PORT="",
                    PARCELBOT_LOG_LEVEL="WARNING",
                )
                for index, port in enumerate(ports)
            ]
            try:
                posts = []
                for turn, chat_id in enumerate(CHATS):
                    update = api.text_update(chat_id, "/help")
                    targets = ports if chat_id in TWICE else [ports[turn % 2]]
                    posts += [_post(http, port, update) for port in targets]
                await asyncio.gather(*posts)
                # Then one more update to each front end, answered after everything before it
                # was: a duplicate answer would have been sent by now.
                last = [9900, 9901]
                for chat_id, port in zip(last, ports, strict=True):
                    await _post(http, port, api.text_update(chat_id, "/help"))
                deadline = time.monotonic() + 60
                while not all(api.sent(chat_id) for chat_id in [*CHATS, *last]):
                    assert time.monotonic() < deadline, "not every update was answered"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)
            finally:
                for front in fronts:
                    if front.returncode is None:
                        front.terminate()
                outputs = [await asyncio.wait_for(front.communicate(), 30) for front in fronts]
    logs = "\n".join(err.decode(errors="replace")[-2000:] for _out, err in outputs)
    assert all(front.returncode == 0 for front in fronts), logs
    assert "Traceback" not in logs, logs
    answers = {chat_id: len(api.sent(chat_id)) for chat_id in CHATS}
    assert answers == dict.fromkeys(CHATS, 1)
