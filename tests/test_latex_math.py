"""The grammar of lecture-note maths (symderive/latex_math.py), one notation at a time.

Every expected tree is written by hand from what the LaTeX means, not copied
from the reader's output."""

from fractions import Fraction

import pytest

from symderive.expr import MatMul, Name, Transpose
from symderive.index import Declarations, Delta, Derivative, Entry, Neg, Num, Plus, Scalar, Sum, Times
from symderive.latex_math import MathProblem, MatrixDerivative, MathReader, free_indices, parse_math

X, W, Y, G = Name("X"), Name("W"), Name("Y"), Name("G")


def declarations() -> Declarations:
    return Declarations(sizes=["n", "m", "d"], shapes={"X": ("n", "m"), "W": ("m", "d")},
                        defined={"Y": MatMul(X, W)}, upstream=("G", "Y"))


def read(latex: str, remarks=None):
    """The sides of the one chain in ``latex``."""
    remarks = [] if remarks is None else remarks
    reader = MathReader(declarations(), "f", lambda at, kind, text: remarks.append((at, kind, text)))
    rows = reader.chains(parse_math(latex))
    assert len(rows) == 1
    return [side.value for side in rows[0][1]]


def one(latex: str, remarks=None):
    sides = read(latex, remarks)
    assert len(sides) == 1
    return sides[0]


def times(*factors):
    return Times(tuple(factors))


def d_f(matrix, row, col):
    return Derivative(Scalar("f"), Entry(Name(matrix), row, col))


@pytest.mark.parametrize("latex, expected", [
    (r"X_{pr}", Entry(X, "p", "r")),
    (r"X_{p,r}", Entry(X, "p", "r")),
    (r"X_{p r}", Entry(X, "p", "r")),
    (r"\mathbf{X}_{ij}", Entry(X, "i", "j")),
    (r"W^\top_{qj}", Entry(Transpose(W), "q", "j")),
    (r"W_{qj}^\top", Entry(Transpose(W), "q", "j")),
    (r"W_{qj}^{T}", Entry(Transpose(W), "q", "j")),
    (r"(\mathbf{W}^\top)_{qj}", Entry(Transpose(W), "q", "j")),
    (r"\left(\mathbf{W}^{\intercal}\right)_{qj}", Entry(Transpose(W), "q", "j")),
    (r"W^{\mathsf{T}}_{qj}", Entry(Transpose(W), "q", "j")),
    (r"\delta_{pi}", Delta("p", "i")),
    (r"\delta_{p,i}", Delta("p", "i")),
    (r"3", Num(Fraction(3))),
    (r"\frac{1}{2} X_{ij}", times(Num(Fraction(1, 2)), Entry(X, "i", "j"))),
    (r"\frac{\partial f}{\partial X_{ij}}", d_f("X", "i", "j")),
    (r"\frac{\partial Y_{pq}}{\partial X_{ij}}", Derivative(Entry(Y, "p", "q"), Entry(X, "i", "j"))),
    (r"\mathbf{W}^\top", Transpose(W)),
    (r"\mathbf{XW}", MatMul(X, W)),
    (r"\mathbf{X} \mathbf{W}", MatMul(X, W)),
    (r"XW", MatMul(X, W)),
    (r"\frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^\top", MatMul(G, Transpose(W))),
    (r"\frac{\partial f}{\partial \mathbf{X}}", MatrixDerivative("f", "X")),
])
def test_notation(latex, expected):
    assert one(latex) == expected


def test_products_juxtaposed_or_with_cdot_or_times():
    entries = times(Entry(X, "p", "r"), Entry(W, "r", "q"))
    assert one(r"X_{pr} W_{rq}") == entries
    assert one(r"X_{pr} \cdot W_{rq}") == entries
    assert one(r"X_{pr} \times W_{rq}") == entries


def test_sum_takes_the_rest_of_the_product_and_stops_at_plus():
    body = times(Entry(X, "p", "r"), Entry(W, "r", "q"))
    assert one(r"\sum_{r=1}^m X_{pr} W_{rq} + 2") == Plus((Sum("r", 1, "m", body), Num(Fraction(2))))
    assert one(r"\sum_{r=1}^{m} X_{pr} W_{rq}") == Sum("r", 1, "m", body)
    assert one(r"\sum\limits_{r=1}^{m} X_{pr} W_{rq}") == Sum("r", 1, "m", body)


def test_sum_from_an_index():
    assert one(r"\sum_{p=i}^n X_{pj}") == Sum("p", "i", "n", Entry(X, "p", "j"))


def test_sum_except_one_index_runs_over_the_whole_range_times_one_minus_delta():
    # p addresses the rows of Y (n x d): 1..n, the term p = i removed
    expected = Sum("p", 1, "n", times(Plus((Num(Fraction(1)), Neg(Delta("p", "i")))), d_f("Y", "p", "q")))
    assert one(r"\sum_{p \neq i} \frac{\partial f}{\partial Y_{pq}}") == expected


def test_sum_without_bounds_reads_the_range_and_says_so():
    remarks = []
    assert one(r"\sum_q G_{iq}", remarks) == Sum("q", 1, "d", Entry(G, "i", "q"))
    assert [kind for _, kind, _ in remarks] == ["reading"]
    assert "1..d" in remarks[0][2]


def test_derivative_operator_with_parentheses():
    expected = Derivative(times(Entry(X, "p", "r"), Entry(W, "r", "q")), Entry(X, "i", "j"))
    assert one(r"\frac{\partial}{\partial X_{ij}} (X_{pr} W_{rq})") == expected
    assert one(r"\frac{\partial}{\partial X_{ij}} \left( X_{pr} W_{rq} \right)") == expected


def test_cases_is_each_value_times_the_deltas_of_its_conditions():
    latex = r"\begin{cases} W_{jq}, & p = i, r = j \\ 0 & \text{otherwise} \end{cases}"
    assert one(latex) == times(Entry(W, "j", "q"), Delta("p", "i"), Delta("r", "j"))


def test_cases_with_a_nonzero_otherwise_is_the_complement():
    latex = r"\begin{cases} 1 & \text{if } p = i \\ 2 & \text{otherwise} \end{cases}"
    expected = Plus((times(Num(Fraction(1)), Delta("p", "i")),
                     times(Num(Fraction(2)), Plus((Num(Fraction(1)), Neg(Delta("p", "i")))))))
    assert one(latex) == expected


def test_two_digit_subscript_is_row_and_column_and_said():
    remarks = []
    assert one(r"X_{12}", remarks) == Entry(X, 1, 2)
    assert remarks and remarks[0][1] == "reading" and "row 1, column 2" in remarks[0][2]


def test_signs():
    a, b = Entry(X, "i", "j"), Entry(W, "j", "q")
    assert one(r"-X_{ij} + W_{jq}") == Plus((Neg(a), b))
    assert one(r"X_{ij} - W_{jq}") == Plus((a, Neg(b)))


def test_each_top_level_equals_is_a_side_not_those_in_sums_or_cases():
    sides = read(r"\frac{\partial Y_{pq}}{\partial X_{ij}} = \sum_{r=1}^m \frac{\partial}{\partial X_{ij}}"
                 r"(X_{pr} W_{rq}) = \begin{cases} W_{jq}, & p = i, r = j \\ 0 & \text{otherwise} \end{cases}")
    assert len(sides) == 3


def test_rows_and_continued_rows():
    reader = MathReader(declarations(), "f", lambda *a: None)
    rows = reader.chains(parse_math(r"X_{ij} = X_{ij} \\ = X_{ij} \\ W_{jq} = W_{jq}."))
    assert [(continued, len(sides)) for continued, sides in rows] == [(False, 2), (True, 1), (False, 2)]


def test_declarations():
    reader = MathReader(declarations(), None, lambda *a: None)
    found = reader.statements(parse_math(
        r"\mathbf{X} \in \mathbb{R}^{n \times m}, 1 \le i \le n, f : \mathbb{R}^{n \times d} \rightarrow \mathbb{R}",
        "statements"))
    assert [f[:4] for f in found] == [("shape", "X", "n", "m"), ("range", "i", 1, "n"),
                                      ("signature", "f", "n", "d")]


def test_free_indices():
    expr = Sum("q", 1, "d", times(Entry(G, "i", "q"), Entry(W, "j", "q")))
    assert free_indices(expr, ["n", "m", "d"]) == ["i", "j"]


@pytest.mark.parametrize("latex", [
    r"\input{secret} X_{ij}",  # no macro outside the fixed table
    r"\newcommand{\x}{y}",
    r"X_{i}",  # an entry needs two indices
    r"X^2_{ij}",  # only the transpose as superscript
    r"x",  # a scalar nobody declared
    r"\frac{\partial \mathbf{Y}}{\partial \mathbf{X}}",  # a 4th-rank tensor
    r"\frac{\partial g}{\partial X_{ij}}",  # not the declared function
    r"\dots",
    "{" * 100 + "X_{ij}" + "}" * 100,  # nesting beyond the limit
    "X_{ij} + " * 3000,  # length beyond the limit
])
def test_refused_with_a_position(latex):
    reader = MathReader(declarations(), "f", lambda *a: None)
    with pytest.raises(MathProblem) as caught:
        reader.chains(parse_math(latex))
    assert caught.value.offset >= 0 and caught.value.message
