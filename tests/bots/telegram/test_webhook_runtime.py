"""Telegram webhook mode end to end, composed as the bot composes it (``bots/runtime.py``).

The real runtime (sandbox provider, a SQLite file, the webhook server on 127.0.0.1) runs the
real PTB adapter against the fake Bot API over loopback HTTP. Updates are posted to the
webhook server the way Telegram posts them; the fake records what the bot sends back.

Nothing here waits on time: after a post, ``settled`` waits until PTB has handled every
queued update (``update_queue.join()``), and "nothing was sent" is shown by a later update
whose reply is the only one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bots.runtime import Runtime, open_runtime, open_telegram
from bots.settings import Settings, load_settings
from bots.telegram_bot import SECRET_HEADER, NotReceiving, TelegramAdapter
from core.clock import DemoClock
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi, iter_buttons

SECRET = "hook-Secret_0123456789"
PUBLIC_URL = "https://bot.example.com"
HOOK_URL = f"{PUBLIC_URL}/webhooks/telegram"
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
MAX_BODY = 1024 * 1024  # WebhookConfig.max_body, the server's limit
CHAT = 7070
OTHER_CHAT = 7171


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("PARCELBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def webhook_settings(api: FakeBotApi, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db": str(tmp_path / "parcelbot.sqlite3"),
        "telegram_token": TOKEN,
        "telegram_api_base_url": api.base_url,
        "telegram_webhook": True,
        "telegram_webhook_secret": SECRET,
        "public_url": PUBLIC_URL,
        "webhook_port": 0,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Bot:
    """The running runtime and adapter, and a client that posts to the webhook server."""

    runtime: Runtime
    adapter: TelegramAdapter
    client: httpx.AsyncClient

    @property
    def hook(self) -> str:
        return f"{self.runtime.webhook_url}/webhooks/telegram"

    async def post(
        self, body: bytes | dict[str, Any], *, secret: str | bytes | None = SECRET
    ) -> httpx.Response:
        """POST like Telegram: a JSON body and the secret header."""
        headers = [(b"Content-Type", b"application/json")]
        if secret is not None:
            raw = secret.encode() if isinstance(secret, str) else secret
            headers.append((SECRET_HEADER.encode(), raw))
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post(self.hook, content=content, headers=headers)

    async def settled(self) -> None:
        """Wait until PTB has handled every update queued so far (replies included)."""
        async with asyncio.timeout(10):
            await self.adapter.app.update_queue.join()

    async def health(self) -> dict[str, Any]:
        """What ``/ready`` shows a caller with the health token."""
        return self.runtime.ops_details()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
async def bot(api: FakeBotApi, tmp_path: Path, client: httpx.AsyncClient) -> AsyncIterator[Bot]:
    settings = webhook_settings(api, tmp_path)
    async with open_runtime(settings) as runtime, open_telegram(runtime, TOKEN) as adapter:
        yield Bot(runtime, adapter, client)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log lines at ERROR or above, or with a traceback attached."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info or record.levelno >= logging.ERROR
    ]


async def only_reply_is_to_the_next_update(bot: Bot, api: FakeBotApi) -> None:
    """Post a /track from OTHER_CHAT and show its reply is the only message sent so far."""
    answer = await bot.post(api.text_update(OTHER_CHAT, f"/track {NUMBER}"))
    assert answer.status_code == 200
    await bot.settled()
    sent = api.find("sendMessage")
    assert [int(call.params["chat_id"]) for call in sent] == [OTHER_CHAT]


# ----------------------------------------------------------------------------- start


async def test_start_registers_the_webhook_with_the_secret_and_never_polls(
    api: FakeBotApi, bot: Bot
) -> None:
    assert api.base_url.startswith("http://127.0.0.1:")
    assert bot.runtime.webhook_url.startswith("http://127.0.0.1:")
    assert bot.runtime.telegram_route is not None
    assert bot.runtime.telegram_route.target is bot.adapter

    (registered,) = api.find("setWebhook")
    assert registered.ok
    assert registered.params["url"] == HOOK_URL
    assert registered.params["secret_token"] == SECRET
    assert registered.params["allowed_updates"] == ["message", "callback_query"]
    assert api.webhook_url == HOOK_URL and api.webhook_secret == SECRET

    methods = [call.method for call in api.calls]
    assert methods[0] == "getMe" and methods[-1] == "setWebhook"
    assert "setMyCommands" in methods
    assert "getUpdates" not in methods and "deleteWebhook" not in methods
    assert bot.adapter.app.updater is None or not bot.adapter.app.updater.running


async def test_a_generated_secret_is_the_one_registered_and_checked(
    api: FakeBotApi, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    settings = webhook_settings(api, tmp_path, telegram_webhook_secret="")
    async with open_runtime(settings) as runtime, open_telegram(runtime, TOKEN) as adapter:
        bot = Bot(runtime, adapter, client)
        assert runtime.telegram_route is not None
        generated = runtime.telegram_route.secret
        assert len(generated) >= 32 and generated != SECRET
        assert api.webhook_secret == generated

        assert (await bot.post(api.text_update(CHAT, "/help"))).status_code == 401
        answer = await bot.post(api.text_update(CHAT, "/help"), secret=generated)
        assert answer.status_code == 200
        await bot.settled()
        assert len(api.sent(CHAT)) == 1


# -------------------------------------------------------------------------- messages


async def test_track_posted_to_the_webhook_gets_exactly_one_reply(
    api: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    update = api.text_update(CHAT, f"/track {NUMBER}")
    answer = await bot.post(update)
    assert answer.status_code == 200 and answer.json() == {"status": "processed"}
    await bot.settled()

    (reply,) = api.find("sendMessage")
    assert reply.ok and int(reply.params["chat_id"]) == CHAT
    assert f"UPS {NUMBER}" in reply.params["text"]
    assert "Label created" in reply.params["text"]
    card = api.last_message(CHAT)
    assert "Refresh" in [button["text"] for button in iter_buttons(card)]
    assert api.find("getUpdates") == []
    assert (await bot.health())["webhooks"]["telegram.processed"] == 1
    assert tracebacks(caplog) == []


async def test_refresh_button_pressed_via_webhook_edits_the_card(api: FakeBotApi, bot: Bot) -> None:
    assert (await bot.post(api.text_update(CHAT, f"/track {NUMBER}"))).status_code == 200
    await bot.settled()
    card = api.last_message(CHAT)
    refresh = next(b for b in iter_buttons(card) if b["text"] == "Refresh")

    clock = bot.runtime.clock
    assert isinstance(clock, DemoClock)
    clock.advance(timedelta(hours=6))  # the parcel gets its first scan
    mark = api.mark()
    press = api.callback_update(card, refresh["callback_data"])
    assert (await bot.post(press)).status_code == 200
    await bot.settled()

    (answered,) = api.find("answerCallbackQuery", after=mark)
    assert answered.params["callback_query_id"] == press["callback_query"]["id"]
    (edit,) = api.find("editMessageText", after=mark)
    assert edit.ok
    assert int(edit.params["chat_id"]) == CHAT
    assert edit.params["message_id"] == card["message_id"]
    assert "In transit" in edit.params["text"]
    assert api.find("sendMessage", after=mark) == []  # edited in place, not re-sent


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("hook-Secret_0123456788", id="wrong"),
        pytest.param(SECRET.lower(), id="wrong-case"),
        pytest.param(SECRET + "x", id="longer"),
        pytest.param(TOKEN.replace(":", "_"), id="the-bot-token"),
        pytest.param(b"\xff\xfe" + SECRET.encode(), id="not-utf8"),
    ],
)
async def test_wrong_or_missing_secret_is_refused_and_nothing_is_sent(
    api: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture, secret: str | bytes | None
) -> None:
    answer = await bot.post(api.text_update(CHAT, f"/track {NUMBER}"), secret=secret)
    assert answer.status_code == 401
    assert bot.adapter.app.update_queue.empty()
    await only_reply_is_to_the_next_update(bot, api)
    assert (await bot.health())["webhooks"]["telegram.forged"] == 1
    assert tracebacks(caplog) == []


def _nested(depth: int) -> bytes:
    return b'{"update_id": 5, "message": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"message": {"text": "/help"}}', id="no-update-id"),
        pytest.param(b'{"update_id": "5"}', id="update-id-string"),
        pytest.param(b'{"update_id": true}', id="update-id-bool"),
        pytest.param(_nested(100_000), id="nested-too-deep"),
    ],
)
async def test_malformed_body_is_400_without_a_traceback(
    api: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    answer = await bot.post(body)
    assert answer.status_code == 400 and answer.json() == {"error": "malformed body"}
    await only_reply_is_to_the_next_update(bot, api)
    assert tracebacks(caplog) == []


@pytest.mark.parametrize(
    "update",
    [
        pytest.param({"message": "text"}, id="message-not-an-object"),
        pytest.param({"message": {"chat": "nonsense"}}, id="message-without-fields"),
        pytest.param(
            {"message": {"message_id": 1, "date": 10**30, "chat": {"id": 1, "type": "private"}}},
            id="date-out-of-range",
        ),
        pytest.param({"callback_query": []}, id="callback-not-an-object"),
    ],
)
async def test_update_that_is_not_a_telegram_update_is_dropped_with_a_warning(
    api: FakeBotApi,
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    update: dict[str, Any],
) -> None:
    # JSON with an update_id: Telegram would only send it again, so it is taken and dropped.
    answer = await bot.post(api.new_update(**update))
    assert answer.status_code == 200
    assert "dropped a malformed Telegram update" in caplog.text
    await only_reply_is_to_the_next_update(bot, api)
    assert tracebacks(caplog) == []


async def test_oversized_body_is_413_and_nothing_is_sent(
    api: FakeBotApi, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    update = json.dumps(api.text_update(CHAT, f"/track {NUMBER}")).encode()
    too_big = update + b" " * (MAX_BODY + 1 - len(update))
    answer = await bot.post(too_big)
    assert answer.status_code == 413 and answer.json() == {"error": "body too large"}

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while reading too.
        yield update
        for _ in range(MAX_BODY // 65536 + 1):
            yield b" " * 65536

    streamed = await bot.client.post(
        bot.hook,
        content=chunks(),
        headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    await only_reply_is_to_the_next_update(bot, api)
    assert (await bot.health())["webhooks"]["telegram.refused"] == 2
    assert tracebacks(caplog) == []


async def test_large_update_within_the_limit_is_read_whole(api: FakeBotApi, bot: Bot) -> None:
    update = json.dumps(api.text_update(CHAT, f"/track {NUMBER}")).encode()
    padded = update[:-1] + b" " * (MAX_BODY - len(update)) + b"}"
    assert len(padded) == MAX_BODY
    answer = await bot.post(padded)
    assert answer.status_code == 200
    await bot.settled()
    (reply,) = api.find("sendMessage")
    assert f"UPS {NUMBER}" in reply.params["text"]


# ------------------------------------------------------------------- redelivery


async def test_the_same_update_posted_twice_is_handled_once(api: FakeBotApi, bot: Bot) -> None:
    update = api.text_update(CHAT, f"/track {NUMBER}")
    first = await bot.post(update)
    again = await bot.post(update)
    assert first.json() == {"status": "processed"}
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}

    # Telegram may also retry while the first delivery is still open.
    other = api.text_update(OTHER_CHAT, f"/track {NUMBER}")
    both = await asyncio.gather(bot.post(other), bot.post(other))
    assert sorted(answer.json()["status"] for answer in both) == ["duplicate", "processed"]
    await bot.settled()

    assert sorted(int(call.params["chat_id"]) for call in api.find("sendMessage")) == [
        CHAT,
        OTHER_CHAT,
    ]
    counts = (await bot.health())["webhooks"]
    assert counts["telegram.processed"] == 2 and counts["telegram.duplicate"] == 2


async def test_a_refused_update_is_not_remembered_as_seen(api: FakeBotApi, bot: Bot) -> None:
    update = api.text_update(CHAT, f"/track {NUMBER}")
    assert (await bot.post(update, secret="wrong")).status_code == 401
    assert (await bot.post(update)).json() == {"status": "processed"}
    await bot.settled()
    assert len(api.find("sendMessage")) == 1


# --------------------------------------------------------------------- shutdown


async def test_shutdown_keeps_the_webhook_and_a_restart_takes_redelivered_updates(
    api: FakeBotApi, tmp_path: Path, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    settings = webhook_settings(api, tmp_path)
    async with open_runtime(settings) as runtime:
        async with open_telegram(runtime, TOKEN) as adapter:
            bot = Bot(runtime, adapter, client)
            assert (await bot.post(api.text_update(CHAT, "/help"))).status_code == 200
            await bot.settled()
        stopped = api.mark()

        # The server still runs; with the adapter gone Telegram is told to come back later.
        late = api.text_update(OTHER_CHAT, f"/track {NUMBER}")
        refused = await bot.post(late)
        assert refused.status_code == 503
        assert runtime.telegram_route is not None and runtime.telegram_route.target is None
        # Stopping unregisters nothing: the webhook stays set for the next start.
        assert api.find("deleteWebhook") == [] and api.find("getUpdates") == []
        assert api.webhook_url == HOOK_URL
        assert api.calls[stopped:] == []

        async with open_telegram(runtime, TOKEN) as restarted:
            bot = Bot(runtime, restarted, client)
            assert len(api.find("setWebhook")) == 2
            answer = await bot.post(late)  # Telegram's redelivery
            assert answer.json() == {"status": "processed"}
            await bot.settled()
            (reply,) = api.sent(OTHER_CHAT)
            assert f"UPS {NUMBER}" in reply.params["text"]
    assert api.find("deleteWebhook") == []
    assert tracebacks(caplog) == []


async def test_update_arriving_while_stopping_is_refused_and_stop_finishes(
    api: FakeBotApi, tmp_path: Path, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    settings = webhook_settings(api, tmp_path)
    async with open_runtime(settings) as runtime, AsyncExitStack() as telegram:
        adapter = await telegram.enter_async_context(open_telegram(runtime, TOKEN))
        bot = Bot(runtime, adapter, client)
        gate = api.hold("sendMessage")
        assert (await bot.post(api.text_update(CHAT, f"/track {NUMBER}"))).status_code == 200
        await api.wait_held("sendMessage")  # the handler is now in the middle of replying

        stopping = asyncio.create_task(telegram.aclose())
        for _ in range(100):
            if not adapter.app.running:
                break
            await asyncio.sleep(0)
        assert not adapter.app.running and not stopping.done()

        late = api.text_update(OTHER_CHAT, f"/track {NUMBER}")
        assert (await bot.post(late)).status_code == 503
        # The route is detached first, and the adapter refuses as well: queued now, PTB would
        # drop the update unhandled after the server had answered 200 for it.
        with pytest.raises(NotReceiving):
            await adapter.feed_update(late)

        gate.set()
        async with asyncio.timeout(10):
            await stopping
        # The update that was being handled got its reply before the adapter stopped.
        (reply,) = api.find("sendMessage")
        assert int(reply.params["chat_id"]) == CHAT and reply.ok
    assert tracebacks(caplog) == []
