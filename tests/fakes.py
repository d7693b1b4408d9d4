"""Recording fakes shared by the tests: a settable clock and a notifier that keeps what it sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.models import ChatRef, Platform
from core.ports import ChatUnreachable
from core.replies import Reply

__all__ = ["FakeClock", "RecordingNotifier", "chat"]

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


@dataclass
class RecordingNotifier:
    """Keeps every (chat, reply) it was given; can be told to fail for some chats."""

    sent: list[tuple[ChatRef, Reply]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    flaky: dict[str, int] = field(default_factory=dict)

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        if chat.chat_key in self.blocked:
            raise ChatUnreachable("blocked", permanent=True)
        if self.flaky.get(chat.chat_key, 0) > 0:
            self.flaky[chat.chat_key] -= 1
            raise ChatUnreachable("try later", permanent=False, retry_after=1)
        self.sent.append((chat, reply))

    def to(self, who: ChatRef) -> list[Reply]:
        return [reply for target, reply in self.sent if target.chat_key == who.chat_key]


def chat(chat_id: str = "1", user_id: str | None = None, *, group: bool = False) -> ChatRef:
    """A console chat ref for tests."""
    return ChatRef(Platform.CONSOLE, chat_id, user_id or chat_id, is_group=group)
