"""Build: matrices of symbols for concrete shapes.

Entries are named as the seed note names them, with 1-based indices:
``X_11`` ... ``X_32``.  When an index of a matrix can reach 10, every entry of
that matrix separates its two indices (``X_1,1`` ... ``X_10,1``), so that
``X_111`` can never mean both X_{1,11} and X_{11,1}.

The naming rule lives here, and so does its inverse (:func:`entry_indices`),
which the LaTeX printer uses to typeset ``X_{10,1}``.
"""

from __future__ import annotations

import re

import sympy

__all__ = ["entry_symbol", "entry_indices", "matrix_of_symbols", "separates_indices"]

# Real symbols: the note works over the reals, and it lets sympy simplify
# conjugates away should a rule ever introduce one.
_ASSUMPTIONS = {"real": True}

_JOINED = re.compile(r"^(?P<base>.+)_(?P<i>[1-9])(?P<j>[1-9])$")
_SEPARATED = re.compile(r"^(?P<base>.+)_(?P<i>[1-9][0-9]*),(?P<j>[1-9][0-9]*)$")


def separates_indices(rows: int, cols: int) -> bool:
    """True when an index of a rows x cols matrix can reach 10."""
    return max(rows, cols) >= 10


def entry_symbol(base: str, i: int, j: int, separate: bool) -> sympy.Symbol:
    """The symbol for entry (i, j), 1-based, of the matrix called ``base``."""
    name = f"{base}_{i},{j}" if separate else f"{base}_{i}{j}"
    return sympy.Symbol(name, **_ASSUMPTIONS)


def entry_indices(symbol: sympy.Symbol) -> tuple[str, int, int] | None:
    """Inverse of :func:`entry_symbol`: ``(base, i, j)``, or None for other symbols."""
    name = symbol.name
    found = _SEPARATED.match(name) or _JOINED.match(name)
    if found is None:
        return None
    return found["base"], int(found["i"]), int(found["j"])


def matrix_of_symbols(base: str, rows: int, cols: int) -> sympy.ImmutableMatrix:
    """The rows x cols matrix whose entry (i, j) is the symbol base_ij (1-based)."""
    separate = separates_indices(rows, cols)
    return sympy.ImmutableMatrix(
        rows, cols, lambda i, j: entry_symbol(base, i + 1, j + 1, separate)
    )


# ---------------------------------------------------------------------------
# Evaluating an expression on matrices of symbols
# ---------------------------------------------------------------------------


def explicit(node, matrices: dict[str, sympy.ImmutableMatrix]) -> sympy.ImmutableMatrix:
    """The explicit matrix of ``node`` when each name stands for ``matrices[name]``.

    Products are sympy's matrix products, entry (p, q) = sum_r A_pr B_rq, so
    every entry of the result is a polynomial in the entries of the inputs.
    """
    from .expr import MatMul, Name

    if isinstance(node, Name):
        return matrices[node.name]
    if isinstance(node, MatMul):
        return sympy.ImmutableMatrix(explicit(node.left, matrices) * explicit(node.right, matrices))
    raise TypeError(f"cannot build the operation {type(node).__name__}")
