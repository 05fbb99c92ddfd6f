"""Benchmarks for symderive: prints its figures; run from the repository root.

    python benchmarks/bench.py

Figures are wall-clock seconds on the machine it runs on (best of a few runs
where a run is short) and peak memory of the process's Python allocations
(tracemalloc).  Nothing here is a test: targets are read off the output.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symderive.general import prove_matmul  # noqa: E402


def timed(function, repeat: int = 3):
    """(best wall time, peak traced memory in MB, last result) over ``repeat`` runs.

    Memory is traced in one extra run of its own: tracing slows Python down,
    so the timed runs are not traced."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, result


def general_proof() -> None:
    """The step-by-step proof of df/dX = G W^T and df/dW = X^T G for all sizes
    (target: under 2 s for both)."""
    seconds, peak, reports = timed(lambda: prove_matmul("X", "W"))
    steps = sum(len(r.steps) for r in reports.values())
    proven = all(r.proven for r in reports.values())
    print(f"general proof, both identities: {seconds:.2f} s, peak {peak:.1f} MB, "
          f"{steps} steps, {'all proven' if proven else 'NOT all proven'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    general_proof()
    return 0


if __name__ == "__main__":
    sys.exit(main())
