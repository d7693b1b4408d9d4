"""Choose ETA settings on a validation split inside the training period (never the test one).

    .venv/bin/python benchmarks/eta_tune.py ../shared/data/olist_train.csv.gz

trains on orders purchased before 2017-07-01, scores those purchased 2017-07-01 … 2017-10-31,
and prints one line per candidate configuration (static mode).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from bots.bench_eta import bench_model, read_orders, run, split, summary
from core.eta import EtaConfig

__all__ = ["main"]

GRID: dict[str, tuple[object, ...]] = {
    "effects_shrinkage": (20.0, 40.0, 80.0),
    "effects_half_life_days": (180.0, 365.0),
    "calibration_cuts": ((0.5, 0.625, 0.75, 0.875), (0.75, 0.875), (0.7, 0.8, 0.9)),
}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    train, test = split(read_orders(Path(argv[0])), date(2017, 7, 1), date(2017, 11, 1))
    names = list(GRID)
    for values in itertools.product(*(GRID[n] for n in names)):
        settings: dict[str, Any] = dict(zip(names, values, strict=True))
        config = replace(EtaConfig(), **settings)
        figures = summary(run(train, test, bench_model(config)))
        shown = " ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))
        print(shown, {k: v for k, v in figures.items() if k != "n_test"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
