"""symderive.testing: a course's own backward code against the derived gradients.

Each right backward pass below is the textbook formula (the seed note's
dX = G Wᵀ, dW = Xᵀ G; tanh' = 1 - tanh²; a broadcast bias's gradient sums the
rows); each wrong one changes one thing, and the test says which entry must be
named: the first entry (row by row) where the mistake changes the value.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from symderive.errors import BadInput
from symderive.parse import ParseError
from symderive.testing import GradientMismatch, assert_backward, assert_gradient

TANH = "tanh(X @ W + b)"
TANH_SHAPES = {"X": (4, 3), "W": (3, 5), "b": (1, 5)}


def tanh_layer(X, W, b, G):
    H = np.tanh(X @ W + b)
    dZ = G * (1 - H ** 2)
    return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0, keepdims=True)


def linear(X, W, G):
    return G @ W.T, X.T @ G


# --- right backward passes pass, and say how they were compared ---------------------


def test_linear_layer_is_verified_exactly():
    result = assert_backward(linear, "X @ W", {"X": (3, 2), "W": (2, 4)})
    assert result.method == "exact"
    assert "dX, dW equal the derived gradients, compared exactly" in result.statement


def test_tanh_layer_with_bias_is_verified_exactly():
    assert assert_backward(tanh_layer, TANH, TANH_SHAPES, wrt=("X", "W", "b")).method == "exact"


def test_gradients_may_come_back_as_a_dict_by_name():
    def backward(X, W, b, G):
        dX, dW, db = tanh_layer(X, W, b, G)
        return {"dX": dX, "W": dW, "db": db}

    assert_backward(backward, TANH, TANH_SHAPES)


def test_wrt_chooses_and_orders_the_gradients():
    def only_w_then_x(X, W, G):
        return X.T @ G, G @ W.T

    assert_backward(only_w_then_x, "X @ W", {"X": (3, 2), "W": (2, 4)}, wrt=("W", "X"))
    assert_backward(lambda X, W, G: X.T @ G, "X @ W", {"X": (3, 2), "W": (2, 4)}, wrt="W")


def test_a_vector_given_as_1d_gets_and_may_return_a_1d_gradient():
    seen = {}

    def backward(X, W, b, G):
        seen["b"] = b.shape
        return G @ W.T, X.T @ G, G.sum(axis=0)

    assert_backward(backward, "X @ W + b", {"X": (4, 3), "W": (3, 5), "b": (5,)})
    assert seen["b"] == (5,)


def test_a_scalar_valued_expression_has_no_upstream_gradient():
    # d/dX sum(tanh(X W)) = (1 - tanh(XW)^2) W^T: no G
    def backward(X, W):
        H = np.tanh(X @ W)
        return (1 - H ** 2) @ W.T, X.T @ (1 - H ** 2)

    assert assert_backward(backward, "sum(tanh(X @ W))", {"X": (2, 3), "W": (3, 2)}).method == "exact"


def test_the_upstream_gradient_can_take_another_name():
    assert_backward(lambda X, W, dY: (dY @ W.T, X.T @ dY), "X @ W", {"X": (2, 2), "W": (2, 3)}, upstream="dY")


def test_code_that_compares_entries_is_checked_in_high_precision():
    # relu' as a mask: Z > 0 needs numbers; the comparison is then at random points
    def backward(X, W, G):
        Z = X @ W
        dZ = G * (Z > 0)
        return dZ @ W.T, X.T @ dZ

    result = assert_backward(backward, "relu(X @ W)", {"X": (3, 2), "W": (2, 3)})
    assert result.method == "high precision"
    assert "not run on symbols" in result.statement


def test_code_that_needs_floats_is_checked_in_double_precision():
    # d trace(inv(A) B) / dA = -(inv(A) B inv(A))^T; np.linalg.inv takes no objects
    def backward(A, B):
        inverse = np.linalg.inv(np.asarray(A, dtype=float))
        return -(inverse @ np.asarray(B, dtype=float) @ inverse).T

    result = assert_backward(backward, "trace(inv(A) @ B)", {"A": (2, 2), "B": (2, 2)}, wrt="A")
    assert result.method == "double precision"


def test_a_program_with_an_assumption_checks_the_textbook_form():
    # softmax + cross-entropy averaged over n: dZ = (softmax(Z) - T) / n when T's rows sum to 1
    program = "Z : n x k; T : n x k; assume sum(T, axis=1) = 1; L = -sum(T * log_softmax(Z, axis=1)) / n"

    def backward(Z, T):
        E = np.exp(Z)
        return (E / E.sum(axis=1, keepdims=True) - T) / Z.shape[0]

    result = assert_backward(backward, program, {"n": 3, "k": 3}, wrt="Z")
    assert result.method == "exact" and "where sum(T, axis=1) = 1" in result.statement


def test_without_the_assumption_the_textbook_form_is_wrong():
    program = "Z : n x k; T : n x k; L = -sum(T * log_softmax(Z, axis=1)) / n"

    def backward(Z, T):
        E = np.exp(Z)
        return (E / E.sum(axis=1, keepdims=True) - T) / Z.shape[0]

    with pytest.raises(GradientMismatch, match=r"dZ is wrong at entry \(1, 1\)"):
        assert_backward(backward, program, {"n": 2, "k": 2}, wrt="Z")


def test_a_programs_scalars_are_passed_by_name():
    # ridge: d/dW (|XW - Y|^2 + lam |W|^2) = 2 X^T (XW - Y) + 2 lam W
    program = "scalar lam; X : n x m; W : m x d; Y : n x d; L = sum((X @ W - Y) * (X @ W - Y)) + lam * sum(W * W)"
    assert_backward(lambda X, W, Y, lam: 2 * X.T @ (X @ W - Y) + 2 * lam * W, program, {"n": 3, "m": 2, "d": 2}, "W")
    with pytest.raises(GradientMismatch, match=r"dW is wrong at entry \(1, 1\)"):
        assert_backward(lambda X, W, Y, lam: 2 * X.T @ (X @ W - Y) + lam * W, program, {"n": 3, "m": 2, "d": 2},
                        "W")


# --- wrong backward passes are caught at their entry --------------------------------


def test_a_swapped_product_is_caught_at_the_first_entry_it_changes():
    # dW = G^T X instead of X^T G: (G^T X)_11 = sum_p G_p1 X_p1 = (X^T G)_11, first difference at (1, 2)
    with pytest.raises(GradientMismatch) as caught:
        assert_backward(lambda X, W, G: (G @ W.T, G.T @ X), "X @ W", {"X": (3, 3), "W": (3, 3)})
    report = caught.value.report
    assert report["verdict"] == "REFUTED" and report["gradient"] == "dW" and report["entry"] == [1, 2]
    assert report["method"] == "exact"
    assert report["numpy_index"] == "dW[0, 1]"
    # both values, as expressions: the claim's G_11 X_12 + ..., the derived X_11 G_12 + ...
    assert "G_11*X_12" in report["yours"] and "G_12*X_11" in report["derived"]


def test_a_forgotten_square_in_tanh_derivative_is_caught():
    def backward(X, W, b, G):
        H = np.tanh(X @ W + b)
        dZ = G * (1 - H)
        return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0, keepdims=True)

    with pytest.raises(AssertionError) as caught:
        assert_backward(backward, TANH, TANH_SHAPES)
    message = str(caught.value)
    assert "dX is wrong at entry (1, 1) (dX[0, 0] in NumPy), compared exactly" in message
    assert re.search(r"your backward gives .*\(1 - tanh\(W_11\*X_11 \+ W_21\*X_12 \+ W_31\*X_13 \+ b_11\)\)", message)
    assert re.search(r"the derived dX .*\(1 - tanh\(W_11\*X_11 \+ W_21\*X_12 \+ W_31\*X_13 \+ b_11\)\*\*2\)", message)
    assert re.search(r"yours -?[0-9.]+, the derived -?[0-9.]+, at the random point X_11 = ", message)


def test_a_bias_gradient_not_summed_over_rows_is_caught_with_both_shapes_and_an_entry():
    def backward(X, W, b, G):
        dZ = G * (1 - np.tanh(X @ W + b) ** 2)
        return dZ @ W.T, X.T @ dZ, dZ

    with pytest.raises(GradientMismatch) as caught:
        assert_backward(backward, TANH, TANH_SHAPES)
    message = str(caught.value)
    assert "db has shape 4x5; it must be 1x5, the shape of b" in message
    assert "entry (1, 1) (db[0, 0] in NumPy): yours is" in message  # its first row is not the sum of all four
    assert caught.value.report["entry"] == [1, 1]


def test_a_bias_gradient_from_one_row_is_caught():
    def backward(X, W, b, G):
        dZ = G * (1 - np.tanh(X @ W + b) ** 2)
        return dZ @ W.T, X.T @ dZ, dZ[:1]

    with pytest.raises(GradientMismatch, match=r"db is wrong at entry \(1, 1\) \(db\[0, 0\] in NumPy\)"):
        assert_backward(backward, TANH, TANH_SHAPES)


def test_a_mistake_in_code_that_compares_entries_is_caught_numerically():
    def backward(X, W, G):
        Z = X @ W
        dZ = G * (Z < 0)  # the mask the wrong way round
        return dZ @ W.T, X.T @ dZ

    with pytest.raises(GradientMismatch) as caught:
        assert_backward(backward, "relu(X @ W)", {"X": (3, 2), "W": (2, 3)})
    report = caught.value.report
    assert report["method"] == "high precision" and report["entry"]
    assert report["point"]  # the point, every value, to reproduce it


def test_only_the_first_wrong_gradient_is_needed_to_fail_but_a_later_one_is_found():
    # dX right, dW wrong (a factor 2): the failure names dW
    with pytest.raises(GradientMismatch, match=r"dW is wrong at entry \(1, 1\)"):
        assert_backward(lambda X, W, G: (G @ W.T, 2 * X.T @ G), "X @ W", {"X": (2, 2), "W": (2, 2)})


# --- backward that cannot be run, or returns the wrong thing ------------------------


def test_an_exception_inside_backward_names_its_type_and_line():
    def backward(X, W, G):
        return G @ W, X.T @ G  # G @ W does not conform

    with pytest.raises(GradientMismatch) as caught:
        assert_backward(backward, "X @ W", {"X": (4, 3), "W": (3, 5)})
    message = str(caught.value)
    assert "raised ValueError" in message and "in backward: return G @ W, X.T @ G" in message
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_signature_that_cannot_take_the_inputs_by_name_is_named():
    with pytest.raises(GradientMismatch, match=r"cannot be called as backward\(X=\.\.\., W=\.\.\., G=\.\.\.\)"):
        assert_backward(lambda x, w, g: (g, g), "X @ W", {"X": (2, 2), "W": (2, 2)})


@pytest.mark.parametrize("returned, expected", [
    (lambda X, W, G: (G @ W.T,), r"returned 1 value; expected 2, the gradients of X, W"),
    (lambda X, W, G: {"dX": G @ W.T}, r"returned no gradient of W"),
    (lambda X, W, G: {"dX": G @ W.T, "dW": X.T @ G, "dQ": G}, r"returned 'dQ', which names no input"),
    (lambda X, W, G: (None, X.T @ G), r"dX is None"),
    (lambda X, W, G: (G @ W.T, "dW"), r"dW is a str, not an array"),
    (lambda X, W, G: (G @ W.T, (x for x in X)), r"dW is a generator, not an array"),
    (lambda X, W, G: (G @ W.T, np.array(2.0)), r"dW has shape a scalar; it must be 2x2"),
    (lambda X, W, G: (G @ W.T, np.array([["a", "b"], ["c", "d"]])), r"entry \(1, 1\) of dW is a str"),
])
def test_what_backward_returns_is_checked(returned, expected):
    with pytest.raises(GradientMismatch, match=expected):
        assert_backward(returned, "X @ W", {"X": (2, 2), "W": (2, 2)})


# --- assert_gradient -----------------------------------------------------------------


def test_a_true_claim_passes_and_a_false_one_names_its_entry():
    assert_gradient("X @ W", "X", "G @ W.T", {"X": (3, 2), "W": (2, 4)})
    with pytest.raises(GradientMismatch) as caught:
        assert_gradient("X @ W", "W", "G.T @ X", {"X": (3, 3), "W": (3, 3)})
    assert caught.value.report["entry"] == [1, 2]


def test_a_claim_of_the_wrong_shape_says_both_shapes():
    with pytest.raises(GradientMismatch, match=r"the claim is 4x2 but dW has the shape of W, 2x4"):
        assert_gradient("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})


def test_a_claim_about_a_program_may_use_its_step_names():
    program = "X : n x m; W : m x h; b : 1 x h; Z = X @ W + b; H = tanh(Z); L = sum(H * H) / 2"
    assert_gradient(program, "W", "X.T @ (H * (1 - H * H))", {"n": 3, "m": 2, "h": 2})


def test_prove_asks_for_the_proof_for_all_sizes():
    result = assert_gradient(TANH, "W", "X.T @ (G * (1 - tanh(X @ W + b)**2))", TANH_SHAPES, prove=True)
    assert result.for_all_sizes and "proven for all sizes" in result.statement


# --- bad input is refused, and nothing typed is executed ------------------------------


@pytest.mark.parametrize("expression", ["__import__('os').system('true')", "X @ W; import os", "X.__class__"])
def test_expressions_are_read_by_the_grammar_never_executed(expression):
    with pytest.raises((ParseError, BadInput)):
        assert_backward(linear, expression, {"X": (2, 2), "W": (2, 2)})


def test_a_claim_is_read_by_the_grammar_never_executed():
    with pytest.raises((ParseError, BadInput)):
        assert_gradient("X @ W", "X", "exec('1')", {"X": (2, 2), "W": (2, 2)})


@pytest.mark.parametrize("shapes, message", [
    ({"X": (2, 2)}, r"give the shape of every input: W"),
    ({"X": (2, 2), "W": (2, 2), "Q": (1, 1)}, r"'Q' is not an input"),
    ({"X": (2, 0), "W": (2, 2)}, r"sizes are positive"),
    ({"X": "2x2", "W": (2, 2)}, r"expected \(rows, cols\)"),
    ({"X": (2, 2), "W": (2, 2), "n": 3}, r"only a program has named sizes"),
])
def test_bad_shapes_are_refused(shapes, message):
    with pytest.raises(BadInput, match=message):
        assert_backward(linear, "X @ W", shapes)


def test_an_input_named_like_the_upstream_gradient_is_refused():
    with pytest.raises(BadInput, match=r"'G' is a name in G @ W.*upstream='dY'"):
        assert_backward(lambda G, W: None, "G @ W", {"G": (2, 2), "W": (2, 2)})


def test_wrt_must_name_inputs():
    with pytest.raises(BadInput, match=r"wrt: 'Q' is not an input"):
        assert_backward(linear, "X @ W", {"X": (2, 2), "W": (2, 2)}, wrt=("X", "Q"))


def test_the_failure_is_an_assertion_error():
    assert issubclass(GradientMismatch, AssertionError)


# --- what a hostile tester found: each a right pass refuted, a wrong one passed, or a crash ---------


@pytest.mark.parametrize("backward, expression, shapes", [
    # relu's mask must see the bias: X @ W > 0 is the mask of relu(X @ W), not of relu(X @ W + b)
    (lambda X, W, b, G: ((G * (X @ W > 0)) @ W.T, X.T @ (G * (X @ W > 0)), (G * (X @ W > 0)).sum(axis=0)),
     "relu(X @ W + b)", {"X": (2, 3), "W": (3, 2), "b": (1, 2)}),
    # a threshold that is not 0: wrong for entries in (0, 1/2), and in (0, 1/1000)
    (lambda X, G: G * (X > 0.5), "relu(X)", {"X": (2, 2)}),
    (lambda X, G: np.array([[G[i, j] * (X[i, j] > 1e-3) for j in range(2)] for i in range(2)]), "relu(X)",
     {"X": (2, 2)}),
    # tanh' wrong only for |x| > 2.5
    (lambda X, G: G * (1 - np.tanh(X) ** 2) * (np.abs(X) < 2.5), "tanh(X)", {"X": (4, 4)}),
    # equal to 3 X^2 as expressions (SymPy writes exp(2 log x) as x^2), but NaN for x < 0 in NumPy
    (lambda X, G: 3 * G * np.exp(2 * np.log(X)), "X ** 3", {"X": (2, 2)}),
    # off by everything, but every true value is below 1: the tolerance is relative, not absolute
    (lambda X, G: 0 * np.asarray(G, float) + 1e-300, "1e-9 * X", {"X": (2, 2)}),
])
def test_wrong_code_that_agrees_at_easy_points_is_still_refuted(backward, expression, shapes):
    with pytest.raises(GradientMismatch, match=r"is wrong at entry \(\d+, \d+\)"):
        assert_backward(backward, expression, shapes)


@pytest.mark.parametrize("backward, expression", [
    (lambda X, G: G * (1.0 / 3), "X / 3"),  # 1/3 as a float is not 1/3
    (lambda X, G: G * np.where(X > 0, 1, 0.01), "leaky_relu(X, 0.01)"),  # nor is 0.01
    (lambda X, G: G * 0.01, "0.01 * X"),
    (lambda X, G: G * (1 - np.tanh(X.astype(float)) ** 2), "tanh(X)"),  # computed in doubles
    (lambda X, G: (G * (1 - np.tanh(X) ** 2)).astype(np.float32), "tanh(X)"),  # returned in float32
])
def test_right_code_with_floats_passes_at_the_precision_of_its_floats(backward, expression):
    assert_backward(backward, expression, {"X": (2, 2)})


def test_a_claim_the_kernel_cannot_decide_is_compared_at_points():
    assert assert_gradient("sum(abs(X))", "X", "X / abs(X)", {"X": (3, 2)}).method == "high precision"
    with pytest.raises(GradientMismatch, match=r"REFUTED at entry"):
        assert_gradient("relu(X)", "X", "G * step(X - 0.5)", {"X": (2, 2)})


def test_complex_results_are_not_numbers():
    with pytest.raises(GradientMismatch, match=r"entry \(1, 1\) of dX is a complex, not a real number"):
        assert_backward(lambda X, G: G + 0j, "X", {"X": (2, 2)})


def test_a_backward_that_never_returns_is_stopped_at_the_time_limit():
    def forever(X, G):
        while True:
            pass

    with pytest.raises(GradientMismatch, match=r"UNDECIDED, not finished within the time limit of 1 s"):
        assert_backward(forever, "X", {"X": (2, 2)}, time_limit=1)


@pytest.mark.parametrize("wrt", [5, {"X", "W"}])
def test_wrt_must_be_a_name_or_an_ordered_sequence(wrt):
    with pytest.raises(BadInput, match=r"wrt: an input's name, or a tuple or list"):
        assert_backward(linear, "X @ W", {"X": (2, 2), "W": (2, 2)}, wrt=wrt)


def test_assert_gradient_takes_one_name():
    with pytest.raises(BadInput, match=r"wrt: the name of one input"):
        assert_gradient("X @ W", ["X", "W"], "G @ W.T", {"X": (2, 3), "W": (3, 2)})


def test_the_values_shown_after_an_exact_refutation_differ():
    # relu's derivative is 0 for negative entries: a claim of ones is wrong only there
    with pytest.raises(GradientMismatch) as caught:
        assert_gradient("sum(relu(X))", "X", "ones(3, 2)", {"X": (3, 2)})
    found = re.search(r"the claim (\S+), the derived (\S+), at the random point", caught.value.report["numerically"])
    assert found and float(found.group(1)) != float(found.group(2))
