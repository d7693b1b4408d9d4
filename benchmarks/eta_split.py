"""Split an orders CSV in time into train/test files for ``parcelbot bench eta``.

    python benchmarks/eta_split.py ../shared/data/olist_train.csv.gz 2017-11-01 /tmp/eta

writes ``/tmp/eta/train.csv.gz`` (purchased before the date, Brazil local time) and
``/tmp/eta/test.csv.gz`` (on or after it). Keep the output outside the repository: the data
set's licence does not allow shipping it.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import tempfile
from pathlib import Path

__all__ = ["main", "split_file"]


def split_file(source: Path, cut: str, folder: Path) -> tuple[Path, Path, int, int]:
    """Write train/test files; returns their paths and row counts."""
    raw = source.read_bytes()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    reader = csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
    fields = list(reader.fieldnames or [])
    parts: dict[str, list[dict[str, str]]] = {"train": [], "test": []}
    for row in reader:
        # Timestamps are "YYYY-MM-DD HH:MM:SS", so text order is time order.
        purchased = row.get("order_purchase_timestamp") or ""
        parts["train" if purchased[:10] < cut else "test"].append(row)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ("train", "test"):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(parts[name])
        path = folder / f"{name}.csv.gz"
        path.write_bytes(gzip.compress(buffer.getvalue().encode()))
        paths.append(path)
    return paths[0], paths[1], len(parts["train"]), len(parts["test"])


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    folder = Path(argv[2]) if len(argv) == 3 else Path(tempfile.mkdtemp(prefix="eta-split-"))
    train, test, n_train, n_test = split_file(Path(argv[0]), argv[1], folder)
    print(f"{train} ({n_train} rows)\n{test} ({n_test} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
