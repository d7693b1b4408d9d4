"""Serving a fake's aiohttp app on a free loopback port, for the fakes' ``start`` methods."""

from __future__ import annotations

from aiohttp import web

__all__ = ["start_loopback"]


async def start_loopback(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 at a free port; return its runner (``cleanup()`` stops it)
    and its base URL ``http://127.0.0.1:<port>``."""
    runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
    except BaseException:
        await runner.cleanup()
        raise
    port = int(runner.addresses[0][1])
    return runner, f"http://127.0.0.1:{port}"
