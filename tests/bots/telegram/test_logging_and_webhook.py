"""The token never reaches a log line; webhook mode feeds updates without polling."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bots.telegram_bot import (
    TelegramAdapter,
    WebhookConfig,
    build_adapter,
    check_webhook_secret,
    install_redaction,
)
from core.commands import CommandRouter
from core.models import ChatRef
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from core.replies import Reply
from core.service import ParcelService
from tests.bots.telegram.conftest import FAST_LIMITS, RecordingRouter
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.fakes import FakeClock

CHAT = 6060
NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]
SECRET_PART = TOKEN.partition(":")[2]


async def test_token_never_appears_in_any_log_line(
    api: FakeBotApi,
    router: CommandRouter,
    service: ParcelService,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http_loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    adapter = build_adapter(
        TOKEN, router, base_url=api.base_url, limits=FAST_LIMITS, poll_timeout=1.0
    )
    try:
        async with adapter:
            assert all(lg.level == logging.WARNING for lg in http_loggers)
            # Someone turns httpx back on: the redactor is the second line of defence.
            logging.getLogger("httpx").setLevel(logging.DEBUG)
            api.fail_next("sendMessage", 429, retry_after=0.05)
            api.push_text(CHAT, f"/subscribe {NUMBER}")
            api.push_text(CHAT, "/nonsense")
            await api.wait_count("sendMessage", 2)
            clock.advance(timedelta(hours=8))
            await service.refresh.poll_due()
            await service.flush_outbox(adapter.sender)
            logging.getLogger("elsewhere").warning("calling %s", f"{api.base_url}{TOKEN}/getMe")
            try:
                raise RuntimeError(f"request to /bot{TOKEN}/sendMessage failed")
            except RuntimeError:
                logging.getLogger("elsewhere").exception("boom")
    finally:
        for lg in http_loggers:
            lg.setLevel(logging.NOTSET)
    messages = [record.getMessage() for record in caplog.records]
    assert any("getUpdates" in message for message in messages)  # httpx URLs were logged
    assert any("Telegram asked to wait" in message for message in messages)
    assert len(caplog.records) > 20
    leaks = [m for m in messages if TOKEN in m or SECRET_PART in m]
    assert leaks == []
    assert TOKEN not in caplog.text and SECRET_PART not in caplog.text
    assert "<redacted>" in caplog.text
    assert "RuntimeError: request to /bot<redacted>/sendMessage failed" in caplog.text


async def test_redaction_is_undone_on_stop(caplog: pytest.LogCaptureFixture) -> None:
    undo = install_redaction("s3cret-value")
    logging.getLogger("x").warning("value=%s", "s3cret-value")
    undo()
    logging.getLogger("x").warning("value=%s", "s3cret-value")
    assert [r.getMessage() for r in caplog.records] == [
        "value=<redacted>",
        "value=s3cret-value",
    ]


async def test_unexpected_error_with_token_in_it_is_redacted_in_the_traceback(
    api: FakeBotApi, fake_router: RecordingRouter, memory_bot: TelegramAdapter,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    async def broken(chat: ChatRef, args: list[str]) -> list[Reply]:
        raise OSError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")

    fake_router.scripts["list"] = broken
    api.push_text(CHAT, "/list")
    sent = await api.wait_for("sendMessage")
    assert TOKEN not in sent.params["text"] and "api.telegram.org" not in sent.params["text"]
    assert "OSError: cannot reach https://api.telegram.org/bot<redacted>/getMe" in caplog.text
    assert SECRET_PART not in caplog.text


async def test_webhook_mode_registers_and_feeds_updates(
    api: FakeBotApi, fake_router: RecordingRouter
) -> None:
    async def help_(chat: ChatRef, args: list[str]) -> list[Reply]:
        return [Reply("What I can do", ("/track <number>",))]

    fake_router.scripts["help"] = help_
    hook = WebhookConfig(url="https://bot.example/telegram", secret="s3cret-hook")
    adapter = build_adapter(
        TOKEN,
        fake_router,
        base_url="http://fake.invalid/bot",
        request=api.request(),
        webhook=hook,
        limits=FAST_LIMITS,
    )
    async with adapter:
        assert api.webhook_url == hook.url and api.webhook_secret == hook.secret
        assert adapter.check_secret("s3cret-hook")
        assert not adapter.check_secret("s3cret-hooK") and not adapter.check_secret(None)
        await adapter.feed_update(api.text_update(CHAT, "/help"))
        sent = await api.wait_for("sendMessage")
        assert "What I can do" in sent.params["text"]
    assert api.find("getUpdates") == []
    assert not check_webhook_secret("", "")


async def test_malformed_webhook_update_is_dropped(
    api: FakeBotApi, fake_router: RecordingRouter, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = build_adapter(
        TOKEN,
        fake_router,
        base_url="http://fake.invalid/bot",
        request=api.request(),
        webhook=WebhookConfig(url="https://bot.example/telegram", secret="s"),
        limits=FAST_LIMITS,
    )
    async with adapter:
        await adapter.feed_update({"update_id": 1, "message": {"chat": "nonsense"}})
    assert "dropped a malformed Telegram update" in caplog.text
    assert fake_router.calls == []
