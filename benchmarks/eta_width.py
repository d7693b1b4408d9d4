"""How wide arrival windows must be: parcelbot beside the online lane median at equal coverage.

    .venv/bin/python benchmarks/eta_width.py ../shared/data/olist_train.csv.gz [FROM TO]

Runs the online monthly folds of ``parcelbot bench eta`` (default 2017-06 to 2018-03) and
prints, per stage, on the same rows:

* the online lane median's own empirical P10–P90 window (its coverage and mean width);
* parcelbot's window as configured (about 80% coverage);
* parcelbot's window narrowed until it covers what the lane median's covers (the share of
  residuals each window holds found by bisection), so widths compare at equal coverage;
* parcelbot's window narrowed until it is as wide as the lane median's, and what it covers;
* parcelbot with each fold's share chosen after the fact, the lowest on a grid with which that
  fold's windows cover 80%: a bound on what re-weighing windows month by month can reach;
* a bound no estimator reaches out of sample: the narrowest window holding 80% of each
  lane-month's own deliveries, read from those very deliveries (lanes with at least five).

Widths are calendar days between the window's first and last instant; coverage is the share
of deliveries inside the window. The ``days`` columns read every window as the buyer does:
whole local days from its first to its last (both included), covered when delivered on one.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from pathlib import Path

from bots.cli.bench_eta import (
    ZONE,
    BenchResult,
    Fold,
    Order,
    _Score,
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


_Row = tuple[float, float, float, float]
"""Coverage, width, and both in whole local days."""


def _figures(result: BenchResult, name: str) -> _Row:
    return _row(result.scores[name])


def _row(score: _Score) -> _Row:
    return (
        score.coverage() or 0.0,
        score.mean_width() or 0.0,
        score.day_coverage() or 0.0,
        score.mean_day_width() or 0.0,
    )


def _run(orders: list[Order], folds: list[Fold], handoff: float, purchase: float) -> BenchResult:
    return run_folds(orders, folds, partial(bench_model, _config(handoff, purchase)))


def _bisect(
    orders: list[Order],
    folds: list[Fold],
    start: dict[str, float],
    below: Callable[[BenchResult, str], bool],
) -> tuple[dict[str, float], BenchResult]:
    """The share per stage at the edge of ``below`` (true while the share is too low), both
    stages in the same runs."""
    low = {s: 0.3 for s in _STAGES}
    high = dict(start)
    middle = dict(start)
    result = _run(orders, folds, start["handoff"], start["purchase"])
    for _ in range(8):
        middle = {s: (low[s] + high[s]) / 2 for s in _STAGES}
        result = _run(orders, folds, middle["handoff"], middle["purchase"])
        for stage in _STAGES:
            if below(result, stage):
                low[stage] = middle[stage]
            else:
                high[stage] = middle[stage]
    return middle, result


def _per_fold(orders: list[Order], folds: list[Fold], goal: float) -> dict[str, _Row]:
    """Pooled figures when each fold gets the lowest share on a 1% grid covering ``goal``."""
    runs = [_run(orders, folds, k / 100, k / 100) for k in range(60, 100)]
    pooled = {stage: _Score() for stage in _STAGES}
    for fold in folds:
        for stage in _STAGES:
            scores = [run.folds[fold.label][stage] for run in runs]
            chosen = next((s for s in scores if (s.coverage() or 0.0) >= goal), scores[-1])
            pooled[stage].merge(chosen)
    return {stage: _row(score) for stage, score in pooled.items()}


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
    lane = {s: _figures(configured, f"online_lane_{s}") for s in _STAGES}
    covering, matched = _bisect(orders, folds, shares, lambda r, s: _figures(r, s)[0] < lane[s][0])
    as_wide, widened = _bisect(orders, folds, shares, lambda r, s: _figures(r, s)[1] < lane[s][1])
    per_fold = _per_fold(orders, folds, 0.8)
    bound = _bound(path, first, last)
    print(f"{configured.n_test} deliveries, folds {folds[0].label} to {folds[-1].label}")
    header = (
        f"{'window':<58}{'cover':>8}{'width d':>9}{'÷ lane':>8}{'days cov':>9}{'days w':>8}"
        f"{'÷ lane':>8}"
    )
    for stage in _STAGES:
        print(f"\nat {stage}:")
        print(header)
        print("-" * len(header))
        rows: list[tuple[str, tuple[float, ...]]] = [
            ("online lane median, own P10–P90", lane[stage]),
            (f"parcelbot, share {shares[stage]:.2f} (as configured)", _figures(configured, stage)),
            (f"parcelbot, share {covering[stage]:.3f}: lane's coverage", _figures(matched, stage)),
            (f"parcelbot, share {as_wide[stage]:.3f}: lane's width", _figures(widened, stage)),
            ("parcelbot, each fold's share set after the fact: 80%", per_fold[stage]),
            (
                f"bound: lane-month's own narrowest 80% ({bound[stage][0]} rows)",
                (0.8, bound[stage][1]),
            ),
        ]
        for name, row in rows:
            cells = f"{name:<58}{row[0]:>8.1%}{row[1]:>9.2f}{row[1] / lane[stage][1]:>8.3f}"
            if len(row) == 4:
                cells += f"{row[2]:>9.1%}{row[3]:>8.2f}{row[3] / lane[stage][3]:>8.3f}"
            print(cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
