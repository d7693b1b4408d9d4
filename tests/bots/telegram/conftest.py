"""Fixtures for the Telegram adapter: a fake Bot API and the real PTB application on top."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from bots.telegram_bot import SendLimits, TelegramAdapter, build_adapter
from core.commands import COMMANDS, CommandSpec
from core.errors import InvalidInput
from core.models import ChatRef
from core.replies import Reply
from tests.bots.telegram.fake_bot_api import TOKEN, FakeBotApi, NoCommands

# Opt in to PTB's timedelta durations before anything reads RetryAfter.retry_after.
os.environ.setdefault("PTB_TIMEDELTA", "1")

FAST_LIMITS = SendLimits(global_rate=0, chat_interval=0.0, group_rate=0)
"""Flood control that never waits in functional tests (spacing has its own tests)."""

Script = Callable[[ChatRef, list[str]], Awaitable[list[Reply]]]


@dataclass
class RecordingRouter(NoCommands):
    """A stand-in for ``CommandRouter``: records calls and answers from a script (English
    only, as ``NoCommands``)."""

    scripts: dict[str, Script] = field(default_factory=dict)
    calls: list[tuple[ChatRef, str, list[str]]] = field(default_factory=list)
    specs: Mapping[str, CommandSpec] = field(
        default_factory=lambda: {spec.name: spec for spec in COMMANDS}
    )

    async def run(self, chat: ChatRef, name: str, args: Sequence[str]) -> list[Reply]:
        self.calls.append((chat, name, list(args)))
        script = self.scripts.get(name)
        if script is None:
            raise InvalidInput(f"I don't know the command /{name}.")
        return await script(chat, list(args))

    async def handle_text(self, chat: ChatRef, text: str) -> list[Reply]:
        self.calls.append((chat, "<text>", [text]))
        return await self.scripts["<text>"](chat, [text])


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    async with fake.serve():
        yield fake


@pytest.fixture
def fake_router() -> RecordingRouter:
    return RecordingRouter()


@pytest.fixture
async def memory_bot(
    api: FakeBotApi, fake_router: RecordingRouter
) -> AsyncIterator[TelegramAdapter]:
    """The real application over the in-memory transport, polling the fake."""
    adapter = build_adapter(
        TOKEN,
        fake_router,
        base_url="http://fake.invalid/bot",
        request=api.request(),
        get_updates_request=api.request(),
        limits=FAST_LIMITS,
        poll_timeout=1.0,
    )
    async with adapter:
        yield adapter
