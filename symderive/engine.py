"""The symbolic engine behind large concrete derivations: SymEngine when it is
installed and the expression is polynomial, SymPy otherwise.

SymPy builds the answer G W^T at (64, 64, 64) in about 14 s; SymEngine, a C++
library with the same data model, in well under a second.  Everything that
needs SymPy (printing, the general proof, elementwise functions, inv, det)
keeps it; the large explicit matrices of polynomial expressions -- products,
sums, transposes, entrywise products, numbers -- are built, differentiated
and compared here, and converted to SymPy only when a user asks for them.

The interface is small: :func:`engine_for` says which engine an expression
gets, :func:`matrix_of_symbols` and :func:`explicit` build with it, and
:func:`to_sympy` converts back.  Results are identical either way (tested).
"""

from __future__ import annotations

from typing import Any

import sympy

from . import expr as E

try:  # SymEngine is optional: without it everything runs on SymPy, only slower
    import symengine
except ImportError:  # pragma: no cover - exercised where symengine is absent
    symengine = None

__all__ = ["SYMPY", "SYMENGINE", "available", "engine_for", "matrix_of_symbols", "explicit", "to_sympy",
           "matrix_to_sympy", "add_and_mul", "POLYNOMIAL_NODES"]

SYMPY = "sympy"
SYMENGINE = "symengine"

# Operations whose explicit entries are polynomials in the inputs' entries.
POLYNOMIAL_NODES = (E.Name, E.Number, E.Identity, E.Ones, E.MatMul, E.Add, E.Sub, E.Neg,
                    E.Hadamard, E.Transpose, E.Div)


def available() -> bool:
    return symengine is not None


def engine_for(*trees: E.Expr) -> str:
    """SYMENGINE when installed and every tree is polynomial (integer powers >= 0 included)."""
    if symengine is None:
        return SYMPY
    for tree in trees:
        for node in E.walk(tree):
            if isinstance(node, E.Power):
                if not (node.exponent.denominator == 1 and node.exponent >= 0):
                    return SYMPY
            elif isinstance(node, E.Call) and node.function in ("trace", "sum"):
                continue  # sums of entries: polynomial
            elif isinstance(node, E.Div) and not isinstance(node.right, E.Number):
                return SYMPY
            elif not isinstance(node, POLYNOMIAL_NODES):
                return SYMPY
    return SYMENGINE


def matrix_of_symbols(base: str, rows: int, cols: int, engine: str):
    """build.matrix_of_symbols in the given engine, made there directly (creating
    thousands of SymPy symbols only to convert them costs a quarter of a second)."""
    from . import build

    if engine == SYMPY:
        return build.matrix_of_symbols(base, rows, cols)
    return symengine.DenseMatrix(rows, cols, [symengine.Symbol(name)
                                              for name in build.symbol_names(base, rows, cols)])


def _stretch(matrix, shape):
    rows, cols = shape
    if (matrix.rows, matrix.cols) == shape:
        return matrix
    return symengine.DenseMatrix(rows, cols, [matrix[0 if matrix.rows == 1 else i, 0 if matrix.cols == 1 else j]
                                              for i in range(rows) for j in range(cols)])


def _entrywise(combine, left, right):
    shape = (max(left.rows, right.rows), max(left.cols, right.cols))
    a, b = _stretch(left, shape), _stretch(right, shape)
    return symengine.DenseMatrix(shape[0], shape[1],
                                 [combine(a[i, j], b[i, j]) for i in range(shape[0]) for j in range(shape[1])])


def explicit(node: E.Expr, matrices: dict[str, Any], engine: str):
    """The explicit matrix of ``node`` in the engine (SymPy: build.explicit)."""
    if engine == SYMPY:
        from .build import explicit as sympy_explicit

        return sympy_explicit(node, matrices)
    memo: dict = {}

    def value(sub):
        if sub in memo:
            return memo[sub]
        if isinstance(sub, E.Name):
            result = matrices[sub.name]
        elif isinstance(sub, E.Number):
            result = symengine.DenseMatrix(1, 1, [symengine.Rational(sub.value.numerator, sub.value.denominator)])
        elif isinstance(sub, E.Identity):
            result = symengine.eye(sub.size)
        elif isinstance(sub, E.Ones):
            result = symengine.ones(sub.rows, sub.cols)
        elif isinstance(sub, E.MatMul):
            result = value(sub.left) * value(sub.right)
        elif isinstance(sub, E.Add):
            result = _entrywise(lambda a, b: a + b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Sub):
            result = _entrywise(lambda a, b: a - b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Hadamard):
            result = _entrywise(lambda a, b: symengine.expand(a * b), value(sub.left), value(sub.right))
        elif isinstance(sub, E.Div):
            result = _entrywise(lambda a, b: a / b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Neg):
            result = -value(sub.operand)
        elif isinstance(sub, E.Transpose):
            result = value(sub.operand).T
        elif isinstance(sub, E.Power):
            exponent = int(sub.exponent)
            result = value(sub.base).applyfunc(lambda a: symengine.expand(a ** exponent))
        elif isinstance(sub, E.Call) and sub.function in ("trace", "sum"):
            argument = value(sub.argument)
            entries = ([argument[k, k] for k in range(argument.rows)] if sub.function == "trace"
                       else [argument[i, j] for i in range(argument.rows) for j in range(argument.cols)])
            result = symengine.DenseMatrix(1, 1, [symengine.expand(symengine.Add(*entries))])
        else:
            raise TypeError(f"{type(sub).__name__} is not polynomial; use the sympy engine")
        memo[sub] = result
        return result

    return value(node)


def to_sympy(expr: Any) -> sympy.Expr:
    """One entry as a SymPy expression (SymPy entries pass through)."""
    if isinstance(expr, sympy.Basic):
        return expr
    if isinstance(expr, int):
        return sympy.Integer(expr)
    return expr._sympy_()  # a SymEngine object converts itself


def matrix_to_sympy(matrix: Any) -> sympy.ImmutableMatrix:
    """A whole matrix as a SymPy ImmutableMatrix."""
    if isinstance(matrix, sympy.MatrixBase):
        return sympy.ImmutableMatrix(matrix)
    return sympy.ImmutableMatrix(matrix.rows, matrix.cols,
                                 [to_sympy(matrix[i, j]) for i in range(matrix.rows) for j in range(matrix.cols)])


def _is_sympy(x: Any) -> bool:
    return isinstance(x, (sympy.Basic, int))


def add_and_mul(example: Any):
    """The n-ary Add and Mul of the engine ``example`` belongs to."""
    if symengine is None or _is_sympy(example):
        return sympy.Add, sympy.Mul
    return symengine.Add, symengine.Mul
