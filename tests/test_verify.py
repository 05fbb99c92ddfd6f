"""The trusted kernel refuses wrong claims, and names where they fail."""

import ast
from pathlib import Path

import pytest
import sympy
from sympy import KroneckerDelta

import symderive
from symderive import derive, verify
from symderive.expr import MatMul
from symderive.rules import INDEX, Rule, _RULES


@pytest.fixture(scope="module")
def square():
    """n = m = d = 3, where wrong forms such as G W or W^T G still have the right shape."""
    r = derive(n=3, m=3, d=3)
    return r, (r.inputs["X"], r.inputs["W"], r.upstream)


def test_right_forms_hold(square):
    r, (X, W, G) = square
    # explicit matrices multiplied here, independently of symderive's builder
    assert verify.equal_matrices(r.gradients["X"], G * W.T, "test").holds
    assert verify.equal_matrices(r.gradients["W"], X.T * G, "test").holds


@pytest.mark.parametrize("wrt, wrong", [
    ("X", lambda X, W, G: W.T * G),   # factors swapped
    ("X", lambda X, W, G: G * W),     # transpose dropped
    ("X", lambda X, W, G: G.T * W.T),  # upstream transposed
    ("W", lambda X, W, G: G * X.T),   # factors swapped
    ("W", lambda X, W, G: X * G),     # transpose dropped
    ("W", lambda X, W, G: G.T * X),   # the transpose of the right answer
])
def test_wrong_closed_forms_are_refuted_at_a_named_entry(square, wrt, wrong):
    r, symbols = square
    claimed = wrong(*symbols)
    verdict = verify.equal_matrices(r.gradients[wrt], claimed, "test")
    assert not verdict.holds
    found = verdict.counterexample
    assert found is not None and found.decided
    i, j = found.index
    # the named entry really differs: recompute both sides here
    assert sympy.expand(r.gradients[wrt][i - 1, j - 1] - claimed[i - 1, j - 1]) != 0


def test_one_perturbed_entry_is_named(square):
    r, (X, W, G) = square
    bump = sympy.zeros(3, 3)
    bump[1, 2] = sympy.Rational(1, 7)
    verdict = verify.equal_matrices(r.gradients["X"], G * W.T + bump, "test")
    assert not verdict.holds
    assert verdict.counterexample.index == (2, 3)
    assert verdict.counterexample.difference in (sympy.Rational(1, 7), -sympy.Rational(1, 7))


def test_wrong_shape_is_refuted_with_both_shapes():
    r = derive(n=2, m=3, d=4)
    W, G = r.inputs["W"], r.upstream
    verdict = verify.equal_matrices(r.gradients["X"], W * G.T, "test")
    assert not verdict.holds and verdict.checked == 0
    assert "2x3" in verdict.reason and "3x2" in verdict.reason


@pytest.mark.parametrize("wrong", [
    lambda p, q, i, j, W: KroneckerDelta(p, i) * W[q, j],   # the planted slip W_qj for W_jq
    lambda p, q, i, j, W: KroneckerDelta(q, i) * W[j, q],   # delta on the wrong index
    lambda p, q, i, j, W: W[j, q],                          # delta dropped
    lambda p, q, i, j, W: 2 * KroneckerDelta(p, i) * W[j, q],
])
def test_wrong_jacobian_formulas_are_refuted(square, wrong):
    r, _ = square
    p, q, i, j = (INDEX[k] for k in "pqij")
    jac = r.jacobians["X"]
    formula = wrong(p, q, i, j, sympy.IndexedBase("W"))
    verdict = verify.equal_index_formula(jac.__getitem__, jac.entries.keys(), formula,
                                         (p, q, i, j), jac.shape, r.inputs, "test")
    assert not verdict.holds
    P, Q, I, J = verdict.counterexample.index
    assert jac[P - 1, Q - 1, I - 1, J - 1] == verdict.counterexample.lhs


def test_the_right_jacobian_formula_holds_on_rectangular_shapes():
    r = derive(n=4, m=2, d=3)
    p, q, i, j = (INDEX[k] for k in "pqij")
    jac = r.jacobians["W"]
    formula = KroneckerDelta(q, j) * sympy.IndexedBase("X")[p, i]
    verdict = verify.equal_index_formula(jac.__getitem__, jac.entries.keys(), formula,
                                         (p, q, i, j), jac.shape, r.inputs, "test")
    assert verdict.holds and verdict.checked == 4 * 3 * 2


def test_a_formula_nonzero_where_the_tensor_is_zero_is_caught():
    """The kernel checks the zeros too: a claim adding a term off the tensor's support fails."""
    r = derive(n=2, m=2, d=2)
    p, q, i, j = (INDEX[k] for k in "pqij")
    jac = r.jacobians["X"]
    formula = KroneckerDelta(p, i) * sympy.IndexedBase("W")[j, q] + KroneckerDelta(p, 2) * KroneckerDelta(i, 1)
    verdict = verify.equal_index_formula(jac.__getitem__, jac.entries.keys(), formula,
                                         (p, q, i, j), jac.shape, r.inputs, "test")
    assert not verdict.holds
    assert verdict.counterexample.index[0] == 2 and verdict.counterexample.index[2] == 1


def test_is_zero_is_three_valued():
    x, y = sympy.symbols("x y", real=True)
    assert verify.is_zero((x + y) ** 2 - x**2 - 2 * x * y - y**2) is True
    assert verify.is_zero(x * y - y * x + 1) is False
    assert verify.is_zero(sympy.sin(x) ** 2 + sympy.cos(x) ** 2 - 1) is True


def test_a_sabotaged_rule_is_caught_by_the_pipeline(monkeypatch):
    """If the rule table claims df/dA = G B (no transpose), the derivation is not verified."""
    left, right = _RULES["matmul"]
    broken = Rule("matmul", 0, "df/dA = G @ B", "test", lambda G, node, shapes, out: MatMul(G, node.right),
                  left.entry_jacobian)
    monkeypatch.setitem(_RULES, "matmul", (broken, right))
    r = derive(n=2, m=2, d=2)
    assert not r.verified
    failed = [identity for identity in r.identities if not identity.holds]
    assert [(identity.kind, identity.wrt) for identity in failed] == [("gradient", "X")]
    assert failed[0].verdict.counterexample is not None
    assert failed[0].witness is not None and not failed[0].witness.agrees


def test_the_kernel_never_imports_what_it_checks():
    """verify.py is the trusted kernel: it must not depend on the rules or the derivation."""
    source = Path(symderive.verify.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add((node.module or "") if node.level == 0 else "." + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {name for name in imported if name.startswith(".") or name.startswith("symderive")}


def test_the_fast_comparison_of_stored_entries_still_refutes(square):
    """Passing the stored entries as a mapping lets the kernel compare dictionaries
    at once; a wrong formula must still fail, at a named entry."""
    r, _ = square
    p, q, i, j = (INDEX[k] for k in "pqij")
    jac = r.jacobians["X"]
    right = KroneckerDelta(p, i) * sympy.IndexedBase("W")[j, q]
    wrong = KroneckerDelta(p, i) * sympy.IndexedBase("W")[q, j]
    args = ((p, q, i, j), jac.shape, r.inputs, "test")
    assert verify.equal_index_formula(lambda k: jac.entries.get(k, 0), jac.entries, right, *args).holds
    verdict = verify.equal_index_formula(lambda k: jac.entries.get(k, 0), jac.entries, wrong, *args)
    assert not verdict.holds and verdict.counterexample is not None


def test_exponentials_of_non_monomials_are_decided_soundly():
    x, y = sympy.symbols("x y")
    sig = lambda t: 1 / (1 + sympy.exp(-t))
    # d/dx sigmoid(sigmoid(x)) by the chain rule, and the same with x/2 inside:
    # e^(-sigmoid(x)) and e^(-x/2) are not exponentials of monomials
    for inner in (sig(x), x / 2):
        outer = sig(inner)
        derivative = sympy.diff(outer, x)
        claimed = outer * (1 - outer) * sympy.diff(inner, x)
        assert verify.is_zero(derivative - claimed) is True
    # equal only in form: different arguments stay different, never "zero"
    assert verify.is_zero(sympy.exp(sig(x)) - sympy.exp(sig(y))) is not True
    assert verify.is_zero(sympy.exp(x / 2) - sympy.exp(x / 3)) is not True
    assert verify.is_zero(sympy.exp(sig(x)) * sympy.exp(-sig(x)) - 1) is True  # found by the later steps
