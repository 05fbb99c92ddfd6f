"""Prove: checking chains of equalities in index notation, for all sizes.

Each step of a derivation (:mod:`symderive.index`) is compared with the one
before in two independent ways.

**For all sizes** (the proof).  Both sides are brought to a normal form: sums
distributed over sums and products, entries of defined matrices, transposes
and products expanded by their definitions, derivatives of entries taken
(d X_pr / d X_ij = delta_pi delta_rj), d(f)/d(A_ij) read by the multivariable
chain rule through the upstream gradient, and every Kronecker delta that meets
a summed index contracted -- a *certified rewrite*, done only when its side
condition (the other index lies in the summation range, e.g. 1 <= j <= m
because j ranges over 1..m) is proven from the declared ranges.  Terms are then
compared up to renaming of summed indices.  Equal normal forms prove the step
for every value of the sizes.

**At concrete sizes** (the witness).  Both sides are evaluated with every size
from 1 to K and every value of the free indices, on explicit matrices of
symbols, the derivatives d(f)/d(A_ij) taken from the concrete chain-rule
derivation of :mod:`symderive.chain_rule`, and compared exactly.  A difference
there is a counterexample, reported with both values; agreement without a
normal-form proof is reported as "checked for all sizes up to K, not proven".
"""

from __future__ import annotations

import itertools
import math
import operator
from fractions import Fraction
from dataclasses import dataclass, field, replace
from typing import Any

import sympy

from . import build, chain_rule, engine, verify
from .errors import BadInput
from .expr import (KINKED, Add as MAdd, Along, Call, Constant, Div, Expr as MatrixExpr, Hadamard, Identity,
                   MatMul, Name, Neg as MNeg, Number, Ones, Power, Sub as MSub, Transpose, names_in, walk)
from .kinks import kinked_template
from .index import (Atom, Declarations, Delta, Derivation, Derivative, Entry, IndexExpr, Neg, Num,
                    Plus, Scalar, Step, Sum, Times)

__all__ = ["Coverage", "StepVerdict", "ProofReport", "check_derivation", "normal_form", "PROVEN", "CHECKED", "FALSE",
           "DEFAULT_K"]

PROVEN = "proven for all sizes"
CHECKED = "checked for all sizes up to K, not proven"
FALSE = "false"
DEFAULT_K = 3


class Unreadable(BadInput):
    """A derivation that does not make sense as stated (e.g. a product that does not conform)."""


# ---------------------------------------------------------------------------
# Shapes of matrix expressions with symbolic sizes
# ---------------------------------------------------------------------------


def _broadcast_dimension(node: MatrixExpr, a: Atom, b: Atom, decl: Declarations, which: str) -> Atom:
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    left, right = node.children()
    raise Unreadable(f"{node} does not conform: the {which} of {left} ({a}) and of {right} ({b}) "
                     f"differ, and neither is 1")


def matrix_shape(node: MatrixExpr, decl: Declarations) -> tuple[Atom, Atom]:
    """(rows, cols) of a matrix expression, sizes as names; Unreadable if it does not conform.

    Entrywise operations broadcast as NumPy does: a dimension 1 stretches, and a
    number is 1 x 1."""
    if isinstance(node, Name):
        if node.name in decl.shapes:
            return decl.shapes[node.name]
        if node.name in decl.defined:
            return matrix_shape(decl.defined[node.name], decl)
        if decl.upstream and node.name == decl.upstream[0]:
            return matrix_shape(Name(decl.upstream[1]), decl)
        raise Unreadable(f"unknown matrix {node.name!r}")
    if isinstance(node, Transpose):
        rows, cols = matrix_shape(node.operand, decl)
        return cols, rows
    if isinstance(node, MatMul):
        (rows, a), (b, cols) = matrix_shape(node.left, decl), matrix_shape(node.right, decl)
        if a != b:
            raise Unreadable(
                f"{node} does not conform: {node.left} is {rows} x {a} and {node.right} is {b} x {cols}, "
                f"so the columns of the left factor ({a}) differ from the rows of the right factor ({b})")
        return rows, cols
    if isinstance(node, (MAdd, MSub, Hadamard, Div)):
        left, right = matrix_shape(node.left, decl), matrix_shape(node.right, decl)
        return (_broadcast_dimension(node, left[0], right[0], decl, "rows"),
                _broadcast_dimension(node, left[1], right[1], decl, "columns"))
    if isinstance(node, (Number, Constant)):
        return 1, 1
    if isinstance(node, Ones):
        return node.rows, node.cols
    if isinstance(node, Along):  # a reduction keeps two dimensions
        rows, cols = matrix_shape(node.argument, decl)
        if not node.reduces:
            return rows, cols
        return (1, cols) if node.axis == 0 else (rows, 1)
    if isinstance(node, Identity):
        return node.size, node.size
    if isinstance(node, (MNeg, Power)):
        return matrix_shape(node.children()[0], decl)
    if isinstance(node, Call):
        rows, cols = matrix_shape(node.argument, decl)
        if node.function in ("trace", "det", "inv") and rows != cols:
            raise Unreadable(f"{node.function} needs a square matrix; {node.argument} is {rows} x {cols}")
        return (1, 1) if node.function in SCALAR_FUNCTIONS else (rows, cols)
    raise Unreadable(f"cannot take entries of {node}")


SCALAR_FUNCTIONS = ("trace", "sum", "det", "mean", "norm", "logsumexp")  # a 1 x 1 result
# functions of a whole matrix (or of a group of its entries), not of one entry at a time
WHOLE_MATRIX_FUNCTIONS = SCALAR_FUNCTIONS + ("inv", "adj", "softmax", "log_softmax")


def function_key(call: Call) -> str:
    """The name of an elementwise function as the normal forms carry it: the
    function, and a parameter after a colon (``leaky_relu:1/10``), readable in
    messages and parsed back by :func:`_elementwise`."""
    return call.function if call.parameter is None else f"{call.function}:{call.parameter}"


def _size_product(*dims: Atom):
    """The number of entries along the given dimensions, a SymPy expression in the sizes."""
    return sympy.Mul(*(_sym(d) for d in dims))


def definition(node: MatrixExpr, decl: Declarations) -> MatrixExpr | None:
    """The operations that are defined through others, as those others: the index
    language then reads them by the definitions it already has.

        mean(A)            = sum(A) / (rows * cols)      mean(A, axis=k) = sum(A, axis=k) / size_k
        norm(A)            = sqrt(sum(A**2))              (the Frobenius norm)
        logsumexp(A[, k])  = log(sum(exp(A)[, axis=k]))
        softmax(A[, k])    = exp(A) / sum(exp(A)[, axis=k])   (broadcast over the group)
        log_softmax(A[, k]) = A - logsumexp(A[, axis=k])

    None for everything else."""
    if isinstance(node, Call) and node.function in ("mean", "norm", "logsumexp", "softmax", "log_softmax"):
        A, axis = node.argument, None
    elif isinstance(node, Along) and node.function != "sum":
        A, axis = node.argument, node.axis
    else:
        return None

    def reduced(function: str, argument: MatrixExpr) -> MatrixExpr:
        return Call(function, argument) if axis is None else Along(function, argument, axis)

    function = node.function
    if function == "mean":
        rows, cols = matrix_shape(A, decl)
        count = _size_product(rows, cols) if axis is None else _size_product((rows, cols)[axis])
        return Div(reduced("sum", A), Constant(count))
    if function == "norm":
        return Call("sqrt", Call("sum", Power(A, Fraction(2))))
    if function == "logsumexp":
        return Call("log", reduced("sum", Call("exp", A)))
    if function == "softmax":
        return Div(Call("exp", A), reduced("sum", Call("exp", A)))
    if function == "log_softmax":
        return MSub(A, reduced("logsumexp", A))
    return None


class NoIndexDefinition(Unreadable):
    """An operation the index language has no definition for (inv, det): the
    normal forms cannot be compared, and a step using it can only be checked."""


# ---------------------------------------------------------------------------
# Normal forms
# ---------------------------------------------------------------------------

# A term: coefficient * product of factors * [constraints], summed over its
# bound indices.  Factor: ("entry", matrix name, row, col) or ("delta", a, b).
# Constraint: (a, b), meaning a <= b, for atoms a and b (a bound index, a free
# index, a size or a whole number).
#
# A nested sum  sum_{r=lo..hi} sum_{s=lo2(r)..hi2(r)} body  is the sum of body
# over the integer points (r, s) with lo <= r <= hi and lo2 <= s <= hi2: the
# ranges become constraints of one flat domain.  That is what makes contraction
# safe: contracting delta(r, s) over r substitutes s for r *everywhere*,
# in the factors and in every constraint, its own range included, and nothing
# is dropped unless it is proven redundant.


@dataclass(frozen=True)
class Term:
    coeff: Any  # a sympy expression in the sizes and free indices (a number, or e.g. n)
    factors: tuple
    bound: tuple = ()  # the summed indices
    constraints: tuple = ()  # ((a, b), ...): a <= b on the domain of summation


PLACE = sympy.Symbol("@entry")  # stands for the entry an elementwise function is applied to
MAX_EXPANDED_POWER = 12  # A ** k for whole k up to this is a product of k entries; beyond, one factor


def _scaled(term: Term, factor) -> Term:
    return Term(term.coeff * factor, term.factors, term.bound, term.constraints)


def _broadcast_at(shape: tuple[Atom, Atom], result: tuple[Atom, Atom], row: Atom, col: Atom) -> tuple[Atom, Atom]:
    """The entry of an operand that entry (row, col) of a broadcast result reads:
    along a dimension of size 1 that was stretched, always the first."""
    return (1 if shape[0] == 1 and result[0] != 1 else row, 1 if shape[1] == 1 and result[1] != 1 else col)


def _derivative_of_function(factor: tuple) -> tuple[Any, tuple]:
    """d g(a)/da for a factor ("fn", g, M, r, c): (coefficient, factors), by SymPy's
    differentiation of g in its placeholder.  For an undefined function f this is
    f' (SymPy's derivative of it); for tanh, 1 - tanh^2; so every rule about a
    named function is the chain rule here and calculus of one variable there."""
    _, g, name, r, c = factor
    return sympy.S.One, (("fn", sympy.diff(g, PLACE), name, r, c),)


def _join(a: Term, b: Term) -> Term:
    return Term(a.coeff * b.coeff, a.factors + b.factors, a.bound + b.bound, a.constraints + b.constraints)


class _Normalizer:
    """Builds normal forms; records the side conditions it proved on the way."""

    def __init__(self, decl: Declarations) -> None:
        self.decl = decl
        self.counter = itertools.count()
        self.side_conditions: list[tuple[Atom, Atom, Atom]] = []  # (lower, index, upper), proven
        self.unproven: list[tuple[Atom, Atom, Atom]] = []  # kept as a condition of the term
        self.opaque: dict[str, MatrixExpr] = {}  # key -> a matrix expression whose entries are opaque

    # --- fresh names and substitution ------------------------------------

    def fresh(self) -> str:
        return f"_{next(self.counter)}"

    # --- expansion into terms --------------------------------------------

    def terms(self, expr: IndexExpr, env: dict[str, Atom]) -> list[Term]:
        """``expr`` as a list of terms; ``env`` renames bound index names to fresh ones."""
        if isinstance(expr, Num):
            return [Term(sympy.Rational(expr.value.numerator, expr.value.denominator), ())]
        if isinstance(expr, Neg):
            return [Term(-t.coeff, t.factors, t.bound, t.constraints) for t in self.terms(expr.operand, env)]
        if isinstance(expr, Plus):
            return [t for part in expr.terms for t in self.terms(part, env)]
        if isinstance(expr, Times):
            result = [Term(sympy.S.One, ())]
            for factor in expr.factors:
                parts = self.terms(factor, env)
                result = [_join(a, b) for a in result for b in parts]
            return result
        if isinstance(expr, Sum):
            var = self.fresh()
            lower, upper = self.atom(expr.lower, env), self.atom(expr.upper, env)
            inner = self.terms(expr.body, {**env, expr.var: var})
            return [Term(t.coeff, t.factors, (var,) + t.bound, ((lower, var), (var, upper)) + t.constraints)
                    for t in inner]
        if isinstance(expr, Delta):
            return [Term(sympy.S.One, (("delta", self.atom(expr.a, env), self.atom(expr.b, env)),))]
        if isinstance(expr, Entry):
            return self.entry(expr.matrix, self.atom(expr.row, env), self.atom(expr.col, env))
        if isinstance(expr, Derivative):
            return self.derivative(expr, env)
        if isinstance(expr, Scalar):
            raise Unreadable("f stands for a scalar known only through its derivatives: write d(f)/d(...)")
        raise Unreadable(f"cannot read {expr!r}")

    def atom(self, atom: Atom, env: dict[str, Atom]) -> Atom:
        """A bound index's fresh name; a free index whose range is one value (j = 1..1,
        the column of an n x 1 matrix) that value; anything else itself."""
        if not isinstance(atom, str):
            return atom
        if atom in env:
            return env[atom]
        lo, hi = self.decl.ranges.get(atom, (None, None))
        return lo if lo is not None and lo == hi else atom

    def entry(self, matrix: MatrixExpr, row: Atom, col: Atom) -> list[Term]:
        """Entry (row, col) of a matrix expression, by the definitions of its operations."""
        decl = self.decl
        if isinstance(matrix, Name):
            if matrix.name in decl.defined:
                return self.entry(decl.defined[matrix.name], row, col)
            matrix_shape(matrix, decl)  # known?
            return [Term(sympy.S.One, (("entry", matrix.name, row, col),))]
        defined = definition(matrix, decl)
        if defined is not None:
            matrix_shape(matrix, decl)
            return self.entry(defined, row, col)
        if isinstance(matrix, Transpose):  # (A^T)_ab = A_ba
            return self.entry(matrix.operand, col, row)
        if isinstance(matrix, MatMul):  # (AB)_ab = sum_r A_ar B_rb
            inner = matrix_shape(matrix.left, decl)[1]
            matrix_shape(matrix, decl)
            var = self.fresh()
            left, right = self.entry(matrix.left, row, var), self.entry(matrix.right, var, col)
            return [Term(t.coeff, t.factors, (var,) + t.bound, ((1, var), (var, inner)) + t.constraints)
                    for t in (_join(a, b) for a in left for b in right)]
        if isinstance(matrix, (MAdd, MSub, Hadamard, Div)):
            shape = matrix_shape(matrix, decl)
            left = self.entry(matrix.left, *_broadcast_at(matrix_shape(matrix.left, decl), shape, row, col))
            right_at = _broadcast_at(matrix_shape(matrix.right, decl), shape, row, col)
            if isinstance(matrix, Div):
                if isinstance(matrix.right, (Number, Constant)):  # (A / c)_ab = A_ab / c
                    return [_scaled(t, 1 / _constant_value(matrix.right)) for t in left]
                # (A / B)_ab = A_ab B_ab^-1 (B's entry as read by the broadcast)
                reciprocal = self.applied_g(PLACE ** -1, matrix.right, *right_at)
                return [_join(t, reciprocal) for t in left]
            right = self.entry(matrix.right, *right_at)
            if isinstance(matrix, MAdd):
                return left + right
            if isinstance(matrix, MSub):
                return left + [_scaled(t, -1) for t in right]
            return [_join(a, b) for a in left for b in right]  # (A * B)_ab = A_ab B_ab
        if isinstance(matrix, (Number, Constant)):
            return [Term(_constant_value(matrix), ())]
        if isinstance(matrix, Ones):
            return [Term(sympy.S.One, ())]
        if isinstance(matrix, Identity):
            return [Term(sympy.S.One, (("delta", row, col),))]
        if isinstance(matrix, MNeg):
            return [_scaled(t, -1) for t in self.entry(matrix.operand, row, col)]
        if isinstance(matrix, Power):
            exponent = matrix.exponent
            if exponent.denominator == 1 and 0 <= exponent <= MAX_EXPANDED_POWER:
                result = [Term(sympy.S.One, ())]
                for _ in range(int(exponent)):
                    result = [_join(a, b) for a in result for b in self.entry(matrix.base, row, col)]
                return result
            return [self.applied_g(PLACE ** _rational(exponent), matrix.base, row, col)]
        if isinstance(matrix, Along) and matrix.function == "sum":
            # sum(A, axis=0)_1c = sum_s A_sc (one row); sum(A, axis=1)_r1 = sum_s A_rs (one column)
            rows, cols = matrix_shape(matrix.argument, decl)
            var = self.fresh()
            at, upper = ((var, col), rows) if matrix.axis == 0 else ((row, var), cols)
            return [Term(t.coeff, t.factors, (var,) + t.bound, ((1, var), (var, upper)) + t.constraints)
                    for t in self.entry(matrix.argument, *at)]
        if isinstance(matrix, Call):
            if matrix.function in ("trace", "sum"):
                # trace(A) = sum_k A_kk, sum(A) = sum_a sum_b A_ab: a 1 x 1 result
                rows, cols = matrix_shape(matrix.argument, decl)
                a = self.fresh()
                if matrix.function == "trace":
                    inner = self.entry(matrix.argument, a, a)
                    return [Term(t.coeff, t.factors, (a,) + t.bound, ((1, a), (a, rows)) + t.constraints)
                            for t in inner]
                b = self.fresh()
                inner = self.entry(matrix.argument, a, b)
                return [Term(t.coeff, t.factors, (a, b) + t.bound,
                             ((1, a), (a, rows), (1, b), (b, cols)) + t.constraints) for t in inner]
            if matrix.function in ("det", "inv", "adj"):
                raise NoIndexDefinition(f"{matrix.function} has no definition in index notation here")
            matrix_shape(matrix, decl)
            return [self.applied(function_key(matrix), matrix.argument, row, col)]
        raise Unreadable(f"cannot take entries of {matrix}")

    def applied(self, function: str, argument: MatrixExpr, row: Atom, col: Atom) -> Term:
        """An elementwise function of entry (row, col) of ``argument``, as one factor."""
        return self.applied_g(_elementwise(function, PLACE), argument, row, col)

    def applied_g(self, g, argument: MatrixExpr, row: Atom, col: Atom) -> Term:
        """g(argument_rc) as one factor ("fn", g, M, r, c): g is a SymPy expression in
        the placeholder ``PLACE`` standing for the entry M_rc.  Elementwise functions
        and powers compose into g (tanh of a square root is one factor of A), and M is
        a named matrix when the argument's entry is one entry of one; otherwise M is
        the argument itself, an *opaque* matrix expression (X @ W, a row sum of
        exp(A)), whose entry is differentiated by its definition (see
        :meth:`differentiate`)."""
        while True:
            if isinstance(argument, Name) and argument.name in self.decl.defined:
                argument = self.decl.defined[argument.name]
            elif isinstance(argument, Power):
                g = g.xreplace({PLACE: PLACE ** _rational(argument.exponent)})
                argument = argument.base
            elif isinstance(argument, Call) and argument.function not in WHOLE_MATRIX_FUNCTIONS:
                matrix_shape(argument, self.decl)
                g = g.xreplace({PLACE: _elementwise(function_key(argument), PLACE)})
                argument = argument.argument
            else:
                break
        inner = self.entry(argument, row, col)
        if len(inner) == 1 and len(inner[0].factors) == 1 and inner[0].factors[0][0] != "delta" \
                and not inner[0].bound and inner[0].coeff == 1:
            factor = inner[0].factors[0]
            inside = PLACE if factor[0] == "entry" else factor[1]
            name, r, c = factor[-3:]
            return Term(sympy.S.One, (("fn", g.xreplace({PLACE: inside}), name, r, c),))
        return Term(sympy.S.One, (("fn", g, self.opaque_key(argument), row, col),))

    def opaque_key(self, matrix: MatrixExpr) -> str:
        """The name an opaque matrix expression goes by in the normal forms: as the
        language prints it, with every defined name replaced by its definition (so
        Z and X @ W are one matrix), made unique within this normalizer if two
        expressions print alike (both sides of a step share one normalizer, so
        equal keys mean equal expressions there)."""
        matrix = _inline(matrix, self.decl.defined)
        key = f"({matrix})"
        while key in self.opaque and self.opaque[key] != matrix:
            key += "'"
        self.opaque[key] = matrix
        return key

    # --- derivatives -------------------------------------------------------

    def _refuse_upstream(self, what: str) -> None:
        upstream, output = self.decl.upstream
        raise Unreadable(
            f"{what}: the upstream gradient {upstream} (= df/d{output}) is an unknown function of "
            f"{output}, so its derivatives are not determined by the chain rule; a derivative of "
            f"d(f)/d(...) or of {upstream}, or by {upstream}, cannot be checked")

    def _mentions_upstream(self, expr: IndexExpr) -> bool:
        """Whether ``expr`` contains d(f)/d(...) or an entry of a matrix expression using G."""
        upstream = self.decl.upstream[0]
        if isinstance(expr, Derivative):
            return isinstance(expr.of, Scalar) or self._mentions_upstream(expr.of)
        if isinstance(expr, Entry):
            return upstream in names_in(expr.matrix)
        if isinstance(expr, (Plus, Times)):
            return any(self._mentions_upstream(part) for part in (expr.terms if isinstance(expr, Plus)
                                                                    else expr.factors))
        if isinstance(expr, (Neg, Sum)):
            return self._mentions_upstream(expr.operand if isinstance(expr, Neg) else expr.body)
        return False

    def derivative(self, expr: Derivative, env: dict[str, Atom]) -> list[Term]:
        upstream = self.decl.upstream
        if upstream and isinstance(expr.wrt.matrix, Name) and expr.wrt.matrix.name == upstream[0]:
            self._refuse_upstream(f"a derivative by {upstream[0]}")
        if upstream and not isinstance(expr.of, Scalar) and self._mentions_upstream(expr.of):
            self._refuse_upstream("a derivative of d(f)/d(...) or of the upstream gradient")
        if isinstance(expr.of, Scalar) and upstream and expr.wrt.matrix == Name(upstream[1]):
            # df/dY_pq is the upstream gradient G_pq, by definition
            row, col = self.atom(expr.wrt.row, env), self.atom(expr.wrt.col, env)
            return [Term(sympy.S.One, (("entry", upstream[0], row, col),))]
        wrt = self.entry(expr.wrt.matrix, self.atom(expr.wrt.row, env), self.atom(expr.wrt.col, env))
        if len(wrt) != 1 or len(wrt[0].factors) != 1 or wrt[0].bound or wrt[0].coeff != 1:
            raise Unreadable(f"d(...)/d(...) needs a single entry of a base matrix, not an entry of "
                             f"{expr.wrt.matrix}, which is defined from others")
        _, base, i, j = wrt[0].factors[0]
        if isinstance(expr.of, Scalar):
            return self.scalar_derivative(expr, base, i, j, env)
        return self.differentiate(self.terms(expr.of, env), base, i, j)

    def differentiate(self, terms: list[Term], base: str, i: Atom, j: Atom) -> list[Term]:
        """d/d(base_ij) of a sum of terms, by the product rule, one factor at a time:
        d A_rc/dA_ij = delta_ri delta_cj; d g(A_rc)/dA_ij = g'(A_rc) delta_ri delta_cj;
        and for an opaque matrix expression M, d g(M_rc)/dA_ij = g'(M_rc) dM_rc/dA_ij,
        with dM_rc/dA_ij the derivative of M's entry by its definition (its sums
        joined into the term, their indices fresh)."""
        upstream = self.decl.upstream
        found = []
        for term in terms:
            for factor in term.factors:
                if upstream and self._reads(factor, upstream[0]):
                    # G_pq depends on every entry through Y: d(G_pq)/dX_ij is not 0
                    self._refuse_upstream("a derivative of an expression containing the upstream gradient")
            for k, factor in enumerate(term.factors):
                rest = term.factors[:k] + term.factors[k + 1:]
                if factor[0] == "entry" and factor[1] == base:  # d A_rc / d A_ij = delta_ri delta_cj
                    found.append(Term(term.coeff, rest + (("delta", factor[2], i), ("delta", factor[3], j)),
                                      term.bound, term.constraints))
                elif factor[0] == "fn" and factor[2] == base:  # d f(A_rc) / d A_ij = f'(A_rc) delta_ri delta_cj
                    coeff, derived = _derivative_of_function(factor)
                    found.append(Term(term.coeff * coeff,
                                      rest + derived + (("delta", factor[3], i), ("delta", factor[4], j)),
                                      term.bound, term.constraints))
                elif factor[0] == "fn" and factor[2] in self.opaque:  # the chain rule through M_rc
                    coeff, derived = _derivative_of_function(factor)
                    outer = Term(term.coeff * coeff, rest + derived, term.bound, term.constraints)
                    inner = self.entry(self.opaque[factor[2]], factor[3], factor[4])
                    found += [_join(outer, t) for t in self.differentiate(inner, base, i, j)]
        return found

    def _reads(self, factor: tuple, name: str) -> bool:
        """Whether a factor depends on the matrix ``name`` (an opaque one through its definition)."""
        if factor[0] == "entry":
            return factor[1] == name
        if factor[0] == "fn":
            return factor[2] == name or (factor[2] in self.opaque and name in names_in(self.opaque[factor[2]]))
        return False

    def scalar_derivative(self, expr: Derivative, base: str, i: Atom, j: Atom,
                          env: dict[str, Atom]) -> list[Term]:
        """d(f)/d(entry): the upstream gradient for an entry of the output; otherwise the
        multivariable chain rule through the output, df/dA_ij = sum_pq G_pq dY_pq/dA_ij."""
        if self.decl.upstream is None:
            raise Unreadable("d(f)/d(...) needs a declaration 'upstream G of Y'")
        upstream, output = self.decl.upstream
        rows, cols = matrix_shape(Name(output), self.decl)
        p, q = self.fresh(), self.fresh()
        inner = self.derivative(Derivative(Entry(Name(output), p, q), Entry(Name(base), i, j)), {})
        return [Term(t.coeff, (("entry", upstream, p, q),) + t.factors, (p, q) + t.bound,
                     ((1, p), (p, rows), (1, q), (q, cols)) + t.constraints)
                for t in inner]

    # --- order facts -------------------------------------------------------

    def facts(self, constraints) -> list[tuple[Atom, Atom]]:
        """What is known to hold: the given constraints, each free index within its
        declared range, and every size at least 1."""
        known = list(constraints)
        for index, (lo, hi) in self.decl.ranges.items():
            known += [(lo, index), (index, hi)]
        known += [(1, size) for size in self.decl.sizes]
        return known

    @staticmethod
    def le(a: Atom, b: Atom, facts) -> bool:
        """a <= b follows from the facts (each (x, y) meaning x <= y) by transitivity
        and the order of the whole numbers: a search of the graph of facts."""
        if a == b or (isinstance(a, int) and isinstance(b, int) and a <= b):
            return True
        above: dict[Atom, list[Atom]] = {}
        for x, y in facts:
            above.setdefault(x, []).append(y)
        numbers = sorted({x for fact in facts for x in fact if isinstance(x, int)} | {
            x for x in (a, b) if isinstance(x, int)})
        seen, todo = {a}, [a]
        while todo:
            x = todo.pop()
            following = list(above.get(x, ()))
            if isinstance(x, int):
                following += [y for y in numbers if y >= x]
            for y in following:
                if y == b:
                    return True
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        return False

    # --- delta contraction and canonical form ----------------------------

    def contract(self, term: Term) -> Term | None:
        """Contract every delta that meets a summed index, substituting into every
        factor and constraint; drop constraints proven redundant; count the terms of
        sums whose index nothing uses.  None when the term is 0."""
        factors, bound, constraints = list(term.factors), list(term.bound), list(term.constraints)
        coeff = term.coeff
        # a delta is 0 or 1, so a repeated one is itself: delta_pi delta_pi = delta_pi
        # (cases read in order give delta_pi (1 - delta_pi), which must vanish)
        seen_deltas: set = set()
        unique = []
        for factor in factors:
            if factor[0] == "delta":
                key = tuple(sorted(factor[1:], key=repr))
                if key in seen_deltas:
                    continue
                seen_deltas.add(key)
            unique.append(factor)
        factors = unique
        changed = True
        while changed:
            changed = False
            for k, factor in enumerate(factors):
                if factor[0] != "delta":
                    continue
                _, a, b = factor
                if a == b:
                    del factors[k]
                    changed = True
                    break
                if isinstance(a, int) and isinstance(b, int):
                    return None  # delta of two different numbers: the term is 0
                var, other = (a, b) if a in bound else (b, a) if b in bound else (None, None)
                if var is None:
                    known = self.facts(constraints)
                    if self.le(a, b, known) and self.le(b, a, known):  # e.g. i with range 1..1, and 1
                        del factors[k]
                        changed = True
                        break
                    continue  # a delta of free indices (or a number) stays a factor
                del factors[k]
                own = [c for c in constraints if var in c]
                constraints = [c for c in constraints if var not in c]
                moved = [tuple(other if x == var else x for x in c) for c in own]
                proven = [c for c in moved if self.le(c[0], c[1], self.facts(constraints))]
                constraints += [c for c in moved if c not in proven]
                self._record(var, own, other, proven)
                bound.remove(var)
                factors = [_substitute(f, var, other) for f in factors]
                changed = True
                break
        # a summed index whose range is one value (p = 1..1) is that value
        for var in list(bound):
            lowers = {c[0] for c in constraints if c[1] == var}
            pinned = sorted((x for x in lowers if (var, x) in constraints and x != var), key=repr)
            if pinned:
                value = pinned[0]
                constraints = [tuple(value if x == var else x for x in c) for c in constraints]
                factors = [_substitute(f, var, value) for f in factors]
                bound.remove(var)
        constraints = self.simplify(constraints)
        # a sum whose index nothing else uses counts its terms: sum_{v=lo}^{hi} c =
        # (hi - lo + 1) c, when lo <= hi is proven (an empty sum is 0, not a negative count)
        for var in list(bound):
            if any(var in f[1 + _NAMES_IN_FACTOR[f[0]]:] for f in factors):
                continue
            lowers = [c[0] for c in constraints if c[1] == var]
            uppers = [c[1] for c in constraints if c[0] == var]
            if len(lowers) != 1 or len(uppers) != 1 or any(x in bound for x in lowers + uppers):
                continue
            if any(var in c for c in constraints if c not in ((lowers[0], var), (var, uppers[0]))):
                continue
            rest = [c for c in constraints if var not in c]
            if not self.le(lowers[0], uppers[0], self.facts(rest)):
                continue
            coeff = coeff * (_sym(uppers[0]) - _sym(lowers[0]) + 1)
            bound.remove(var)
            constraints = rest
        return Term(coeff, tuple(factors), tuple(bound), tuple(constraints))

    def simplify(self, constraints: list) -> list:
        """Drop each constraint that the others (and the declared ranges) imply, one
        at a time, so that no two constraints are dropped on each other's account."""
        kept = list(dict.fromkeys(constraints))
        for c in sorted(kept, key=repr):
            others = [x for x in kept if x != c]
            if self.le(c[0], c[1], self.facts(others)):
                kept = others
        return kept

    def _record(self, var: str, own: list, other: Atom, proven: list) -> None:
        lowers = [c[0] for c in own if c[1] == var]
        uppers = [c[1] for c in own if c[0] == var]
        if len(lowers) == 1 and len(uppers) == 1:
            condition = (lowers[0], other, uppers[0])
            if (lowers[0], other) in proven and (other, uppers[0]) in proven:
                self.side_conditions.append(condition)
            else:
                self.unproven.append(condition)

    def normal_form(self, expr: IndexExpr) -> dict[tuple, Any]:
        """Canonical key -> value, zero values dropped (see :func:`_canonical`)."""
        found: dict[tuple, Any] = {}
        for term in self.terms(expr, {}):
            contracted = self.contract(term)
            if contracted is None:
                continue
            key, value = _canonical(contracted)
            found[key] = found.get(key, 0) + value
        return {key: value for key, value in found.items() if verify.is_zero(value) is not True}


def condition_text(condition: tuple[Atom, Atom, Atom]) -> str:
    """A side condition (lower, index, upper) as ``lower <= index <= upper``."""
    lo, x, hi = condition
    return f"{lo} <= {x} <= {hi}"


def _rational(value: Fraction) -> sympy.Rational:
    return sympy.Rational(value.numerator, value.denominator)


def _constant_value(node: MatrixExpr):
    """The SymPy value of a Number or a Constant (sizes in it are the prover's size symbols)."""
    return _rational(node.value) if isinstance(node, Number) else node.value


def _inline(node: MatrixExpr, defined: dict[str, MatrixExpr]) -> MatrixExpr:
    """``node`` with every defined name replaced by its definition, recursively."""
    if isinstance(node, Name):
        return _inline(defined[node.name], defined) if node.name in defined else node
    children = node.children()
    return node.rebuild(*(_inline(child, defined) for child in children)) if children else node


def _sym(atom: Atom):
    return sympy.Integer(atom) if isinstance(atom, int) else sympy.Symbol(atom, integer=True, positive=True)


def _sub_atom(atom: Atom, old: str, new: Atom) -> Atom:
    return new if atom == old else atom


_NAMES_IN_FACTOR = {"entry": 1, "fn": 2, "delta": 0}  # leading non-index fields of each kind


def _substitute(factor: tuple, old: str, new: Atom) -> tuple:
    skip = 1 + _NAMES_IN_FACTOR[factor[0]]
    return factor[:skip] + tuple(_sub_atom(a, old, new) for a in factor[skip:])


MAX_RENAMINGS = 720  # 6 bound indices: every order is tried; more, a fixed order (incomplete, still sound)


def _position_symbol(name: str, row: Atom, col: Atom) -> sympy.Symbol:
    return sympy.Symbol(f"{name}[{row},{col}]")


def _canonical(term: Term) -> tuple[tuple, Any]:
    """(key, value) of a contracted term.

    The value is the coefficient times the entries and elementwise functions of
    entries, as a SymPy expression in one symbol per position ``M[r,c]``; the key
    is the rest: how many indices are summed, the deltas and the range conditions
    (the positions that involve a summed index choose the naming only).  Summed indices are renamed
    to the least key over every naming of them (up to 6 of them; beyond, one
    naming), so that terms equal up to renaming meet under one key, and their
    values add.  Two sides are equal when, key by key, their values are (decided
    by the kernel's exact zero test).  Renaming summed indices never changes a
    term, so equal keys with equal values mean equal sums; a naming that misses
    an equality leaves a step unproven, never wrongly proven."""
    bound = list(term.bound)

    def keyed(names: dict[str, str]) -> tuple:
        rename = lambda a: names.get(a, a) if isinstance(a, str) else a  # noqa: E731
        deltas = tuple(sorted((tuple(sorted(map(rename, f[1:]), key=repr)) for f in term.factors
                               if f[0] == "delta"), key=repr))
        positions = sorted({(f[-3], rename(f[-2]), rename(f[-1])) for f in term.factors
                            if f[0] != "delta" and (f[-2] in names or f[-1] in names)}, key=repr)
        constraints = tuple(sorted(((rename(a), rename(b)) for a, b in term.constraints), key=repr))
        functions = sorted(((f[-3], rename(f[-2]), rename(f[-1]), "x" if f[0] == "entry" else sympy.srepr(f[1]))
                            for f in term.factors if f[0] != "delta"), key=repr)
        return (len(bound), deltas, constraints, tuple(positions)), repr(functions), names

    namings = (itertools.permutations(bound) if math.factorial(len(bound)) <= MAX_RENAMINGS else [bound])
    key, _, names = min((keyed({v: f"#{k}" for k, v in enumerate(order)}) for order in namings),
                        key=lambda found: (repr(found[0]), found[1]))
    # the positions chose the naming; terms over one domain (the same summed indices,
    # constraints and deltas) then share a key whatever their factors, and their
    # values add: sum_D u + sum_D v = sum_D (u + v).  So 1 - tanh(M_ir)^2, one factor
    # on one side, meets 1 and -tanh(M_ir)^2, two terms on the other.
    key = key[:3]
    rename = lambda a: names.get(a, a) if isinstance(a, str) else a  # noqa: E731
    value = term.coeff
    for f in term.factors:
        if f[0] == "delta":
            continue
        place = _position_symbol(f[-3], rename(f[-2]), rename(f[-1]))
        value = value * (place if f[0] == "entry" else f[1].xreplace({PLACE: place}))
    return key, value


def normal_form(expr: IndexExpr, decl: Declarations) -> dict[tuple, Any]:
    """The normal form of ``expr`` (see the module docstring)."""
    return _Normalizer(decl).normal_form(expr)


# ---------------------------------------------------------------------------
# The concrete witness
# ---------------------------------------------------------------------------


class _OutOfRange(Exception):
    pass


_KNOWN = {"exp": sympy.exp, "log": sympy.log, "tanh": sympy.tanh, "sin": sympy.sin, "cos": sympy.cos,
          "sqrt": sympy.sqrt, "sigmoid": lambda x: 1 / (1 + sympy.exp(-x))}


def _elementwise(function: str, x: sympy.Expr) -> sympy.Expr:
    """A function of one entry: a known one, or an undefined function of SymPy
    (``f``), whose derivatives ``f'``, ``f''`` are SymPy's derivatives of it."""
    if function.startswith("**"):
        exponent = Fraction(function[2:])
        return x ** sympy.Rational(exponent.numerator, exponent.denominator)
    base, order = function.rstrip("'"), len(function) - len(function.rstrip("'"))
    if order == 0:
        return _known(base, x)
    dummy = sympy.Dummy("x")
    return sympy.diff(_known(base, dummy), dummy, order).subs(dummy, x)


def _known(function: str, x: sympy.Expr) -> sympy.Expr:
    """A function of the language at x (kinked ones through the unit step, with a
    parameter after a colon, ``leaky_relu:1/10``), else an undefined function."""
    name, _, parameter = function.partition(":")
    if name in KINKED:
        return kinked_template(name, x, Fraction(parameter) if parameter else None)
    return _KNOWN[name](x) if name in _KNOWN else sympy.Function(name)(x)


class _Concrete:
    """Evaluates index expressions at concrete sizes on explicit matrices of symbols."""

    def __init__(self, decl: Declarations, sizes: dict[str, int]) -> None:
        self.decl, self.sizes = decl, sizes
        # the defined matrices are products, sums and transposes: SymEngine can build them
        self.kind = engine.engine_for(*decl.defined.values())
        self.add, self.mul = engine.add_and_mul(sympy.S.One if self.kind == engine.SYMPY
                                                else engine.symengine.Integer(1))
        self.matrices: dict[str, Any] = {}
        self.built: dict[MatrixExpr, Any] = {}
        for name, (rows, cols) in decl.shapes.items():
            if decl.upstream and name == decl.upstream[0]:
                continue
            self.matrices[name] = self.symbols(name, self.value(rows, {}), self.value(cols, {}))
        for name, definition in decl.defined.items():  # in the order declared
            self.matrices[name] = self.matrix(definition)
        if decl.upstream:
            upstream, output = decl.upstream
            out = self.matrix(Name(output))
            self.matrices[upstream] = self.symbols(upstream, out.rows, out.cols)
        self.gradients: dict[str, Any] = {}

    def symbols(self, name: str, rows: int, cols: int):
        return engine.matrix_of_symbols(name, rows, cols, self.kind)

    def value(self, atom: Atom, env: dict[str, int]) -> int:
        if isinstance(atom, int):
            return atom
        if atom in env:
            return env[atom]
        return self.sizes[atom]

    def matrix(self, node: MatrixExpr) -> sympy.ImmutableMatrix:
        if isinstance(node, Name) and node.name in self.matrices:
            return self.matrices[node.name]
        if node not in self.built:  # e.g. G @ W.T, built once for all its entries
            try:
                if self.kind == engine.SYMENGINE and engine.engine_for(node) == engine.SYMENGINE \
                        and not any(isinstance(sub, (Ones, Identity)) and not all(
                            isinstance(x, int) for x in matrix_shape(sub, self.decl)) for sub in walk(node)):
                    self.built[node] = engine.explicit(node, self.matrices, self.kind)
                else:
                    self.built[node] = self.explicit(node)
            except KeyError as missing:
                raise Unreadable(f"unknown matrix {missing}") from None
            except (sympy.ShapeError, ValueError, TypeError) as problem:
                raise Unreadable(f"{node} cannot be evaluated at sizes {self.sizes}: {problem}") from None
        return self.built[node]

    def explicit(self, node: MatrixExpr) -> sympy.ImmutableMatrix:
        """The explicit value of a matrix expression, in SymPy, from the definitions of
        its operations (broadcasting as NumPy; an elementwise function the language
        does not know, or a derivative f' of one, is an undefined function of SymPy)."""
        if isinstance(node, Name):
            found = self.matrices[node.name]
            return found if isinstance(found, sympy.MatrixBase) else engine.matrix_to_sympy(found)
        if isinstance(node, Number):
            return sympy.ImmutableMatrix([[sympy.Rational(node.value.numerator, node.value.denominator)]])
        if isinstance(node, Constant):  # its sizes at their concrete values
            return sympy.ImmutableMatrix([[node.value.xreplace({_sym(size): value
                                                                for size, value in self.sizes.items()})]])
        if isinstance(node, Along):
            return build.along(node.function, self.explicit_of(node.argument), node.axis)
        if isinstance(node, Ones):
            return sympy.ImmutableMatrix(sympy.ones(self.value(node.rows, {}), self.value(node.cols, {})))
        if isinstance(node, Identity):
            return sympy.ImmutableMatrix(sympy.eye(self.value(node.size, {})))
        if isinstance(node, Transpose):
            return self.matrix(node.operand).T
        if isinstance(node, MNeg):
            return -self.explicit_of(node.operand)
        if isinstance(node, MatMul):
            return sympy.ImmutableMatrix(self.explicit_of(node.left) * self.explicit_of(node.right))
        if isinstance(node, (MAdd, MSub, Hadamard, Div)):
            a, b = self.explicit_of(node.left), self.explicit_of(node.right)
            rows, cols = max(a.rows, b.rows), max(a.cols, b.cols)
            at = lambda m, r, c: m[0 if m.rows == 1 else r, 0 if m.cols == 1 else c]  # noqa: E731
            combine = {MAdd: operator.add, MSub: operator.sub, Hadamard: operator.mul,
                       Div: operator.truediv}[type(node)]
            return sympy.ImmutableMatrix(rows, cols, lambda r, c: combine(at(a, r, c), at(b, r, c)))
        if isinstance(node, Power):
            exponent = sympy.Rational(node.exponent.numerator, node.exponent.denominator)
            return self.explicit_of(node.base).applyfunc(lambda x: x ** exponent)
        if isinstance(node, Call):
            a = self.explicit_of(node.argument)
            if node.function == "trace":
                return sympy.ImmutableMatrix([[a.trace()]])
            if node.function == "sum":
                return sympy.ImmutableMatrix([[sympy.Add(*a)]])
            if node.function == "det":
                return sympy.ImmutableMatrix([[a.det(method="berkowitz")]])
            if node.function == "adj":
                return sympy.ImmutableMatrix(a.adjugate(method="berkowitz"))
            if node.function == "inv":
                return sympy.ImmutableMatrix(a.adjugate(method="berkowitz") / a.det(method="berkowitz"))
            if node.function in ("mean", "softmax", "log_softmax", "logsumexp"):
                return build.along(node.function, a, None)
            if node.function == "norm":  # the Frobenius norm
                return sympy.ImmutableMatrix([[sympy.sqrt(sympy.Add(*(x ** 2 for x in a)))]])
            key = function_key(node)
            return a.applyfunc(lambda x: _elementwise(key, x))
        raise Unreadable(f"cannot evaluate {node}")

    def explicit_of(self, node: MatrixExpr) -> sympy.ImmutableMatrix:
        try:
            found = self.matrix(node)
        except sympy.ShapeError:
            raise Unreadable(f"{node} does not conform at sizes {self.sizes}") from None
        return found if isinstance(found, sympy.MatrixBase) else engine.matrix_to_sympy(found)

    def entry(self, matrix: MatrixExpr, row: int, col: int) -> sympy.Expr:
        explicit = self.matrix(matrix)
        if not (1 <= row <= explicit.rows and 1 <= col <= explicit.cols):
            raise _OutOfRange(f"entry ({row}, {col}) of {matrix}, which is {explicit.rows} x {explicit.cols}")
        return explicit[row - 1, col - 1]

    def gradient(self, base: str) -> sympy.ImmutableMatrix:
        """df/d(base) from the concrete chain-rule derivation."""
        if base not in self.gradients:
            upstream, output = self.decl.upstream
            out = self.matrix(Name(output))
            jac = chain_rule.jacobian(out, output, self.matrices[base], base)
            self.gradients[base] = chain_rule.gradient(jac, self.matrices[upstream])
        return self.gradients[base]

    def __call__(self, expr: IndexExpr, env: dict[str, int]) -> sympy.Expr:
        if isinstance(expr, Num):
            v = expr.value
            return v.numerator if v.denominator == 1 else self.mul(v.numerator, self.mul(v.denominator) ** -1)
        if isinstance(expr, Neg):
            return -self(expr.operand, env)
        if isinstance(expr, Plus):
            return self.add(*(self(t, env) for t in expr.terms))
        if isinstance(expr, Times):
            return self.mul(*(self(t, env) for t in expr.factors))
        if isinstance(expr, Delta):
            return 1 if self.value(expr.a, env) == self.value(expr.b, env) else 0
        if isinstance(expr, Sum):
            lo, hi = self.value(expr.lower, env), self.value(expr.upper, env)
            return self.add(*(self(expr.body, {**env, expr.var: v}) for v in range(lo, hi + 1)))
        if isinstance(expr, Entry):
            return self.entry(expr.matrix, self.value(expr.row, env), self.value(expr.col, env))
        if isinstance(expr, Derivative):
            row, col = self.value(expr.wrt.row, env), self.value(expr.wrt.col, env)
            wrt_matrix = expr.wrt.matrix
            if isinstance(expr.of, Scalar):
                upstream, output = self.decl.upstream
                if isinstance(wrt_matrix, Name) and wrt_matrix.name == output:
                    return self.entry(Name(upstream), row, col)
                self.entry(wrt_matrix, row, col)  # in range?
                return self.gradient(wrt_matrix.name)[row - 1, col - 1]
            symbol = self.entry(wrt_matrix, row, col)
            value = self(expr.of, env)
            return value.diff(symbol) if hasattr(value, "diff") else 0
        raise Unreadable(f"cannot evaluate {expr!r}")


# ---------------------------------------------------------------------------
# Checking a chain
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """What the concrete witness compared: of the assignments of 1..k to the sizes,
    and of the tuples of free-index values at those sizes, how many were checked."""

    k: int
    sizes_checked: int
    sizes_total: int
    points_checked: int
    points_total: int

    @property
    def complete(self) -> bool:
        return self.sizes_checked == self.sizes_total and self.points_checked == self.points_total

    def data(self) -> dict[str, Any]:
        return {"k": self.k, "sizes_checked": self.sizes_checked, "sizes_total": self.sizes_total,
                "points_checked": self.points_checked, "points_total": self.points_total,
                "complete": self.complete}

    def text(self) -> str:
        """What was checked, in words, exactly."""
        if self.complete:
            return (f"evaluated exactly at every size from 1 to {self.k} ({self.sizes_total} "
                    f"{'assignment' if self.sizes_total == 1 else 'assignments'} of the sizes) and every "
                    f"value of the free indices ({self.points_total:,} instances in all)")
        return (f"evaluated exactly at {self.sizes_checked} of the {self.sizes_total} assignments of sizes "
                f"1 to {self.k}, {self.points_checked:,} of their {self.points_total:,} index tuples")


@dataclass
class StepVerdict:
    number: int  # 1-based: step k compares line k with line k-1
    before: Step
    after: Step
    verdict: str  # PROVEN, CHECKED or FALSE
    method: str
    side_conditions: list[tuple[Atom, Atom, Atom]] = field(default_factory=list)  # (lower, index, upper)
    instances: int = 0  # concrete (sizes, indices) compared
    counterexample: dict[str, Any] | None = None
    coverage: Coverage | None = None

    @property
    def rule(self) -> str:
        return self.after.rule

    @property
    def verdict_text(self) -> str:
        """The verdict as a sentence that claims no more than was checked."""
        if self.verdict != CHECKED or self.coverage is None:
            return self.verdict
        if self.coverage.complete:
            return f"checked at every size up to {self.coverage.k}, not proven"
        return f"not proven; {self.coverage.text()}"

    def data(self) -> dict[str, Any]:
        found = self.counterexample
        return {
            "step": self.number,
            "line": self.after.line,
            "before": self.before.text,
            "after": self.after.text,
            "rule": self.rule,
            "verdict": self.verdict,
            "verdict_text": self.verdict_text,
            "method": self.method,
            "side_conditions": [condition_text(c) for c in self.side_conditions],
            "instances_compared": self.instances,
            "coverage": None if self.coverage is None else self.coverage.data(),
            "counterexample": None if found is None else {
                "sizes": found["sizes"], "indices": found["indices"],
                "lhs": None if found["lhs"] is None else str(found["lhs"]),
                "rhs": None if found["rhs"] is None else str(found["rhs"]),
                "reason": found["reason"]},
        }


@dataclass
class ProofReport:
    derivation: Derivation
    steps: list[StepVerdict]
    error: str = ""  # set when the derivation cannot be checked at all (e.g. a product does not conform)
    k: int = DEFAULT_K

    @property
    def proven(self) -> bool:
        return not self.error and bool(self.steps) and all(s.verdict == PROVEN for s in self.steps)

    @property
    def first_false(self) -> StepVerdict | None:
        return next((s for s in self.steps if s.verdict == FALSE), None)

    @property
    def coverage(self) -> Coverage | None:
        """The least complete coverage of the steps' witnesses (all steps share the sizes)."""
        found = [s.coverage for s in self.steps if s.coverage is not None]
        return min(found, key=lambda c: (c.complete, c.sizes_checked, c.points_checked)) if found else None

    def data(self) -> dict[str, Any]:
        """The report as plain data (for --json)."""
        return {
            "title": self.derivation.title,
            "proven": self.proven,
            "error": self.error or None,
            "k": self.k,
            "steps": [step.data() for step in self.steps],
        }


def _size_assignments(sizes: list[str], k: int) -> list[dict[str, int]]:
    return [dict(zip(sizes, values)) for values in itertools.product(range(1, k + 1), repeat=len(sizes))]


def _free_indices(decl: Declarations) -> list[str]:
    return sorted(decl.ranges)


class _Evaluations:
    """Concrete evaluators and values shared by the steps of one derivation: each
    line is evaluated once per instance, though it is compared twice."""

    def __init__(self, decl: Declarations) -> None:
        self.decl = decl
        self.evaluators: dict[tuple, _Concrete] = {}
        self.values: dict[tuple, Any] = {}

    def evaluator(self, sizes: dict[str, int]) -> _Concrete:
        key = tuple(sorted(sizes.items()))
        if key not in self.evaluators:
            self.evaluators[key] = _Concrete(self.decl, sizes)
        return self.evaluators[key]

    def value(self, expr: IndexExpr, sizes: dict[str, int], env: dict[str, int]):
        key = (id(expr), tuple(sorted(sizes.items())), tuple(sorted(env.items())))
        if key not in self.values:
            self.values[key] = self.evaluator(sizes)(expr, env)
        return self.values[key]


MAX_INSTANCES = 100_000  # (sizes, indices) compared per step at most; the coverage says when fewer


def _spans(decl: Declarations, sizes: dict[str, int]) -> list[range]:
    def value(atom: Atom) -> int:
        return atom if isinstance(atom, int) else sizes[atom]

    return [range(value(decl.ranges[name][0]), value(decl.ranges[name][1]) + 1) for name in _free_indices(decl)]


def witness(before: IndexExpr, after: IndexExpr, decl: Declarations, k: int = DEFAULT_K,
            max_instances: int = MAX_INSTANCES,
            shared: _Evaluations | None = None) -> tuple[Coverage, dict[str, Any] | None]:
    """Compare both sides at every assignment of 1..k to the sizes and every value
    of the free indices there (stopping at the first counterexample, or after
    ``max_instances``).  Returns what was covered and the first counterexample."""
    shared = shared or _Evaluations(decl)
    assignments = _size_assignments(decl.sizes, k)
    totals = [math.prod(len(span) for span in _spans(decl, sizes)) for sizes in assignments]
    free = _free_indices(decl)
    compared = sizes_done = 0
    out_of_range = None  # kept while looking for a point where both sides have values that differ
    undecided = None  # a point where the kernel could decide neither way

    def coverage() -> Coverage:
        return Coverage(k, sizes_done, len(assignments), compared, sum(totals) - vacuous)

    literal = _literal_entries(before) + _literal_entries(after)
    vacuous = 0  # index tuples at sizes where a whole-number entry does not exist
    for sizes, total in zip(assignments, totals):
        if _any_outside(literal, decl, sizes):
            # X_{12} at sizes where X has one column: the statement is about an entry
            # that does not exist there, so it says nothing at these sizes
            sizes_done += 1
            vacuous += total
            continue
        for point in itertools.product(*_spans(decl, sizes)):
            if compared >= max_instances:
                return coverage(), out_of_range
            env = dict(zip(free, point))
            compared += 1
            try:
                lhs, rhs = shared.value(before, sizes, env), shared.value(after, sizes, env)
            except _OutOfRange as problem:
                out_of_range = out_of_range or {"sizes": sizes, "indices": env, "lhs": None, "rhs": None,
                                                "reason": f"an entry out of range: {problem}"}
                continue
            difference = lhs - rhs
            if difference != 0 and (not hasattr(difference, "expand") or difference.expand() != 0):
                zero = verify.is_zero(engine.to_sympy(difference))
                if zero is None:  # neither shown 0 nor shown nonzero: no counterexample
                    undecided = undecided or {"sizes": sizes, "indices": env, "lhs": engine.to_sympy(lhs),
                                              "rhs": engine.to_sympy(rhs), "reason": "undecided"}
                    continue
                if zero is False:
                    return coverage(), {"sizes": sizes, "indices": env, "lhs": engine.to_sympy(lhs),
                                        "rhs": engine.to_sympy(rhs), "reason": "the two sides differ"}
        sizes_done += 1
    if out_of_range is None and undecided is not None:
        return coverage(), undecided
    return coverage(), out_of_range


def _literal_entries(expr: IndexExpr) -> list[Entry]:
    """The entries of named matrices at whole-number indices (X[1,2]) in ``expr``."""
    if isinstance(expr, Entry):
        found = [expr] if isinstance(expr.matrix, Name) and isinstance(expr.row, int) \
            and isinstance(expr.col, int) else []
        return found
    if isinstance(expr, (Plus, Times)):
        return [e for part in (expr.terms if isinstance(expr, Plus) else expr.factors) for e in _literal_entries(part)]
    if isinstance(expr, (Neg, Sum)):
        return _literal_entries(expr.operand if isinstance(expr, Neg) else expr.body)
    if isinstance(expr, Derivative):
        return _literal_entries(expr.of) + _literal_entries(expr.wrt)
    return []


def _any_outside(entries: list[Entry], decl: Declarations, sizes: dict[str, int]) -> bool:
    """Whether one of these whole-number entries lies outside its matrix at ``sizes``."""
    for entry in entries:
        try:
            rows, cols = matrix_shape(entry.matrix, decl)
        except Unreadable:
            continue
        rows, cols = (sizes.get(d, d) if isinstance(d, str) else d for d in (rows, cols))
        if isinstance(rows, int) and isinstance(cols, int) and (entry.row > rows or entry.col > cols):
            return True
    return False


def check_step(number: int, before: Step, after: Step, decl: Declarations, k: int = DEFAULT_K,
               max_instances: int = MAX_INSTANCES, shared: _Evaluations | None = None) -> StepVerdict:
    """One step: proven by normal forms, or else checked or refuted at concrete sizes."""
    normalizer = _Normalizer(decl)
    undefined = ""
    try:
        left, right = normalizer.normal_form(before.expression), normalizer.normal_form(after.expression)
        keys = set(left) | set(right)
        same = all(verify.is_zero(left.get(key, 0) - right.get(key, 0)) is True for key in keys)
    except NoIndexDefinition as missing:
        same, undefined = False, str(missing)
    covered, counterexample = witness(before.expression, after.expression, decl, k, max_instances,
                                      shared=shared)
    conditions = sorted(set(normalizer.side_conditions), key=repr)
    instances = covered.points_checked
    if counterexample is not None and counterexample["reason"] == "undecided":
        point = ", ".join(f"{k}={v}" for k, v in {**counterexample["sizes"], **counterexample["indices"]}.items())
        if same:
            counterexample = None  # the normal forms are the proof; the witness only failed to confirm
        else:
            return StepVerdict(number, before, after, CHECKED,
                               f"normal forms differ, and at {point} the exact check could decide "
                               f"neither way; {covered.text()}", [], instances, None,
                               replace(covered, points_checked=covered.points_checked - 1))
    if counterexample is not None:
        if counterexample["lhs"] is None:  # an entry outside its matrix: the indices' ranges are too wide
            method = ("a side addresses an entry outside its matrix at concrete sizes (see the counterexample): "
                      "the range of an index is wider than the matrix it indexes")
        else:
            method = ("the two sides differ at concrete sizes (see the counterexample)"
                      + ("; yet their normal forms agree: a bug in the prover, please report it" if same else ""))
        return StepVerdict(number, before, after, FALSE, method, conditions, instances, counterexample, covered)
    if same:
        method = "normal forms agree (sums distributed, definitions expanded, deltas contracted)"
        if conditions:
            method += "; side conditions proven: " + ", ".join(map(condition_text, conditions))
        return StepVerdict(number, before, after, PROVEN, method, conditions, instances, None, covered)
    kept = sorted(set(normalizer.unproven), key=repr)
    method = f"no normal form: {undefined}" if undefined else "normal forms differ"
    if kept:
        method += ("; kept as conditions, not implied by the declared ranges: "
                   + ", ".join(map(condition_text, kept)))
    method += "; " + covered.text()
    return StepVerdict(number, before, after, CHECKED, method, conditions, instances, None, covered)


def check_derivation(derivation: Derivation, k: int = DEFAULT_K, max_instances: int = MAX_INSTANCES) -> ProofReport:
    """Check every step of ``derivation`` against the one before it; the concrete
    witness compares every assignment of 1..k to the sizes and every value of the
    free indices (at most ``max_instances`` per step; each step's coverage says)."""
    decl = derivation.declarations
    try:
        for name, definition in decl.defined.items():
            matrix_shape(definition, decl)
        if decl.upstream:
            matrix_shape(Name(decl.upstream[1]), decl)
    except Unreadable as error:
        return ProofReport(derivation, [], error=str(error), k=k)
    steps = []
    shared = _Evaluations(decl)
    try:
        for number, (before, after) in enumerate(zip(derivation.steps, derivation.steps[1:]), start=1):
            steps.append(check_step(number, before, after, decl, k, max_instances, shared))
    except Unreadable as error:
        return ProofReport(derivation, steps, error=f"step {len(steps) + 1}: {error}", k=k)
    return ProofReport(derivation, steps, k=k)
