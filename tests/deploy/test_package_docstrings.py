"""Every package of the code opens with a docstring saying what lives there and what it may
import (the README's architecture section points here)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(
    path.parent.relative_to(ROOT)
    for top in ("core", "storage", "bots")
    for path in (ROOT / top).rglob("__init__.py")
    if "__pycache__" not in path.parts
)


def test_the_packages_are_found() -> None:
    names = {str(package) for package in PACKAGES}
    assert {"core", "core/eta", "core/providers", "storage", "bots", "bots/cli"} <= names


@pytest.mark.parametrize("package", PACKAGES, ids=str)
def test_each_package_says_what_lives_there_and_what_it_may_import(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text("utf-8")))
    assert doc, f"{package} has no docstring"
    assert len(doc.split()) >= 25, f"{package}'s docstring is too short to say what lives there"
    assert re.search(r"\bimport", doc, re.IGNORECASE), f"{package} does not say what it imports"
