"""The kernel never refutes a claim by a point where the expression is not defined,
and decides constants exactly (cases found by a hostile tester of issue #13).

Each expected verdict is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import pytest
import sympy

from symderive import check
from symderive.pipeline import REFUTED, UNDECIDED, VERIFIED
from symderive.verify import is_zero

S = {"s": (1, 1)}
X22 = {"X": (2, 2)}


@pytest.mark.parametrize("expression, claim, shapes", [
    # norm of a 1x1 matrix is |s|, whose derivative is sign(s) wherever s != 0
    ("norm(s)", "sign(s)", S),
    # sqrt(x**2) = |x| for real x: its derivative is sign(x)
    ("sum(sqrt(X * X))", "sign(X)", X22),
    # (x + |x|) / (2x) is 1 for x > 0 and 0 for x < 0: relu's derivative
    ("sum(relu(X))", "(X + sqrt(X**2)) / (2 * X)", X22),
    # relu(x) - relu(-x) = x, derivative 1 on both sides
    ("sum(relu(X) - relu(-X))", "ones(2, 2)", X22),
    # log 6 = log 2 + log 3 exactly
    ("sum(X * log(6))", "ones(2, 2) * (log(2) + log(3))", X22),
    # sqrt(2 + sqrt(3)) = (sqrt(6) + sqrt(2)) / 2: square both sides
    ("sum(X * sqrt(2 + sqrt(3)))", "ones(2, 2) * (sqrt(6) + sqrt(2)) / 2", X22),
])
def test_true_claims_are_verified(expression, claim, shapes):
    assert check(expression, "X" if "X" in expression else "s", claim, shapes=shapes).status == VERIFIED


@pytest.mark.parametrize("expression, claim", [
    # true wherever sqrt(X) (or log X) is defined, i.e. X > 0, where step(X) = 1; for X < 0 the
    # difference step(X) - 1 is -1, but there the expression itself is not real: no counterexample
    ("sum(relu(X) + sqrt(X))", "1 + 0.5 * X ** (-1/2)"),
    ("sum(relu(X) * log(X))", "log(X) + 1"),
])
def test_a_point_outside_the_domain_is_no_counterexample(expression, claim):
    assert check(expression, "X", claim, shapes=X22).status in (VERIFIED, UNDECIDED)


@pytest.mark.parametrize("expression, claim", [
    ("sum(X * log(6))", "ones(2, 2) * (log(2) + log(4))"),  # log 8 is not log 6
    ("sum(relu(X))", "ones(2, 2)"),  # wrong where X < 0
    ("sum(abs(X))", "ones(2, 2)"),  # wrong where X < 0
])
def test_false_claims_are_refuted_at_a_real_point(expression, claim):
    result = check(expression, "X", claim, shapes=X22)
    assert result.status == REFUTED


def test_an_undefined_difference_is_no_verdict():
    assert is_zero(sympy.nan) is None
    assert is_zero(sympy.zoo + sympy.Symbol("x")) is None


def test_constants_are_decided_by_their_value_not_their_form():
    assert is_zero(sympy.log(6) - sympy.log(2) - sympy.log(3)) is True
    assert is_zero(sympy.sqrt(2 + sympy.sqrt(3)) - (sympy.sqrt(6) + sympy.sqrt(2)) / 2) is True
    assert is_zero(sympy.log(6) - sympy.log(2) - sympy.log(4)) is False
    x = sympy.Symbol("x")
    assert is_zero(x * (sympy.log(6) - sympy.log(2) - sympy.log(3))) is True
    assert is_zero(x * (sympy.log(6) - sympy.log(5))) is False
