"""Fixtures for the adapter and runtime tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PARCELBOT_* variable or .env file of the developer's leaks into a test: the
    variables are removed and the test runs in an empty folder."""
    for key in list(os.environ):
        if key.startswith("PARCELBOT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
