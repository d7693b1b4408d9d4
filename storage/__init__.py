"""Storage: the implementations of ``core.ports``' repositories, on SQLite (aiosqlite).

What lives here: ``Database`` (``storage.db``) opens a database file and hands out its
repositories (``storage.shipments``, ``storage.subscriptions``, ``storage.outbox``,
``storage.inbox`` …); ``open_inbox``/``inbox_path`` open the separate push-inbox file;
``backup`` copies a live SQLite file and ``copy_database`` copies every row from one database
to another (SQLite or PostgreSQL). This package's exports are its public surface: the
composition root (``bots.runtime``) and the CLI build storage through them and nothing
else; the modules inside are private to it (import-linter holds it).

What it may import: the standard library, aiosqlite, ``core.models``, ``core.ports``,
``core.errors`` and the core's small helpers; never providers, the use cases or adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.backup import BackupError, backup
from storage.db import Database, inbox_path, is_postgres, open_inbox, sqlite_path
from storage.limits import RateSpec, SharedLimits, SharedRate
from storage.migrations import INBOX_MIGRATIONS, SchemaTooNewError

if TYPE_CHECKING:
    from storage.copy import CopyRefused, CopyReport, copy_database

__all__ = [
    "INBOX_MIGRATIONS",
    "BackupError",
    "CopyRefused",
    "CopyReport",
    "Database",
    "RateSpec",
    "SchemaTooNewError",
    "SharedLimits",
    "SharedRate",
    "backup",
    "copy_database",
    "inbox_path",
    "is_postgres",
    "open_inbox",
    "sqlite_path",
]

# ``parcelbot db copy`` is the only user of the copier: it is imported when first asked for,
# not by every start of the bot.
_COPY_EXPORTS = frozenset({"CopyRefused", "CopyReport", "copy_database"})


def __getattr__(name: str) -> Any:
    if name in _COPY_EXPORTS:
        from storage import copy

        return getattr(copy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
