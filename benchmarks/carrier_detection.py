"""Carrier detection scored against the public tracking_number_data test vectors.

Run from the repository root::

    .venv/bin/python benchmarks/carrier_detection.py

Prints, per courier file: valid numbers detected with the right courier among the candidates
(and valid for their own format), valid numbers with the right courier ranked first, invalid
numbers rejected by their own format, and invalid numbers still read as their courier through
another format; then the totals and the cost of ``detect`` in microseconds per call.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

# The scoring helpers live with the tests; make the repository importable when run as a script.
_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from core.carriers import detect  # noqa: E402
from tests.core.carrier_vectors import (  # noqa: E402
    find_vectors_dir,
    load_vectors,
    render_table,
    score,
)

__all__ = ["main", "measure_detect_us"]


def measure_detect_us(numbers: Sequence[str], rounds: int = 200) -> float:
    """Mean wall-clock microseconds per ``detect`` call over ``numbers``, ``rounds`` times."""
    started = time.perf_counter()
    for _ in range(rounds):
        for number in numbers:
            detect(number)
    elapsed = time.perf_counter() - started
    return elapsed / (rounds * max(len(numbers), 1)) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table and the timing; exit status 1 when the vectors are missing."""
    del argv
    directory = find_vectors_dir()
    if directory is None:
        print("tracking_number_data vectors not found (set PARCELBOT_SHARED)", file=sys.stderr)
        return 1
    vectors = load_vectors(directory)
    print(f"vectors: {directory}")
    print(render_table(score(vectors)))
    numbers = [vector.number for vector in vectors]
    print(f"\ndetect(): {measure_detect_us(numbers):.1f} µs/call over {len(numbers)} numbers")
    noise = ["hello world", "", "57646141303878575212", "x" * 200, "0" * 40]
    print(f"detect() on non-numbers: {measure_detect_us(noise):.1f} µs/call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
