"""Copy a whole parcelbot database to another one, e.g. from SQLite to PostgreSQL.

``copy_database`` reads every table of the source in one read transaction (a consistent
picture) and writes it to the target in one write transaction: the target ends with all of
it or, on any failure, none of it. Both are opened with ``Database.open`` first, so both are
at the same schema version (an older source is migrated up on the way). Rows keep their ids,
so outbox entries, events and inbox items stay what they were; PostgreSQL's id counters are
moved past the copied ids. The target must be empty: a copy never merges two bots.

A SQLite bot keeps its provider pushes in a second file beside the database
(``storage.db.inbox_path``); pass it as ``inbox`` and its unprocessed and remembered pushes
join the target's ``webhook_inbox`` (new ids, the same provider and notification id).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from storage.db import Database
from storage.sql import Connection, Tx

__all__ = ["CopyRefused", "CopyReport", "copy_database", "tables"]

log = logging.getLogger(__name__)

# Parents before the tables that refer to them (events → shipments).
_FIRST = ("shipments",)
# Bookkeeping of the backend itself, not parcelbot's data.
# Leases and rate allowances are the running processes' passing state: a copy (made with the
# bot stopped) starts without them.
_SKIP = frozenset(
    {
        "schema_version",
        "sqlite_sequence",
        "sqlite_stat1",
        "sqlite_stat4",
        "chat_leases",
        "rate_limits",
    }
)
_INBOX = "webhook_inbox"


class CopyRefused(RuntimeError):
    """The copy cannot be made (the target already holds data); nothing was written."""


@dataclass(slots=True)
class CopyReport:
    """How many rows each table received."""

    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows copied in all."""
        return sum(self.rows.values())


async def tables(conn: Connection) -> list[str]:
    """parcelbot's tables in ``conn``'s database, parents first."""
    if conn.dialect.name == "postgresql":
        rows = await conn.read(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    else:
        rows = await conn.read("SELECT name FROM sqlite_master WHERE type = 'table'")
    names = sorted(str(row[0]) for row in rows if str(row[0]) not in _SKIP)
    return [name for name in _FIRST if name in names] + [n for n in names if n not in _FIRST]


async def _columns(tx: Tx, dialect: str, table: str) -> list[str]:
    if dialect == "postgresql":
        rows = await tx.read(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = await tx.read("SELECT name FROM pragma_table_info(?) ORDER BY cid", (table,))
    return [str(row[0]) for row in rows]


async def _read_table(tx: Tx, dialect: str, table: str) -> tuple[list[str], list[Sequence[object]]]:
    columns = await _columns(tx, dialect, table)
    # Names come from the database's own catalogue, quoted; no values are joined in.
    listed = ", ".join(f'"{name}"' for name in columns)
    rows = await tx.read(f'SELECT {listed} FROM "{table}"')  # noqa: S608
    return columns, rows


async def copy_database(
    source: Database, target: Database, *, inbox: Database | None = None
) -> CopyReport:
    """Copy every row of ``source`` (and of a separate push ``inbox``) into the empty
    ``target``; return how many rows each table received.

    Raises ``CopyRefused`` when the target already holds rows; nothing is written then.
    """
    src, dst = source.connection, target.connection
    names = await tables(src)
    report = CopyReport()
    async with src.snapshot() as reader:
        data = {name: await _read_table(reader, src.dialect.name, name) for name in names}
    pushes: tuple[list[str], list[Sequence[object]]] | None = None
    if inbox is not None:
        async with inbox.connection.snapshot() as reader:
            pushes = await _read_table(reader, inbox.connection.dialect.name, _INBOX)
    async with dst.transaction() as writer:
        present = set(await _target_tables(writer, dst))
        for name in names:
            if name not in present:
                raise CopyRefused(f"the target has no table {name}: is it parcelbot's database?")
            held = await writer.read(f'SELECT count(*) FROM "{name}"')  # noqa: S608
            if int(held[0][0]):
                raise CopyRefused(
                    f"the target already holds data (table {name}); copy into an empty database"
                )
        for name in names:
            columns, rows = data[name]
            report.rows[name] = await _insert(writer, name, columns, rows)
        if dst.dialect.name == "postgresql":
            await _advance_ids(writer, [n for n in names if "id" in data[n][0]])
        if pushes is not None:
            columns, rows = pushes
            keep = [i for i, column in enumerate(columns) if column != "id"]
            added = await _insert(
                writer,
                _INBOX,
                [columns[i] for i in keep],
                [[row[i] for i in keep] for row in rows],
                conflict="ON CONFLICT (provider, notification_id) DO NOTHING",
            )
            report.rows[_INBOX] = report.rows.get(_INBOX, 0) + added
    log.info("copied %s rows from %s to %s", report.total, source.path, target.path)
    return report


async def _target_tables(tx: Tx, conn: Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        rows = await tx.read(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    else:
        rows = await tx.read("SELECT name FROM sqlite_master WHERE type = 'table'")
    return [str(row[0]) for row in rows]


async def _insert(
    tx: Tx,
    table: str,
    columns: list[str],
    rows: Sequence[Sequence[object]],
    *,
    conflict: str = "",
) -> int:
    if not rows:
        return 0
    listed = ", ".join(f'"{name}"' for name in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f'INSERT INTO "{table}" ({listed}) VALUES ({marks}) {conflict}'  # noqa: S608
    return await tx.write_many(statement, rows)


async def _advance_ids(tx: Tx, names: list[str]) -> None:
    """Move the ``id`` counters of these tables past the copied ids (new rows must not
    collide); tables whose ``id`` is not counted are left alone."""
    for name in names:
        found = await tx.read("SELECT pg_get_serial_sequence(?, 'id')", (name,))
        if not found or found[0][0] is None:
            continue
        await tx.read(
            f'SELECT setval(?, coalesce((SELECT max(id) FROM "{name}"), 0) + 1, false)',  # noqa: S608
            (found[0][0],),
        )
