"""Console start-up: how long ``parcelbot console`` takes from launch to exit with no keys.

The console is started with its input already closed, so the time is start-up (imports,
settings, opening the database, the sandbox) plus an orderly shutdown. The database file and
the byte-code cache (as an installed program has it, even where ``PYTHONDONTWRITEBYTECODE`` is
set) are created by a first run that is not counted. With ``--base`` the same is measured for
another checkout, interleaved run by run (see ``benchmarks/ab.py``). The child's CPU time is
shown beside the wall time: other work on a shared machine disturbs it far less.

    .venv/bin/python benchmarks/startup.py [--base /path/to/old/checkout] [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ab import checkouts, interleave, median

_LIST_STACKS = (
    "import sys\nfrom bots.__main__ import main\ncode = main(['console'])\n"
    "print('LOADED', ','.join(m for m in ('aiohttp', 'telegram', 'discord', 'httpx') "
    "if m in sys.modules))\nraise SystemExit(code)\n"
)


def _launch(checkout: Path, db: Path, argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELBOT_")}
    env["PYTHONPATH"] = str(checkout)
    # As installed: byte code is cached (the first, uncounted run writes it), outside the
    # checkouts so that they stay clean.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(db.parent / f"pycache-{db.stem}")
    env["PARCELBOT_DB"] = str(db)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, *argv],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return elapsed, cpu, done.stdout


def _console(checkout: Path, db: Path) -> dict[str, float]:
    wall, cpu, _ = _launch(checkout, db, ["-m", "bots", "console"])
    return {"s": wall, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="another parcelbot checkout to compare with")
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    sides = checkouts(options.base)
    with tempfile.TemporaryDirectory() as folder:
        dbs = {label: Path(folder) / f"{label}.sqlite3" for label, _ in sides}
        loaded = {}
        for label, path in sides:
            _, _, out = _launch(path, dbs[label], ["-c", _LIST_STACKS])
            line = next(x for x in out.splitlines() if x.startswith("LOADED"))
            loaded[label] = line.removeprefix("LOADED").strip() or "none"
        results = interleave(
            options.runs,
            sides,
            lambda label, path: _console(path, dbs[label]),
        )
    print()
    print(
        "| checkout | console start-up to exit, median of",
        options.runs,
        "| min | max | CPU time, median | platform stacks loaded | target |",
    )
    print("|---|---|---|---|---|---|---|")
    for label, _ in sides:
        times = [r["s"] for r in results[label]]
        print(
            f"| {label} | {median(times):.3f} s | {min(times):.3f} s | {max(times):.3f} s "
            f"| {median([r['cpu'] for r in results[label]]):.3f} s | {loaded[label]} | ≤ 0.35 s |"
        )


if __name__ == "__main__":
    main()
