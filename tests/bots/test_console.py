"""The console chat as a newcomer uses it: the real ``parcelbot`` program with piped input."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bots.console_bot import ConsoleSender
from core.alerts import alert_reply
from core.models import Alert, AlertKind, Shipment, Status, TrackingEvent, TrackingNumber
from core.providers.sandbox import SAMPLE_NUMBERS, Scenario
from tests.bots.processes import run_console
from tests.fakes import chat

NUMBER = SAMPLE_NUMBERS[Scenario.NORMAL]


def _console(db: Path, script: str) -> str:
    return run_console(db, script)


def test_console_tracks_subscribes_alerts_once_and_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "console.sqlite3"
    first = _console(
        db, f"/track {NUMBER}\n/subscribe {NUMBER} sneakers\n/advance 1d\n/advance 1m\n"
    )
    assert "parcelbot console" in first
    assert f"UPS {NUMBER}" in first
    assert "Subscribed “sneakers”" in first
    alerts = [block for block in first.split("\n🔔 ")[1:]]
    assert alerts, first
    # The one-minute step adds nothing: every alert was printed exactly once.
    headlines = [block.splitlines()[0] for block in alerts]
    assert len(headlines) == len(set(headlines)), headlines
    minute = [line for line in first.splitlines() if line.startswith("Sandbox clock moved 1m")]
    assert len(minute) == 1
    assert minute[0].endswith(" 0 alerts queued.")

    second = _console(db, "/list\n/advance 6d\n")
    assert "sneakers" in second
    later = [block.splitlines()[0] for block in second.split("\n🔔 ")[1:]]
    assert later, second
    assert not set(later) & set(headlines)


def test_console_bad_input_is_one_sentence(tmp_path: Path) -> None:
    out = _console(tmp_path / "bad.sqlite3", "/track <script>\n/nope\n\n/advance forever\n")
    assert "only letters and digits" in out
    assert "I don't know the command /nope" in out
    assert "/advance 6h" in out


async def test_provider_text_cannot_drive_the_terminal() -> None:
    """A carrier's scan text with terminal escapes (title change, bell, clear screen) and a
    bidi override is printed without any of them."""
    hostile = "Arrived\x1b]0;pwned\x07\x1b[2J at hub\u202e"
    event = TrackingEvent(datetime(2026, 3, 2, 9, tzinfo=UTC), Status.IN_TRANSIT, hostile)
    shipment = Shipment("ups", TrackingNumber("1ZSBX1230300000076"), Status.IN_TRANSIT, (event,))
    reply = alert_reply(Alert(AlertKind.MOVED, shipment.key, "k", event=event), shipment)
    out = io.StringIO()
    await ConsoleSender(out).send(chat("console"), reply)
    printed = out.getvalue()
    assert "Arrived]0;pwned[2J at hub" in printed
    assert not any(char in printed for char in "\x1b\x07\u202e")


# psycopg too: a bot on SQLite has no use for the PostgreSQL driver; nor has a chat the
# database copier of ``parcelbot db copy``, or Prometheus' client (an interactive session serves
# no /metrics).
_PLATFORM_STACKS = (
    "aiohttp",
    "telegram",
    "discord",
    "httpx",
    "psycopg",
    "storage.copy",
    "prometheus_client",
)

_RUN_AND_LIST_MODULES = """
import sys
from bots.__main__ import main
code = main(["console"])
print("LOADED", ",".join(m for m in {stacks!r} if m in sys.modules))
raise SystemExit(code)
"""


def _console_loading(modules: tuple[str, ...], typed: str, tmp_path: Path) -> str:
    """Run the console with ``typed`` as its input; its output, ending with a ``LOADED`` line
    of those ``modules`` that were imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PARCELBOT_")}
    env["PARCELBOT_DB"] = str(tmp_path / "lazy.sqlite3")
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", _RUN_AND_LIST_MODULES.format(stacks=modules)],
        input=typed,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sandbox_console_loads_no_platform_stack(tmp_path: Path) -> None:
    out = _console_loading(_PLATFORM_STACKS, f"/track {NUMBER}\n", tmp_path)
    # The lookup really ran: the console answered it before the modules were listed.
    assert f"UPS {NUMBER}" in out
    loaded = [line for line in out.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED "], out


# What a console that is started and left at once never needs: Babel (no date written, the
# catalogs compiled only for a language spoken), nor what a chat never needs.
_NOT_AT_START = ("babel", *_PLATFORM_STACKS)


def test_sandbox_console_start_loads_only_what_it_uses(tmp_path: Path) -> None:
    out = _console_loading(_NOT_AT_START, "", tmp_path)
    assert "the sandbox carrier is running" in out
    loaded = [line for line in out.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED "], out


# One conversation through the real program per kind of paste: what the buyer typed, and
# what must appear in the answer (in this order in the output).
PASTES: tuple[tuple[str, str, str], ...] = (
    ("grouped", "9400 1118 9900 0000 0002 75", "USPS 9400111899000000000275"),
    ("link", "https://www.fedex.com/fedextrack/?trknbr=771200000041", "FedEx 771200000041"),
    (
        "e-mail line",
        "Your order has shipped with J&T Express, tracking number 812345678901.",
        "J&T Express 812345678901",
    ),
    ("fullwidth", "１ＺＳＢＸ１２３０３０００００２６３", f"UPS {NUMBER}"),
    ("zero-width", f"\ufeff{NUMBER[:6]}\u200b{NUMBER[6:]}", f"UPS {NUMBER}"),
    ("several", f"{NUMBER} 771200000041", "FedEx 771200000041"),
    ("label", f"/subscribe {NUMBER} amazon headphones", f"amazon headphones — UPS {NUMBER}"),
    ("track a label", "/track amazon headphones", f"amazon headphones — UPS {NUMBER}"),
    ("carrier word", "/track 771200000041 evri", "Is 771200000041 really an Evri number?"),
    ("typo", "771200000042", "looks like a FedEx number but its check digit does not match"),
    (
        "cut short",
        "9400 1118 9900 0000 0000 275",
        "I could not read “9400 1118 9900 0000 0000 275”",
    ),
    ("sample", "1Z999AA10123456784", "looks like a sample or made-up number"),
    ("plain word", "hi", "Hi! I track your parcels."),
    ("question", "my tracking is not updating", "Tracking not updating"),
    ("explain", "/explain peak season", "Peak-season delays"),
)


def test_console_understands_what_buyers_paste(tmp_path: Path) -> None:
    out = _console(tmp_path / "paste.sqlite3", "".join(f"{text}\n" for _, text, _ in PASTES))
    position = 0
    for category, _, expected in PASTES:
        found = out.find(expected, position)
        assert found >= 0, (category, expected, out[position:])
        position = found + len(expected)
