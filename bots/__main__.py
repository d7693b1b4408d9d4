"""``parcelbot`` / ``python -m bots``: run the bot, the console chat, or a benchmark.

::

    parcelbot                 run every configured adapter; the console when none is
    parcelbot run             the same
    parcelbot run --role poller,sender   only some parts (processes sharing PostgreSQL)
    parcelbot console         the console chat on the configured providers
    parcelbot track NUMBER    one lookup, printed, then exit
    parcelbot db backup PATH  a consistent copy of the database, safe while the bot runs
    parcelbot db migrate      create or upgrade the database's tables, then exit
    parcelbot db copy SRC DST copy a whole database into an empty one (SQLite → PostgreSQL)
    parcelbot bench eta …     the ETA benchmark (see ``parcelbot bench eta --help``)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bots.settings import Settings, load_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parcelbot",
        description="Order-tracking chat bot. With no tokens set it runs the sandbox carrier "
        "in a console chat. Configuration: PARCELBOT_* variables or .env (see .env.example).",
    )
    parser.add_argument(
        "--db",
        help="SQLite database file or database URL (overrides PARCELBOT_DB and "
        "PARCELBOT_DATABASE_URL)",
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run every configured adapter (console when none is)")
    run.add_argument(
        "--role",
        help="run only these parts, comma separated: poller, sender, webhook, pushes, telegram, "
        "discord (default: all; overrides PARCELBOT_ROLES; see README, Running on more than "
        "one machine)",
    )
    sub.add_parser("console", help="chat in this terminal")
    track = sub.add_parser("track", help="look up one tracking number and exit")
    track.add_argument("number")
    track.add_argument("carrier", nargs="?")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    backup = db_sub.add_parser(
        "backup", help="copy the database to PATH (safe while the bot runs; see README)"
    )
    backup.add_argument("path")
    db_sub.add_parser(
        "migrate", help="create or upgrade the tables of the configured database, then exit"
    )
    copy = db_sub.add_parser(
        "copy",
        help="copy every row of SRC into the empty database DST (stop the bot first); each is "
        "a SQLite file, sqlite:///path or postgresql://…",
    )
    copy.add_argument("source", metavar="SRC")
    copy.add_argument("target", metavar="DST")
    bench = sub.add_parser("bench", help="benchmarks")
    bench.add_argument("what", choices=["eta"])
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``parcelbot`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "bench":
        from bots.cli import bench_eta

        return bench_eta.main(list(args.rest))

    from bots.logs import configure_logging

    try:
        chosen: dict[str, Any] = {"db": args.db, "database_url": None} if args.db else {}
        if getattr(args, "role", None):
            chosen["roles"] = args.role
        settings = load_settings(**chosen)
    except ValidationError as err:
        problems = "; ".join(
            f"PARCELBOT_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in err.errors()
        )
        print(f"parcelbot: invalid settings: {problems}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, settings.secret_values)
    if args.command == "db":
        if args.db_command == "migrate":
            return _run_storage(_migrate(settings.database))
        if args.db_command == "copy":
            return _copy(args.source, args.target)
        return _backup(settings.database, args.path)
    from bots.runtime import run
    from core.errors import StorageUnavailable

    secrets = settings.secret_values
    try:
        if args.command == "track":
            return asyncio.run(_track_once(settings, args.number, args.carrier))
        return asyncio.run(run(settings, console=args.command == "console"))
    except KeyboardInterrupt:
        return 130
    except StorageUnavailable as err:
        print(f"parcelbot: {err.reason}", file=sys.stderr)
        return 1
    except Exception as err:
        # One sentence, never a traceback: tracebacks of HTTP clients carry URLs, and the
        # Telegram Bot API's URLs carry the token. The details go to the (redacted) debug log.
        logging.getLogger("bots").debug("parcelbot stopped", exc_info=err)
        print(failure_sentence(err, secrets), file=sys.stderr)
        return 1


def failure_sentence(err: BaseException, secrets: Sequence[str]) -> str:
    """The one sentence printed when parcelbot cannot start or stops on an error."""
    from bots.logs import redact

    name = type(err).__name__
    if name == "InvalidToken":
        text = "Telegram refused the bot token; check PARCELBOT_TELEGRAM_TOKEN."
    elif name == "LoginFailure":
        text = "Discord refused the bot token; check PARCELBOT_DISCORD_TOKEN."
    else:
        lines = str(err).strip().splitlines()
        detail = lines[0][:200] if lines else ""
        text = f"it stopped on {name}" + (f" ({detail})." if detail else ".")
    return "parcelbot could not run: " + redact(text, secrets)


def _backup(database: str, path: str) -> int:
    import storage

    if storage.is_postgres(database):
        print(
            "parcelbot: db backup copies a SQLite file; back up PostgreSQL with its own tools "
            "(pg_dump)",
            file=sys.stderr,
        )
        return 2
    database = storage.sqlite_path(database)

    try:
        size = storage.backup(database, path)
    except storage.BackupError as err:
        print(f"parcelbot: {err}", file=sys.stderr)
        return 1
    print(f"backed up {database} to {path} ({size} bytes)")
    return 0


def _run_storage(job: Coroutine[Any, Any, int]) -> int:
    from core.errors import StorageUnavailable
    from storage import CopyRefused, SchemaTooNewError

    try:
        return asyncio.run(job)
    except StorageUnavailable as err:
        print(f"parcelbot: {err.reason}", file=sys.stderr)
    except (CopyRefused, SchemaTooNewError) as err:
        print(f"parcelbot: {err}", file=sys.stderr)
    return 1


async def _migrate(location: str) -> int:
    from storage import Database

    async with Database.open(location) as db:
        info = await db.info()
    version = info.get("schema_version") or info.get("user_version", "")
    print(f"{db.path} is at schema version {version}")
    return 0


def _copy(source: str, target: str) -> int:
    from storage import inbox_path, is_postgres, sqlite_path

    pushes: str | None = None
    if not is_postgres(source):
        if not Path(sqlite_path(source)).is_file():
            print(f"parcelbot: there is no database file {source}", file=sys.stderr)
            return 1
        # The provider pushes a SQLite bot keeps in a file beside its database.
        pushes = inbox_path(source) if Path(inbox_path(source)).is_file() else None
    return _run_storage(_copy_rows(source, target, pushes))


async def _copy_rows(source: str, target: str, pushes: str | None) -> int:
    from storage import INBOX_MIGRATIONS, Database, copy_database

    async with contextlib.AsyncExitStack() as stack:
        src = await stack.enter_async_context(Database.open(source))
        inbox = None
        if pushes is not None:
            inbox = await stack.enter_async_context(
                Database.open(pushes, migrations=INBOX_MIGRATIONS)
            )
        dst = await stack.enter_async_context(Database.open(target))
        report = await copy_database(src, dst, inbox=inbox)
    for table, count in report.rows.items():
        print(f"{table}: {count} rows")
    print(f"copied {report.total} rows from {src.path} to {dst.path}")
    return 0


async def _track_once(settings: Settings, number: str, carrier: str | None) -> int:
    from bots.console_bot import CONSOLE_CHAT, render
    from bots.runtime import open_runtime
    from core.commands import error_text
    from core.errors import TrackingError

    # One lookup: no /metrics serves counts, so none are kept.
    async with open_runtime(settings, metered=False) as runtime:
        try:
            reply = await runtime.service.track(CONSOLE_CHAT, number, carrier)
        except TrackingError as err:
            print(error_text(err), file=sys.stderr)
            return 1
        print(render(reply))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
