"""A flusher process for the crash test: flushes the outbox of a SQLite file until it is empty.

``python -m tests.crash.flusher_child <database> <deliveries>``

Its notifier stands in for a chat platform: a message counts as delivered once it is appended
to the deliveries file and fsync'ed (the platform's acknowledgement); only then does
``send`` return. Each line is ``<pid> <chat key> <alert text>``. The process prints ``ready``
once the database is open, so the test can kill it while it is flushing. SIGTERM stops it
cleanly: the messages in flight finish and are marked, then it exits with status 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from core.clock import SystemClock
from core.models import ChatRef
from core.providers.sandbox import SandboxProvider
from core.replies import Reply
from core.service import ParcelService
from storage.db import Database


class FileNotifier:
    """Appends one line per message and fsyncs it before returning."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        # A platform round trip takes a moment; the crash can land anywhere in it.
        await asyncio.sleep(0.0005)
        text = reply.lines[0].split(" — ")[0] if reply.lines else reply.title
        line = f"{os.getpid()}\t{chat.chat_key}\t{text}\n".encode()
        os.write(self._fd, line)
        os.fsync(self._fd)


async def main(database: Path, deliveries: Path) -> int:
    clock = SystemClock()
    async with Database.open(database) as db:
        service = ParcelService(provider=SandboxProvider(clock), store=db, clock=clock)
        notifier = FileNotifier(deliveries)
        stopping = asyncio.Event()
        stopped: list[asyncio.Task[None]] = []

        def stop() -> None:
            stopping.set()
            stopped.append(asyncio.create_task(service.stop_delivery(grace=10.0)))

        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        print("ready", flush=True)
        while not stopping.is_set() and await db.outbox.pending_count():
            await service.flush_outbox(notifier, limit=25)
        await asyncio.gather(*stopped)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]))))
