"""Keep the bot token out of every log line.

The first line of defence is quiet HTTP loggers: httpx logs each request URL at INFO, and
Telegram URLs contain the token. The second is ``TokenRedactor``, installed as a log-record
factory so it sees every record of every logger before any handler or formatter does, and
replaces the token in the message, its arguments and the formatted traceback.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTED", "TokenRedactor", "install_redaction", "quiet_http_loggers"]

REDACTED = "<redacted>"

_lock = threading.Lock()


def quiet_http_loggers() -> None:
    """httpx/httpcore log request URLs (with the token) below WARNING."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class TokenRedactor(logging.Filter):
    """Replaces secrets in a record's message, arguments and exception text; never drops it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _mentions(self, text: str) -> bool:
        return any(secret in text for secret in self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        if self._mentions(message):
            record.msg, record.args = self._clean(message), None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            if self._mentions(text):
                # Formatters reuse exc_text when it is set, so the raw traceback never prints.
                record.exc_text = self._clean(text).rstrip("\n")
        if record.stack_info and self._mentions(record.stack_info):
            record.stack_info = self._clean(record.stack_info)
        return True


def install_redaction(*secrets: str) -> Callable[[], None]:
    """Redact ``secrets`` from every log record from now on; returns the undo function."""
    redactor = TokenRedactor(list(secrets))
    with _lock:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redactor.filter(record)
            return record

        logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        with _lock:
            # Only unwind if nobody stacked another factory on top of ours meanwhile.
            if logging.getLogRecordFactory() is factory:
                logging.setLogRecordFactory(previous)

    return uninstall
