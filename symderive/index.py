"""Index notation: the language of derivations written for all sizes.

A derivation talks about entries of matrices whose sizes are symbols
(n, m, d), with indices that range over them: ``X[p,r]``, Kronecker deltas
``delta(p,i)``, sums ``sum(r=1..m, ...)``, derivatives of entries
``d(Y[p,q])/d(X[i,j])`` and of the scalar ``d(f)/d(X[i,j])``.  This module
holds the tree of such expressions and the declarations (sizes, matrices,
indices) that give them meaning; :mod:`symderive.derivation_file` reads them
from text and :mod:`symderive.prove` checks them.

An index or a bound is an :data:`Atom`: an index name (str) or an integer.
Bounds may also be size names (str).  Matrices inside entries are expressions
of :mod:`symderive.expr` (a name, a transpose, a product, a sum), so
``(G @ W.T)[i,j]`` is an entry of a product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

from .expr import Expr as MatrixExpr

__all__ = ["Atom", "IndexExpr", "Num", "Entry", "Delta", "Sum", "Plus", "Times", "Neg", "Derivative",
           "Scalar", "Declarations", "Step", "Derivation"]

Atom = Union[str, int]


class IndexExpr:
    """Base class of index-notation expressions."""


@dataclass(frozen=True)
class Num(IndexExpr):
    value: Fraction


@dataclass(frozen=True)
class Entry(IndexExpr):
    """Entry (row, col), 1-based, of a matrix expression: ``X[p,r]``, ``W.T[q,j]``, ``(G @ W.T)[i,j]``."""

    matrix: MatrixExpr
    row: Atom
    col: Atom


@dataclass(frozen=True)
class Delta(IndexExpr):
    """The Kronecker delta: 1 when the two indices are equal, else 0."""

    a: Atom
    b: Atom


@dataclass(frozen=True)
class Sum(IndexExpr):
    """``sum(var=lower..upper, body)``, bounds inclusive."""

    var: str
    lower: Atom
    upper: Atom
    body: IndexExpr


@dataclass(frozen=True)
class Plus(IndexExpr):
    terms: tuple[IndexExpr, ...]


@dataclass(frozen=True)
class Times(IndexExpr):
    factors: tuple[IndexExpr, ...]


@dataclass(frozen=True)
class Neg(IndexExpr):
    operand: IndexExpr


@dataclass(frozen=True)
class Scalar(IndexExpr):
    """The arbitrary scalar function ``f`` of the output, known only through its
    derivatives (the upstream gradient)."""

    name: str = "f"


@dataclass(frozen=True)
class Derivative(IndexExpr):
    """``d(of)/d(wrt)``: the derivative of an expression (or of f) by one entry."""

    of: IndexExpr
    wrt: Entry


@dataclass
class Declarations:
    """What a derivation's symbols mean.

    ``sizes``: size names (positive integers, symbolic).  ``shapes``: each base
    matrix's (rows, cols), sizes or integers.  ``defined``: matrices defined as
    expressions of others (``Y = X @ W``).  ``upstream``: (G, Y) when G_pq
    stands for df/dY_pq.  ``ranges``: each free index's (lower, upper).
    """

    sizes: list[str] = field(default_factory=list)
    shapes: dict[str, tuple[Atom, Atom]] = field(default_factory=dict)
    defined: dict[str, MatrixExpr] = field(default_factory=dict)
    upstream: tuple[str, str] | None = None
    ranges: dict[str, tuple[Atom, Atom]] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """One line of a chain of equalities, and the rule it claims (may be empty)."""

    expression: IndexExpr
    rule: str
    line: int  # 1-based line of the file it came from (0 when generated)
    text: str  # as written


@dataclass
class Derivation:
    """Declarations and a chain of equalities: steps[0] = steps[1] = ..."""

    declarations: Declarations
    steps: list[Step]
    title: str = ""
