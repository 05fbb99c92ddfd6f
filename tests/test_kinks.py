"""Soundness where functions are not smooth (issue #13): relu, abs, leaky_relu,
step and sign have a kink at 0.

* The exact kernel decides identities with steps on every sign region at once;
  a claim true on one region only is never verified, and its refutation shows
  a point, and the sign region there, where the claim fails.
* Verdicts say where they hold: "where every entry of X @ W is nonzero".
* The numeric witness never evaluates at (or near) a kink, and sees both sides.

Expected values are worked out by hand in each test (the derivative of relu is
the step, of |x| the sign, of leaky_relu(x, c) the slope c or 1).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import sympy

from symderive import check, numeric
from symderive.cli import main
from symderive.kinks import Step
from symderive.parse import parse
from symderive.pipeline import REFUTED, UNDECIDED, VERIFIED
from symderive.verify import is_zero, sign_region

XW = {"X": (3, 2), "W": (2, 4)}
x, y = sympy.symbols("x y", real=True)


def _run(*argv) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue()


# --------------------------------------------------------------------------- check, region by region


def test_relu_gradient_with_its_step_is_verified_where_the_argument_is_nonzero():
    result = check("sum(relu(X @ W))", "X", "step(X @ W) @ W.T", shapes=XW)
    assert result.status == VERIFIED
    assert "every entry of X @ W is nonzero" in result.domain_text
    assert "relu has a kink at 0" in result.domain_text
    assert result.report()["domain"][0]["subject"] == "X @ W"


def test_forgetting_the_step_is_refuted_on_a_negative_region():
    # ones @ W.T is relu's gradient only where every entry of X @ W is positive
    result = check("sum(relu(X @ W))", "X", "ones(3, 4) @ W.T", shapes=XW)
    assert result.status == REFUTED
    found = result.verdict.counterexample
    assert found.decided and found.region and found.point
    point = dict(found.point)
    # the region is what the arguments' signs are at the point, and one is negative
    for argument, sign in found.region:
        assert sympy.sign(argument.xreplace(point)) == sign
    assert any(sign < 0 for _, sign in found.region)
    # and the claim really fails there: the difference, worked out at the point, is not 0
    assert found.difference.xreplace(point) != 0
    data = result.report()["counterexample"]
    assert "< 0" in data["region_text"] and data["region"]


@pytest.mark.parametrize("expression, claim, expected", [
    ("sum(abs(X))", "sign(X)", VERIFIED),
    ("sum(abs(X))", "2 * step(X) - 1", VERIFIED),
    ("sum(abs(X))", "ones(3, 2)", REFUTED),  # true only where X > 0
    ("sum(abs(X))", "step(X)", REFUTED),  # relu's derivative for abs's
    ("sum(relu(X))", "ones(3, 2)", REFUTED),  # true only where X > 0
    ("sum(relu(X))", "0 * X", REFUTED),  # true only where X < 0
    ("sum(leaky_relu(X, 0.1))", "0.1 + 0.9 * step(X)", VERIFIED),
    ("sum(leaky_relu(X, 0.1))", "0.1 * ones(3, 2)", REFUTED),  # true only where X < 0
    ("sum(leaky_relu(X, 0.1))", "0.9 + 0.1 * step(X)", REFUTED),  # slopes swapped
    ("sum(relu(-X))", "-step(-X)", VERIFIED),
    ("sum(relu(-X))", "step(X) - 1", VERIFIED),  # -step(-x) = step(x) - 1 off the kink
    ("sum(relu(-X))", "step(-X)", REFUTED),  # the inner derivative dropped
    ("sum(sign(X) * X)", "sign(X)", VERIFIED),  # x sign(x) = |x|
    ("sum(step(X))", "0 * X", VERIFIED),  # step is constant on each side of its kink
])
def test_kinked_claims_on_every_sign_region(expression, claim, expected):
    result = check(expression, "X", claim, shapes={"X": (3, 2)})
    assert result.status == expected, (expression, claim, result.verdict)
    assert result.domain_text.startswith("where every entry of ")


def test_a_claim_true_on_one_region_only_is_never_verified():
    # relu(x) - x is 0 on x > 0 and -x on x < 0: its gradient 0 is true on one region only
    result = check("sum(relu(X) - X)", "X", "0 * X", shapes={"X": (2, 2)})
    assert result.status == REFUTED
    assert any(sign < 0 for _, sign in result.verdict.counterexample.region)
    # a true claim whose other region is empty (x ** 2 is never negative) is not refuted
    result = check("sum(relu(X ** 2))", "X", "2 * X", shapes={"X": (2, 2)})
    assert result.status in (VERIFIED, UNDECIDED)


# --------------------------------------------------------------------------- the kernel on steps


@pytest.mark.parametrize("expression, expected", [
    (Step(x) ** 3 - Step(x), True),  # a step is 0 or 1
    (Step(x) * (1 - Step(x)), True),
    (Step(x) + Step(-x) - 1, True),  # off x = 0 exactly one side holds
    (Step(2 * x) - Step(x), True),
    (Step(x - y) + Step(y - x) - 1, True),
    (Step(x) * Step(-x), True),
    (x * Step(x) - x, False),  # -x where x < 0
    (Step(x + y) - Step(x), False),  # x = 1, y = -2: 0 - 1
    (Step(x) * Step(y) - Step(x * y), False),  # x = y = -1: 0 - 1
    (Step(x - y) - Step(y - x), False),
])
def test_is_zero_on_steps(expression, expected):
    assert is_zero(expression) is expected


@pytest.mark.parametrize("expression", [
    # true off the kinks, with arguments that depend on one another: True or undecided, never False
    Step(x * y) - Step(x) * Step(y) - Step(-x) * Step(-y),
    Step(x ** 2) - 1,
    Step(x ** 2 + x * y) - Step(x * (x + y)),
])
def test_is_zero_never_refutes_a_true_step_identity(expression):
    assert is_zero(expression) in (True, None)


@pytest.mark.parametrize("expression", [
    # false, with dependent arguments: False or undecided, never True
    Step(x * y) - Step(x),
    Step(x + y) * Step(x - y) - Step(x),
    Step(x ** 2) - Step(x),
])
def test_is_zero_never_verifies_a_false_step_identity(expression):
    assert is_zero(expression) in (False, None)


def test_sign_region_names_a_point_off_the_kinks_where_the_expression_is_nonzero():
    point, region = sign_region(x * Step(x) - x)  # nonzero exactly where x < 0
    assert dict(point)[x] < 0 and region == ((x, -1),)
    assert sign_region(Step(x) + Step(-x) - 1) is None  # 0 wherever it is defined


# --------------------------------------------------------------------------- the numeric witness


def test_the_witness_draws_away_from_the_kinks_and_sees_both_signs():
    node, claim = parse("sum(relu(X @ W))"), parse("step(X @ W) @ W.T")
    for seed in range(10):
        drawn = numeric._point_away_from_kinks(node, claim, np.random.default_rng(seed), XW, None)
        values = np.asarray(drawn["X"] @ drawn["W"], dtype=float)
        assert np.all(np.abs(values) >= numeric.KINK_MARGIN)
        assert (values > 0).any() and (values < 0).any()


def test_the_witness_never_evaluates_at_a_kink():
    # relu(X - X) has every argument at its kink: there is no point to use, and it says so
    found = numeric.witness(parse("sum(relu(X - X))"), "X", parse("0 * X"), {"X": (2, 2)}, None)
    assert found.agrees is None and "no numeric witness" in found.method
    with pytest.raises(ZeroDivisionError):
        numeric._step(0)


# --------------------------------------------------------------------------- what the CLI says


def test_cli_check_says_where_the_verdict_holds():
    code, out = _run("check", "sum(relu(X @ W))", "--wrt", "X", "--claim", "step(X @ W) @ W.T")
    assert code == 0
    assert "holds where every entry of X @ W is nonzero (relu has a kink at 0" in out
    code, out = _run("check", "sum(relu(X @ W))", "--wrt", "X", "--claim", "ones(3, 4) @ W.T")
    assert code == 1 and "the difference is nonzero where" in out and "< 0" in out
    code, out = _run("check", "sum(relu(X @ W))", "--wrt", "X", "--claim", "step(X @ W) @ W.T", "--json")
    assert json.loads(out)["domain"][0]["requirement"] == "nonzero"


def test_nothing_is_said_where_there_is_no_condition():
    code, out = _run("check", "X @ W", "--wrt", "X", "--claim", "G @ W.T")
    assert code == 0 and "where" not in out
    code, out = _run("check", "X @ W", "--wrt", "X", "--claim", "G @ W.T", "--json")
    assert json.loads(out)["domain"] == []
