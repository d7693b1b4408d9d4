"""Storage: the implementations of ``core.ports``' repositories, on SQLite (aiosqlite).

What lives here: ``Database`` (``storage.db``) opens a database file and hands out its
repositories (``storage.shipments``, ``storage.subscriptions``, ``storage.outbox``,
``storage.inbox`` …); ``open_inbox``/``inbox_path`` open the separate push-inbox file;
``backup`` copies a live database. This package's exports are its public surface: the
composition root (``bots.runtime``) and the CLI build storage through them and nothing
else; the modules inside are private to it (import-linter holds it).

What it may import: the standard library, aiosqlite, ``core.models``, ``core.ports``,
``core.errors`` and the core's small helpers; never providers, the use cases or adapters.
"""

from __future__ import annotations

from storage.backup import BackupError, backup
from storage.db import Database, inbox_path, open_inbox
from storage.migrations import SchemaTooNewError

__all__ = ["BackupError", "Database", "SchemaTooNewError", "backup", "inbox_path", "open_inbox"]
