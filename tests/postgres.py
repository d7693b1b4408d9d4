"""The PostgreSQL server the tests use: one fresh schema per test, dropped afterwards.

The server is ``PARCELBOT_TEST_POSTGRES_URL`` (default: the local server CI starts,
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets a schema of its own (a random
name on the connection's ``search_path``), so tests never see each other's rows and can run
in parallel processes. Without a reachable server the PostgreSQL tests are skipped, saying
why — except in CI (``CI`` set), where they fail: CI must test both backends.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

__all__ = ["SERVER_URL", "postgres_schema", "require_postgres", "schema_url"]

SERVER_URL = os.environ.get(
    "PARCELBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@functools.cache
def _unreachable() -> str | None:
    """Why the server cannot be used (None: it can); asked once per test process."""
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"PostgreSQL is not reachable at {_where()} ({first})"
    return None


def _where() -> str:
    parts = urlsplit(SERVER_URL)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def require_postgres() -> None:
    """Skip the calling test without a server (fail in CI, which must have one)."""
    reason = _unreachable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI runs every test on both backends", pytrace=False)
    pytest.skip(f"{reason}; set PARCELBOT_TEST_POSTGRES_URL to run the PostgreSQL tests")


def schema_url(schema: str) -> str:
    """``SERVER_URL`` with ``schema`` first on the search path of every connection."""
    parts = urlsplit(SERVER_URL)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh, empty schema: the URL whose connections create and find tables there.
    Dropped with everything in it on exit."""
    require_postgres()
    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema_url(schema)
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
