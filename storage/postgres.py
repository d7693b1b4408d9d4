"""The PostgreSQL backend: ``storage.sql.Connection`` on a psycopg 3 connection pool.

Every statement borrows a connection from the pool for as long as it (or its transaction)
runs, so concurrent tasks — and any number of processes on any number of machines — work on
the database at once; PostgreSQL's row locks and MVCC keep them apart. Connections are in
autocommit mode: a lone ``read``/``write`` is its own transaction, ``transaction`` opens one.

Repositories write ``?`` parameters (``storage.sql``); psycopg's are ``%s`` (and a literal
``%`` is ``%%``): ``translate`` rewrites each statement once and remembers it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from core.errors import StorageUnavailable
from storage.sql import POSTGRES, Dialect, Row, Work

__all__ = ["PgConnection", "describe", "translate"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``sql`` with psycopg's placeholders: ``?`` outside quotes becomes ``%s``, ``%`` doubles."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


def describe(url: str) -> str:
    """Where ``url`` points, for messages: host, port and database, never the password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    name = parts.path.lstrip("/") or "(default database)"
    return f"PostgreSQL database {name} on {host}:{port}"


class PgTx:
    """``storage.sql.Tx`` on one pooled psycopg connection inside its transaction."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = await self._conn.execute(translate(sql), params)
        return await cursor.fetchall()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(translate(sql), params)
        return cursor.rowcount

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        batch = list(rows)
        if not batch:
            return 0
        async with self._conn.cursor() as cursor:
            # psycopg sends the rows in pipeline mode (one round trip for the batch) and
            # adds up the rows each one changed.
            await cursor.executemany(translate(sql), batch)
            return max(cursor.rowcount, 0)

    async def data_version(self) -> int | None:
        # Other processes write at any time and PostgreSQL keeps no cheap counter of it.
        return None


class PgConnection:
    """A psycopg pool behind the ``storage.sql.Connection`` protocol."""

    def __init__(self, pool: AsyncConnectionPool[Any], where: str) -> None:
        self._pool = pool
        self._where = where
        self._trouble: str | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, *, min_size: int = 1, max_size: int = 10, wait: float = 15.0
    ) -> AsyncIterator[PgConnection]:
        """A pool of connections to ``url`` (``postgresql://user@host:port/database``),
        checked by one connection before this returns; closed on exit.

        Raises ``StorageUnavailable`` when the server cannot be reached or refuses us.
        """
        where = describe(url)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=wait,
            kwargs={"autocommit": True},
            open=False,
            name="parcelbot",
        )
        try:
            await pool.open(wait=True, timeout=wait)
        except (PoolTimeout, psycopg.Error) as err:
            await pool.close()
            raise StorageUnavailable(
                f"cannot reach the {where}; check PARCELBOT_DATABASE_URL and that the server "
                "runs and accepts this user"
            ) from err
        try:
            yield cls(pool, where)
        finally:
            await pool.close()

    @property
    def dialect(self) -> Dialect:
        """PostgreSQL's spellings (``storage.sql``)."""
        return POSTGRES

    @property
    def where(self) -> str:
        """The database, named for messages (no password)."""
        return self._where

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a lost server into ``StorageUnavailable`` (logged once as it starts and ends);
        anything else (a bad statement, a broken constraint) is a bug and raised as it is."""
        try:
            yield
        except (psycopg.OperationalError, PoolTimeout) as err:
            reason = f"the {self._where} cannot be reached; parcelbot will try again"
            if self._trouble != reason:
                self._trouble = reason
                log.warning("storage: %s (%s)", reason, type(err).__name__)
            raise StorageUnavailable(reason) from err
        if self._trouble is not None:
            self._trouble = None
            log.warning("storage: the %s works again", self._where)

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query and return every row."""
        with self._guard():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(translate(sql), params)
                rows: list[Row] = await cursor.fetchall()
                return rows

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; return the number of rows it changed."""
        with self._guard():
            async with self._pool.connection() as conn:
                cursor = await conn.execute(translate(sql), params)
                return int(cursor.rowcount)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgTx]:
        """A write transaction: committed on normal exit, rolled back on any exception."""
        with self._guard():
            async with self._pool.connection() as conn, conn.transaction():
                yield PgTx(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PgTx]:
        """A read-only transaction whose queries all see the state of its first one."""
        with self._guard():
            async with self._pool.connection() as conn, conn.transaction():
                await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield PgTx(conn)

    async def run_transaction(self, work: Work[_T]) -> _T:
        """``work`` inside one write transaction; what it returned."""
        async with self.transaction() as tx:
            return await work(tx)

    async def run_read(self, work: Work[_T]) -> _T:
        """``work`` inside one read transaction; what it returned."""
        async with self.snapshot() as tx:
            return await work(tx)
