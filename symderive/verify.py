"""Verify: the trusted kernel.  Exact checks of claimed identities.

Everything symderive prints as "verified" passed one of the checks here.  The
kernel is kept small, and it never imports the rule table or the chain-rule
code whose results it checks: it is handed matrices, tensors and formulas as
plain sympy objects and decides whether two sides are equal, entry by entry.

Equality is decided exactly, by :func:`is_zero` on ``lhs - rhs``:

- polynomials (everything products and sums produce): expansion decides;
- rational functions (inverses, division): the numerator over a common
  denominator, expanded, decides;
- expressions in exp, tanh, sigmoid, sin, cos of polynomials in the symbols:
  rewritten in exponentials, each exp(c m) for a monomial m and an integer c
  becomes t_m**c for a new unknown t_m, and it is decided as a rational function (exponentials
  of distinct monomials are algebraically independent over the rational
  functions: Ax, 1971, the function-field form of Lindemann-Weierstrass);
- steps of entries (relu, abs, sign, leaky_relu and step are written with the
  unit step, :mod:`symderive.kinks`): a step is 0 or 1, so its powers are
  itself, and an expression multilinear in the steps is 0 on every sign region
  exactly when the coefficient of each product of steps is 0;
- otherwise ``simplify``; failing that, the difference evaluated to 50 digits
  at a random rational point shows it nonzero; failing that it is *undecided*,
  which is reported, and never counted as verified.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from itertools import product
from typing import Any, Callable, Iterable, Mapping

import sympy
from sympy import Indexed, KroneckerDelta
from sympy.core.function import AppliedUndef

__all__ = ["Counterexample", "Verdict", "is_zero", "sign_region", "equal_matrices", "equal_index_formula"]


@dataclass(frozen=True)
class Counterexample:
    """Where a claim fails: a 1-based index and both sides there."""

    index: tuple[int, ...]
    lhs: sympy.Expr
    rhs: sympy.Expr
    decided: bool  # False: the difference could not be brought to 0, nor shown nonzero
    # For a difference with unit steps in it (relu, abs, ...): a point where it is
    # nonzero, away from every kink, and the sign there of each step's argument,
    # i.e. the sign region on which the claim fails (see :func:`sign_region`).
    point: tuple = ()  # (symbol, rational value) pairs
    region: tuple = ()  # (argument of a step, +1 or -1) pairs

    @property
    def difference(self) -> sympy.Expr:
        return sympy.expand(self.lhs - self.rhs)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one exact check."""

    holds: bool
    checked: int  # how many entries were compared
    method: str  # what was compared, and how, in one sentence
    counterexample: Counterexample | None = None
    reason: str = ""  # why it fails, when it does and no entry can be named


def is_zero(expr) -> bool | None:
    """True if ``expr`` is exactly 0, False if it is provably not, None if undecided.

    ``expr`` may be a SymPy or a SymEngine expression; a SymEngine one that does
    not expand to 0 is converted to SymPy and decided as below."""
    if not isinstance(expr, (sympy.Basic, int)):
        if expr.expand() == 0:
            return True
        expr = expr._sympy_()
    if isinstance(expr, sympy.Basic) and expr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None  # undefined (0/0, a pole): neither 0 nor a counterexample
    if isinstance(expr, sympy.Basic) and _steps_in(expr):
        return _steps_are_zero(expr)
    if isinstance(expr, sympy.Basic) and expr.atoms(AppliedUndef):
        replaced, independent = _undefined_as_unknowns(expr)
        if replaced is not None:
            zero = is_zero(replaced)
            if zero is True or (zero is False and independent):
                return zero
    if expr.is_polynomial():
        # a polynomial is 0 exactly when every coefficient of its expansion is 0;
        # rational coefficients are in canonical form, others (log(6) - log(2) -
        # log(3)) are decided one by one
        return _coefficients_are_zero(sympy.expand(expr))
    # First, every application of a function (tanh(u), e^u, log u) as an unknown of
    # its own, one per function and expanded argument: if the result is 0 for
    # every value of those unknowns, it is 0 for theirs.  (Not the converse: a
    # nonzero result decides nothing and falls through.)  Two sides that differ
    # in the order of a sum or a product are decided here without rewriting
    # tanh in exponentials (measured: the gradient of tanh(X @ W) at 16 x 16,
    # 57 s of exact checks).
    abstracted = _functions_as_unknowns(expr)
    if abstracted is not None and _rational_is_zero(abstracted):
        return True
    # Not 0 with the functions as independent unknowns: a point where it is clearly
    # nonzero settles it now, as it would at the end; the rewriting below (tanh in
    # exponentials over a common denominator) only confirms it, at seconds an entry
    # (measured: assert_backward on a tanh layer at 4x3, 3x5 missing the square of tanh' went
    # from 1.1 s to 0.06 s; under cProfile this one entry's zero test took 3.2 s).
    if abstracted is not None and _nonzero_at_a_point(expr):
        return False
    # Rational functions, and those of exponentials of monomials, are decided
    # before anything is expanded: expanding first multiplies out denominators,
    # (1 + e^-x)^2 into 1 + 2/e^x + 1/e^2x, nesting fractions that the common
    # denominator then has to undo (measured: 9 s against 0.1 s for the
    # gradient of sum(sigmoid(D)) * sigmoid(w) with D 2x2).
    if expr.is_rational_function():
        return _rational_is_zero(expr)
    rational = _in_exponentials(expr)
    if rational is not None:
        return _rational_is_zero(rational)
    # Other exponentials (of a fraction, of a sigmoid) each as an opaque unknown:
    # if the result is 0 for every value of those unknowns, it is 0 for theirs.
    # (Not the converse: a nonzero result decides nothing, and is not trusted.)
    abstracted = _in_exponentials(expr, opaque=True)
    if abstracted is not None and _rational_is_zero(abstracted):
        return True
    expanded = sympy.expand(expr)
    if expanded == 0:
        return True
    # a point where it is clearly nonzero settles it at once; simplify, which can
    # take seconds (exponentials of sqrt(2) times entries), only when none is found
    if _nonzero_at_a_point(expanded):
        return False
    if sympy.simplify(expanded) == 0:
        return True
    return None


def _steps_in(expr: sympy.Expr) -> set:
    """The unit steps in ``expr``: applications of a SymPy function whose class says
    ``unit_step = True`` (symderive.kinks.Step), which takes only the values 0 and 1.
    Recognised by that mark, so that the kernel imports nothing of symderive's."""
    return {f for f in expr.atoms(sympy.Function) if getattr(type(f), "unit_step", False)}


def _steps_are_zero(expr: sympy.Expr) -> bool | None:
    """``expr`` with unit steps in it, decided on every sign region at once.

    Expanded, it is a sum of products of distinct steps (a step's powers are
    itself), each with a coefficient free of steps: it is 0 on every region
    exactly when each coefficient is 0.  A nonzero coefficient is a
    counterexample when the steps' arguments are distinct symbols (every
    pattern of signs occurs, on an open set where the coefficient, analytic,
    is not 0); otherwise only a point where the expression is nonzero is one."""
    expr = _steps_normalised(expr)
    steps = sorted(_steps_in(expr), key=sympy.default_sort_key)
    if not steps:  # they cancelled: step(-x) + step(x) - 1
        return is_zero(expr)
    unknowns = {step: sympy.Dummy("s") for step in steps}
    expanded = sympy.expand(expr.xreplace(unknowns))
    # s**k is s (the unknowns are 0 or 1): reduce before collecting
    expanded = expanded.replace(lambda e: e.is_Pow and e.base in unknowns.values() and e.exp.is_Integer
                                and e.exp > 0, lambda e: e.base)
    if any(u in arg.free_symbols for u in unknowns.values() for step in steps for arg in step.args):
        return None  # a step of a step: left undecided
    try:
        polynomial = sympy.Poly(expanded, *unknowns.values())
    except sympy.PolynomialError:
        # a step in a denominator or inside a function: not decided on the regions,
        # but a point where the expression is nonzero still refutes it
        return False if _nonzero_at_a_signed_point(expr) else None
    coefficients = polynomial.coeffs()
    verdicts = [is_zero(coefficient) for coefficient in coefficients]
    if all(v is True for v in verdicts):
        return True
    arguments = [step.args[0] for step in steps]
    if False in verdicts and all(a.is_Symbol for a in arguments) and len(set(arguments)) == len(arguments) \
            and all(_analytic_everywhere(c) for c in coefficients):
        return False
    return False if _nonzero_at_a_signed_point(expr) else None


_ENTIRE = (sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh)


def _analytic_everywhere(coefficient: sympy.Expr) -> bool:
    """Whether ``coefficient`` is a rational function of its symbols and of exp, sin,
    cos (and tanh, rewritten as exponentials) of them: analytic wherever it is
    defined, which is everywhere but a set with no interior.  Such a function, if
    not 0, is nonzero somewhere in every open set, so on every sign region; sqrt,
    log and fractional powers are not (sqrt(x**2) - x is 0 for x > 0)."""
    rewritten = coefficient.rewrite(sympy.exp)
    for node in sympy.preorder_traversal(rewritten):
        if isinstance(node, sympy.Function) and not isinstance(node, _ENTIRE):
            return False
        if node.is_Pow and not node.exp.is_Integer:
            return False
    return True


def _nonzero_at_a_signed_point(expr: sympy.Expr) -> bool:
    """True when ``expr`` is clearly nonzero at one of a few rational points whose
    coordinates have both signs (every step there evaluates to 0 or 1)."""
    symbols = sorted(expr.free_symbols, key=str)
    for trial in range(4):
        point = {x: (-1) ** (k * 7 + trial * (k + 1) // 2) * (sympy.Rational(50 + (7 * k + 13 * trial) % 97, 100)
                                                              + sympy.Rational(1, 2))
                 for k, x in enumerate(symbols)}
        try:
            value = sympy.N(expr.xreplace(point), 50)
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        # a real value only: where sqrt or log of a negative is complex, the
        # expression is not defined, and nothing there is a counterexample
        if value.is_number and value.is_real and value.is_finite is True and abs(value) > sympy.Float("1e-30"):
            return True
    return False


def _steps_normalised(expr: sympy.Expr) -> sympy.Expr:
    """Each step of c u, for a rational c, written as a step of u: step(c u) = step(u)
    for c > 0, and step(-u) = 1 - step(u), both true wherever u != 0, the only places
    a step is defined.  Then step(x) + step(-x) - 1 and step(2 x) - step(x) are 0
    on every region, as they should be, instead of left undecided."""
    def normal(step):
        argument = step.args[0]
        content, rest = argument.as_content_primitive()
        if content.is_Rational and content > 0 and rest.could_extract_minus_sign():
            return 1 - type(step)(-rest)
        return type(step)(rest) if content.is_Rational and content > 0 else step

    expr = expr.xreplace({step: normal(step) for step in _steps_in(expr)})
    # |u| and sqrt(u**2) of a real u are u (2 step(u) - 1) wherever u != 0: with the
    # steps of the expression, norm(s) for a 1 x 1 s and sign(s) then meet
    Step = type(next(iter(_steps_in(expr)))) if _steps_in(expr) else None
    if Step is None:
        return expr
    absolute = lambda u: u * (2 * Step(u) - 1)  # noqa: E731
    expr = expr.replace(lambda e: isinstance(e, sympy.Abs), lambda e: absolute(e.args[0]))
    return expr.replace(lambda e: e.is_Pow and e.exp == sympy.S.Half and e.base.is_Pow and e.base.exp == 2,
                        lambda e: absolute(e.base.base))


def sign_region(expr: sympy.Expr, tries: int = 24) -> tuple[tuple, tuple] | None:
    """A rational point, away from every kink, where ``expr`` (with unit steps in
    it) is clearly nonzero, and the sign of each step's argument there: the sign
    region on which ``expr`` is not 0.  None if no such point is found among
    ``tries`` points (see :func:`_real_counterexample`, which it is with 0 as the
    other side).  Used to show where a refuted claim fails."""
    return _real_counterexample(expr, sympy.S.Zero, tries)


def _undefined_as_unknowns(expr: sympy.Expr) -> tuple[sympy.Expr | None, bool]:
    """Each value f(x) of an undefined function, and each derivative f'(x), f''(x),
    as a new unknown.  For an arbitrary f these are independent of one another and
    of the symbols when the arguments are distinct symbols (f and its derivatives
    can be given any values at distinct points), which is how the rules of
    backpropagation use them: f applied to the entries of a matrix.  An argument
    other than a lone symbol makes the unknowns dependent, and then only a zero
    result is trusted.  Returns the rewritten expression (None if it cannot be
    rewritten) and whether the unknowns are independent."""
    unknowns: dict[sympy.Expr, sympy.Dummy] = {}
    derivatives = sorted(expr.atoms(sympy.Derivative), key=sympy.default_sort_key)
    replaced = expr.xreplace({d: unknowns.setdefault(d, sympy.Dummy("df")) for d in derivatives})
    applied = sorted(replaced.atoms(AppliedUndef), key=sympy.default_sort_key)
    independent = all(len(a.args) == 1 and a.args[0].is_Symbol for a in applied) and all(
        len(d.expr.args) == 1 and d.expr.args[0].is_Symbol for d in derivatives)
    replaced = replaced.xreplace({a: unknowns.setdefault(a, sympy.Dummy("f")) for a in applied})
    if replaced.atoms(AppliedUndef, sympy.Derivative, sympy.Subs):
        return None, False  # something nested: left to the other tests
    return replaced, independent


def _functions_as_unknowns(expr: sympy.Expr) -> sympy.Expr | None:
    """``expr`` with each function application made an unknown (equal applications,
    after expanding their arguments, share one); None if there is none, or if
    what is left is not a rational function."""
    applications = [a for a in expr.atoms(sympy.Function) if not isinstance(a, AppliedUndef)]
    if not applications:
        return None
    unknowns: dict = {}

    def unknown(application):
        key = (type(application), tuple(sympy.expand(arg) for arg in application.args))
        return unknowns.setdefault(key, sympy.Dummy("u"))

    replaced = expr.replace(lambda e: isinstance(e, sympy.Function) and not isinstance(e, AppliedUndef),
                            unknown)
    return replaced if replaced.is_rational_function() else None


def _rational_is_zero(expr: sympy.Expr) -> bool | None:
    """A rational function is 0 exactly when the numerator over a common
    denominator expands to 0 (no gcd needed, which is what makes cancel slow);
    coefficients that are not rational numbers are decided one by one."""
    return _coefficients_are_zero(sympy.expand(sympy.numer(sympy.together(expr))))


def _coefficients_are_zero(expanded: sympy.Expr) -> bool | None:
    """An expanded polynomial is 0 exactly when each coefficient is.  Rational
    coefficients are 0 only if they are 0; a constant such as log(6) - log(2) -
    log(3) or sqrt(2 + sqrt(3)) - (sqrt(6) + sqrt(2))/2 is decided by
    :func:`constant_is_zero`, and one that cannot be decided leaves the whole
    undecided."""
    if expanded == 0:
        return True
    symbols = sorted(expanded.free_symbols, key=str)
    try:
        coefficients = sympy.Poly(expanded, *symbols).coeffs() if symbols else [expanded]
    except sympy.PolynomialError:
        return False if _nonzero_at_a_point(expanded) else None
    if all(c.is_Rational for c in coefficients):
        return False  # a nonzero rational coefficient
    verdicts = [constant_is_zero(c) for c in coefficients]
    if False in verdicts:
        return False
    return True if all(v is True for v in verdicts) else None


def constant_is_zero(value: sympy.Expr) -> bool | None:
    """Whether a constant (no symbols) is 0: a value clearly away from 0 at 60
    digits is not; a tiny one is 0 only when SymPy proves it (logs expanded,
    radicals denested, or a minimal polynomial x); otherwise undecided."""
    if value.is_Rational:
        return value == 0
    approximate = value.evalf(60)
    if approximate.is_number and approximate.is_finite and abs(approximate) > sympy.Float("1e-40"):
        return False
    for rewritten in (lambda v: sympy.expand(sympy.expand_log(v, force=True)),
                      lambda v: sympy.logcombine(v, force=True), sympy.radsimp, sympy.sqrtdenest, sympy.simplify):
        try:
            if sympy.expand(rewritten(value)) == 0:
                return True
        except (TypeError, ValueError, NotImplementedError):
            continue
    try:
        if sympy.minimal_polynomial(value, sympy.Dummy("x")).is_Symbol:
            return True
    except Exception:  # noqa: BLE001 -- NotAlgebraic and other refusals of SymPy's: undecided
        pass
    return None


def _in_exponentials(expr: sympy.Expr, opaque: bool = False) -> sympy.Expr | None:
    """``expr`` as a rational function of its symbols and of new unknowns t_m = e^m
    for monomials m, or None when it is not of that kind (logs, roots, e^(x/2)).

    With ``opaque``, an exponential of anything else, e^g, becomes an unknown of
    its own, one per argument g (put in a canonical form first, its own
    exponentials already replaced, so that equal arguments share an unknown).
    Such unknowns are not independent of the symbols, so only a zero result
    means anything.
    """
    rewritten = expr.rewrite(sympy.exp)
    unknowns: dict[sympy.Expr, sympy.Dummy] = {}

    def exponential(e: sympy.exp) -> sympy.Expr:
        result = sympy.S.One
        for term in sympy.Add.make_args(sympy.expand(e.args[0])):
            coefficient, monomial = term.as_coeff_Mul()
            if not coefficient.is_Integer or not all(f.is_Symbol or (f.is_Pow and f.base.is_Symbol and f.exp.is_Integer)
                       for f in sympy.Mul.make_args(monomial)):
                if not opaque:
                    raise ValueError  # not an integer multiple of a monomial
                canonical = sympy.cancel(sympy.together(e.args[0]))
                return unknowns.setdefault(("opaque", canonical), sympy.Dummy("u"))
            result *= unknowns.setdefault(monomial, sympy.Dummy("t")) ** coefficient
        return result

    try:
        replaced = rewritten.replace(lambda e: isinstance(e, sympy.exp), exponential)
    except ValueError:
        return None
    return replaced if replaced.is_rational_function() else None


def _nonzero_at_a_point(expr: sympy.Expr) -> bool:
    """True when ``expr`` is clearly nonzero at a rational point in (1/2, 3/2)."""
    point = {x: sympy.Rational(50 + 7 * k % 97, 100) + sympy.Rational(1, 2)
             for k, x in enumerate(sorted(expr.free_symbols, key=str))}
    try:
        value = sympy.N(expr.xreplace(point), 50)
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return bool(value.is_number and value.is_real and value.is_finite is True and abs(value) > sympy.Float("1e-30"))


_PLACES: dict = {}


def _renamed(expr) -> Any:
    """``expr`` with its symbols replaced, in the order of their names, by fixed
    placeholders of the same assumptions: entries of an entrywise operation (the
    same function of different symbols) then share one key, and their zero test
    is decided once.  Renaming symbols one to one does not change whether an
    expression is 0.  None for a SymEngine expression or one with many symbols."""
    if not isinstance(expr, sympy.Basic):
        return None
    symbols = sorted(expr.free_symbols, key=str)
    if len(symbols) > 12 or not all(isinstance(s, sympy.Symbol) and not isinstance(s, sympy.Dummy)
                                   for s in symbols):
        return None
    places = {}
    for k, s in enumerate(symbols):
        assumptions = tuple(sorted(s.assumptions0.items()))
        place = _PLACES.setdefault((k, assumptions), sympy.Symbol(f"_place{k}", **dict(assumptions)))
        places[s] = place
    return expr.xreplace(places)


def _first_failure(pairs: Iterable[tuple[tuple[int, ...], Any, Any]]):
    """Compare (0-based index, lhs, rhs) triples; the count compared and the first
    failure, its index made 1-based as the note writes indices."""
    checked = 0
    decided: dict = {}  # a difference with its symbols renamed in order -> is_zero of it
    for index, lhs, rhs in pairs:
        checked += 1
        if lhs == rhs:  # the same expression: the difference is 0 without expanding
            continue
        difference = lhs - rhs
        key = _renamed(difference)
        if key is not None and key in decided:
            zero = decided[key]
        else:
            zero = is_zero(difference)
            if key is not None:
                decided[key] = zero
        if zero is not True:
            point, region = (), ()
            if zero is False and _restricted(lhs, rhs):
                # kinks, roots, logs: shown false only by a point where both sides are
                # defined (real) and differ, never by one outside the domain
                found = _real_counterexample(lhs, rhs)
                if found is None:
                    zero = None
                else:
                    point, region = found
            return checked, Counterexample(tuple(k + 1 for k in index), lhs, rhs, decided=zero is False,
                                           point=point, region=region)
    return checked, None


def _restricted(*sides) -> bool:
    """Whether a side has steps, or a function defined or differentiable on part of
    the real line only (sqrt, log, fractional powers, |x|)."""
    for side in sides:
        if not isinstance(side, sympy.Basic):
            continue
        if _steps_in(side) or side.atoms(sympy.log, sympy.Abs):
            return True
        if any(not p.exp.is_Integer for p in side.atoms(sympy.Pow)):
            return True
    return False


def _real_counterexample(lhs, rhs, tries: int = 24) -> tuple[tuple, tuple] | None:
    """A rational point where both sides are real, finite, away from every kink,
    and clearly different, with the sign of each step's argument there; None if
    none is found among ``tries`` points (half with random signs, half positive,
    from a fixed seed, so the answer is reproducible)."""
    import random

    steps = sorted(_steps_in(lhs - rhs), key=sympy.default_sort_key)
    symbols = sorted((lhs - rhs).free_symbols | getattr(lhs, "free_symbols", set()) |
                     getattr(rhs, "free_symbols", set()), key=str)
    rng = random.Random(13)
    for attempt in range(tries):
        sign = (lambda: rng.choice((-1, 1))) if attempt % 2 == 0 else (lambda: 1)
        point = {x: sign() * sympy.Rational(rng.randint(50, 150), 100) for x in symbols}
        signs = [sympy.sign(step.args[0].xreplace(point)) for step in steps]
        if any(not s.is_number or s == 0 for s in signs):
            continue
        try:
            left, right = sympy.N(lhs.xreplace(point), 50), sympy.N(rhs.xreplace(point), 50)
        except (TypeError, ValueError, ZeroDivisionError, AttributeError):
            continue
        if not all(v.is_number and v.is_real and v.is_finite for v in (left, right)):
            continue
        if abs(left - right) > sympy.Float("1e-30") * max(1, abs(left)):
            return (tuple(point.items()), tuple((step.args[0], int(s)) for step, s in zip(steps, signs)))
    return None


def equal_matrices(lhs, rhs, what: str) -> Verdict:
    """Entry-by-entry exact equality of two explicit matrices (SymPy or SymEngine)."""
    if tuple(lhs.shape) != tuple(rhs.shape):
        return Verdict(False, 0, f"{what}: shapes differ",
                       reason=f"the left side is {lhs.rows}x{lhs.cols}, the right side {rhs.rows}x{rhs.cols}")
    pairs = (((i, j), lhs[i, j], rhs[i, j]) for i in range(lhs.rows) for j in range(lhs.cols))
    checked, failure = _first_failure(pairs)
    if failure is None:
        method = (f"{what}: lhs - rhs is exactly 0 in each of the {lhs.rows * lhs.cols:,} "
                  f"entries ({lhs.rows}x{lhs.cols})")
    else:  # the counterexample names the entry, and says whether it differs or is undecided
        method = f"{what}: compared exactly entry by entry ({lhs.rows}x{lhs.cols})"
    return Verdict(failure is None, checked, method, failure)


# ---------------------------------------------------------------------------
# Index formulas such as  dY_pq/dX_ij = delta_pi W_jq
# ---------------------------------------------------------------------------


def _compile(formula: sympy.Expr, matrices: Mapping[str, Any], indices: tuple[sympy.Symbol, ...]) -> Callable:
    """A function of a 0-based index tuple (in the order of ``indices``) giving the
    formula's value there; the formula itself is 1-based, like the note.

    Understands sums, products, integer powers, numbers, Kronecker deltas and
    indexed entries ``B[j, q]`` (looked up in ``matrices[B]``); anything else is
    refused, so a formula the kernel cannot read is never "verified".
    """
    if isinstance(formula, sympy.Symbol):
        k = indices.index(formula)
        return lambda point: point[k] + 1
    if formula.is_Integer:
        number = int(formula)
        return lambda point: number
    if formula.is_Number:
        return lambda point: formula
    if isinstance(formula, KroneckerDelta):
        if all(arg in indices for arg in formula.args):  # delta_pi: compare the point's indices directly
            ka, kb = (indices.index(arg) for arg in formula.args)
            return lambda point: 1 if point[ka] == point[kb] else 0
        a, b = (_compile(arg, matrices, indices) for arg in formula.args)
        return lambda point: 1 if a(point) == b(point) else 0
    if isinstance(formula, Indexed):
        matrix = matrices[str(formula.base)]
        table = [[matrix[r, c] for c in range(matrix.cols)] for r in range(matrix.rows)]  # plain lists: fast lookups
        if all(k in indices for k in formula.indices):  # B[j, q]: read the 0-based point directly
            kr, kc = (indices.index(k) for k in formula.indices)
            return lambda point: table[point[kr]][point[kc]]
        rows, cols = (_compile(k, matrices, indices) for k in formula.indices)
        return lambda point: table[rows(point) - 1][cols(point) - 1]
    if isinstance(formula, sympy.Mul):
        # deltas first: where one of them is 0 the product is 0, without multiplying
        deltas = [_compile(arg, matrices, indices) for arg in formula.args if isinstance(arg, KroneckerDelta)]
        others = [_compile(arg, matrices, indices) for arg in formula.args if not isinstance(arg, KroneckerDelta)]
        if len(others) == 1:
            (only,) = others
            if len(deltas) == 1:
                (delta,) = deltas
                (delta_formula,) = [arg for arg in formula.args if isinstance(arg, KroneckerDelta)]
                (other_formula,) = [arg for arg in formula.args if not isinstance(arg, KroneckerDelta)]
                if (all(arg in indices for arg in delta_formula.args) and isinstance(other_formula, Indexed)
                        and all(k in indices for k in other_formula.indices)):
                    # delta_pi B_jq, the commonest Jacobian formula, in one step per point
                    ka, kb = (indices.index(arg) for arg in delta_formula.args)
                    kr, kc = (indices.index(k) for k in other_formula.indices)
                    matrix = matrices[str(other_formula.base)]
                    table = [[matrix[r, c] for c in range(matrix.cols)] for r in range(matrix.rows)]
                    return lambda point: table[point[kr]][point[kc]] if point[ka] == point[kb] else 0
                return lambda point: only(point) if delta(point) else 0

        def product(point):
            if not all(delta(point) for delta in deltas):
                return 0
            values = [other(point) for other in others]
            return values[0] if len(values) == 1 else functools.reduce(operator.mul, values, 1)

        return product
    if isinstance(formula, sympy.Add):
        parts = [_compile(arg, matrices, indices) for arg in formula.args]
        return lambda point: functools.reduce(operator.add, (part(point) for part in parts))
    if isinstance(formula, sympy.Pow) and formula.exp.is_Integer:
        base, exponent = _compile(formula.base, matrices, indices), int(formula.exp)
        return lambda point: base(point) ** exponent
    raise ValueError(f"the kernel cannot evaluate {formula!r}")


def _support(formula: sympy.Expr, indices: tuple[sympy.Symbol, ...],
             sizes: tuple[int, ...]) -> Iterable[tuple[int, ...]]:
    """Every 0-based index tuple where ``formula`` can be nonzero.

    A product containing delta_ab is 0 unless a = b, so the indices a delta ties
    together take one value between them; the rest range freely.  For a sum,
    the union of its terms' supports.
    """
    terms = sympy.Add.make_args(sympy.expand(formula))
    for term in terms:
        tied = {k: k for k in indices}

        def root(k):
            while tied[k] != k:
                k = tied[k]
            return k

        for factor in sympy.Mul.make_args(term):
            if isinstance(factor, KroneckerDelta) and set(factor.args) <= set(indices):
                a, b = map(root, factor.args)
                tied[a] = b
        groups = sorted({root(k) for k in indices}, key=indices.index)
        ranges = [range(min(s for k, s in zip(indices, sizes) if root(k) == g)) for g in groups]
        where = [groups.index(root(k)) for k in indices]  # each index's group, worked out once
        pick = operator.itemgetter(*where)
        for values in product(*ranges):
            yield pick(values) if len(where) > 1 else (values[where[0]],)


def equal_index_formula(tensor: Callable[[tuple[int, ...]], Any],
                        stored: Iterable[tuple[int, ...]] | Mapping[tuple[int, ...], Any],
                        formula: sympy.Expr, indices: tuple[sympy.Symbol, ...],
                        sizes: tuple[int, ...],
                        matrices: Mapping[str, Any], what: str) -> Verdict:
    """``tensor[k] == formula(k)`` for every index tuple k in the given sizes.

    ``tensor`` takes a 0-based tuple; ``stored`` lists (0-based) every index
    where the tensor may be nonzero, or maps each to its entry.  Off the formula's support (see
    :func:`_support`) and off ``stored`` both sides are 0, so checking the union
    of the two sets checks every entry, without visiting the zeros.  Indices in
    the verdict are 1-based, like the note's.
    """
    value = _compile(formula, matrices, indices)
    total = 1
    for size in sizes:
        total *= size
    support = list(_support(formula, indices, sizes))
    if isinstance(stored, Mapping):
        # The common case in one comparison of dictionaries: the formula's value at
        # each point of its support, and the tensor's stored entries, are the very
        # same expressions at the very same points (identical expressions are equal,
        # so this proves the identity; anything else is compared entry by entry below).
        expected = dict(zip(support, map(value, support)))
        if len(expected) == len(stored) and expected == stored:
            method = (f"{what}: compared exactly at the {len(expected):,} index tuples where either "
                      f"side can be nonzero (identical expressions); both sides vanish at the other "
                      f"{total - len(expected):,} of the {total:,} entries")
            return Verdict(True, len(expected), method)
    stored = set(stored)
    seen = set(support)
    inside = len(seen & stored)
    # every stored point outside the formula's support is compared too (there
    # the formula is 0); when all stored points lie inside, there are none
    outside = [] if inside == len(stored) else sorted(stored - seen)
    points = list(seen) + outside
    checked, failure = _first_failure((point, tensor(point), value(point)) for point in points)
    if failure is not None:  # report the first failure in index order, the same on every run
        points = sorted(points)
        checked, failure = _first_failure((point, tensor(point), value(point)) for point in points)
    method = (f"{what}: compared exactly at the {len(points):,} index tuples where either "
              f"side can be nonzero; both sides vanish at the other {total - len(points):,} "
              f"of the {total:,} entries")
    if failure is not None:  # the counterexample names the index tuple
        method = f"{what}: compared exactly, index tuple by index tuple"
    return Verdict(failure is None, checked, method, failure)
