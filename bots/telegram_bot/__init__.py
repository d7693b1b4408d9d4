"""The Telegram adapter: python-telegram-bot in, the core's commands, HTML replies out.

The composition root calls ``build_adapter(token, router, …)`` and runs the returned
``TelegramAdapter`` inside the shared event loop; ``adapter.sender`` is the ``Notifier`` for
Telegram chats. Inside: ``app`` (the application and its webhook or polling), ``handlers``
(updates → commands), ``render`` (``Reply`` → HTML and keyboards), ``sender`` and ``limiter``
(alert delivery under Telegram's limits), ``redaction`` (no token in any log line).

What it may import: python-telegram-bot, aiolimiter and the core (``core.commands``, models,
ports, replies, errors, privacy, i18n); never storage, a provider or another chat adapter.
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
