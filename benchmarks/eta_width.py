"""How wide arrival windows must be: parcelbot beside the online lane median at equal coverage.

    .venv/bin/python benchmarks/eta_width.py ../shared/data/olist_train.csv.gz [FROM TO]

Runs the online monthly folds of ``parcelbot bench eta`` (default 2017-06 to 2018-03) and
prints, per stage, on the same rows:

* the online lane median's own empirical P10–P90 window (its coverage and mean width);
* parcelbot's window as configured (about 80% coverage);
* parcelbot's window narrowed until it covers what the lane median's covers (the share of
  residuals each window holds found by bisection), so widths compare at equal coverage;
* a bound no estimator reaches out of sample: the narrowest window holding 80% of each
  lane-month's own deliveries, read from those very deliveries (lanes with at least five).

Widths are calendar days between the window's first and last instant; coverage is the share
of deliveries inside the window.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from pathlib import Path

from bots.cli.bench_eta import (
    ZONE,
    BenchResult,
    bench_model,
    monthly_folds,
    read_orders,
    run_folds,
)
from core.eta.model import EtaConfig

__all__ = ["main"]

_STAGES = ("handoff", "purchase")
_DAY = 86_400.0


def _config(handoff_share: float, purchase_share: float) -> EtaConfig:
    base = EtaConfig()
    return replace(
        base,
        transit=replace(base.transit, window_share=handoff_share),
        purchase=replace(base.purchase, window_share=purchase_share),
    )


def _figures(result: BenchResult, name: str) -> tuple[float, float]:
    score = result.scores[name]
    return score.coverage() or 0.0, score.mean_width() or 0.0


def _narrowest(values: list[float], share: float) -> float:
    ordered = sorted(values)
    keep = max(1, round(share * len(ordered)))
    return min(ordered[i + keep - 1] - ordered[i] for i in range(len(ordered) - keep + 1))


def _bound(path: Path, first: date, last: date) -> dict[str, tuple[int, float]]:
    """Rows and mean width of the in-sample narrowest 80% window per lane-month."""
    groups: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for order in read_orders(path):
        if order.status != "delivered" or order.purchased is None or order.delivered is None:
            continue
        month = order.purchased.astimezone(ZONE).date().replace(day=1)
        if not first <= month <= last:
            continue
        starts: list[tuple[str, datetime]] = [("purchase", order.purchased)]
        if order.handed_over is not None:
            starts.append(("handoff", order.handed_over))
        for stage, start in starts:
            days = (order.delivered - start).total_seconds() / _DAY
            groups[(stage, f"{month:%Y-%m}", order.origin, order.destination)].append(days)
    out: dict[str, tuple[int, float]] = {}
    for stage in _STAGES:
        kept = [v for k, v in groups.items() if k[0] == stage and len(v) >= 5]
        rows = sum(len(v) for v in kept)
        width = sum(_narrowest(v, 0.8) * len(v) for v in kept) / rows if rows else 0.0
        out[stage] = (rows, width)
    return out


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 3):
        print(__doc__)
        return 2
    path = Path(argv[0])
    first = datetime.strptime(argv[1] if len(argv) == 3 else "2017-06", "%Y-%m").date()
    last = datetime.strptime(argv[2] if len(argv) == 3 else "2018-03", "%Y-%m").date()
    orders = read_orders(path)
    folds = monthly_folds(orders, first, last)
    base = EtaConfig()
    shares = {"handoff": base.transit.window_share, "purchase": base.purchase.window_share}
    configured = run_folds(orders, folds, partial(bench_model, base))
    target = {s: _figures(configured, f"online_lane_{s}")[0] for s in _STAGES}
    # Bisection on each stage's share, both stages in the same runs.
    low = {s: 0.3 for s in _STAGES}
    high = dict(shares)
    matched = configured
    middle = dict(shares)
    for _ in range(8):
        middle = {s: (low[s] + high[s]) / 2 for s in _STAGES}
        matched = run_folds(
            orders,
            folds,
            partial(bench_model, _config(middle["handoff"], middle["purchase"])),
        )
        for stage in _STAGES:
            if _figures(matched, stage)[0] < target[stage]:
                low[stage] = middle[stage]
            else:
                high[stage] = middle[stage]
    bound = _bound(path, first, last)
    print(f"{configured.n_test} deliveries, folds {folds[0].label} to {folds[-1].label}")
    header = f"{'window':<52}{'cover':>8}{'width d':>9}{'÷ lane':>8}"
    for stage in _STAGES:
        lane_cover, lane_width = _figures(configured, f"online_lane_{stage}")
        ours = _figures(configured, stage)
        narrowed = _figures(matched, stage)
        print(f"\nat {stage}:")
        print(header)
        print("-" * len(header))
        rows = [
            ("online lane median, own P10–P90", lane_cover, lane_width),
            (f"parcelbot, share {shares[stage]:.2f} (as configured)", *ours),
            (f"parcelbot, share narrowed to {middle[stage]:.3f}", *narrowed),
            (
                f"bound: lane-month's own narrowest 80% ({bound[stage][0]} rows)",
                0.8,
                bound[stage][1],
            ),
        ]
        for name, cover, width in rows:
            ratio = width / lane_width if lane_width else 0.0
            print(f"{name:<52}{cover:>8.1%}{width:>9.2f}{ratio:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
