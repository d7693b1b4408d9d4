"""Start-up failures of the real ``parcelbot run`` process against a fake Telegram Bot API:
one sentence and never the token; an unreachable Bot API is waited out, not a reason to exit."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from tests.bots.processes import start_bot
from tests.bots.telegram.fake_bot_api import FakeBotApi

WRONG_TOKEN = "123456789:AAwrongSecretPartThatMustNeverBePrinted01"


async def _start(tmp_path: Path, base_url: str) -> asyncio.subprocess.Process:
    return await start_bot(
        tmp_path,
        PARCELBOT_DB=str(tmp_path / "startup.sqlite3"),
        PARCELBOT_TELEGRAM_TOKEN=WRONG_TOKEN,
        PARCELBOT_TELEGRAM_API_BASE_URL=base_url,
    )


async def test_a_refused_token_is_one_sentence_without_the_token(
    api: FakeBotApi, tmp_path: Path
) -> None:
    process = await _start(tmp_path, api.base_url)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    text = (out + err).decode()
    assert process.returncode == 1
    assert WRONG_TOKEN.partition(":")[2] not in text
    assert "Traceback" not in text
    last = err.decode().strip().splitlines()[-1]
    assert last == "parcelbot could not run: Telegram refused the bot token; check " + (
        "PARCELBOT_TELEGRAM_TOKEN."
    )


async def test_an_unreachable_bot_api_is_retried_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    process = await _start(tmp_path, f"http://127.0.0.1:{port}/bot")
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while sum("retrying" in line for line in seen) < 2:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=60)
            assert line, "the process exited instead of retrying: " + "".join(seen)
            seen.append(line.decode())
        assert process.returncode is None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.communicate(), timeout=60)
    text = "".join(seen) + rest[1].decode()
    assert WRONG_TOKEN.partition(":")[2] not in text
    assert "Traceback" not in text
