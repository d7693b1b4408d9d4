"""What the repositories need from a database backend, whichever it is.

The repositories (``storage.shipments``, ``storage.outbox``, …) are written once, against the
``Connection`` protocol below, in one portable SQL dialect:

- parameters are ``?``; a backend whose driver spells them otherwise translates
  (``storage.postgres``);
- upserts are ``INSERT … ON CONFLICT (…) DO UPDATE / DO NOTHING`` (SQLite ≥ 3.24 and
  PostgreSQL both take that form);
- flags are ``INTEGER`` columns holding 0 or 1 and are compared as such (``archived = 0``,
  ``paused <> 0``), never used as a bare condition (PostgreSQL has no integer truthiness);
- times are ISO 8601 text in UTC (``storage.codec``), so ordering and comparing them is the
  same everywhere (PostgreSQL columns use the ``"C"`` collation: byte order, like SQLite);
- the few constructs the backends write differently come from the ``Dialect``: a list of ids
  or keys passed as one JSON parameter, an index hint, and table definitions
  (``Dialect.ddl`` turns the SQLite-flavoured migrations into PostgreSQL's types).

Two backends implement ``Connection``: ``storage.connection.SerialConnection`` (one aiosqlite
connection) and ``storage.postgres.PgConnection`` (a psycopg 3 pool).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

__all__ = [
    "POSTGRES",
    "SQLITE",
    "Connection",
    "Dialect",
    "Row",
    "Tx",
    "Work",
]

_T = TypeVar("_T")

Row = Sequence[Any]
"""A result row: a plain tuple in column order."""


class Tx(Protocol):
    """Statements inside one open transaction (read-only inside ``Connection.snapshot``)."""

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        ...

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row; return the rows changed in total."""
        ...

    async def data_version(self) -> int | None:
        """A number that changes whenever another connection commits a write; None when the
        backend cannot tell (then a cache must assume every read may have changed)."""
        ...


Work = Callable[[Tx], Awaitable[_T]]
"""A unit of database work: awaits only the ``Tx`` it is given, nothing else (the SQLite
backend runs it on its worker thread, where there is no event loop to wait on)."""


class Connection(Protocol):
    """A database connection (or pool) shared by every repository of one ``Database``.

    Implementations guarantee: ``write`` and ``transaction`` commit before they return (a
    crash afterwards loses nothing); a ``transaction`` or ``run_transaction`` that raises, or
    is cancelled, leaves nothing of itself behind; statements of concurrent tasks never mix
    into each other's transactions; failures an operator can fix (database unreachable, disk
    full, locked by another program) come out as ``core.errors.StorageUnavailable``.
    """

    @property
    def dialect(self) -> Dialect:
        """How this backend spells what the portable SQL cannot."""
        ...

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        ...

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; return the number of rows it changed."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A write transaction: committed on normal exit, rolled back on any exception."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Tx]:
        """A read transaction: several queries that see one consistent state."""
        ...

    async def run_transaction(self, work: Work[_T]) -> _T:
        """``work`` inside one write transaction; what it returned. Faster than
        ``transaction`` where the backend can run the whole unit in one hand-off."""
        ...

    async def run_read(self, work: Work[_T]) -> _T:
        """``work`` inside one read transaction (``snapshot``); what it returned."""
        ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The spellings that differ between the backends, as SQL fragments.

    Every fragment takes its value as one ``?`` parameter holding a JSON array, so the
    statements built from them have the same parameters on every backend.
    """

    name: str
    ids: str
    """A sub-select of the integers in a JSON array: ``WHERE id IN ({ids})``."""
    texts: str
    """A sub-select of the strings in a JSON array: ``WHERE chat_key IN ({texts})``."""
    pairs: str
    """A FROM item ``j`` of a JSON array of ``[a, b]`` pairs, read as ``j.value ->> 0``."""
    hints: bool
    """Whether ``INDEXED BY`` hints are understood (``indexed_by``)."""
    ordered_join: str
    """A join that reads its left side first where the backend lets a query say so (SQLite's
    ``CROSS JOIN``), else a plain ``JOIN``; followed by ``ON``."""

    def skip_locked(self, table: str) -> str:
        """The end of a ``SELECT`` that claims rows of ``table`` for the running transaction,
        passing over rows another transaction holds (PostgreSQL's ``FOR UPDATE … SKIP
        LOCKED``). Nothing on SQLite: its write transactions run one at a time anyway."""
        return f"FOR UPDATE OF {table} SKIP LOCKED" if self.name == "postgresql" else ""

    def indexed_by(self, index: str) -> str:
        """An index hint for a FROM item, where the backend takes one (else nothing)."""
        return f"INDEXED BY {index}" if self.hints else ""

    def ddl(self, statement: str) -> str:
        """A schema statement written for SQLite, in this backend's types."""
        if self.name != "postgresql":
            return statement
        text = _ROWID_KEY.sub(r"\1 BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
        text = _WITHOUT_ROWID.sub(")", text)
        # SQLite integers are 64-bit (Discord ids need it); REAL is a double there.
        text = re.sub(r"\bINTEGER\b", "BIGINT", text)
        text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
        text = re.sub(r"\bBLOB\b", "BYTEA", text)
        # Byte order, as SQLite compares text: ISO times and numbers sort the same way.
        return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', text)


# ``id INTEGER PRIMARY KEY`` is SQLite's auto-numbered row id; other integer keys (Discord
# ids) are plain values.
_ROWID_KEY = re.compile(r"\b(id) INTEGER PRIMARY KEY\b")
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT ROWID")

SQLITE = Dialect(
    name="sqlite",
    ids="SELECT value FROM json_each(?)",
    texts="SELECT value FROM json_each(?)",
    pairs="json_each(?) AS j",
    hints=True,
    ordered_join="CROSS JOIN",
)

POSTGRES = Dialect(
    name="postgresql",
    ids="SELECT (jsonb_array_elements_text(?::jsonb))::bigint",
    texts="SELECT jsonb_array_elements_text(?::jsonb)",
    pairs="jsonb_array_elements(?::jsonb) AS j(value)",
    hints=False,
    ordered_join="JOIN",
)
