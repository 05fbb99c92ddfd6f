"""Programs with named scalars, sizes in constants, and assumptions (issue #13).

Expected values are written by hand: the textbook forms, the entries solved for,
the error messages' subjects.  Every verdict under an assumption must say so.
"""

from __future__ import annotations

import random

import pytest
import sympy

from symderive import build, verify
from symderive.assume import Unsolvable, solve_for_entries, tidy
from symderive.errors import BadInput
from symderive.expr import Constant, Name, scalar_symbol, size_symbol, walk
from symderive.network import check_program, derive_program
from symderive.parse import ParseError, parse
from symderive.program import read_program
from symderive.shapes import shape_of

CROSS_ENTROPY = """
X : n x m; W : m x k; T : n x k
assume sum(T, axis=1) = 1
Z = X @ W
L = -sum(T * log_softmax(Z, axis=1))
"""
SIZES = {"n": 2, "m": 2, "k": 3}


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def test_scalars_and_sizes_are_constants_of_the_expressions():
    program = read_program("scalar eps, lam\nX : n x d\nY = X / sqrt(d) + lam * X + eps")
    assert program.scalars == ("eps", "lam")
    constants = {node.value for node in walk(program.steps[0].expression) if isinstance(node, Constant)}
    assert constants == {sympy.sqrt(size_symbol("d")), scalar_symbol("lam"), scalar_symbol("eps")}
    assert program.inputs == ["X"]  # lam, eps and d are no matrices


def test_a_program_prints_back_as_itself():
    text = ("scalar lam\nX : n x m; W : m x k; T : n x k\nassume sum(T, axis=1) = 1\n"
            "Z = X @ W / sqrt(m)\nL = -sum(T * log_softmax(Z, axis=1)) / n + lam * sum(W ** 2)")
    program = read_program(text)
    again = read_program(str(program))
    assert again.scalars == program.scalars and again.declared == program.declared
    assert [s.expression for s in again.steps] == [s.expression for s in program.steps]
    assert [(a.left, a.right) for a in again.assumptions] == [(a.left, a.right) for a in program.assumptions]
    assert str(program).startswith("scalar lam; X : n x m") and "assume sum(T, axis=1) = 1" in str(program)


@pytest.mark.parametrize("text, subject", [
    ("X : n x m; assume sum(X, axis=1) = Y; Z = X", "value of an assumption is a constant"),
    ("X : n x m; Z = X * 2; assume sum(Z) = 1", "is a step"),
    ("X : n x m; assume sum(Q) = 1; Z = X", "not a declared input"),
    ("scalar lam, lam; X : n x m; Y = X", "declared twice"),
    ("X : n x m; scalar X; Y = X", "names a matrix"),
    ("X : n x m; scalar n; Y = X", "is a size"),
    ("scalar lam; X : n x m; Y = lam @ X", "is a scalar, not a matrix"),
    ("X : n x m; Y = n @ X", "is a size"),
    ("X : n x m; assume sum(X) 1; Y = X", "assume EXPR = VALUE"),
    ("scalar; X : n x m; Y = X", "scalar lam"),
])
def test_mistakes_are_named(text, subject):
    with pytest.raises(ParseError) as caught:
        read_program(text)
    assert subject in str(caught.value)


# ---------------------------------------------------------------------------
# Tidying: identities that hold everywhere
# ---------------------------------------------------------------------------


def test_tidy_gives_the_cross_entropy_form_without_the_assumption():
    derived = parse("-T - softmax(Z, axis=1) * sum(-T, axis=1)")
    assert tidy(derived) == parse("softmax(Z, axis=1) * sum(T, axis=1) - T")


def test_tidy_gathers_scalar_factors_into_a_division():
    shapes = {"T": (2, 3), "X": (2, 2)}
    assert tidy(parse("X.T @ (-(ones(2, 3) * 1 / 4 * T))"), shapes) == parse("-((X.T @ T) / 4)")


def _random_tree(rng: random.Random, depth: int):
    leaves = ["A", "B", "-A", "2", "(1/3)", "ones(2, 2)"]
    if depth == 0:
        return rng.choice(leaves)
    a, b = _random_tree(rng, depth - 1), _random_tree(rng, depth - 1)
    return rng.choice([f"({a}) + ({b})", f"({a}) - ({b})", f"({a}) * ({b})", f"-({a})", f"({a}) @ ({b})",
                       f"sum({a}, axis=1) * ({b})", f"({a}).T", f"({a}) / 2"])


def test_tidy_changes_no_value():
    """On random trees, the tidied form equals the original entry by entry."""
    rng = random.Random(13)
    symbols = {name: build.matrix_of_symbols(name, 2, 2) for name in "AB"}
    changed = 0
    tried = 0
    while tried < 60:
        tree = parse(_random_tree(rng, 3))
        try:
            shape = shape_of(tree, {"A": (2, 2), "B": (2, 2)})
        except BadInput:
            continue  # a product with a 1x1 factor, say: not a tree of the language
        tried += 1
        tidied = tidy(tree, {"A": (2, 2), "B": (2, 2)})
        changed += tidied != tree
        assert shape_of(tidied, {"A": (2, 2), "B": (2, 2)}) == shape
        left, right = build.explicit(tree, symbols), build.explicit(tidied, symbols)
        assert verify.equal_matrices(left, right, "tidy").holds, (tree, tidied)
    assert changed > 20  # the rules fired


# ---------------------------------------------------------------------------
# Solving an assumption for entries
# ---------------------------------------------------------------------------


def test_rows_summing_to_one_are_solved_for_their_last_entry():
    T = build.matrix_of_symbols("T", 2, 3)
    equations = [T[p, 0] + T[p, 1] + T[p, 2] - 1 for p in range(2)]
    solution = solve_for_entries(equations, list(T))
    assert solution == {T[0, 2]: 1 - T[0, 0] - T[0, 1], T[1, 2]: 1 - T[1, 0] - T[1, 1]}


def test_a_nonlinear_assumption_is_not_solved():
    T = build.matrix_of_symbols("T", 1, 2)
    with pytest.raises(Unsolvable):
        solve_for_entries([T[0, 0] * T[0, 1] - 1], list(T))


# ---------------------------------------------------------------------------
# Cross-entropy with and without the assumption
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cross_entropy():
    return derive_program(CROSS_ENTROPY, sizes=SIZES)


def test_the_textbook_form_uses_the_assumption_and_says_so(cross_entropy):
    form = cross_entropy.textbook["dZ"]
    assert form.tidied == parse("softmax(Z, axis=1) * sum(T, axis=1) - T")
    assert form.form == parse("softmax(Z, axis=1) - T")
    assert [str(a) for a in form.used] == ["sum(T, axis=1) = 1"]
    assert form.status == "verified" and "under the assumption sum(T, axis=1) = 1" in form.verdict.method
    assert cross_entropy.report()["textbook_forms"]["dZ"]["statement"] == \
        "dZ = softmax(Z, axis=1) - T, under the assumption sum(T, axis=1) = 1"


def test_the_textbook_form_is_proven_for_all_sizes_under_the_assumption(cross_entropy):
    """Tidying proven in index notation both times, the replacement by congruence."""
    assert cross_entropy.proven_for_all_sizes
    assert cross_entropy.textbook["dZ"].proven_for_all_sizes
    result = check_program(CROSS_ENTROPY, "W", "X.T @ (softmax(Z, axis=1) - T)", sizes=SIZES,
                           derivation=cross_entropy)
    assert result.for_all_sizes
    assert result.report()["scope"].startswith("proven for all sizes under the assumption sum(T, axis=1) = 1")


def test_the_general_form_needs_no_assumption(cross_entropy):
    result = check_program(CROSS_ENTROPY, "W", "X.T @ (softmax(Z, axis=1) * sum(T, axis=1) - T)", sizes=SIZES,
                           derivation=cross_entropy)
    assert result.holds and result.assumptions == [] and "assumption" not in result.method


def test_the_textbook_claim_is_verified_under_the_assumption_only(cross_entropy):
    result = check_program(CROSS_ENTROPY, "W", "X.T @ (softmax(Z, axis=1) - T)", sizes=SIZES,
                           derivation=cross_entropy)
    assert result.holds and result.under == "under the assumption sum(T, axis=1) = 1"
    assert "under the assumption" in result.method and "under the assumption" in result.report()["scope"]


def test_without_the_assumption_the_textbook_claim_is_refuted():
    program = CROSS_ENTROPY.replace("assume sum(T, axis=1) = 1", "")
    result = check_program(program, "W", "X.T @ (softmax(Z, axis=1) - T)", sizes=SIZES)
    assert result.status == "refuted" and result.counterexample is not None and not result.assumptions


def test_a_wrong_claim_is_refuted_under_the_assumption(cross_entropy):
    result = check_program(CROSS_ENTROPY, "W", "X.T @ (softmax(Z, axis=1) - T) / 2", sizes=SIZES,
                           derivation=cross_entropy)
    assert result.status == "refuted" and result.counterexample["under"] == "under the assumption sum(T, axis=1) = 1"


def test_an_assumption_that_cannot_be_solved_leaves_the_claim_undecided():
    program = "X : n x m; W : m x k; T : n x k; assume sum(T ** 2) = 1; Z = X @ W; L = sum(T * Z)"
    result = check_program(program, "W", "X.T @ T * sum(T ** 2)", sizes={"n": 2, "m": 1, "k": 2})
    assert result.status == "undecided" and not result.holds


# ---------------------------------------------------------------------------
# Sizes and scalars at concrete sizes
# ---------------------------------------------------------------------------

SCALED = "scalar lam\nX : n x d; W : d x k\nY = X @ W / sqrt(d)\nL = sum(Y ** 2) + lam * sum(W ** 2)"


def test_a_size_in_a_constant_gets_its_value_for_the_checks_and_stays_a_symbol_for_the_proof():
    derivation = derive_program(SCALED, sizes={"n": 2, "d": 4, "k": 1})
    assert derivation.verified
    assert all(w.agrees for w in derivation.witnesses.values())
    assert "sqrt(d)" in str(derivation.closed_forms["W"])  # the closed form keeps the size's name
    at_four = check_program(SCALED, "W", "2 * X.T @ Y / 2 + 2 * lam * W", sizes={"n": 2, "d": 4, "k": 1},
                            derivation=derivation)
    assert at_four.holds and not at_four.for_all_sizes  # true at d = 4 only
    general = check_program(SCALED, "W", "2 * X.T @ Y / sqrt(d) + 2 * lam * W", sizes={"n": 2, "d": 4, "k": 1},
                            derivation=derivation)
    assert general.holds
    wrong = check_program(SCALED, "W", "2 * X.T @ Y / sqrt(d) + lam * W", sizes={"n": 2, "d": 4, "k": 1},
                          derivation=derivation)
    assert wrong.status == "refuted"


def test_a_scalar_is_no_input():
    derivation = derive_program(SCALED, sizes={"n": 2, "d": 2, "k": 1})
    assert set(derivation.closed_forms) == {"X", "W"}
    assert derivation.report()["scalars"] == ["lam"]
    assert Name("lam") not in list(walk(derivation.closed_forms["W"]))


def test_the_command_line_says_under_which_assumption(tmp_path):
    import io

    from symderive.cli import main

    program = tmp_path / "ce.prog"
    program.write_text(CROSS_ENTROPY, encoding="utf-8")
    out = io.StringIO()
    code = main(["check", "--file", str(program), "--size", "n=2", "--size", "m=2", "--size", "k=3",
                 "--wrt", "W", "--claim", "X.T @ (softmax(Z, axis=1) - T)"], stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert code == 0 and "VERIFIED exactly: under the assumption sum(T, axis=1) = 1" in text
    for line in text.splitlines():
        if "PROVEN" in line:
            assert "under the assumption sum(T, axis=1) = 1" in line
