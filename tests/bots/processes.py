"""Starting the real ``parcelbot run`` process for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["run_console", "start_bot"]


def _environment(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without its ``PARCELBOT_*`` variables, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARCELBOT_")}
    env.update(settings)
    return env


async def start_bot(cwd: Path, **settings: str) -> asyncio.subprocess.Process:
    """``python -m bots run`` in ``cwd`` with ``settings`` as its only ``PARCELBOT_*`` variables
    (none inherited from the machine), no standard input, and its output captured."""
    env = _environment(settings)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bots",
        "run",
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def run_console(db: Path, script: str, **settings: str) -> str:
    """``python -m bots console`` on the database file ``db`` (run in its folder) with
    ``script`` as its input and ``settings`` as its other ``PARCELBOT_*`` variables; its
    output, once it exited cleanly without a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "bots", "console"],
        input=script,
        capture_output=True,
        text=True,
        env=_environment({"PARCELBOT_DB": str(db), **settings}),
        timeout=60,
        check=False,
        cwd=db.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout
