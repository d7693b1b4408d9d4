"""ETA model at scale: learning 100,000 deliveries, estimate latency and memory.

    .venv/bin/python benchmarks/eta_scale.py [N]

Generates ``N`` (default 100,000) synthetic deliveries with the cardinality of a busy shop
(27 regions, 3,000 sellers, postcodes, freight, weight, items, the shop's promised date), then
measures on the same rows:

* learning them all (``EtaModel.observe_many``: incremental, one delivery at a time);
* one more delivery learned after that (the per-delivery update the bot does);
* estimates at purchase and at handoff (mean and p99 per call);
* memory held by the model (``tracemalloc``), and numbers it stores, which stay bounded.

Beside each figure, the same rows through an online lane median (sorted lists per lane, the
bench's baseline) for scale.
"""

from __future__ import annotations

import bisect
import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bots.public_holidays import PublicHolidays
from core.eta.calendar import calendar_for_country
from core.eta.model import EtaModel
from core.models import Observation, ParcelDetails

REGIONS = [f"R{i:02d}" for i in range(27)]


def deliveries(count: int, seed: int = 7) -> list[Observation]:
    rng = random.Random(seed)
    sellers = [(rng.choice(REGIONS[:8]), f"{rng.randrange(1000, 99999):05d}") for _ in range(3000)]
    start = datetime(2022, 1, 3, 9, tzinfo=UTC)
    out = []
    for i in range(count):
        origin, zip_code = rng.choice(sellers)
        destination = rng.choice(REGIONS)
        ordered = start + timedelta(minutes=7 * i)
        handled = ordered + timedelta(days=rng.lognormvariate(0.3, 0.6))
        distance = 1.0 + (REGIONS.index(destination) % 9) * 0.4
        delivered = handled + timedelta(days=rng.lognormvariate(1.0, 0.5) * distance)
        promised = ordered + timedelta(days=round(6 + 4 * distance + rng.uniform(0, 6)))
        out.append(
            Observation(
                carrier="post_br",
                service="",
                origin=origin,
                destination=destination,
                ordered_at=ordered,
                handed_over_at=handled,
                delivered_at=delivered,
                promised_by=promised,
                details=ParcelDetails(
                    origin_zip=zip_code,
                    destination_zip=f"{rng.randrange(1000, 99999):05d}",
                    freight=round(rng.uniform(8, 80), 2),
                    weight_g=rng.choice([200, 500, 1200, 3000, 9000]),
                    items=rng.choice([1, 1, 1, 2, 3]),
                ),
            )
        )
    return out


def lane_median_fit(rows: list[Observation]) -> dict[tuple[str, str], list[float]]:
    lanes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for obs in sorted(rows, key=lambda o: o.delivered_at):
        span = (obs.delivered_at - obs.ordered_at).total_seconds() / 86_400
        bisect.insort(lanes[(obs.origin, obs.destination)], span)
    return lanes


def _traced(make: Callable[[], object]) -> int:
    """Bytes still allocated by what ``make`` returns (while it is alive)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    made = make()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del made
    return held


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 100_000
    rows = deliveries(count + 1)
    history, last = rows[:-1], rows[-1]
    cal = calendar_for_country("BR", "America/Sao_Paulo", saturday=0.3, holidays=PublicHolidays())

    def build() -> EtaModel:
        made = EtaModel(calendars={"post_br": cal})
        made.observe_many(history)
        return made

    tick, cpu = time.perf_counter(), time.process_time()
    model = build()
    fit, fit_cpu = time.perf_counter() - tick, time.process_time() - cpu
    tick = time.perf_counter()
    model.observe(last)
    one = time.perf_counter() - tick
    tick, cpu = time.perf_counter(), time.process_time()
    lanes = lane_median_fit(history)
    lane_fit, lane_cpu = time.perf_counter() - tick, time.process_time() - cpu
    # Memory in separate runs: tracing allocations slows everything down.
    held = _traced(build)
    lane_held = _traced(lambda: lane_median_fit(history))

    probes = rows[-2000:]
    now = last.delivered_at
    timings: list[float] = []
    for obs in probes:
        for handed in (None, now):
            tick = time.perf_counter()
            model.estimate(
                carrier=obs.carrier,
                origin=obs.origin,
                destination=obs.destination,
                ordered_at=now - timedelta(days=1),
                handed_over_at=handed,
                now=now,
                details=obs.details,
                promised_by=obs.promised_by,
            )
            timings.append(time.perf_counter() - tick)
    lane_timings: list[float] = []
    for obs in probes:
        tick = time.perf_counter()
        values = lanes.get((obs.origin, obs.destination)) or [0.0]
        _ = values[len(values) // 2], values[len(values) // 10], values[9 * len(values) // 10]
        lane_timings.append(time.perf_counter() - tick)
    timings.sort()
    lane_timings.sort()

    def p99(values: list[float]) -> float:
        return values[int(len(values) * 0.99)]

    load = os.getloadavg()[0]
    print(f"{count:,} deliveries; targets: learn all ≤ 10 s, an estimate ≤ 1 ms")
    print(f"machine load average {load:.1f} on {os.cpu_count()} cores (wall times include it)")
    print(f"{'figure':<34}{'parcelbot':>14}{'lane median':>14}{'ratio':>8}")
    table = [
        ("learn all, wall (s)", fit, lane_fit),
        ("learn all, CPU of this process (s)", fit_cpu, lane_cpu),
        ("learn one more (ms)", one * 1000, None),
        (
            "estimate mean (ms)",
            statistics.fmean(timings) * 1000,
            statistics.fmean(lane_timings) * 1000,
        ),
        ("estimate p99 (ms)", p99(timings) * 1000, p99(lane_timings) * 1000),
        ("memory held (MB)", held / 1e6, lane_held / 1e6),
        ("numbers stored", float(model.memory_items()), float(count * 2)),
    ]
    for name, ours, base in table:
        ratio = f"{ours / base:>8.2f}" if base else f"{'–':>8}"
        shown = f"{base:>14.3f}" if base is not None else f"{'–':>14}"
        print(f"{name:<34}{ours:>14.3f}{shown}{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
