"""Programs end to end: the issue's two-layer network derived, proven and checked."""

import pytest
import sympy

from symderive.errors import BadInput
from symderive.network import check_program, derive_program
from symderive.parse import parse

MLP = ("X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k\n"
       "Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2")
SIZES = {"n": 4, "m": 3, "h": 5, "k": 2}


@pytest.fixture(scope="module")
def mlp():
    return derive_program(MLP, sizes=SIZES)


def test_the_mlp_is_verified_and_proven_for_all_sizes(mlp):
    report = mlp.report()
    assert report["status"] == "verified" and report["verified"] is True
    assert report["proven_for_all_sizes"] is True
    assert set(report["closed_forms"]) >= {"X", "W1", "b1", "W2", "b2"}
    assert all(check["status"] == "verified" for check in report["local_checks"])
    assert all(w["agrees"] for w in report["numeric_witness"].values())


def test_the_textbook_closed_forms(mlp):
    assert mlp.closed_forms["W2"] == parse("H.T @ (Y - T)")
    assert mlp.closed_forms["b2"] == parse("ones(1, 4) @ (Y - T)")


def test_a_true_claim_with_intermediates_is_verified_and_proven():
    result = check_program(MLP, "W1", "X.T @ (((Y - T) @ W2.T) * (1 - H ** 2))", sizes=SIZES)
    assert result.status == "verified" and result.for_all_sizes


def test_the_same_claim_with_tanh_written_out_is_recognised():
    result = check_program(MLP, "W1", "X.T @ (((Y - T) @ W2.T) * (1 - tanh(Z) ** 2))", sizes=SIZES)
    assert result.status == "verified" and result.for_all_sizes


def test_a_claim_without_the_tanh_derivative_is_refuted_with_a_point():
    result = check_program(MLP, "W1", "X.T @ ((Y - T) @ W2.T)", sizes=SIZES)
    assert result.status == "refuted"
    found = result.counterexample
    assert sympy.Float(found["derived"]) != sympy.Float(found["claimed"])
    assert set(found["point"]) >= {"X", "W1", "b1", "W2", "b2", "T"}


def test_a_bias_gradient_not_summed_over_rows_is_refuted_by_its_shape():
    result = check_program(MLP, "b1", "((Y - T) @ W2.T) * (1 - H ** 2)", sizes=SIZES)
    assert result.status == "refuted" and "shape" in result.method


def test_every_size_must_have_a_value():
    with pytest.raises(BadInput, match="--size h=VALUE"):
        derive_program(MLP, sizes={"n": 4, "m": 3, "k": 2})
    with pytest.raises(BadInput, match="no size 'q'"):
        derive_program(MLP, sizes={**SIZES, "q": 2})


def test_a_claim_may_not_use_names_outside_the_program():
    with pytest.raises(BadInput, match="not a name of the program"):
        check_program(MLP, "W1", "Q @ X", sizes=SIZES)


def test_an_inverse_is_checked_at_the_sizes_but_not_proven_for_all():
    d = derive_program("A : n x n; B : n x n; Y = inv(A) @ B; L = trace(Y)", sizes={"n": 2})
    assert d.status == "verified" and not d.proven_for_all_sizes
    assert "inv" in d.proof_statement()


def test_a_polynomial_program_is_also_checked_end_to_end():
    d = derive_program("X : n x m; W : m x d; Y = X @ W; L = sum(Y * Y)", sizes={"n": 2, "m": 3, "d": 2})
    assert d.end_to_end and all(v.holds for v in d.end_to_end.values())
    assert d.proven_for_all_sizes


def test_a_function_of_a_composite_argument_gets_a_named_step():
    from symderive.program import named_arguments, read_program

    program, introduced = named_arguments(read_program("X : n x m; W : m x d; b : 1 x d; Y = tanh(X @ W + b)"))
    assert str(program).endswith("U1 = X @ W + b; Y = tanh(U1)") and introduced == {"U1": parse("X @ W + b")}


def test_a_single_layer_is_proven_for_all_sizes_and_its_closed_forms_use_the_user_s_names():
    d = derive_program("X : n x m; W : m x d; b : 1 x d; Y = tanh(X @ W + b)", sizes={"n": 3, "m": 2, "d": 4})
    assert d.status == "verified" and d.proven_for_all_sizes
    assert d.closed_forms["W"] == parse("X.T @ (G * (1 - Y**2))")


@pytest.mark.parametrize("expression, wrt, claim, upstream, proven", [
    ("tanh(X @ W + b)", "W", "X.T @ (G * (1 - tanh(X @ W + b)**2))", "G", True),
    ("tanh(X @ W + b)", "W", "X.T @ (G * (1 - tanh(X @ W + b)))", "G", False),  # false: never proven
    ("trace(A @ X @ W)", "X", "A.T @ W.T", None, True),
    ("trace(A @ X @ W)", "X", "A @ W.T", None, False),
    ("sum(sigmoid(X))", "X", "sigmoid(X) * (1 - sigmoid(X))", None, True),
    ("sum(exp(X @ W))", "W", "X.T @ exp(X @ W)", None, True),
])
def test_single_expressions_are_proven_for_all_sizes_beyond_a_product(expression, wrt, claim, upstream, proven):
    from symderive.network import claim_proven_for_all_sizes

    shapes = {"X": (3, 2), "W": (2, 4), "b": (1, 4), "A": (4, 3)}
    report = claim_proven_for_all_sizes(parse(expression), wrt, parse(claim), shapes, upstream)
    assert (report is not None and report.proven) == proven


def test_an_input_that_reaches_no_output_is_allowed():
    d = derive_program("X : n x m; W : m x d; V : n x m; Y = X @ W; L = sum(Y)", sizes={"n": 2, "m": 3, "d": 2})
    assert d.status == "verified" and "V" not in d.closed_forms and d.shapes["V"] == (2, 3)


def test_an_output_that_depends_on_no_input_is_refused():
    with pytest.raises(BadInput, match="depends on no input"):
        derive_program("X : n x m; Y = X.T; L = sum(ones(2, 2))", sizes={"n": 2, "m": 3})


def test_identity_and_ones_in_a_contribution_get_symbolic_sizes():
    d = derive_program("X : n x n; L = trace(X) + sum(X)", sizes={"n": 2})
    assert d.status == "verified" and d.proven_for_all_sizes


@pytest.mark.parametrize("claim, proven", [
    ("ones(4, 2) @ W.T", True),  # the ones are forced: rows of the gradient, columns of W.T
    ("ones(4, 3) * 2", False),  # wrong: refuted, never proven
])
def test_ones_forced_by_the_shapes_are_sizes_for_all_sizes(claim, proven):
    from symderive import check

    result = check("sum(X @ W)", "X", claim, shapes={"X": (4, 3), "W": (3, 2)})
    assert result.for_all_sizes == proven and result.holds == proven
