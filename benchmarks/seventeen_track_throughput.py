"""17TRACK client throughput against a loopback fake that enforces the real limits.

The fake runs in its own process and answers like 17TRACK v2.2 (fixture payloads), refuses
more than 40 numbers per request and answers 429 to any request beyond 3 in a sliding
one-second window. The client tracks
already-registered numbers (steady-state polling: one ``gettrackinfo`` call per 40 numbers),
so the ceiling is 3 x 40 = 120 numbers/s. Target: at least 95 % of it with zero 429s.

    .venv/bin/python benchmarks/seventeen_track_throughput.py [--numbers 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.models import TrackingNumber, TrackRequest  # noqa: E402
from core.providers.http import RetryPolicy, create_http_client  # noqa: E402
from core.providers.seventeen_track import (  # noqa: E402
    MAX_BATCH,
    SeventeenTrackClient,
    make_limiter,
)
from tests.providers.fake_17track import KEY, PREFIX, Fake17Track  # noqa: E402
from tests.providers.fake_server import FakeServer, json_reply  # noqa: E402

RATE = 3
CEILING = RATE * MAX_BATCH


def serve(count: int, ready: Queue[str], stop: Event) -> None:
    """The fake 17TRACK in its own process, so its work never delays the client's sends."""

    async def main() -> None:
        upstream = Fake17Track(rate_limit=RATE, window=1.0)
        upstream.registered.update(numbers_for(count))
        server = FakeServer()
        upstream.install(server)
        server.route(
            "GET",
            "/stats",
            lambda _request: json_reply(
                {"calls": upstream.calls.get("gettrackinfo", 0), "too_many": upstream.too_many}
            ),
        )
        ready.put(await server.start())
        await asyncio.to_thread(stop.wait)
        await server.close()

    asyncio.run(main())


def numbers_for(count: int) -> list[str]:
    return [f"9400111206206{i:09d}" for i in range(count)]


async def run(url: str, count: int) -> dict[str, float]:
    async with create_http_client(timeout=10.0) as http:
        client = SeventeenTrackClient(
            http,
            api_key=KEY,
            base_url=url + PREFIX,
            limiter=make_limiter(rate=RATE, period=1.0),
            retry=RetryPolicy(attempts=5, base_delay=0.5, jitter=0.2),
        )
        requests = [TrackRequest(TrackingNumber(n), "usps") for n in numbers_for(count)]
        started = time.perf_counter()
        batch = await client.track(requests)
        elapsed = time.perf_counter() - started
        stats = (await http.get(url + "/stats")).json()
    return {
        "numbers": count,
        "tracked": len(batch.shipments),
        "errors": len(batch.errors),
        "requests": stats["calls"],
        "http_429": stats["too_many"],
        "elapsed_s": elapsed,
        "numbers_per_s": len(batch.shipments) / elapsed if elapsed else 0.0,
        "requests_per_s": stats["calls"] / elapsed if elapsed else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, default=10_000)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ready: Queue[str] = context.Queue()
    stop = context.Event()
    process = context.Process(target=serve, args=(args.numbers, ready, stop), daemon=True)
    process.start()
    try:
        url = ready.get(timeout=30)
        result = asyncio.run(run(url, args.numbers))
    finally:
        stop.set()
        process.join(timeout=5)
    share = result["numbers_per_s"] / CEILING
    ok = share >= 0.95 and result["http_429"] == 0 and result["errors"] == 0
    rows = [
        ("numbers requested", f"{result['numbers']:,.0f}"),
        ("numbers tracked", f"{result['tracked']:,.0f}"),
        ("per-number errors", f"{result['errors']:,.0f}"),
        ("gettrackinfo requests", f"{result['requests']:,.0f}"),
        ("HTTP 429 answers", f"{result['http_429']:,.0f}"),
        ("elapsed", f"{result['elapsed_s']:.1f} s"),
        ("requests/s (limit 3)", f"{result['requests_per_s']:.3f}"),
        ("numbers/s (ceiling 120)", f"{result['numbers_per_s']:.1f}"),
        ("share of ceiling", f"{share:.1%}"),
        ("target (>= 95 %, 0 x 429)", "met" if ok else "NOT met"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'metric':<{width}} | value")
    print(f"{'-' * width}-+-{'-' * 12}")
    for name, value in rows:
        print(f"{name:<{width}} | {value}")


if __name__ == "__main__":
    main()
