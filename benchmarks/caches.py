"""Whether each cache earns its place: the same work with it and without it, in one run.

Run: ``.venv/bin/python benchmarks/caches.py [--size 10000] [--rounds 2]``

*Poll caches.* ``benchmarks/core_track_poll.py``'s two workloads (first poll: every parcel
changed; steady state: the next 24 h) on ``--size`` sandbox parcels, with the sandbox wrapped
in the arrival estimator as the bot runs it (``core.eta.provider.EstimatingProvider``). Each
variant runs in a fresh process: ``all`` with every cache, and one per cache with only that
cache turned off; each round runs them all, in an order that alternates. A cache pays when
its variant is slower than ``all`` beyond the spread between rounds. Hit rates come from the
``all`` runs (— where the cache keeps no count). Where the rounds fall too far apart to tell
(a shared machine), two memos are also counted in the steady workload of ``all``: the
estimator's last window per parcel (hits × the CPU time an estimate took) and the stored-time
texts (hits × formatting against looking up, timed on the same times).

*Poll-path memos per call*: the calls each ``functools`` memo got in both workloads, replayed
through the memo (emptied first) and through the function it wraps.

*Lookup memos off the poll path* (pure functions memoised with ``functools``): the same calls
timed with the memo and through the function it wraps, interleaved, on inputs like the
bot's (statements of a poll cycle for PostgreSQL's placeholder translation; pasted messages
for the number reader; time-zone names for ``/timezone``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ab import THIS, child_result, median, run_child
from core_track_poll import Clock, PollRun, _poll_all_due, _seed

from core import preferences, reader
from core.eta.model import EtaModel
from core.eta.provider import EstimatingProvider
from core.providers.sandbox import SandboxProvider
from core.service import ParcelService
from storage import codec, postgres, shipments, subscriptions
from storage.db import Database

_BATCH = 1000

# name: (what it is, module, attribute, how it is turned off). "limit": the module's bound set
# to 0 (read at construction or on every use); "memo": the lru_cache replaced by the function
# it wraps (every caller looks it up in its own module).
_SANDBOX = "core.providers.sandbox.provider"
CACHES: dict[str, tuple[str, str, str, str]] = {
    "read": ("stored snapshots (storage.cache)", "storage.shipments", "_CACHE_LIMIT", "limit"),
    "memo": ("what was last written per parcel", "storage.shipments", "_MEMO_LIMIT", "limit"),
    "subs": ("decoded subscription rows", "storage.subscriptions", "_DECODED_LIMIT", "limit"),
    "times": ("stored time → text", "storage.codec", "_TEXTS_LIMIT", "limit"),
    "route": ("route class per places and carrier", "core.incidents", "_route_class", "memo"),
    "place": ("normalised scan place (loops)", "core.incidents", "_place", "memo"),
    "eta_seen": ("last window per parcel (estimator)", "core.eta.provider", "_SEEN_LIMIT", "limit"),
    "eta_name": ("normalised carrier/service name", "core.eta.model", "_name", "memo"),
    "eta_factor": ("factor of an estimate key", "core.eta.learn", "_factor", "memo"),
    "sandbox": ("sandbox's last answer per parcel", _SANDBOX, "_RECENT_LIMIT", "limit"),
}  # fmt: skip


def _turn_off(name: str) -> None:
    _what, module_name, attribute, how = CACHES[name]
    module = importlib.import_module(module_name)
    if how == "limit":
        setattr(module, attribute, 0)
    else:
        setattr(module, attribute, getattr(module, attribute).__wrapped__)


class _Timed:
    """Calls through an instance's method, counted, and the CPU time (this thread) they took."""

    def __init__(self, owner: object, method: str) -> None:
        self.calls = 0
        self.seconds = 0.0
        self._inner = getattr(owner, method)
        setattr(owner, method, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return self._inner(*args, **kwargs)
        finally:
            self.calls += 1
            self.seconds += time.thread_time() - start


class _CountedTexts(dict[Any, str]):
    """``storage.codec``'s stored-time texts, counting lookups that found their text."""

    hits = misses = 0

    def get(self, key: Any, default: Any = None) -> Any:
        text = super().get(key, default)
        if text is None:
            self.misses += 1
        else:
            self.hits += 1
        return text


def _saved_by_estimate_memo(estimates: _Timed, parcels: _Timed) -> dict[str, float]:
    """The last-window memo's hits (parcels whose window was not worked out again) and the
    CPU seconds they saved, at the mean cost of the estimates that did run."""
    hits = parcels.calls - estimates.calls
    each = estimates.seconds / estimates.calls if estimates.calls else 0.0
    return {"hits": hits, "misses": estimates.calls, "saved": hits * each, "each": each}


def _saved_by_texts(texts: _CountedTexts) -> dict[str, float]:
    """The stored-time memo's hits and the CPU seconds they saved: formatting a time against
    looking its text up, timed on the same UTC times."""
    sample = [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(seconds=7 * i) for i in range(4096)]
    table = {value: value.isoformat("T", "microseconds") for value in sample}
    formatting = _timed(lambda: [value.isoformat("T", "microseconds") for value in sample], 5)
    lookup = _timed(lambda: [table.get(value) for value in sample], 5)
    each = max(formatting - lookup, 0.0) / len(sample)
    return {"hits": texts.hits, "misses": texts.misses, "saved": texts.hits * each, "each": each}


async def _poll(size: int, off: str) -> dict[str, Any]:
    if off != "all":
        _turn_off(off)
    first, steady = PollRun(), PollRun()
    texts = _CountedTexts()
    if off == "all":
        codec._texts = texts
    with tempfile.TemporaryDirectory() as folder:
        clock = Clock()
        async with Database.open(Path(folder) / "bench.sqlite3") as db:
            await _seed(db, clock, size)
            sandbox = SandboxProvider(clock)
            model = EtaModel()
            provider = EstimatingProvider(sandbox, model, clock, db.observations)
            service = ParcelService(provider=provider, store=db, clock=clock, rng=random.Random(1))
            clock.current += timedelta(days=2)
            await _poll_all_due(service, _BATCH, first)
            # Counted in the steady workload only, where the memos are meant to pay.
            estimates = _Timed(model, "estimate_shipment")
            parcels = _Timed(provider, "_with_eta")
            texts.hits = texts.misses = 0
            for _ in range(24 * 6):
                clock.current += timedelta(minutes=10)
                await _poll_all_due(service, _BATCH, steady)
            read = db.shipments.cache_stats()
            hits: dict[str, tuple[int, int]] = {
                "read": (read.hits, read.misses),
                "memo": db.shipments.memo_stats(),
                "subs": db.subscriptions.decode_stats(),
            }
    for name, (_what, module_name, attribute, how) in CACHES.items():
        if how == "memo" and name != off:
            info = getattr(importlib.import_module(module_name), attribute).cache_info()
            hits[name] = (info.hits, info.misses)
    return {
        "first": first.rate,
        "steady": steady.rate,
        "first_cpu": first.cpu_rate,
        "steady_cpu": steady.cpu_rate,
        "steady_cpu_seconds": steady.cpu_seconds,
        "hits": hits,
        "saved": {
            "eta_seen": _saved_by_estimate_memo(estimates, parcels),
            "times": _saved_by_texts(texts),
        },
    }


async def _record_memo_calls(size: int) -> dict[str, list[tuple[Any, ...]]]:
    """The arguments each poll-path memo was called with during both poll workloads on
    ``size`` parcels, in call order (so replaying them reproduces the hit rate)."""
    calls: dict[str, list[tuple[Any, ...]]] = {}
    memos: dict[str, Any] = {}
    for name, (_what, module_name, attribute, how) in CACHES.items():
        if how != "memo":
            continue
        module = importlib.import_module(module_name)
        memo = memos[name] = getattr(module, attribute)
        seen: list[tuple[Any, ...]] = []
        calls[name] = seen

        def recording(*args: Any, _memo: Any = memo, _seen: list[Any] = seen) -> Any:
            _seen.append(args)
            return _memo(*args)

        setattr(module, attribute, recording)
    try:
        with tempfile.TemporaryDirectory() as folder:
            clock = Clock()
            async with Database.open(Path(folder) / "bench.sqlite3") as db:
                await _seed(db, clock, size)
                sandbox = SandboxProvider(clock)
                provider = EstimatingProvider(sandbox, EtaModel(), clock, db.observations)
                service = ParcelService(
                    provider=provider, store=db, clock=clock, rng=random.Random(1)
                )
                clock.current += timedelta(days=2)
                await _poll_all_due(service, _BATCH, PollRun())
                for _ in range(24 * 6):
                    clock.current += timedelta(minutes=10)
                    await _poll_all_due(service, _BATCH, PollRun())
    finally:
        for name, memo in memos.items():
            _what, module_name, attribute, _how = CACHES[name]
            setattr(importlib.import_module(module_name), attribute, memo)
    return calls


def _poll_memos(size: int) -> list[tuple[str, int, float, float, float]]:
    """(memo, calls, hit rate, µs per call with it, µs per call without): each poll-path memo
    replaying the calls it got in both poll workloads, through the memo (emptied first) and
    through the function it wraps, interleaved, best of 3 each of 5 times."""
    rows: list[tuple[str, int, float, float, float]] = []
    recorded = asyncio.run(_record_memo_calls(size))
    for name, args in recorded.items():
        _what, module_name, attribute, _how = CACHES[name]
        memo = getattr(importlib.import_module(module_name), attribute)
        plain = memo.__wrapped__

        def replay(fn: Callable[..., object], _args: list[tuple[Any, ...]] = args) -> None:
            for call in _args:
                fn(*call)

        def cold(_memo: Any = memo) -> None:
            _memo.cache_clear()
            replay(_memo)

        cold()
        info = memo.cache_info()
        rate = info.hits / (info.hits + info.misses) if info.hits + info.misses else 0.0
        with_memo, without = [], []
        for _ in range(5):
            with_memo.append(_timed(cold, 3))
            without.append(_timed(functools.partial(replay, plain), 3))
        count = max(len(args), 1)
        rows.append(
            (
                name,
                len(args),
                rate,
                statistics.median(with_memo) / count * 1e6,
                statistics.median(without) / count * 1e6,
            )
        )
    return rows


def _timed(call: Callable[[], object], repeat: int) -> float:
    """Best of ``repeat`` timings of ``call`` (seconds): noise only ever adds time."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _lookups() -> list[tuple[str, float, float, float]]:
    """(memo, hit rate, µs per call with it, µs per call without) for the memos off the poll
    path, each on a workload like the bot's."""
    statements = [
        value
        for module in (shipments, subscriptions)
        for value in vars(module).values()
        if isinstance(value, str) and "?" in value and value.lstrip()[:6].upper() in _SQL
    ]
    zones = ["Asia/Jakarta", "europe/berlin", "UTC", "America/Sao_Paulo", "asia/manila"]
    pasted = [
        "1Z999AA10123456784",
        "where is my order 576461413 pls",
        "tracking: JNE 0123 4567 8901 2345",
        "RR123456785CN and LZ123456789CN",
        "9400 1000 0000 0000 0000 00",
    ]
    rows: list[tuple[str, float, float, float]] = []
    work: list[tuple[str, Any, Callable[[Any], object], int]] = [
        ("storage.postgres.translate (PostgreSQL placeholders)", postgres.translate,
         lambda fn: [fn(sql) for sql in statements * 20], len(statements) * 20),
        ("core.reader._judge_cached (pasted numbers)", reader._judge_cached,
         lambda fn: [reader.read(text) for text in pasted * 20], len(pasted) * 20),
        ("core.preferences._zone_names (/timezone)", preferences._zone_names,
         lambda fn: [preferences.parse_timezone(zone) for zone in zones], len(zones)),
    ]  # fmt: skip
    for name, memo, run, calls in work:
        module_name, _, attribute = name.split(" ")[0].rpartition(".")
        module = importlib.import_module(module_name)
        plain = memo.__wrapped__
        memo.cache_clear()
        run(memo)
        info = memo.cache_info()
        rate = info.hits / (info.hits + info.misses) if info.hits + info.misses else 0.0
        with_memo, without = [], []
        for _ in range(5):
            with_memo.append(_timed(functools.partial(run, memo), 3))
            setattr(module, attribute, plain)
            try:
                without.append(_timed(functools.partial(run, plain), 3))
            finally:
                setattr(module, attribute, memo)
        rows.append(
            (
                name,
                rate,
                statistics.median(with_memo) / calls * 1e6,
                statistics.median(without) / calls * 1e6,
            )
        )
    return rows


_SQL = ("SELECT", "INSERT", "UPDATE", "DELETE", "\nSELEC", "\nINSER", "\nUPDAT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="these caches only (default: all)")
    parser.add_argument(
        "--memos-only", action="store_true", help="only the per-call tables of the memos"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child_result(asyncio.run(_poll(options.size, options.child)))
        return
    if options.memos_only:
        _print_memos(options.size)
        return
    names = ["all", *(options.only or CACHES)]
    script = Path(__file__).resolve()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(options.rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            results[name].append(
                run_child(THIS, script, ["--child", name, "--size", str(options.size)])
            )
            print(f"  round {index + 1}/{options.rounds} {name} done", file=sys.stderr, flush=True)
    print()
    print(
        f"Poll workloads on {options.size:,} parcels (estimating sandbox); medians of "
        f"{options.rounds} interleaved rounds, a fresh process each; hit rates from `all`."
    )
    print()
    print(
        "| turned off | what it holds | hit rate | first poll, updates/s (CPU s) "
        "| steady, updates/s (CPU s) | steady vs all | steady per CPU s vs all |"
    )
    print("|---|---|---|---|---|---|---|")
    base = median([r["steady"] for r in results["all"]])
    base_cpu = median([r["steady_cpu"] for r in results["all"]])
    for name in names:
        runs = results[name]
        what = "nothing (every cache on)" if name == "all" else CACHES[name][0]
        hit_rate = "—"
        if name != "all":
            counted = results["all"][0]["hits"].get(name)
            if counted is not None and sum(counted):
                hit_rate = f"{counted[0] / sum(counted):.1%}"
        steady = median([r["steady"] for r in runs])
        print(
            f"| {name} | {what} | {hit_rate} "
            f"| {median([r['first'] for r in runs]):,.0f} "
            f"({median([r['first_cpu'] for r in runs]):,.0f}) "
            f"| {steady:,.0f} ({median([r['steady_cpu'] for r in runs]):,.0f}) "
            f"| {steady / base:.2f}× | {median([r['steady_cpu'] for r in runs]) / base_cpu:.2f}× |"
        )
    saved = results["all"][0].get("saved", {})
    if saved:
        print()
        print(
            "Memos whose worth the rounds cannot tell apart, counted in the steady workload "
            "instead (`all`, first round): CPU saved by their hits at the per-call cost."
        )
        print()
        print("| memo | hits | misses | µs saved per hit | CPU saved | of the workload's CPU |")
        print("|---|---|---|---|---|---|")
        total = results["all"][0]["steady_cpu_seconds"]
        for name, row in saved.items():
            print(
                f"| {name} | {row['hits']:,.0f} | {row['misses']:,.0f} | {row['each'] * 1e6:.2f} "
                f"| {row['saved']:.3f} s | {row['saved'] / total:.1%} |"
            )
    # How far apart the rounds of the same code fall: a cache pays only when turning it off
    # costs more than that.
    spread = [r["steady_cpu"] / base_cpu for r in results["all"]]
    print()
    print(
        f"Rounds of `all` (every cache on), steady per CPU second: {min(spread):.2f}× to "
        f"{max(spread):.2f}× of their median."
    )
    print()
    _print_memos(options.size)


def _print_memos(size: int) -> None:
    print(
        f"Poll-path memos, per call: the calls each got in both workloads on "
        f"{size:,} parcels, replayed with the memo (emptied first) and without."
    )
    print()
    print("| memo | what it holds | calls | hit rate | µs per call with | without | pays |")
    print("|---|---|---|---|---|---|---|")
    for name, count, rate, with_memo, without in _poll_memos(size):
        print(
            f"| {name} | {CACHES[name][0]} | {count:,} | {rate:.1%} | {with_memo:.2f} "
            f"| {without:.2f} | {'yes' if with_memo < without else 'no'} |"
        )
    print()
    print("| memo (off the poll path) | hit rate | µs per call with | without |")
    print("|---|---|---|---|")
    for name, rate, with_memo, without in _lookups():
        print(f"| {name} | {rate:.1%} | {with_memo:.2f} | {without:.2f} |")


if __name__ == "__main__":
    main()
