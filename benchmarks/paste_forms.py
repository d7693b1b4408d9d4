"""How many real-world paste forms parcelbot understands, beside a baseline version.

Run from the repository root::

    .venv/bin/python benchmarks/paste_forms.py [--baseline REF]

Every form of ``tests/core/paste_forms.py`` goes through the real router (sandbox carrier,
real SQLite file, one chat per form) and its outcome is compared with what the buyer meant.
The same forms are then run through the router of git revision ``REF`` (default: the last
revision before the reader, ``0fdc657``), checked out in a temporary worktree and run in a
separate interpreter, so both columns come from the same rows in the same run. Prints one row
per category: forms, understood by the baseline, understood now, and the mean time per message.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

_ROOT = Path(__file__).resolve().parents[1]
# In the baseline run the baseline's tree is first on ``sys.path``, so these imports (and the
# router measured) come from that revision.
if str(_ROOT) not in sys.path:
    sys.path.append(str(_ROOT))

from core.commands import CommandRouter  # noqa: E402
from core.errors import TrackingError  # noqa: E402
from core.models import ChatRef, Platform  # noqa: E402
from core.providers.sandbox import SandboxProvider, SandboxShop  # noqa: E402
from core.service import ParcelService, ServiceConfig  # noqa: E402
from storage.db import Database  # noqa: E402

_FORMS_FILE = _ROOT / "tests" / "core" / "paste_forms.py"
DEFAULT_BASELINE = "0fdc657"

__all__ = ["evaluate", "main"]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def _run(forms: Sequence[object], outcome: object) -> list[tuple[str, bool, float]]:
    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    results: list[tuple[str, bool, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        async with Database.open(Path(folder) / "paste.sqlite3") as db:
            clock = Clock()
            service = ParcelService(
                provider=SandboxProvider(clock),
                store=db,
                clock=clock,
                orders=SandboxShop(clock),
                config=ServiceConfig(user_requests_per_minute=1_000_000),
                rng=random.Random(1),
            )
            router = CommandRouter(service)
            for index, form in enumerate(forms):
                chat = ChatRef(Platform.CONSOLE, f"form{index}", f"form{index}")
                started = time.perf_counter()
                try:
                    got = outcome(await router.handle_text(chat, form.text))  # type: ignore[attr-defined, operator]
                except TrackingError as err:
                    got = outcome(None, err.user_message)  # type: ignore[operator]
                elapsed = time.perf_counter() - started
                results.append((form.category, got == form.expected, elapsed))  # type: ignore[attr-defined]
    return results


def evaluate() -> list[tuple[str, bool, float]]:
    """(category, understood, seconds) for every form, with the ``core`` on ``sys.path``."""
    table = _load(_FORMS_FILE, "_paste_forms_table")
    return asyncio.run(_run(table.FORMS, table.outcome))


def _baseline(ref: str) -> list[tuple[str, bool, float]]:
    """``evaluate`` run by revision ``ref``'s code in a temporary worktree."""
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "baseline"
        subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "-C", str(_ROOT), "worktree", "add", "--detach", str(tree), ref],  # noqa: S607
            check=True,
            capture_output=True,
        )
        try:
            env = dict(os.environ, PYTHONPATH=str(tree))
            code = (
                "import json, sys; sys.path.insert(0, sys.argv[1]); "
                "import importlib.util as u; "
                "s = u.spec_from_file_location('bench', sys.argv[2]); m = u.module_from_spec(s); "
                "s.loader.exec_module(m); import core; "
                "assert core.__file__.startswith(sys.argv[1]), core.__file__; "
                "print(json.dumps(m.evaluate()))"
            )
            done = subprocess.run(  # noqa: S603 - our own interpreter
                [sys.executable, "-c", code, str(tree), str(Path(__file__).resolve())],
                check=True,
                capture_output=True,
                text=True,
                cwd=tree,
                env=env,
            )
            rows = json.loads(done.stdout.splitlines()[-1])
            return [(str(category), bool(ok), float(took)) for category, ok, took in rows]
        finally:
            subprocess.run(  # noqa: S603
                ["git", "-C", str(_ROOT), "worktree", "remove", "--force", str(tree)],  # noqa: S607
                check=False,
                capture_output=True,
            )


def _table(
    now: Sequence[tuple[str, bool, float]], before: Sequence[tuple[str, bool, float]]
) -> str:
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    seconds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (category, ok_now, took_now), (_, ok_before, took_before) in zip(now, before, strict=True):
        rows[category][0] += 1
        rows[category][1] += ok_before
        rows[category][2] += ok_now
        seconds[category][0] += took_before
        seconds[category][1] += took_now
    lines = [
        f"{'category':<16} {'forms':>5} {'baseline':>9} {'now':>9} {'ms/msg before':>14} "
        f"{'ms/msg now':>11}",
        "-" * 70,
    ]
    for category in sorted(rows, key=lambda name: (-rows[name][0], name)):
        forms, before_ok, now_ok = rows[category]
        ms_before, ms_now = (value / forms * 1000 for value in seconds[category])
        lines.append(
            f"{category:<16} {forms:>5} {before_ok:>9} {now_ok:>9} "
            f"{ms_before:>14.2f} {ms_now:>11.2f}"
        )
    total = len(now)
    before_total = sum(ok for _, ok, _ in before)
    now_total = sum(ok for _, ok, _ in now)
    lines += [
        "-" * 70,
        f"{'TOTAL':<16} {total:>5} {before_total:>9} {now_total:>9}",
        f"understood: baseline {before_total / total:.1%}, now {now_total / total:.1%}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the per-category table, baseline beside now."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare")
    args = parser.parse_args(argv)
    now = evaluate()
    before = _baseline(args.baseline)
    print(_table(now, before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
