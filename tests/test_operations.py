"""Each operation of issue #13, derived at concrete sizes, against a gradient
written out by hand here, entry by entry, from the definitions:

    softmax_ij = e^Z_ij / sum_k e^Z_ik (axis=1),  d sum(softmax(Z) * T)/dZ_ij = S_ij (T_ij - sum_k S_ik T_ik)
    log_softmax = Z - logsumexp,  d relu = step,  d |x| = sign,  d leaky_relu(x, c) = c + (1 - c) step(x)
    d mean(X)/dX_ij = 1/(r c),  d norm(X)/dX = X / norm(X),  d sum(X / Y)/dY = -X / Y ** 2

Each is compared with symderive's chain-rule gradient numerically at random
points to 40 digits (for kinked functions, at points with entries of both
signs, off the kinks), not with symderive's own closed form.
"""

from __future__ import annotations

import io
import random

import pytest
import sympy

from symderive import derive
from symderive.cli import main
from symderive.kinks import Step
from symderive.pipeline import VERIFIED


def _agree(derived: sympy.Matrix, expected: sympy.Matrix, points: int = 3) -> None:
    """Equal at random points of both signs (50 digits, 1e-35 relative)."""
    assert derived.shape == expected.shape
    symbols = sorted(derived.free_symbols | expected.free_symbols, key=str)
    rng = random.Random(13)
    for _ in range(points):
        point = {s: rng.choice((-1, 1)) * sympy.Rational(rng.randint(50, 150), 100) for s in symbols}
        for a, b in zip(derived, expected):
            a, b = sympy.N(a.xreplace(point), 50), sympy.N(b.xreplace(point), 50)
            assert abs(a - b) <= sympy.Float("1e-35") * (1 + abs(b)), (a, b, point)


def _softmax_rows(Z):
    out = sympy.zeros(*Z.shape)
    for i in range(Z.rows):
        total = sum(sympy.exp(Z[i, k]) for k in range(Z.cols))
        for j in range(Z.cols):
            out[i, j] = sympy.exp(Z[i, j]) / total
    return out


def _derived(expression, shapes, wrt):
    derivation = derive(expression, shapes=shapes)
    assert derivation.status == VERIFIED
    return derivation, derivation.gradients[wrt], derivation.inputs


def test_softmax_along_rows_against_the_hand_formula():
    derivation, grad, v = _derived("sum(softmax(Z, axis=1) * T)", {"Z": (2, 3), "T": (2, 3)}, "Z")
    Z, T = v["Z"], v["T"]
    S = _softmax_rows(Z)
    expected = sympy.Matrix(2, 3, lambda i, j: S[i, j] * (T[i, j] - sum(S[i, k] * T[i, k] for k in range(3))))
    _agree(grad, expected)
    assert derivation.domain_text == ""  # softmax is smooth everywhere


def test_softmax_along_columns_against_the_hand_formula():
    _, grad, v = _derived("sum(softmax(Z, axis=0) * T)", {"Z": (3, 2), "T": (3, 2)}, "Z")
    Z, T = v["Z"], v["T"]
    S = _softmax_rows(Z.T).T  # each column normalised
    expected = sympy.Matrix(3, 2, lambda i, j: S[i, j] * (T[i, j] - sum(S[k, j] * T[k, j] for k in range(3))))
    _agree(grad, expected)


def test_softmax_cross_entropy_against_the_hand_formula():
    # -sum_ij T_ij (Z_ij - log sum_k e^Z_ik): d/dZ_ij = S_ij sum_k T_ik - T_ij
    _, grad, v = _derived("-sum(T * log_softmax(Z, axis=1))", {"Z": (2, 3), "T": (2, 3)}, "Z")
    Z, T = v["Z"], v["T"]
    S = _softmax_rows(Z)
    expected = sympy.Matrix(2, 3, lambda i, j: S[i, j] * sum(T[i, k] for k in range(3)) - T[i, j])
    _agree(grad, expected)


def test_logsumexp_along_rows_and_over_all_entries():
    _, grad, v = _derived("sum(logsumexp(Z, axis=1))", {"Z": (2, 3)}, "Z")
    _agree(grad, _softmax_rows(v["Z"]))
    _, grad, v = _derived("logsumexp(Z)", {"Z": (2, 2)}, "Z")
    Z = v["Z"]
    total = sum(sympy.exp(z) for z in Z)
    _agree(grad, Z.applyfunc(lambda z: sympy.exp(z) / total))


def test_sum_and_mean_along_each_axis_and_over_all_entries():
    shapes = {"X": (2, 3), "A": (2, 3)}
    _, grad, v = _derived("sum(mean(X, axis=0) * mean(A, axis=0))", shapes, "X")
    A = v["A"]
    # d/dX_ij of sum_j (sum_i X_ij / 2)(sum_i A_ij / 2) = (sum_i A_ij / 2) / 2
    _agree(grad, sympy.Matrix(2, 3, lambda i, j: (A[0, j] + A[1, j]) / 4))
    _, grad, v = _derived("sum(sum(X, axis=1) * sum(A, axis=1))", shapes, "X")
    A = v["A"]
    _agree(grad, sympy.Matrix(2, 3, lambda i, j: sum(A[i, k] for k in range(3))))
    _, grad, _ = _derived("mean(X)", {"X": (2, 3)}, "X")
    _agree(grad, sympy.Matrix(2, 3, lambda i, j: sympy.Rational(1, 6)))


def test_norm_and_its_square():
    _, grad, v = _derived("norm(X)", {"X": (2, 2)}, "X")
    X = v["X"]
    norm = sympy.sqrt(sum(x ** 2 for x in X))
    _agree(grad, X / norm)
    _, grad, v = _derived("norm(X) ** 2", {"X": (2, 2)}, "X")
    _agree(grad, 2 * v["X"])


def test_entrywise_division_by_a_matrix_and_exact_constants():
    derivation, grad, v = _derived("sum(pi * X / (sqrt(2) * Y))", {"X": (2, 2), "Y": (2, 2)}, "Y")
    X, Y = v["X"], v["Y"]
    _agree(grad, sympy.Matrix(2, 2, lambda i, j: -sympy.pi * X[i, j] / (sympy.sqrt(2) * Y[i, j] ** 2)))
    assert "every entry of " in derivation.domain_text and "division" in derivation.domain_text


@pytest.mark.parametrize("expression, derivative", [
    ("sum(relu(X) * A)", lambda x, a: a * Step(x)),
    ("sum(abs(X) * A)", lambda x, a: a * (2 * Step(x) - 1)),
    ("sum(leaky_relu(X, 0.25) * A)", lambda x, a: a * (sympy.Rational(1, 4) + sympy.Rational(3, 4) * Step(x))),
    ("sum(sign(X) * A)", lambda x, a: 0 * a),
    ("sum(step(X) * X * A)", lambda x, a: a * Step(x)),
])
def test_kinked_functions_against_their_derivatives_off_the_kinks(expression, derivative):
    derivation, grad, v = _derived(expression, {"X": (2, 3), "A": (2, 3)}, "X")
    X, A = v["X"], v["A"]
    _agree(grad, sympy.Matrix(2, 3, lambda i, j: derivative(X[i, j], A[i, j])), points=6)
    assert derivation.domain_text.startswith("where every entry of X is nonzero (")


def test_relu_layer_against_the_hand_formula():
    _, grad, v = _derived("sum(relu(X @ W))", {"X": (2, 3), "W": (3, 2)}, "W")
    X, W = v["X"], v["W"]
    Z = X * W
    # d/dW_kj sum_ij relu(Z_ij) = sum_i X_ik step(Z_ij)
    _agree(grad, sympy.Matrix(3, 2, lambda k, j: sum(X[i, k] * Step(Z[i, j]) for i in range(2))), points=6)


def test_the_cli_derive_prints_the_domain_sentence(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    code = main(["derive", "sum(relu(X @ W) + log(V))", "--out", str(tmp_path)], stdout=out, stderr=err)
    text = out.getvalue()
    assert code == 0, err.getvalue()
    assert "every verdict here is about the points where every entry of X @ W is nonzero (relu has a kink " \
           "at 0" in text
    assert "every entry of V is positive (log" in text
    out = io.StringIO()
    assert main(["derive", "sum(X @ W)", "--out", str(tmp_path)], stdout=out, stderr=io.StringIO()) == 0
    assert "every verdict here" not in out.getvalue()
