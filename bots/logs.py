"""Logging set-up: text or JSON lines on stderr, secrets redacted from every record.

``PARCELBOT_LOG_FORMAT=json`` writes one JSON object per line (``time``, ``level``,
``logger``, ``message`` and, when there is one, ``exception``), for log collectors. Either
way every configured secret (bot tokens, API keys, webhook secrets, the health token) is
replaced by ``<redacted>`` in the message, its arguments and any traceback before a handler
sees the record (``bots.telegram_bot.redaction``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

__all__ = ["JsonFormatter", "configure_logging", "install_excepthooks", "redact"]

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_QUIET = ("httpx", "httpcore", "apscheduler", "aiosqlite")

_REDACTED = "<redacted>"

_undo_redaction: Callable[[], None] | None = None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in text are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            # exc_text is what the redactor cleaned when the traceback held a secret.
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    level: str, fmt: Literal["text", "json"] = "text", secrets: Iterable[str] = ()
) -> None:
    """Log to stderr at ``level`` in ``fmt``, with ``secrets`` redacted from every record.

    HTTP client loggers stay at WARNING because they print request URLs, and the Telegram
    Bot API puts the bot token in the URL. Calling it again replaces the earlier set-up.
    """
    global _undo_redaction  # noqa: PLW0603 - one process-wide logging set-up
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in _QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if _undo_redaction is not None:
        _undo_redaction()
        _undo_redaction = None
    wanted = [secret for secret in secrets if secret]
    install_excepthooks(wanted)
    if wanted:
        from bots.telegram_bot.redaction import install_redaction

        _undo_redaction = install_redaction(*wanted)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``<redacted>``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def install_excepthooks(secrets: Iterable[str]) -> None:
    """Print uncaught exceptions (main thread and other threads) with the secrets redacted.

    Redaction in logging only sees log records; Python prints an uncaught exception's
    traceback itself, past every handler, and an HTTP error's traceback holds the Telegram
    Bot API URL with the token in it.
    """
    wanted = [secret for secret in secrets if secret]

    def show(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb)), wanted))

    def show_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            show(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = show
    threading.excepthook = show_thread
