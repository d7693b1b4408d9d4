"""``requirements.lock`` pins every dependency the project declares, within its range."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate requirements.lock as its header says"


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(text) for text in names]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock; {REGENERATE}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name} {pins[name]}, outside {requirement}; {REGENERATE}"
        )


def test_the_internet_facing_server_is_bounded_and_no_unused_extra_is_installed() -> None:
    by_name: dict[str, Requirement] = {canonicalize_name(r.name): r for r in declared()}
    aiohttp = by_name["aiohttp"].specifier
    assert any(spec.operator == "<" for spec in aiohttp), "aiohttp needs an upper bound"
    assert by_name["python-telegram-bot"].extras == set()
