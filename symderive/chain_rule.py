"""Derive: every dF/dA_ij by the index-summation chain rule.

For an output Y (P x Q) of inputs A (I x J), and an upstream gradient G whose
entry G_pq stands for df/dY_pq of an arbitrary scalar f,

    df/dA_ij = sum_{p=1}^{P} sum_{q=1}^{Q} df/dY_pq * dY_pq/dA_ij     (seed note, sec. 3)

Each dY_pq/dA_ij is obtained by differentiating the entry Y_pq, never written
down from a known answer.  The 4th-rank tensor dY/dA is stored sparsely: a term
is left out only when it is *known* to vanish, either because Y_pq does not
contain the symbol A_ij at all (then its derivative is 0 identically) or
because differentiation gave exactly 0.  Both reasons are counted, so a
derivation can say which terms vanish and why.

Only the (p, q) whose entry Y_pq contains a symbol of A are visited, so the
work grows with the number of nonzero entries of the tensor, not with its size.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Iterator

import sympy

from . import engine

__all__ = [
    "SparseJacobian",
    "ChainRuleTerm",
    "ChainRuleSum",
    "jacobian",
    "jacobians",
    "gradient",
    "chain_rule_entry",
    "VANISHES_ABSENT",
    "VANISHES_DERIVATIVE",
]

Index4 = tuple[int, int, int, int]

# Why a term of the chain-rule sum vanishes.
VANISHES_ABSENT = "absent"  # Y_pq does not contain A_ij: dY_pq/dA_ij = 0 identically
VANISHES_DERIVATIVE = "derivative"  # A_ij occurs in Y_pq, yet dY_pq/dA_ij simplifies to 0


@dataclass
class SparseJacobian:
    """dY/dA as a 4th-rank tensor indexed [p, q, i, j] (0-based), zeros not stored.

    ``shape`` is (P, Q, I, J).  ``entries`` maps (p, q, i, j) to the nonzero
    derivative dY_pq/dA_ij.  ``cancelled`` lists the (p, q, i, j) where A_ij
    occurs in Y_pq but the derivative came out 0.
    """

    output_name: str
    input_name: str
    shape: Index4
    entries: dict[Index4, sympy.Expr]
    cancelled: frozenset[Index4] = field(default_factory=frozenset)

    def __getitem__(self, key: Index4) -> sympy.Expr:
        if not (isinstance(key, tuple) and len(key) == 4):
            raise IndexError(f"d{self.output_name}/d{self.input_name} takes four indices [p, q, i, j]")
        index = []
        for axis, (k, size) in enumerate(zip(key, self.shape)):
            try:
                k = -1 if isinstance(k, bool) else operator.index(k)  # ints, numpy and sympy integers
            except TypeError:
                k = -1
            if not 0 <= k < size:
                raise IndexError(
                    f"index {key[axis]!r} on axis {axis} is out of range 0..{size - 1} "
                    f"for d{self.output_name}/d{self.input_name} of shape {self.shape}"
                )
            index.append(k)
        return self.entries.get(tuple(index), sympy.S.Zero)

    @property
    def size(self) -> int:
        """Number of entries, zeros included: P*Q*I*J."""
        p, q, i, j = self.shape
        return p * q * i * j

    @property
    def nnz(self) -> int:
        """Number of nonzero entries."""
        return len(self.entries)

    def items(self) -> Iterator[tuple[Index4, sympy.Expr]]:
        """The nonzero entries, by (p, q) in increasing order, then in the order
        they were derived (the same on every run)."""
        return iter(self.entries.items())

    def block(self, p: int, q: int) -> sympy.ImmutableMatrix:
        """The slice dY_pq/dA, an I x J matrix (the note's matrix-of-matrices block)."""
        _, _, rows, cols = self.shape
        return sympy.ImmutableMatrix(rows, cols, lambda i, j: engine.to_sympy(self[p, q, i, j]))


def _rows(matrix) -> list[list]:
    """A matrix's entries as nested lists: indexing a SymEngine matrix entry by
    entry is slow, a list is not."""
    flat = list(matrix)
    return [flat[r * matrix.cols:(r + 1) * matrix.cols] for r in range(matrix.rows)]


def monomial_derivatives(y, wanted) -> dict | None:
    """Every first derivative of a polynomial ``y`` by the symbols in ``wanted``, in
    one pass over its monomials: d(c x^e u)/dx = c e x^(e-1) u, summed over the
    monomials that contain x.  None when ``y`` is not a sum of monomials (a tanh,
    say), for the caller to differentiate symbol by symbol instead.

    This is what makes the derivation linear in the size of the answer: an entry
    of X W is a sum of m monomials in 2m symbols, and one pass yields all 2m
    derivatives, where differentiating by each symbol would scan all m monomials
    2m times.  Works on SymPy and SymEngine expressions alike.
    """
    add, mul = engine.add_and_mul(y)
    symbol = type(next(iter(wanted)))  # the engine's Symbol class: a type test is cheaper
    found: dict = {}  # symbol -> its first part (usually its only one)
    more: dict = {}  # symbol -> all its parts, for the symbols met in more than one monomial
    for term in (y.args if y.is_Add else (y,)):
        factors = term.args if term.is_Mul else (term,)
        if len(factors) == 2 and type(factors[0]) is symbol and type(factors[1]) is symbol:
            a, b = factors  # the commonest monomial, a product of two different symbols: inlined
            if a in wanted:
                if a in found:
                    more.setdefault(a, [found[a]]).append(b)
                else:
                    found[a] = b
            if b in wanted:
                if b in found:
                    more.setdefault(b, [found[b]]).append(a)
                else:
                    found[b] = a
        else:
            pairs = []
            for k, factor in enumerate(factors):
                if factor.is_Number:
                    continue
                if type(factor) is symbol or factor.is_Symbol:
                    base, exponent = factor, 1
                elif factor.is_Pow and factor.args[0].is_Symbol and factor.args[1].is_Integer:
                    base, exponent = factor.args[0], int(factor.args[1])
                else:
                    return None
                if base in wanted:
                    rest = factors[:k] + factors[k + 1:]
                    if exponent != 1:
                        rest += (exponent, base ** (exponent - 1))
                    pairs.append((base, rest[0] if len(rest) == 1 else mul(*rest)))
            for base, part in pairs:
                if base in found:
                    more.setdefault(base, [found[base]]).append(part)
                else:
                    found[base] = part
    for base, parts in more.items():
        found[base] = add(*parts)
    return found


_PLACE = sympy.Dummy("x")
_DERIVATIVE_OF: dict = {}  # f(x) at the placeholder -> f'(x), worked out once


def _function_of_one_symbol(y, wanted) -> dict | None:
    """{x: f'(x)} for an entry y = f(x) of one symbol (tanh(Z_11), a sigmoid):
    the derivative of f is worked out once, at a placeholder, and the symbol put in.
    SymPy's diff would ask its assumptions system the same questions for every
    entry (measured: 32 ms an entry of tanh(Z), against well under 1 ms)."""
    if not isinstance(y, sympy.Basic):
        return None
    symbols = y.free_symbols
    if len(symbols) != 1:
        return None
    (x,) = symbols
    if x not in wanted or not isinstance(x, sympy.Symbol):
        return None
    template = y.xreplace({x: _PLACE})
    if template not in _DERIVATIVE_OF:
        if len(_DERIVATIVE_OF) > 10_000:
            _DERIVATIVE_OF.clear()
        _DERIVATIVE_OF[template] = template.diff(_PLACE)
    return {x: _DERIVATIVE_OF[template].xreplace({_PLACE: x})}


def _function_of_a_polynomial(y, wanted) -> dict | None:
    """{x: f'(u) du/dx} for an entry y = f(u), f a function of one argument and u a
    polynomial (tanh(X_11 W_11 + X_12 W_21)): the chain rule once per entry, f'(u)
    worked out once and du/dx for every x in one pass over u's monomials, where
    SymPy's diff would differentiate f(u) afresh for every symbol (measured: 4.9 s
    of the derivation of tanh(X @ W) at 16 x 16)."""
    if not isinstance(y, sympy.Function) or len(y.args) != 1:
        return None
    (u,) = y.args
    inner = monomial_derivatives(u, wanted)
    if inner is None:
        return None
    template = type(y)(_PLACE)
    if template not in _DERIVATIVE_OF:
        _DERIVATIVE_OF[template] = template.diff(_PLACE)
    outer = _DERIVATIVE_OF[template].xreplace({_PLACE: u})
    return {x: outer * du for x, du in inner.items()}


def jacobian(output, output_name: str, wrt, input_name: str, progress=None) -> SparseJacobian:
    """dY/dA by differentiating each entry Y_pq by each symbol A_ij it contains.

    Only the (p, q) and (i, j) where A_ij occurs in Y_pq are visited; for a
    polynomial entry all its derivatives come from one pass over its monomials
    (:func:`monomial_derivatives`), otherwise from sympy's ``diff`` per symbol.
    """
    return jacobians(output, output_name, {input_name: wrt}, progress)[input_name]


def jacobians(output, output_name: str, inputs: dict, progress=None) -> dict[str, SparseJacobian]:
    """dY/dA for every input A in ``inputs`` (name -> matrix of symbols), in one
    pass over Y: each entry's monomials are read once for all the inputs."""
    position = {matrix[i, j]: (name, i, j) for name, matrix in inputs.items()
                for i in range(matrix.rows) for j in range(matrix.cols)}
    entries: dict[str, dict[Index4, sympy.Expr]] = {name: {} for name in inputs}
    cancelled: dict[str, set[Index4]] = {name: set() for name in inputs}
    symbol = type(next(iter(position))) if position else None
    label = ", ".join(f"d{output_name}/d{name}" for name in inputs)
    values = _rows(output)
    for p in range(output.rows):
        if progress is not None:
            progress(label, p, output.rows)
        for q in range(output.cols):
            y = values[p][q]
            derivatives = monomial_derivatives(y, position)
            if derivatives is None:
                derivatives = _function_of_one_symbol(y, position)
            if derivatives is None:
                derivatives = _function_of_a_polynomial(y, position)
            if derivatives is None:
                derivatives = {s: y.diff(s) for s in y.free_symbols if s in position}
            # in the order derived: deterministic, as each engine orders a sum's terms canonically
            for wrt_symbol, derivative in derivatives.items():
                name, i, j = position[wrt_symbol]
                # a lone symbol is never 0: the comparison is needed only for the rest
                if type(derivative) is not symbol and derivative == 0:
                    cancelled[name].add((p, q, i, j))
                else:
                    entries[name][(p, q, i, j)] = derivative
    if progress is not None:
        progress(label, output.rows, output.rows)
    return {name: SparseJacobian(output_name, name,
                                 (output.rows, output.cols, matrix.rows, matrix.cols),
                                 entries[name], frozenset(cancelled[name]))
            for name, matrix in inputs.items()}


def gradient(jac: SparseJacobian, upstream: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    """The matrix df/dA, entry (i, j) = sum_pq G_pq dY_pq/dA_ij over the nonzero terms.

    The terms left out are exactly those the Jacobian knows to be zero.
    """
    _, _, rows, cols = jac.shape
    # for each (i, j), the factors df/dY_pq and dY_pq/dA_ij of its terms, side by side
    upstreams: list[list[list]] = [[[] for _ in range(cols)] for _ in range(rows)]
    locals_: list[list[list]] = [[[] for _ in range(cols)] for _ in range(rows)]
    g = _rows(upstream)
    for (p, q, i, j), local in jac.entries.items():
        upstreams[i][j].append(g[p][q])
        locals_[i][j].append(local)
    add, _ = engine.add_and_mul(upstream[0, 0])
    # map(operator.mul, ...) multiplies the pairs without a Python step per term
    values = [add(*map(operator.mul, upstreams[i][j], locals_[i][j])) if locals_[i][j] else 0
              for i in range(rows) for j in range(cols)]
    if isinstance(upstream, sympy.MatrixBase):
        return sympy.ImmutableMatrix(rows, cols, values)
    return type(upstream)(rows, cols, values)


@dataclass(frozen=True)
class ChainRuleTerm:
    """One term df/dY_pq * dY_pq/dA_ij of the chain-rule sum (0-based p, q)."""

    p: int
    q: int
    upstream: sympy.Expr
    local: sympy.Expr
    vanishes: str | None  # None, VANISHES_ABSENT or VANISHES_DERIVATIVE


@dataclass(frozen=True)
class ChainRuleSum:
    """All P*Q terms of df/dA_ij, the vanishing ones included, and their sum."""

    i: int
    j: int
    terms: tuple[ChainRuleTerm, ...]
    value: sympy.Expr

    @property
    def vanishing(self) -> int:
        return sum(term.vanishes is not None for term in self.terms)


def chain_rule_entry(jac: SparseJacobian, upstream: sympy.MatrixBase, i: int, j: int) -> ChainRuleSum:
    """The chain-rule sum for df/dA_ij written out term by term (0-based i, j)."""
    rows, cols, _, _ = jac.shape
    terms = []
    for p in range(rows):
        for q in range(cols):
            local = jac[p, q, i, j]
            if local != 0:
                why = None
            elif (p, q, i, j) in jac.cancelled:
                why = VANISHES_DERIVATIVE
            else:
                why = VANISHES_ABSENT
            terms.append(ChainRuleTerm(p, q, upstream[p, q], local, why))
    add, _ = engine.add_and_mul(upstream[0, 0])
    value = add(*(t.upstream * t.local for t in terms if t.vanishes is None))
    return ChainRuleSum(i, j, tuple(terms), value)
