"""The longest event-loop callbacks while ``/track`` runs beside a big poll, and where they spend
their time.

Run: ``.venv/bin/python benchmarks/loop_stalls.py --size 20000 [--base path]``

Runs ``track_during_poll.py``'s scenario (idle ``/track`` requests, then the same during a poll
of ``--size`` parcels) in a fresh process per checkout, with every event-loop callback timed:

- each callback's wall time and the CPU time of the event loop's thread meanwhile (the rest is
  waiting: for the interpreter lock held by another thread, for a blocking call, or for a
  core of a busy machine);
- the coroutine a task step resumed in and the one it stopped in, for the longest ones;
- a sampler thread that, while one callback has run longer than ``--sample-after`` ms, records
  the event loop thread's innermost frames: which code the long stretches spend their time in;
- each garbage collection's duration, wall and CPU (``--gen0`` tries another young-generation
  threshold than ``bots.gc_settings``'s).

Only a tool to find stalls: every callback costs a few microseconds more while it runs, and the
sides run one after the other, once each (``track_during_poll.py`` compares interleaved).
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import collections
import gc
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import track_during_poll
from ab import checkouts, child_result, run_child

import bots.gc_settings


def _where(coro: Any) -> str:
    """The innermost awaiting coroutine's file:line function, walking ``cr_await``."""
    last = None
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            last = frame
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    if last is None:
        return "?"
    return _frame_name(last)


def _frame_name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    for marker in ("/core/", "/storage/", "/bots/", "/benchmarks/", "/asyncio/", "/aiosqlite/"):
        if marker in path:
            path = marker.strip("/") + "/" + path.rsplit(marker, 1)[1]
            break
    else:
        path = path.rsplit("/", 1)[-1]
    return f"{path}:{frame.f_lineno} {code.co_name}"


class Probe:
    def __init__(self, sample_after: float) -> None:
        self.records: list[tuple[float, float, float, str, str, list[Any]]] = []
        self.current_stacks: collections.Counter[str] = collections.Counter()
        self.gc_in_callback = 0.0
        self._gc_cpu = 0.0
        self.current_start = 0.0
        self.running = False
        self.sample_after = sample_after
        self.samples: collections.Counter[str] = collections.Counter()
        self.inner: collections.Counter[str] = collections.Counter()
        self.gcs: list[tuple[int, float, float, int]] = []
        self._gc_start = 0.0
        self.phase = "seed"
        self.main_id = threading.get_ident()
        self.stop = threading.Event()

    def install(self) -> None:
        probe = self
        original = asyncio.events.Handle._run

        def _run(handle: asyncio.events.Handle) -> None:
            callback = handle._callback  # type: ignore[attr-defined]
            task = getattr(callback, "__self__", None)
            coro = task.get_coro() if isinstance(task, asyncio.Task) else None
            before = _where(coro) if coro is not None else repr(callback)[:80]
            probe.current_start = start = time.perf_counter()
            cpu = time.thread_time()
            probe.running = True
            probe.gc_in_callback = 0.0
            probe.current_stacks = collections.Counter()
            try:
                original(handle)
            finally:
                probe.running = False
                wall = time.perf_counter() - start
                used = time.thread_time() - cpu
                if wall > 0.0005 and probe.phase == "busy":
                    after = _where(coro) if coro is not None else ""
                    probe.records.append(
                        (
                            wall,
                            used,
                            probe.gc_in_callback,
                            before,
                            after,
                            probe.current_stacks.most_common(2),
                        )
                    )

        asyncio.events.Handle._run = _run  # type: ignore[method-assign,assignment]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                probe._gc_start = time.perf_counter()
                probe._gc_cpu = time.thread_time()
            else:
                took = time.perf_counter() - probe._gc_start
                probe.gc_in_callback += took
                if probe.phase == "busy":
                    cpu = time.thread_time() - probe._gc_cpu
                    probe.gcs.append((info["generation"], took, cpu, info["collected"]))

        gc.callbacks.insert(0, on_gc)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self.stop.is_set():
            time.sleep(0.0005)
            if self.phase != "busy" or not self.running:
                continue
            if time.perf_counter() - self.current_start < self.sample_after:
                continue
            frame = sys._current_frames().get(self.main_id)
            if frame is None:
                continue
            self.inner[_frame_name(frame)] += 1
            stack: list[str] = []
            while frame is not None and len(stack) < 40:
                stack.append(_frame_name(frame))
                frame = frame.f_back
            # The outermost frame of ours below the event loop: the code that runs long.
            mine = [name for name in stack if name.startswith(("core/", "storage/"))]
            where = " < ".join(mine[:4]) or stack[0]
            self.samples[where] += 1
            self.current_stacks[where] += 1


async def _child(size: int, sample_after: float, gen0: int) -> dict[str, Any]:
    if gen0:
        bots.gc_settings.BOT_GC_THRESHOLDS = (gen0, 10, 10)

    probe = Probe(sample_after)
    probe.install()
    original = track_during_poll._requests
    calls = 0

    async def requests(*args: Any, **kwargs: Any) -> list[float]:
        nonlocal calls
        calls += 1
        probe.phase = "idle" if calls == 1 else "busy"
        try:
            return await original(*args, **kwargs)
        finally:
            probe.phase = "done"

    track_during_poll._requests = requests
    result = await track_during_poll._track_while_polling(size)
    probe.stop.set()
    records = sorted(probe.records, reverse=True)
    walls = [r[0] for r in probe.records]
    return {
        "result": result,
        "over_2ms": sum(1 for w in walls if w > 0.002),
        "over_5ms": sum(1 for w in walls if w > 0.005),
        "over_10ms": sum(1 for w in walls if w > 0.010),
        "longest": [
            [round(w * 1000, 2), round(c * 1000, 2), round(g * 1000, 2), before, after, stacks]
            for w, c, g, before, after, stacks in records[:30]
        ],
        "samples": probe.samples.most_common(25),
        "inner": probe.inner.most_common(25),
        "gc": [
            (g, round(d * 1000, 2), round(c * 1000, 2), n)
            for g, d, c, n in sorted(probe.gcs, key=lambda x: -x[1])[:10]
        ],
        "gc_count": len(probe.gcs),
        "gc_total_ms": round(sum(d for _g, d, _c, _n in probe.gcs) * 1000, 1),
        "gc_cpu_ms": round(sum(c for _g, _d, c, _n in probe.gcs) * 1000, 1),
        "stretch_cpu_over_2ms": sum(1 for r in probe.records if r[1] - r[2] > 0.002),
        "stretch_cpu_over_5ms": sum(1 for r in probe.records if r[1] - r[2] > 0.005),
        "longest_cpu": [
            [round(w * 1000, 2), round(c * 1000, 2), round(g * 1000, 2), before, after, stacks]
            for w, c, g, before, after, stacks in sorted(probe.records, key=lambda r: r[2] - r[1])[
                :15
            ]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", action="append")
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--sample-after", type=float, default=2.0, help="ms")
    parser.add_argument("--gen0", type=int, default=0, help="another young-generation threshold")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_result(asyncio.run(_child(options.size, options.sample_after / 1000, options.gen0)))
        return
    script = Path(__file__).resolve()
    for label, path in checkouts(options.base):
        found = run_child(
            path,
            script,
            [
                "--child",
                "--size",
                str(options.size),
                "--sample-after",
                str(options.sample_after),
                "--gen0",
                str(options.gen0),
            ],
        )
        print(f"## {label} ({path}), {options.size:,} parcels")
        result = found["result"]
        print(
            "/track ms: idle p50 {idle_p50:.2f} p99 {idle_p99:.2f}; busy p50 {busy_p50:.2f} "
            "p99 {busy_p99:.2f} max {busy_max:.2f}; poll {poll_rate:,.0f}/s".format(**result)
        )
        print(
            f"callbacks > 2 ms: {found['over_2ms']}, > 5 ms: {found['over_5ms']}, "
            f"> 10 ms: {found['over_10ms']}"
        )
        print(
            f"callbacks whose CPU time without garbage collection is > 2 ms: "
            f"{found['stretch_cpu_over_2ms']}, > 5 ms: {found['stretch_cpu_over_5ms']}"
        )
        print(
            f"gc during the poll: {found['gc_count']} passes, {found['gc_total_ms']} ms wall, "
            f"{found['gc_cpu_ms']} ms CPU; longest (generation, wall, CPU, collected) {found['gc']}"
        )
        print("longest callbacks (wall ms, loop-thread CPU ms, gc ms, resumed in, stopped in):")
        for wall, cpu, gcms, before, after, stacks in found["longest"]:
            print(f"  {wall:7.2f} {cpu:7.2f} {gcms:6.2f}  {before}  ->  {after}")
            for where, count in stacks:
                print(f"                              {count:4d} x {where}")
        print("most CPU outside garbage collection (wall ms, CPU ms, gc ms, resumed, stopped):")
        for wall, cpu, gcms, before, after, stacks in found["longest_cpu"]:
            print(f"  {wall:7.2f} {cpu:7.2f} {gcms:6.2f}  {before}  ->  {after}")
            for where, count in stacks:
                print(f"                              {count:4d} x {where}")
        print("samples inside long callbacks (our outermost frames):")
        for name, count in found["samples"]:
            print(f"  {count:5d}  {name}")
        print("samples inside long callbacks (innermost frame):")
        for name, count in found["inner"]:
            print(f"  {count:5d}  {name}")
        print()


if __name__ == "__main__":
    main()
