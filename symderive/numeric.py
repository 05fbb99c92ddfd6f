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
import sympy

from .expr import Expr, MatMul, Name

__all__ = ["NumericWitness", "evaluate", "central_differences", "witness"]

STEP = 1e-6
TOLERANCE = 1e-6  # relative to the size of the gradient


def evaluate(node: Expr, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of ``node`` with NumPy arrays for its names."""
    if isinstance(node, Name):
        return arrays[node.name]
    if isinstance(node, MatMul):
        return evaluate(node.left, arrays) @ evaluate(node.right, arrays)
    raise TypeError(f"cannot evaluate the operation {type(node).__name__} numerically")


def central_differences(node: Expr, wrt: str, arrays: Mapping[str, np.ndarray],
                        upstream: np.ndarray, step: float = STEP) -> np.ndarray:
    """df/d(wrt) for f = sum(upstream * node), by central differences entry by entry."""
    base = arrays[wrt]
    result = np.zeros_like(base)
    for index in np.ndindex(*base.shape):
        values = []
        for sign in (+1, -1):
            moved = base.copy()
            moved[index] += sign * step
            values.append(np.sum(upstream * evaluate(node, {**arrays, wrt: moved})))
        result[index] = (values[0] - values[1]) / (2 * step)
    return result


def evaluate_matrix_expression(expr: sympy.Basic, values: Mapping[sympy.MatrixSymbol, np.ndarray]):
    """A sympy matrix expression at NumPy values of its MatrixSymbols."""
    if isinstance(expr, sympy.MatrixSymbol):
        return values[expr]
    if isinstance(expr, sympy.Transpose):
        return evaluate_matrix_expression(expr.arg, values).T
    if isinstance(expr, sympy.MatMul):
        factors = [evaluate_matrix_expression(arg, values) for arg in expr.args]
        result = factors[0]
        for factor in factors[1:]:
            result = result @ factor if np.ndim(result) and np.ndim(factor) else result * factor
        return result
    if isinstance(expr, sympy.MatAdd):
        return sum(evaluate_matrix_expression(arg, values) for arg in expr.args)
    if expr.is_Number:
        return float(expr)
    raise TypeError(f"cannot evaluate {type(expr).__name__} numerically")


@dataclass(frozen=True)
class NumericWitness:
    agrees: bool
    largest_error: float
    method: str


def witness(node: Expr, wrt: str, closed_form: sympy.MatrixExpr,
            symbols: Mapping[str, sympy.MatrixSymbol], upstream: sympy.MatrixSymbol,
            seed: int = 0) -> NumericWitness:
    """Compare the closed form at random numbers with central differences there."""
    rng = np.random.default_rng(seed)
    arrays = {name: rng.standard_normal(tuple(sym.shape)) for name, sym in symbols.items()}
    gradient_upstream = rng.standard_normal(tuple(upstream.shape))
    numeric = central_differences(node, wrt, arrays, gradient_upstream)
    values = {symbols[name]: array for name, array in arrays.items()}
    values[upstream] = gradient_upstream
    claimed = evaluate_matrix_expression(closed_form, values)
    if claimed.shape != numeric.shape:
        return NumericWitness(False, float("inf"), f"shapes differ: {claimed.shape} against {numeric.shape}")
    error = float(np.max(np.abs(claimed - numeric), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    return NumericWitness(
        error <= TOLERANCE * scale, error,
        f"central differences (step {STEP:g}) at standard normal values (seed {seed}) "
        f"{'agree' if error <= TOLERANCE * scale else 'disagree'} to a relative {TOLERANCE:g}",
    )
