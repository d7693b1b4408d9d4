"""A consistent copy of a live database, taken with SQLite's online backup API.

The copy is read in one step inside a single read transaction: in WAL mode that never
blocks the running bot's writes, and the copy is the database exactly as it was when the
read began (later commits are simply not in it). It is written to a temporary file beside
the destination, checked with ``PRAGMA integrity_check``, switched to the rollback journal
(one self-contained file, nothing to copy beside it) and only then renamed into place, so
``PATH`` is either the previous file or a complete, checked copy.

Restoring is copying the file back while the bot is stopped (README, "Back up and restore").
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

__all__ = ["BackupError", "backup"]


class BackupError(Exception):
    """The backup could not be taken; the message is one sentence for the operator."""


def _open_existing(path: Path, timeout: float) -> sqlite3.Connection:
    # mode=ro: a missing file is an error, never a new empty database.
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout)


def backup(source: str | Path, destination: str | Path, *, timeout: float = 15.0) -> int:
    """Copy the database at ``source`` to ``destination``; return the copy's size in bytes."""
    src_path, dest_path = Path(source), Path(destination)
    if not src_path.is_file():
        raise BackupError(f"there is no database at {src_path}")
    if dest_path.resolve() == src_path.resolve():
        raise BackupError("the backup must go to a different file than the database")
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    partial = dest_path.with_name(f".{dest_path.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        src = _open_existing(src_path, timeout)
    except sqlite3.Error as err:
        raise BackupError(f"the database at {src_path} cannot be opened ({err})") from err
    try:
        copy = sqlite3.connect(partial)
        try:
            src.backup(copy)  # pages=-1: all at once, inside one read transaction
            copy.execute("PRAGMA journal_mode = DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
    except sqlite3.Error as err:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup failed ({err})") from err
    finally:
        src.close()
    if verdict != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check ({verdict})")
    with contextlib.suppress(OSError):
        # Durable before it replaces the previous backup.
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    partial.replace(dest_path)
    return dest_path.stat().st_size
