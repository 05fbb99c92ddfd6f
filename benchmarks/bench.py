"""Benchmarks for symderive: prints its figures; run from the repository root.

    python benchmarks/bench.py                 # everything, sizes 4 8 16 32 64
    python benchmarks/bench.py --sizes 4 8 16  # fewer sizes
    python benchmarks/bench.py --budget 30     # seconds the naive route may take per size
    python benchmarks/bench.py --repeat 5      # runs per measurement, the fastest kept (default 3)
    python benchmarks/bench.py --estimates     # the work estimate against measured time, on a table
    python benchmarks/bench.py --networks      # programs of named steps: the two-layer network, tanh, trace
    python benchmarks/bench.py --estimates --match '@ W'   # only the expressions containing '@ W'

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

``--estimates`` prints instead, for each expression of ESTIMATE_TABLE at a few
sizes, the seconds :func:`symderive.pipeline.work_estimate` predicts for
``derive`` (an estimate, "about", for the expressions it models; a lower bound,
"at least", for the others), the seconds it takes (the fastest of ``--repeat``
fresh-process runs, each stopped at ``--budget`` seconds), and their ratio:
the figures behind the estimate's scope in the README.  It exits 1 if an
estimate is off by more than 3x or a lower bound is broken.
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
    "mlp": """
from symderive.network import derive_program
d = derive_program(MLP, sizes=MLP_SIZES[n])
assert d.verified and d.proven_for_all_sizes, d.status
""",
    "tanh16": """
r = derive("tanh(X @ W)", shapes={"X": (n, n), "W": (n, n)})
assert r.verified
""",
    "trace16": """
r = derive("trace(A @ X @ B)", shapes={"A": (n, n), "X": (n, n), "B": (n, n)})
assert r.verified
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
MLP = {mlp!r}
MLP_SIZES = {{4: {{"n": 4, "m": 3, "h": 5, "k": 2}}, 64: {{"n": 64, "m": 64, "h": 64, "k": 10}}}}
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(kind: str, n: int, budget: float, repeat: int = 1) -> dict | None:
    """Run a measurement in fresh child processes, ``repeat`` times, and keep the
    fastest (noise from other work on the machine only ever adds time; the peak
    memory is the largest seen); None when a run exceeds ``budget`` seconds."""
    code = WRAPPER.format(root=str(ROOT), n=n, body=CHILD[kind], mlp=MLP)
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


# The estimate against reality: (expression, sizes k, shapes at size k).  Every
# class of expression: products of two and of several matrices, entrywise
# products, sums and powers, trace and sum, functions applied to every entry,
# inv and det, and their compositions, among them a two-layer loss.
def _square(*names):
    return lambda k: {name: (k, k) for name in names}


ESTIMATE_TABLE = [
    ("X @ W", (8, 16, 32, 64, 96), _square("X", "W")),
    ("X @ W", (16, 32), lambda k: {"X": (k, 8 * k), "W": (8 * k, k)}),
    ("X.T @ X", (8, 16, 32), _square("X")),
    ("X @ W + V", (8, 16, 32), _square("X", "W", "V")),
    ("X @ W * V", (8, 16, 32), _square("X", "W", "V")),
    ("(X @ W) ** 2", (4, 8, 12), _square("X", "W")),
    ("X ** 3", (16, 64), _square("X")),
    ("A @ B @ C", (4, 8, 16, 32), _square("A", "B", "C")),
    ("trace(X @ A)", (8, 16, 32), _square("X", "A")),
    ("sum(X @ W)", (8, 16, 32), _square("X", "W")),
    ("trace(B.T @ X.T @ C @ X @ X.T @ C @ X @ B)", (2, 3, 4), _square("B", "X", "C")),
    ("tanh(X @ W)", (2, 4, 8), _square("X", "W")),
    ("sigmoid(X @ W)", (2, 4, 8), _square("X", "W")),
    ("exp(X @ W)", (2, 4, 8), _square("X", "W")),
    ("tanh(X @ W + b)", (2, 4, 8), lambda k: {"X": (k, k), "W": (k, k), "b": (1, k)}),
    ("sum(tanh(X @ W))", (2, 4, 8), _square("X", "W")),
    ("inv(X)", (2, 3), _square("X")),
    ("det(X)", (2, 3), _square("X")),
    ("trace(A @ inv(X) @ B)", (2, 3), _square("A", "X", "B")),
    ("sum((tanh(X @ A) @ B - T) ** 2)", (2, 3), _square("X", "A", "B", "T")),
]
WITHIN = 3.0  # an estimate is honest when measured / estimated lies within [1/WITHIN, WITHIN]

ESTIMATE_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from symderive import derive
start = time.perf_counter()
r = derive({expression!r}, shapes={shapes!r}, max_work=10**15)
assert r.verified, "not verified"
print(json.dumps({{"seconds": time.perf_counter() - start}}))
"""


def measure_derive(expression: str, shapes: dict, budget: float, repeat: int) -> float | None:
    """Seconds ``derive(expression, shapes=shapes)`` takes in a fresh process, the
    fastest of ``repeat`` runs (runs over 10 s are not repeated); None past ``budget``."""
    code = ESTIMATE_CHILD.format(root=str(ROOT), expression=expression, shapes=shapes)
    best = None
    for _ in range(repeat):
        try:
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=budget)
        except subprocess.TimeoutExpired:
            return best
        if done.returncode != 0:
            raise SystemExit(f"{expression} at {shapes} failed:\n{done.stderr}")
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        best = seconds if best is None else min(best, seconds)
        if seconds > 10:
            break
    return best


def estimates(budget: float, repeat: int, match: str = "") -> int:
    """Print the estimate against measured time for every row of ESTIMATE_TABLE:
    for the expressions the estimate models, measured/estimated must lie within
    a factor WITHIN; for the others the figure is a lower bound, and measured /
    bound must be at least 1."""
    sys.path.insert(0, str(ROOT))  # this checkout's symderive, as in the child processes
    from symderive.pipeline import estimate_for

    print(f"derive(EXPR, shapes=...), the fastest of {repeat} fresh-process runs, stopped after {budget:g} s")
    print(f"{'expression':<44} | {'k':>3} | {'predicted':>17} | {'measured':>9} | {'ratio':>7} |")
    counted_ratios, bound_ratios, broken = [], [], []
    for expression, sizes, shapes_at in ESTIMATE_TABLE:
        if match not in expression:
            continue
        for k in sizes:
            shapes = shapes_at(k)
            estimate = estimate_for(expression, shapes)
            measured = measure_derive(expression, shapes, budget, repeat)
            predicted = f"{'about' if estimate.counted else 'at least'} {estimate.seconds:8.3f} s"
            if measured is None:
                shown, ratio = f"> {budget:g} s", budget / estimate.seconds
                ratio_text = f">{ratio:,.0f}" if ratio >= 10 else f">{ratio:.2f}"
            else:
                shown, ratio = f"{measured:7.3f} s", measured / estimate.seconds
                ratio_text = f"{ratio:,.0f}" if ratio >= 10 else f"{ratio:.2f}"
            if estimate.counted:
                counted_ratios.append(ratio)
                ok = measured is not None and 1 / WITHIN <= ratio <= WITHIN
                verdict = "ok" if ok else f"OFF by more than {WITHIN:g}x"
            else:
                bound_ratios.append(ratio)
                ok = ratio >= 1
                verdict = "bound holds" if ok else "BOUND BROKEN"
            if not ok:
                broken.append(f"{expression} at k={k}")
            print(f"{expression:<44} | {k:>3} | {predicted:>17} | {shown:>9} | {ratio_text:>7} | {verdict}",
                  flush=True)
    print()
    if counted_ratios:
        print(f"estimates (about): measured/estimated from {min(counted_ratios):.2f} to {max(counted_ratios):.2f}")
    if bound_ratios:
        print(f"lower bounds (at least): measured/bound from {min(bound_ratios):.2f} to "
              f"{max(bound_ratios):,.0f} (or more, where a run was stopped)")
    print("all within their claims" if not broken else "NOT within their claims: " + "; ".join(broken))
    return 0 if not broken else 1


# The two-layer network of issue 12, as a program of named steps.
MLP = ("X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k\n"
       "Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2")


def program_command_time(repeat: int = 1) -> float:
    """Wall time of ``python -m symderive derive MLP --size ...`` at (4, 3, 5, 2),
    start to written files (document included), the fastest of ``repeat`` runs."""
    import tempfile

    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "symderive", "derive", MLP, "--size", "n=4", "--size", "m=3",
                            "--size", "h=5", "--size", "k=2", "--out", folder],
                           cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
    return min(times)


def networks(budget: float, repeat: int) -> int:
    """Issue 12's speed figures, measured side by side in one run."""
    default = command_time(repeat)
    program = program_command_time(repeat)
    print(f"python -m symderive --n 3 --m 2 --d 4 (the default command): {default:.2f} s")
    print(f"python -m symderive derive MLP at (n, m, h, k) = (4, 3, 5, 2), document included: {program:.2f} s "
          f"({program / default:.1f}x the default command; target at most 4x)")
    xw = measure("symderive", 64, budget, repeat)
    mlp = measure("mlp", 64, budget, repeat)
    ratio = f"{mlp['seconds'] / xw['seconds']:.1f}x" if mlp and xw else "-"
    print(f"Y = X W at (64, 64, 64): {show(xw)}")
    print(f"MLP at (64, 64, 64, 10), derived, proven and checked: {show(mlp)} ({ratio} Y = X W; target at most 3x)")
    for kind, text in (("tanh16", "tanh(X @ W)"), ("trace16", "trace(A @ X @ B)")):
        print(f"derive {text} at 16 x 16: {show(measure(kind, 16, budget, repeat))} (target under 2 s)")
    return 0


# Issue 15's figure: symderive.testing on a tanh layer at X 4x3, W 3x5, in a fresh process.
_TESTING_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from symderive.testing import assert_backward
imported = time.perf_counter() - start
sys.path.insert(0, sys.argv[1])
import backprop
SHAPES = {"X": (4, 3), "W": (3, 5), "b": (1, 5)}
SOFTMAX = "Z : n x k; T : n x k; assume sum(T, axis=1) = 1; L = -sum(T * log_softmax(Z, axis=1)) / n"
figures = {"import": imported}
for name, function, expression, shapes, wrt in (
        ("tanh layer", backprop.tanh_layer_backward, "tanh(X @ W + b)", SHAPES, ("X", "W", "b")),
        ("tanh layer, square forgotten", backprop.tanh_layer_backward_no_square, "tanh(X @ W + b)", SHAPES,
         ("X", "W", "b")),
        ("softmax cross-entropy (4 x 3), numeric route", backprop.softmax_cross_entropy_backward, SOFTMAX,
         {"n": 4, "k": 3}, "Z")):
    start = time.perf_counter()
    try:
        assert_backward(function, expression, shapes, wrt)
    except AssertionError:
        pass
    figures[name] = time.perf_counter() - start
print(json.dumps(figures))
"""


def testing_times(repeat: int = 1) -> dict[str, float]:
    """Seconds of assert_backward on the course examples (examples/course_tests), each
    the fastest of ``repeat`` fresh processes; "import" is importing symderive.testing."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", _TESTING_SCRIPT, str(ROOT / "examples" / "course_tests")],
                              cwd=ROOT, capture_output=True, text=True, check=True)
        for name, seconds in json.loads(done.stdout.strip().splitlines()[-1]).items():
            best[name] = min(seconds, best.get(name, seconds))
    return best


def testing(repeat: int) -> int:
    figures = testing_times(repeat)
    first = figures.pop("import")
    print(f"import symderive.testing (with NumPy and SymPy): {first:.2f} s")
    for name, seconds in figures.items():
        print(f"assert_backward, {name}: {seconds:.3f} s" + (" (target: the tanh layer under 1 s)"
                                                             if name == "tanh layer" else ""))
    return 0


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
    parser.add_argument("--estimates", action="store_true",
                        help="print the work estimate against measured time on a table of expressions")
    parser.add_argument("--networks", action="store_true",
                        help="print only issue 12's figures: programs of named steps against Y = X W")
    parser.add_argument("--testing", action="store_true",
                        help="print only issue 15's figures: symderive.testing on the course examples")
    parser.add_argument("--match", default="", metavar="TEXT",
                        help="with --estimates, only the expressions containing TEXT")
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)
    if args.estimates:
        return estimates(args.budget, repeat, args.match)
    if args.networks:
        return networks(args.budget, repeat)
    if args.testing:
        return testing(repeat)

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
    print()
    networks(args.budget, repeat)
    print()
    return testing(repeat)


if __name__ == "__main__":
    sys.exit(main())
