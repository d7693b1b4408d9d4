"""Routes a reply to the sender of the chat's platform."""

from __future__ import annotations

from collections.abc import Mapping

from core.models import ChatRef, Platform
from core.ports import ChatUnreachable, Notifier
from core.replies import Reply

__all__ = ["PlatformNotifier"]


class PlatformNotifier:
    """A ``Notifier`` that hands each message to the sender registered for its platform.

    A chat on a platform with no running sender cannot be reached now; the alert stays in the
    outbox and is retried later.
    """

    def __init__(self, senders: Mapping[Platform, Notifier] | None = None) -> None:
        self._senders: dict[Platform, Notifier] = dict(senders or {})

    def register(self, platform: Platform, sender: Notifier) -> None:
        self._senders[platform] = sender

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        sender = self._senders.get(chat.platform)
        if sender is None:
            raise ChatUnreachable(
                f"no sender for {chat.platform} is running", permanent=False, retry_after=300
            )
        await sender.send(chat, reply)
