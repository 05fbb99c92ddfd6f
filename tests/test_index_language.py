"""The index language beyond products: entrywise operations, broadcasting,
elementwise functions, powers, trace, sum.  Each local rule of backpropagation
stated for symbolic sizes is proven, and a plausible wrong variant of it is
found false with a counterexample (re-evaluated here by hand for one case)."""

from fractions import Fraction

import pytest
import sympy

from symderive.expr import Add, Call, Div, Hadamard, Identity, MatMul, Name, Neg, Number, Ones, Power, Sub, Transpose
from symderive.index import Declarations, Derivation, Derivative, Entry, Scalar, Step
from symderive.prove import CHECKED, FALSE, PROVEN, check_derivation

G, A, B, Z = Name("G"), Name("A"), Name("B"), Name("Z")
NM = {"i": (1, "n"), "j": (1, "m")}


def local_rule(shapes, defined, by, claim, ranges, sizes=("n", "m")):
    """d(f)/d(by[i,j]) = claim[i,j] for Y = defined and any f(Y) with G = df/dY."""
    decl = Declarations(sizes=list(sizes), shapes=shapes, defined={"Y": defined}, upstream=("G", "Y"),
                        ranges=ranges)
    steps = [Step(Derivative(Scalar(), Entry(Name(by), "i", "j")), "", 0, f"d(f)/d({by}[i,j])"),
             Step(Entry(claim, "i", "j"), "the rule", 0, f"({claim})[i,j]")]
    return check_derivation(Derivation(decl, steps, "rule"))


def n(x):
    return Number(Fraction(x))


RULES = {  # name: (shapes, Y, by, the right claim, a wrong claim, ranges)
    "entrywise product": ({"A": ("n", "m"), "B": ("n", "m")}, Hadamard(A, B), "A", Hadamard(G, B), Hadamard(G, A), NM),
    "difference, right": ({"A": ("n", "m"), "B": ("n", "m")}, Sub(A, B), "B", Neg(G), G, NM),
    "bias row": ({"A": ("n", "m"), "B": (1, "m")}, Add(A, B), "B", MatMul(Ones(1, "n"), G),
                 Transpose(MatMul(Ones(1, "n"), G).__class__(Ones(1, "n"), G)) if False else Sub(MatMul(Ones(1, "n"), G), Hadamard(Number(Fraction(1)), Ones(1, "m"))),
                 {"i": (1, 1), "j": (1, "m")}),
    "bias column": ({"A": ("n", "m"), "B": ("n", 1)}, Add(A, B), "B", MatMul(G, Ones("m", 1)), Hadamard(n(2), MatMul(G, Ones("m", 1))),
                    {"i": (1, "n"), "j": (1, 1)}),
    "opaque function": ({"Z": ("n", "m")}, Call("phi", Z), "Z", Hadamard(G, Call("phi'", Z)), Call("phi'", Z), NM),
    "tanh": ({"Z": ("n", "m")}, Call("tanh", Z), "Z", Hadamard(G, Call("tanh'", Z)), Hadamard(G, Call("tanh", Z)), NM),
    "cube": ({"Z": ("n", "m")}, Power(Z, Fraction(3)), "Z", Hadamard(G, Hadamard(n(3), Power(Z, Fraction(2)))),
             Hadamard(G, Power(Z, Fraction(2))), NM),
    "square root": ({"Z": ("n", "m")}, Power(Z, Fraction(1, 2)), "Z", Hadamard(G, Div(Power(Z, Fraction(-1, 2)), n(2))),
                    Hadamard(G, Power(Z, Fraction(-1, 2))), NM),
    "division by a number": ({"Z": ("n", "m")}, Div(Z, n(4)), "Z", Div(G, n(4)), Hadamard(G, n(4)), NM),
    "trace": ({"Z": ("n", "n")}, Call("trace", Z), "Z", Hadamard(G, Identity("n")), Hadamard(G, Ones("n", "n")),
              {"i": (1, "n"), "j": (1, "n")}),
    "sum of entries": ({"Z": ("n", "m")}, Call("sum", Z), "Z", Hadamard(G, Ones("n", "m")), Hadamard(G, Z), NM),
    "transpose": ({"Z": ("n", "m")}, Transpose(Z), "Z", Transpose(G), G.__class__("G") if False else Hadamard(Transpose(G), n(-1)), NM),
}


@pytest.mark.parametrize("name", RULES)
def test_the_local_rule_is_proven_for_all_sizes(name):
    shapes, defined, by, right, _, ranges = RULES[name]
    report = local_rule(shapes, defined, by, right, ranges)
    assert not report.error and report.steps[0].verdict == PROVEN, report.steps[0].method


@pytest.mark.parametrize("name", RULES)
def test_a_wrong_variant_of_the_rule_is_false(name):
    shapes, defined, by, _, wrong, ranges = RULES[name]
    report = local_rule(shapes, defined, by, wrong, ranges)
    step = report.steps[0]
    assert step.verdict == FALSE and step.counterexample["reason"] == "the two sides differ"


def test_the_counterexample_of_a_wrong_bias_rule_is_real():
    # d(f)/d(b_1j) for Y = A + b (b a row) is sum_p G_pj; 2 * G @ ones is not the column rule
    shapes, defined, by, _, wrong, ranges = RULES["bias column"]
    found = local_rule(shapes, defined, by, wrong, ranges).steps[0].counterexample
    assert sympy.expand(2 * found["lhs"] - found["rhs"]) == 0  # the claim is twice the truth


def test_an_operation_with_no_index_definition_is_checked_not_proven():
    inverse = Call("inv", Z)
    claim = Neg(MatMul(MatMul(Transpose(inverse), G), Transpose(inverse)))
    report = local_rule({"Z": ("n", "n")}, inverse, "Z", claim, {"i": (1, "n"), "j": (1, "n")}, sizes=("n",))
    step = report.steps[0]
    assert step.verdict == CHECKED and "no definition in index notation" in step.method
    assert step.coverage.complete


def test_a_function_of_a_composite_argument_is_read_through_its_definition():
    """tanh(A @ B): the entry (A @ B)_pq is a sum, differentiated by its definition
    (the chain rule through an opaque entry): the rule is proven for all sizes,
    and the claim that forgets tanh' and B.T is refuted."""
    ranges = {"i": (1, "n"), "j": (1, "m")}
    node = Call("tanh", MatMul(A, B))
    right = MatMul(Hadamard(G, Sub(Number(Fraction(1)), Power(node, Fraction(2)))), Transpose(B))
    shapes = {"A": ("n", "m"), "B": ("m", "n")}
    assert local_rule(shapes, node, "A", right, ranges).proven
    wrong = local_rule(shapes, node, "A", G, ranges)
    assert not wrong.error and wrong.steps[0].verdict == FALSE


def test_the_kernel_decides_identities_of_an_undefined_function():
    """f(x) and f'(x) at distinct symbols are independent unknowns for an arbitrary f;
    at a composite argument they are not, and only 0 is trusted."""
    from symderive.verify import is_zero

    x, y = sympy.symbols("x y")
    f = sympy.Function("phi")
    assert is_zero(y * sympy.diff(f(x), x) - sympy.diff(f(x), x)) is False
    assert is_zero(f(x) * y - y * f(x)) is True
    assert is_zero(f(x * y) - f(y * x)) is True
    assert is_zero(f(x + 1) - f(x)) is None  # not shown zero, and not trusted as nonzero
