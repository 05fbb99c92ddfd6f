"""Benchmarks for symderive: prints its figures; run from the repository root.

    python benchmarks/bench.py                 # everything, sizes 4 8 16 32 64
    python benchmarks/bench.py --sizes 4 8 16  # fewer sizes
    python benchmarks/bench.py --budget 30     # seconds the naive route may take per size
    python benchmarks/bench.py --repeat 5      # runs per measurement, the fastest kept (default 3)

Each measurement runs in a fresh Python process, so that its wall time and
its peak memory (the process's maximum resident set, which counts SymEngine's
C++ allocations too) are its own; it is repeated (``--repeat``, default 3) and
the fastest run kept, as timeit does, since other work on the machine only
ever adds time.  The naive route runs once: it is the slow one.  At each size n = m = d it times:

- symderive: ``derive(n=n, m=n, d=n)``, the full derivation and exact
  verification (Jacobian formulas, closed forms, numeric witness, general proof);
- naive: the route a SymPy user would write, ``derive_by_array(Y, X)`` for the
  whole 4th-rank tensor, then the contraction with G, for X and for W; skipped,
  and said so, once the previous size shows it cannot finish within the budget;
- floor: building the answer G W^T and X^T G once, in SymPy and in SymEngine.

Then the ratios symderive/naive and symderive/floor (the SymEngine floor: the
engine symderive uses at these sizes), and symderive's growth per doubling of
the sizes (8x is linear in the size of the answer, 2*n*m*d terms).  Also the
general proof for all sizes, and the default command, start to written file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each kind of measurement runs, in a child process; ``n`` is the size.
CHILD = {
    "symderive": """
r = derive(n=n, m=n, d=n, max_work=10**12)
assert r.verified, "not verified"
""",
    "naive": """
X = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"X_{i},{j}"))
W = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"W_{i},{j}"))
G = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"G_{i},{j}"))
Y = X * W
for A in (X, W):
    T = sympy.derive_by_array(Y, A)          # shape (rows of A, cols of A, n, n): all of dY/dA
    grad = sympy.Matrix(A.rows, A.cols, lambda i, j: sum(T[i, j, p, q] * G[p, q]
                                                         for p in range(n) for q in range(n)))
""",
    "floor_sympy": """
X = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"X_{i},{j}"))
W = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"W_{i},{j}"))
G = sympy.Matrix(n, n, lambda i, j: sympy.Symbol(f"G_{i},{j}"))
a, b = G * W.T, X.T * G
""",
    "floor_symengine": """
X = symengine.DenseMatrix(n, n, [symengine.Symbol(f"X_{i},{j}") for i in range(n) for j in range(n)])
W = symengine.DenseMatrix(n, n, [symengine.Symbol(f"W_{i},{j}") for i in range(n) for j in range(n)])
G = symengine.DenseMatrix(n, n, [symengine.Symbol(f"G_{i},{j}") for i in range(n) for j in range(n)])
a, b = G * W.T, X.T * G
""",
    "general_proof": """
reports = prove_matmul("X", "W")
assert all(r.proven for r in reports.values())
""",
}

# Imports come before the clock starts: the figures are of the work, not of
# loading SymPy (about 0.4 s for symderive with SymPy and NumPy).
WRAPPER = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import sympy, symengine
from symderive import derive
from symderive.general import prove_matmul
n = {n}
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(kind: str, n: int, budget: float, repeat: int = 1) -> dict | None:
    """Run a measurement in fresh child processes, ``repeat`` times, and keep the
    fastest (noise from other work on the machine only ever adds time; the peak
    memory is the largest seen); None when a run exceeds ``budget`` seconds."""
    code = WRAPPER.format(root=str(ROOT), n=n, body=CHILD[kind])
    runs = []
    for _ in range(repeat):
        try:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=budget)
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            raise SystemExit(f"{kind} at n={n} failed:\n{done.stderr}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"seconds": min(run["seconds"] for run in runs), "peak_mb": max(run["peak_mb"] for run in runs)}


def command_time(repeat: int = 1) -> float:
    """Wall time of ``python -m symderive --n 3 --m 2 --d 4``, start to written files
    (the fastest of ``repeat`` runs)."""
    import tempfile

    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "symderive", "--n", "3", "--m", "2", "--d", "4", "--out", folder],
                           cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
    return min(times)


def show(result: dict | None) -> str:
    return "skipped" if result is None else f"{result['seconds']:8.3f} s {result['peak_mb']:7.0f} MB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds any one measurement may take (default 60)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh-process runs of each measurement but the naive route, the "
                             "fastest kept (default 3)")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)

    print(f"each figure: the fastest of {repeat} fresh-process runs (the naive route: one run)")
    proof = measure("general_proof", 0, args.budget, repeat)
    print(f"general proof for all sizes, both identities: {show(proof)}")
    print(f"python -m symderive --n 3 --m 2 --d 4, start to written files: {command_time(repeat):.2f} s")
    print()
    print(f"{'n=m=d':>6} | {'symderive':>19} | {'naive SymPy route':>19} | {'floor, SymPy':>19} | "
          f"{'floor, SymEngine':>19} | {'sd/naive':>8} | {'sd/floor':>8} | {'growth':>6}")
    previous = None
    naive_gave_up = False
    for n in args.sizes:
        ours = measure("symderive", n, args.budget, repeat)
        naive = None
        if not naive_gave_up:
            naive = measure("naive", n, args.budget)
            naive_gave_up = naive is None
        floor_sympy = measure("floor_sympy", n, args.budget, repeat)
        floor_engine = measure("floor_symengine", n, args.budget, repeat)
        ratio_naive = f"{ours['seconds'] / naive['seconds']:8.4f}" if ours and naive else "       -"
        ratio_floor = f"{ours['seconds'] / floor_engine['seconds']:8.1f}" if ours and floor_engine else "       -"
        growth = f"{ours['seconds'] / previous:6.1f}" if ours and previous else "     -"
        print(f"{n:>6} | {show(ours):>19} | {show(naive):>19} | {show(floor_sympy):>19} | "
              f"{show(floor_engine):>19} | {ratio_naive} | {ratio_floor} | {growth}")
        previous = ours["seconds"] if ours else None
    print()
    print(f"skipped: took longer than the budget of {args.budget:g} s (the naive route is not tried "
          "at larger sizes once it has been skipped).  growth: symderive's time over the previous "
          "size's; doubling every size multiplies the answer's 2*n*m*d terms by 8.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
