"""The Telegram adapter: python-telegram-bot in, the core's commands, HTML replies out.

The composition root calls ``build_adapter(token, router, …)`` and runs the returned
``TelegramAdapter`` inside the shared event loop; ``adapter.sender`` is the ``Notifier`` for
Telegram chats.
"""

from __future__ import annotations

from bots.telegram_bot.app import (
    SECRET_HEADER,
    NotReceiving,
    TelegramAdapter,
    WebhookConfig,
    build_adapter,
    build_application,
    check_webhook_secret,
)
from bots.telegram_bot.limiter import FloodControl, SendLimits
from bots.telegram_bot.redaction import install_redaction, quiet_http_loggers
from bots.telegram_bot.sender import (
    MemoryGroupSwitch,
    StoredGroupSwitch,
    TelegramSender,
)

__all__ = [
    "SECRET_HEADER",
    "FloodControl",
    "MemoryGroupSwitch",
    "NotReceiving",
    "SendLimits",
    "StoredGroupSwitch",
    "TelegramAdapter",
    "TelegramSender",
    "WebhookConfig",
    "build_adapter",
    "build_application",
    "check_webhook_secret",
    "install_redaction",
    "quiet_http_loggers",
]
