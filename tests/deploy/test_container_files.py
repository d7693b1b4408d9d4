"""The container files, checked without a container engine.

``Dockerfile``: its install steps are run the other way round: the files it copies are copied
into a scratch folder standing for ``/app``, the ``RUN`` steps that build the virtual
environment run there (image paths mapped to scratch folders), its ``ENV`` applies, and the
resulting ``parcelbot`` is started with the image's own ``CMD`` against a loopback fake
Discord; the image's ``HEALTHCHECK`` command must then pass. The system set-up steps (the
user, ``/data``) are the image's own and need root, so they are only read: the image must run
as a non-root user with the database on a volume.

``compose.yaml``: validated against the Compose Specification's JSON schema (vendored in
``tests/deploy/compose-spec.json`` with its origin and licence) and read for the project's
own rules (profile, restart policy, health check, data volume).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from tests.bots.discord.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("compose-spec.json")
IMAGE_PORT = "8081"


@dataclass(frozen=True)
class Step:
    keyword: str
    args: str


def dockerfile_steps(text: str) -> list[Step]:
    """Instructions with continuation lines joined and comments dropped."""
    steps: list[Step] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        steps.append(Step(keyword.upper(), args.strip()))
    return steps


def env_pairs(args: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(args))


class Image:
    """Image paths mapped into a scratch folder."""

    def __init__(self, scratch: Path) -> None:
        self.paths = {p: scratch / p.strip("/").replace("/", "_") for p in ("/opt/venv", "/app")}
        self.paths["/data"] = scratch / "data"

    def local(self, text: str) -> str:
        for image_path, here in self.paths.items():
            text = text.replace(image_path, str(here))
        return text


STEPS = dockerfile_steps((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def test_the_image_runs_as_a_non_root_user_with_the_database_on_a_volume() -> None:
    keywords = [step.keyword for step in STEPS]
    assert STEPS[0] == Step("FROM", "python:3.11-slim")
    user = [step.args for step in STEPS if step.keyword == "USER"]
    assert user == ["parcelbot"]
    assert keywords.index("USER") < keywords.index("CMD")
    volumes = json.loads(next(step.args for step in STEPS if step.keyword == "VOLUME"))
    environment: dict[str, str] = {}
    for step in STEPS:
        if step.keyword == "ENV":
            environment.update(env_pairs(step.args))
    assert Path(environment["PARCELBOT_DB"]).parent.as_posix() in volumes
    assert environment["PARCELBOT_HEALTH_PORT"] == IMAGE_PORT
    assert "HEALTHCHECK" in keywords
    assert json.loads(next(s.args for s in STEPS if s.keyword == "CMD")) == ["parcelbot", "run"]


async def run_checked(command: str, *, cwd: Path, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        command,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 900)
    assert process.returncode == 0, f"{command}\n{out.decode()[-3000:]}"


@pytest.mark.timeout(1200)
async def test_the_dockerfile_install_steps_give_a_parcelbot_that_runs_and_is_healthy(
    tmp_path: Path, free_tcp_port: int
) -> None:
    image = Image(tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)  # the base image's `python`
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARCELBOT_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    workdir = tmp_path
    healthcheck: list[str] = []
    command: list[str] = []
    installed = 0
    for step in STEPS:
        if step.keyword == "WORKDIR":
            workdir = Path(image.local(step.args))
            workdir.mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY":
            *sources, target = shlex.split(step.args)
            destination = workdir / target
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(
                        origin, destination, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, destination / origin.name)
        elif step.keyword == "RUN" and "/opt/venv" in step.args:
            await run_checked(image.local(step.args), cwd=workdir, env=env)
            installed += 1
        elif step.keyword == "ENV":
            for key, value in env_pairs(step.args).items():
                env[key] = image.local(value).replace("$PATH", env.get("PATH", ""))
        elif step.keyword == "HEALTHCHECK":
            healthcheck = json.loads(step.args[step.args.index("CMD") + 3 :])
        elif step.keyword == "CMD":
            command = json.loads(step.args)
    assert installed == 1 and healthcheck and command
    assert Path(env["PARCELBOT_DB"]).parent == image.paths["/data"]
    image.paths["/data"].mkdir(exist_ok=True)
    binary = shutil.which(command[0], path=env["PATH"])
    assert binary is not None and Path(binary).parent == image.paths["/opt/venv"] / "bin"

    fake = FakeDiscord()
    await fake.start()
    env.update(
        PARCELBOT_HEALTH_PORT=str(free_tcp_port),
        PARCELBOT_HEALTH_HOST="127.0.0.1",
        PARCELBOT_DISCORD_TOKEN="image-test-token",
        PARCELBOT_DISCORD_API_BASE_URL=fake.api_base,
        PARCELBOT_DISCORD_GATEWAY_URL=fake.gateway_url,
    )
    bot = await asyncio.create_subprocess_exec(
        binary,
        *command[1:],
        cwd=workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        probe = [part.replace(IMAGE_PORT, str(free_tcp_port)) for part in healthcheck]
        passed = False
        async with asyncio.timeout(60):
            while not passed:
                check = await asyncio.create_subprocess_exec(
                    *probe, env=env, stderr=asyncio.subprocess.DEVNULL
                )
                passed = await check.wait() == 0
                if not passed:
                    assert bot.returncode is None, "parcelbot stopped before it was healthy"
                    await asyncio.sleep(0.2)
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(bot.communicate(), 30)
        await fake.stop()
    assert bot.returncode == 0, err.decode()[-3000:]
    assert "parcelbot is running on discord" in out.decode()
    # The image logs JSON lines.
    assert all(json.loads(line) for line in err.decode().splitlines() if line.strip())
    assert await asyncio.to_thread(Path(env["PARCELBOT_DB"]).is_file)


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = Draft201909Validator(schema)
    return [error.message for error in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_schema() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_check_catches_a_broken_compose_file() -> None:
    broken = compose()
    service = broken["services"]["parcelbot"]
    service["restart"] = ["always"]
    service["healthcheck"]["intervall"] = "30s"
    assert len(schema_errors(broken)) == 2


def test_compose_runs_the_image_with_restarts_health_checks_and_a_data_volume() -> None:
    doc = compose()
    service = doc["services"]["parcelbot"]
    profiles = {p for s in doc["services"].values() for p in s.get("profiles", [])}
    # No PostgreSQL profile until parcelbot has a PostgreSQL backend.
    assert profiles == {"sqlite"}
    assert service["build"] == "." and service["restart"] == "unless-stopped"
    assert service["environment"]["PARCELBOT_HEALTH_PORT"] == IMAGE_PORT
    assert "/ready" in " ".join(service["healthcheck"]["test"])
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert f"127.0.0.1:{IMAGE_PORT}:{IMAGE_PORT}" in service["ports"]
    assert set(doc["volumes"]) == {v.split(":")[0] for v in service["volumes"]}
