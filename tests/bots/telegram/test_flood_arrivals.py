"""One process's flood control, judged where Telegram counts: messages that reach the server
late never make a one-second window there hold more than 30, or a chat's more than one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bots.telegram_bot import SendLimits
from bots.telegram_bot.limiter import FloodControl
from tests.arrivals import ArrivalRecorder, most_in_window, most_per_key


async def test_messages_reach_telegram_within_the_global_and_chat_limits() -> None:
    recorder = ArrivalRecorder(late=0.5)
    base = await recorder.start()
    control = FloodControl(SendLimits())
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            def send(chat_id: int) -> Any:
                async def post() -> dict[str, Any]:
                    response = await http.post(f"/chat/{chat_id}")
                    return dict(response.json())

                return post

            # 40 chats, two messages each, all queued at once.
            await asyncio.gather(
                *(
                    control.process_request(
                        send(chat), (), {}, "sendMessage", {"chat_id": chat}, None
                    )
                    for _ in range(2)
                    for chat in range(40)
                )
            )
    finally:
        await recorder.close()
    assert len(recorder.arrivals) == 80
    assert most_in_window(recorder.times(), 1.0) <= 30
    assert max(most_per_key(recorder.arrivals, 1.0).values()) == 1
