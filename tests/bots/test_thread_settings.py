"""The bot's thread switching interval, applied once start-up is over."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bots.console_bot
from bots.runtime import Runtime, run
from bots.settings import load_settings
from bots.thread_settings import SWITCH_INTERVAL, apply_bot_thread_settings


@pytest.fixture
def restore_interval(restore_gc: None) -> Iterator[None]:
    """The interval as it was, and the collector too (start-up also applies its settings)."""
    before = sys.getswitchinterval()
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("restore_interval")
def test_apply_shortens_the_interval_and_returns_the_one_before() -> None:
    sys.setswitchinterval(0.005)
    assert apply_bot_thread_settings() == pytest.approx(0.005)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert SWITCH_INTERVAL < 0.005


@pytest.mark.usefixtures("restore_interval", "clean_environment")
async def test_bot_start_up_applies_the_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sys.setswitchinterval(0.005)
    seen: list[float] = []

    async def console(runtime: Runtime) -> int:
        seen.append(sys.getswitchinterval())
        return 0

    monkeypatch.setattr(bots.console_bot, "run_console", console)
    assert await run(load_settings(db=str(tmp_path / "bot.sqlite3")), console=True) == 0
    assert seen == [pytest.approx(SWITCH_INTERVAL)]
