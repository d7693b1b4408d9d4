"""SQLite failures an operator can fix, each turned into one ``StorageUnavailable`` sentence.

A locked database, a full disk, a read-only file or folder, a damaged file: SQLite reports
each with an error code (``sqlite3.Error.sqlite_errorname``). ``storage_error`` names the
problem and what to do; anything else (a bug: a bad statement, a broken constraint) is left
as it is. SQLite rolls back a statement or transaction that failed, so nothing is half
written: what failed can simply be done again once the cause is gone.
"""

from __future__ import annotations

import sqlite3

from core.errors import StorageUnavailable

__all__ = ["storage_error"]

_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_READ_ONLY = ("SQLITE_READONLY",)
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_CANNOT_OPEN = ("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")


def storage_error(err: BaseException, path: str) -> StorageUnavailable | None:
    """The ``StorageUnavailable`` for ``err`` on the database at ``path``; None for errors that
    are not about the file, its disk or other programs (those are bugs, raised as they are)."""
    if isinstance(err, PermissionError | FileNotFoundError | NotADirectoryError):
        return StorageUnavailable(
            f"cannot create or open the database {path}: {err.strerror}; "
            "check that its folder exists and parcelbot may write there"
        )
    if isinstance(err, OSError) and err.errno == 28:  # ENOSPC
        return StorageUnavailable(_full(path))
    if not isinstance(err, sqlite3.Error):
        return None
    name = str(getattr(err, "sqlite_errorname", "") or "")
    text = str(err).lower()
    if name.startswith(_BUSY) or "database is locked" in text:
        return StorageUnavailable(
            f"the database {path} is locked by another program that is writing to it; "
            "parcelbot waited for it and will try again (close the other program)"
        )
    if name == "SQLITE_FULL" or "disk is full" in text:
        return StorageUnavailable(_full(path))
    if name.startswith(_READ_ONLY) or "readonly database" in text:
        return StorageUnavailable(
            f"the database {path} or its folder is read-only; give parcelbot write access "
            "(nothing was lost: what failed is done again once it can write)"
        )
    if name.startswith(_DAMAGED) or "malformed" in text or "not a database" in text:
        return StorageUnavailable(
            f"the database {path} is damaged; stop parcelbot, move the file aside and restore "
            "a backup (parcelbot db backup makes one)"
        )
    if name.startswith(_CANNOT_OPEN) or "unable to open" in text:
        return StorageUnavailable(
            f"cannot open the database {path}; check that its folder exists and parcelbot "
            "may write there"
        )
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return StorageUnavailable(
            f"the disk holding the database {path} reported an input/output error; "
            "check the disk (parcelbot will try again)"
        )
    return None


def _full(path: str) -> str:
    return (
        f"the disk holding the database {path} is full; free some space (nothing was half "
        "written; parcelbot tries again and carries on)"
    )
