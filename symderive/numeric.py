"""The second, independent witness: numbers and central finite differences.

Exact checks in :mod:`symderive.verify` are the proof; this module is a check on
the checker.  It evaluates the expression with NumPy (not sympy), takes

    f(A) = sum_pq G_pq Y_pq(A)

for random A and G, so that df/dY = G, and compares central differences of f
with the closed form evaluated at the same numbers.  It shares no code with the
symbolic derivation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .expr import (Add, Call, Div, Expr, Hadamard, Identity, MatMul, Name, Neg, Number, Ones,
                   Power, Sub, Transpose)

__all__ = ["NumericWitness", "evaluate", "central_differences", "witness"]

STEP = 1e-6
TOLERANCE = 1e-6  # relative to the size of the gradient
MAX_ENTRIES = 64  # entries of a larger input compared by finite differences (a fixed random sample)


_FUNCTIONS = {
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "sqrt": np.sqrt,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "trace": lambda a: np.array([[np.trace(a)]]),
    "sum": lambda a: np.array([[np.sum(a)]]),
    "det": lambda a: np.array([[np.linalg.det(a)]]),
    "inv": np.linalg.inv,
}


def evaluate(node: Expr, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of ``node`` with NumPy arrays for its names (NumPy broadcasting)."""
    if isinstance(node, Name):
        return arrays[node.name]
    if isinstance(node, Number):
        return np.array([[float(node.value)]])
    if isinstance(node, Identity):
        return np.eye(node.size)
    if isinstance(node, Ones):
        return np.ones((node.rows, node.cols))
    if isinstance(node, Power):
        return evaluate(node.base, arrays) ** float(node.exponent)
    if isinstance(node, Call):
        return _FUNCTIONS[node.function](evaluate(node.argument, arrays))
    if isinstance(node, Neg):
        return -evaluate(node.operand, arrays)
    if isinstance(node, Transpose):
        return evaluate(node.operand, arrays).T
    left, right = (evaluate(child, arrays) for child in node.children())
    if isinstance(node, MatMul):
        return left @ right
    if isinstance(node, Add):
        return left + right
    if isinstance(node, Sub):
        return left - right
    if isinstance(node, Hadamard):
        return left * right
    if isinstance(node, Div):
        return left / right
    raise TypeError(f"cannot evaluate the operation {type(node).__name__} numerically")


def central_differences(node: Expr, wrt: str, arrays: Mapping[str, np.ndarray],
                        upstream: np.ndarray, step: float = STEP,
                        entries: list[tuple[int, int]] | None = None) -> np.ndarray:
    """df/d(wrt) for f = sum(upstream * node), by central differences entry by
    entry (only at ``entries`` when given; the others are left NaN)."""
    base = arrays[wrt]
    result = np.full(base.shape, np.nan)
    for index in (entries if entries is not None else np.ndindex(*base.shape)):
        values = []
        for sign in (+1, -1):
            moved = base.copy()
            moved[index] += sign * step
            values.append(np.sum(upstream * evaluate(node, {**arrays, wrt: moved})))
        result[index] = (values[0] - values[1]) / (2 * step)
    return result


@dataclass(frozen=True)
class NumericWitness:
    agrees: bool | None  # None: the numbers could not be compared (not finite)
    largest_error: float
    method: str


def witness(node: Expr, wrt: str, closed_form: Expr, shapes: Mapping[str, tuple[int, int]],
            upstream: str | None, seed: int = 0) -> NumericWitness:
    """Compare the closed form at random numbers with central differences there.

    Inputs are drawn from [0.5, 1.5], where log and sqrt are defined; the
    upstream gradient (absent for a scalar-valued expression) from a normal
    distribution.  ``agrees`` is None when the expression is not finite there.
    """
    rng = np.random.default_rng(seed)
    arrays = {name: rng.uniform(0.5, 1.5, size=shape)
              for name, shape in sorted(shapes.items()) if name != upstream}
    try:
        with np.errstate(all="ignore"):
            output = evaluate(node, arrays)
    except (np.linalg.LinAlgError, ValueError, ArithmeticError) as problem:
        return NumericWitness(None, float("nan"), f"no numeric witness: the expression cannot be "
                                                  f"evaluated at random values ({problem})")
    if upstream is None:
        gradient_upstream = np.ones((1, 1))
    else:
        gradient_upstream = rng.standard_normal(output.shape)
        arrays[upstream] = gradient_upstream
    rows, cols = arrays[wrt].shape
    entries = [(i, j) for i in range(rows) for j in range(cols)]
    sampled = len(entries) > MAX_ENTRIES
    if sampled:  # a large input: a fixed random sample of its entries
        entries = [entries[k] for k in sorted(rng.choice(len(entries), MAX_ENTRIES, replace=False))]
    try:
        with np.errstate(all="ignore"):
            numeric = central_differences(node, wrt, arrays, gradient_upstream, entries=entries)
            claimed = evaluate(closed_form, arrays)
    except (np.linalg.LinAlgError, ValueError, ArithmeticError) as problem:
        return NumericWitness(None, float("nan"), f"no numeric witness: the expression cannot be "
                                                  f"evaluated at random values ({problem})")
    where = (f"central differences (step {STEP:g}) at random values (seed {seed})"
             + (f", at {MAX_ENTRIES} sampled entries" if sampled else ""))
    if claimed.shape != numeric.shape:
        return NumericWitness(False, float("inf"), f"{where}: shapes differ, {claimed.shape} against {numeric.shape}")
    chosen = tuple(np.array(entries).T)
    numeric, claimed = numeric[chosen], claimed[chosen]
    if not (np.all(np.isfinite(numeric)) and np.all(np.isfinite(claimed))):
        return NumericWitness(None, float("nan"), f"{where}: not finite there, no numeric witness")
    error = float(np.max(np.abs(claimed - numeric), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    agrees = error <= TOLERANCE * scale
    return NumericWitness(agrees, error,
                          f"{where} {'agree' if agrees else 'disagree'} to a relative {TOLERANCE:g}")
