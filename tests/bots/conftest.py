"""Fixtures for the adapter and runtime tests."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.gc_settings import freeze_survivors
from core import cooperative


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PARCELBOT_* variable or .env file of the developer's leaks into a test: the
    variables are removed and the test runs in an empty folder."""
    for key in list(os.environ):
        if key.startswith("PARCELBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """The garbage collector as it was before the test applied the bot's settings to it."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        while freeze_survivors in gc.callbacks:
            gc.callbacks.remove(freeze_survivors)
        cooperative.between_slices(None)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
