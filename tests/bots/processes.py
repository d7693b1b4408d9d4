"""Starting the real ``parcelbot run`` process for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

__all__ = ["start_bot"]


async def start_bot(cwd: Path, **settings: str) -> asyncio.subprocess.Process:
    """``python -m bots run`` in ``cwd`` with ``settings`` as its only ``PARCELBOT_*`` variables
    (none inherited from the machine), no standard input, and its output captured."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARCELBOT_")}
    env.update(settings)
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
