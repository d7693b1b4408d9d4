"""``deploy/parcelbot.service`` passes ``systemd-analyze verify`` (the unit file's own checker),
with ``ExecStart`` pointed at this checkout's ``parcelbot`` so the command exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "parcelbot.service"
ANALYZE = shutil.which("systemd-analyze")

pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def verify(text: str, folder: Path) -> str:
    unit = folder / "parcelbot.service"
    parcelbot = Path(sys.executable).with_name("parcelbot")
    unit.write_text(text.replace("/opt/parcelbot/bin/parcelbot", str(parcelbot)), "utf-8")
    done = subprocess.run(  # noqa: S603 - a fixed tool on our own file
        [str(ANALYZE), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return (done.stdout + done.stderr).strip()


def test_the_unit_file_verifies_cleanly(tmp_path: Path) -> None:
    text = UNIT.read_text("utf-8")
    assert "ExecStart=/opt/parcelbot/bin/parcelbot run" in text
    assert "User=parcelbot" in text and "Restart=on-failure" in text
    assert verify(text, tmp_path) == ""


def test_the_check_sees_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text("utf-8").replace("Restart=on-failure", "Restart=sometimes")
    assert "restart specifier" in verify(broken, tmp_path)
