"""The alert sender (``Notifier``) and flood control, against the fake Bot API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram import Bot
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bots.telegram_bot import (
    FloodControl,
    MemoryGroupSwitch,
    SendLimits,
    TelegramAdapter,
    TelegramSender,
)
from bots.telegram_bot.render import CallbackCodec
from core.models import ChatRef, Platform
from core.ports import ChatUnreachable
from core.replies import Button, Reply
from tests.bots.telegram.conftest import FAST_LIMITS
from tests.bots.telegram.fake_bot_api import BOT_USERNAME, TOKEN, FakeBotApi, FloodLimits

ALERT = Reply(
    "Delivered", ("Left at the front door",), buttons=(Button("Timeline", "history", ("1Z",)),)
)


def _chat(chat_id: int) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(chat_id), str(abs(chat_id)), is_group=chat_id < 0)


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[ExtBot[int]]:
    return_bot: ExtBot[int] = ExtBot(
        TOKEN,
        base_url="http://fake.invalid/bot",
        request=api.request(),
        rate_limiter=FloodControl(FAST_LIMITS),
    )
    async with return_bot:
        yield return_bot


def _sender(bot: Bot, switch: MemoryGroupSwitch | None = None) -> TelegramSender:
    return TelegramSender(bot, CallbackCodec(), username=lambda: BOT_USERNAME, group_switch=switch)


async def test_alert_is_posted_with_its_keyboard(api: FakeBotApi, bot: ExtBot[int]) -> None:
    await _sender(bot).send(_chat(77), ALERT)
    (call,) = api.sent(77)
    assert "<b>🔔" not in call.params["text"]  # an INFO reply has no bell
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/history 1Z"


async def test_flood_answer_is_waited_out_then_sent(api: FakeBotApi, bot: ExtBot[int]) -> None:
    api.fail_next("sendMessage", 429, retry_after=0.25)
    await _sender(bot).send(_chat(77), ALERT)
    refused, delivered = api.find("sendMessage")
    assert refused.status == 429 and delivered.ok
    assert delivered.at - refused.at >= 0.25


async def test_long_flood_wait_becomes_a_retry_later(api: FakeBotApi, bot: ExtBot[int]) -> None:
    api.fail_next("sendMessage", 429, retry_after=3600)
    with pytest.raises(ChatUnreachable) as caught:
        await _sender(bot).send(_chat(77), ALERT)
    assert not caught.value.permanent and caught.value.retry_after == 3600


async def test_blocked_and_vanished_chats_are_permanent(api: FakeBotApi, bot: ExtBot[int]) -> None:
    api.blocked_chats.add(77)
    with pytest.raises(ChatUnreachable) as blocked:
        await _sender(bot).send(_chat(77), ALERT)
    assert blocked.value.permanent
    api.fail_next("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(ChatUnreachable) as gone:
        await _sender(bot).send(_chat(78), ALERT)
    assert gone.value.permanent


async def test_network_failure_is_temporary(api: FakeBotApi, bot: ExtBot[int]) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway")
    with pytest.raises(ChatUnreachable) as caught:
        await _sender(bot).send(_chat(77), ALERT)
    assert not caught.value.permanent and caught.value.retry_after > 0


async def test_groups_get_no_private_alerts_and_nothing_when_switched_off(
    api: FakeBotApi, bot: ExtBot[int]
) -> None:
    switch = MemoryGroupSwitch()
    sender = _sender(bot, switch)
    secret = Reply("Order 5760001", ("Signed by Jane Doe",), private=True)
    await sender.send(_chat(-100), secret)
    (note,) = api.sent(-100)
    assert "Jane" not in note.params["text"] and "5760001" not in note.params["text"]
    await switch.set_replies_off("-100", True)
    await sender.send(_chat(-100), ALERT)
    assert len(api.sent(-100)) == 1


async def test_other_platforms_are_refused(bot: ExtBot[int]) -> None:
    with pytest.raises(ChatUnreachable):
        await _sender(bot).send(ChatRef(Platform.DISCORD, "1", "1"), ALERT)


async def test_sender_of_a_running_adapter(api: FakeBotApi, memory_bot: TelegramAdapter) -> None:
    await memory_bot.sender.send(_chat(-5), Reply("Order", ("x",), private=True))
    (note,) = api.sent(-5)
    assert f"t.me/{BOT_USERNAME}" in str(note.params["reply_markup"])


async def test_flood_control_spaces_one_chat_and_caps_the_total() -> None:
    api = FakeBotApi(flood_limits=FloodLimits(global_rate=5, period=0.2, chat_interval=0.1))
    limits = SendLimits(global_rate=5, period=0.2, chat_interval=0.1, margin=0.01)
    bot: ExtBot[int] = ExtBot(
        TOKEN, base_url="http://x/bot", request=api.request(), rate_limiter=FloodControl(limits)
    )
    async with bot:
        sender = _sender(bot)
        # Three messages to one chat, and ten to ten others, all at once.
        await asyncio.gather(
            *(sender.send(_chat(1), ALERT) for _ in range(3)),
            *(sender.send(_chat(100 + i), ALERT) for i in range(10)),
        )
    assert api.flood_rejections == 0
    times = [call.at for call in api.sent(1)]
    assert len(times) == 3
    assert all(later - earlier >= 0.1 for earlier, later in itertools.pairwise(times))
    every = sorted(call.at for call in api.sent())
    assert len(every) == 13
    # No 0.2 s window holds more than five messages.
    assert all(every[i + 5] - every[i] >= 0.2 for i in range(len(every) - 5))


async def test_a_request_holds_its_place_in_the_global_window_until_a_period_after_it_ended() -> (
    None
):
    """Telegram counted a request at some point before it answered, so under a limit of two per
    0.1 s the third of four requests with 0.3 s round trips starts 0.1 s after the first ended
    (not 0.1 s after it started, which would let it arrive with the second)."""
    limits = SendLimits(global_rate=2, period=0.1, chat_interval=0.0, margin=0.0, pace=1.0)
    control = FloodControl(limits)
    loop = asyncio.get_running_loop()
    spans: list[tuple[float, float]] = []

    async def slow_send() -> bool:
        start = loop.time()
        await asyncio.sleep(0.3)
        spans.append((start, loop.time()))
        return True

    await asyncio.gather(
        *(
            control.process_request(slow_send, (), {}, "sendMessage", {"chat_id": i}, None)
            for i in range(4)
        )
    )
    starts = sorted(start for start, _ in spans)
    ends = sorted(end for _, end in spans)
    assert starts[1] < ends[0]  # two at once: the limit is two
    assert starts[2] >= ends[0] + 0.1 and starts[3] >= ends[1] + 0.1


async def test_retry_after_about_one_chat_pauses_only_that_chat() -> None:
    control = FloodControl(SendLimits(global_rate=0, chat_interval=0.05, chat_margin=0.0))
    loop = asyncio.get_running_loop()
    order: list[tuple[int, float]] = []
    refused = False

    def send(n: int) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def call() -> bool:
            nonlocal refused
            if n == 0 and not refused:
                refused = True
                raise RetryAfter(timedelta(seconds=0.3))
            order.append((n, loop.time()))
            return True

        return call

    started = loop.time()
    first = asyncio.create_task(
        control.process_request(send(0), (), {}, "sendMessage", {"chat_id": 9}, None)
    )
    await asyncio.sleep(0.05)  # the refusal has arrived
    await asyncio.gather(
        first,
        *(control.process_request(send(n), (), {}, "sendMessage", {"chat_id": 9}, None)
          for n in range(1, 3)),
        control.process_request(send(7), (), {}, "sendMessage", {"chat_id": 8}, None),
    )  # fmt: skip
    # The other chat went first; the refused chat waited out its pause, in order.
    assert [n for n, _ in order] == [7, 0, 1, 2]
    assert order[0][1] - started < 0.3  # the other chat did not wait out the pause
    assert all(at - started >= 0.3 for n, at in order if n != 7)
    times = [at for n, at in order if n != 7]
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(times))
    assert control.retries == 1


async def test_refusals_about_many_chats_at_once_pause_everyone() -> None:
    limits = SendLimits(global_rate=0, chat_interval=0.0, global_429_chats=3)
    control = FloodControl(limits)
    loop = asyncio.get_running_loop()
    refused: set[int] = set()
    done: dict[int, float] = {}

    def send(n: int) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def call() -> bool:
            if n < 3 and n not in refused:
                refused.add(n)
                raise RetryAfter(timedelta(seconds=0.3))
            done[n] = loop.time()
            return True

        return call

    started = loop.time()
    await asyncio.gather(
        *(control.process_request(send(n), (), {}, "sendMessage", {"chat_id": n}, None)
          for n in range(3))
    )  # fmt: skip
    # A chat never refused now waits too: the bot as a whole is over the limit.
    await control.process_request(send(50), (), {}, "sendMessage", {"chat_id": 50}, None)
    assert done[50] - started >= 0.3


async def test_answers_to_people_go_ahead_of_queued_alerts() -> None:
    api = FakeBotApi()
    limits = SendLimits(global_rate=10, period=1.0, chat_interval=0.0, group_rate=0)
    bot: ExtBot[int] = ExtBot(
        TOKEN, base_url="http://x/bot", request=api.request(), rate_limiter=FloodControl(limits)
    )
    async with bot:
        sender = _sender(bot)
        alerts = [asyncio.create_task(sender.send(_chat(100 + i), ALERT)) for i in range(20)]
        await api.wait_count("sendMessage", 2)
        await bot.send_message(5, "your answer")
        await asyncio.gather(*alerts)
    order = [int(call.params["chat_id"]) for call in api.sent()]
    # Twenty alerts were waiting; the answer went out within a slot or two, not 21st.
    assert order.index(5) <= 4
