"""SQLite storage: the repositories behind ``core.ports``, opened with ``Database.open``."""

from __future__ import annotations

from storage.db import Database
from storage.migrations import SchemaTooNewError

__all__ = ["Database", "SchemaTooNewError"]
