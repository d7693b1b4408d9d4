"""Running one benchmark scenario against two checkouts of parcelbot, interleaved.

A number only means something beside a baseline measured in the same run on the same rows, so
each benchmark here runs its scenario in a fresh child process per checkout: ``base`` (the code
before a change, e.g. ``git worktree add /tmp/parcelbot-base <commit>``) and ``this`` (the
checkout the benchmark file lives in), alternating A, B, A, B … so that whatever else the
machine is doing falls on both alike. The child imports parcelbot from its checkout (it is put
first on ``PYTHONPATH``) and prints one JSON document as its last line of output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "THIS",
    "Checkout",
    "checkouts",
    "child_result",
    "median",
    "percentile",
    "poller",
    "run_child",
]

THIS = Path(__file__).resolve().parent.parent
"""The checkout these benchmarks belong to."""

Checkout = tuple[str, Path]


def checkouts(base: str | Sequence[str] | None) -> list[Checkout]:
    """``[("base", path), ("this", THIS)]``, or only this checkout when no base is given.

    Several bases may be given as ``label=path`` (or bare paths, labelled ``base``, ``base2``
    …); they come first, in the order given."""
    given = [base] if isinstance(base, str) else list(base or [])
    found: list[Checkout] = []
    for number, entry in enumerate(given, start=1):
        label, _, where = entry.rpartition("=")
        label = label or ("base" if number == 1 else f"base{number}")
        path = Path(where).resolve()
        if not (path / "core" / "service.py").is_file():
            raise SystemExit(f"{path} is not a parcelbot checkout")
        found.append((label, path))
    found.append(("this", THIS))
    return found


def run_child(
    checkout: Path, script: Path, args: Sequence[str], *, stdin: str = "", timeout: float = 3600
) -> dict[str, Any]:
    """Run ``script args`` with ``checkout`` first on the import path; its last output line,
    parsed as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARCELBOT_")}
    env["PYTHONPATH"] = str(checkout)
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.name} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    last = done.stdout.strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last)
    return result


def child_result(result: dict[str, Any]) -> None:
    """Print a child's result as the last line of its output (see ``run_child``)."""
    print(json.dumps(result), flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values`` (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def interleave(
    rounds: int, sides: Sequence[Checkout], run: Callable[[str, Path], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """``run(label, path)`` ``rounds`` times per checkout, alternating between them."""
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    for index in range(rounds):
        # Alternate which side goes first, so neither always runs on a warmer machine.
        order = sides if index % 2 == 0 else list(reversed(sides))
        for label, path in order:
            results[label].append(run(label, path))
            print(f"  round {index + 1}/{rounds} {label} done", file=sys.stderr, flush=True)
    return results


def poller(service: Any) -> Any:
    """What polls in ``service``'s checkout: its refresh pipeline (``service.refresh``), or the
    service itself in checkouts from before the pipeline left it."""
    return getattr(service, "refresh", service)
