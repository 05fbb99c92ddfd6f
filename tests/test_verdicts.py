"""Three outcomes, never confused: verified, refuted (always with a
counterexample) and undecided (exit status 3); a numeric witness that
cancellation cannot ruin; and summaries that say each thing once."""

import ast
import io
import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

import symderive
from symderive import check, derive, numeric, pipeline, verify
from symderive.cli import EPILOG, main
from symderive.errors import ExitStatus
from symderive.numeric import NumericWitness
from symderive.parse import parse

ROOT = Path(__file__).resolve().parent.parent


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------
# The numeric witness: cancellation cannot ruin it
# ---------------------------------------------------------------------------

# (x + a)^2 - (x - a)^2 = 4 a x, so d/dx sum(...) = 4a in every entry, exactly.
# In float64 each square is about a^2 = 1e16, where floats are 2 apart; a step of
# 1e-6 moves the sum by about 800, give or take a few units, so central
# differences keep two or three digits (one entry came out 3.99e8).
CANCELLING = "sum((X + 1e8) ** 2 - (X - 1e8) ** 2)"


def test_cancellation_does_not_turn_an_exact_identity_into_a_refutation():
    result = check(CANCELLING, "X", "ones(3, 2) * 4e8", shapes={"X": (3, 2)})
    assert result.verdict.holds  # the exact kernel: 0 in every entry
    assert result.witness is not None and result.witness.agrees is True, result.witness
    assert result.holds


def test_cancellation_on_the_command_line_exits_0():
    code, out, _ = run("check", CANCELLING, "--wrt", "X", "--claim", "ones(3, 2) * 4e8", "--shape", "X=3x2")
    assert code == ExitStatus.VERIFIED == 0, out
    assert "VERIFIED" in out and "REFUTED" not in out


def test_the_witness_survives_cancellation_far_beyond_fifty_digits():
    # a = 1e30: the squares are about 1e60, the gradient 4e30; 50 digits are not
    # enough to keep the difference of the squares, twice as many are
    tree, claim = parse("sum((X + 1e30) ** 2 - (X - 1e30) ** 2)"), parse("ones(2, 2) * 4e30")
    found = numeric.witness(tree, "X", claim, {"X": (2, 2)}, None)
    assert found.agrees is True, found


def test_the_precise_witness_still_sees_a_small_error_under_cancellation():
    # 4e8 + 1 is wrong by a relative 2.5e-9: far below float64's reach here, not mpmath's
    tree = parse(CANCELLING)
    found = numeric.witness(tree, "X", parse("ones(3, 2) * 400000001"), {"X": (3, 2)}, None)
    assert found.agrees is False, found
    assert found.entry is not None and 1 <= found.entry[0] <= 3 and 1 <= found.entry[1] <= 2


def test_the_witness_names_where_it_disagrees_and_both_values():
    # X @ W against G @ W (the transpose dropped), 3x3: wrong in (almost) every entry
    found = numeric.witness(parse("X @ W"), "X", parse("G @ W"), {"X": (3, 3), "W": (3, 3)}, "G")
    assert found.agrees is False
    assert found.entry is not None
    text = f"entry {found.entry}"
    assert text in found.method
    assert found.numeric_value is not None and found.claimed_value is not None
    assert abs(found.numeric_value - found.claimed_value) > 1e-6


def test_a_right_claim_agrees_with_the_witness_to_twelve_digits():
    found = numeric.witness(parse("tanh(X @ W + b)"), "W", parse("X.T @ (G * (1 - tanh(X @ W + b) ** 2))"),
                            {"X": (3, 2), "W": (2, 4), "b": (1, 4)}, "G")
    assert found.agrees is True and found.largest_error < 1e-12, found


def test_a_large_input_is_sampled_and_still_agrees():
    found = numeric.witness(parse("X @ W"), "W", parse("X.T @ G"), {"X": (9, 9), "W": (9, 9)}, "G")
    assert found.agrees is True and f"{numeric.MAX_ENTRIES} sampled entries" in found.method


@pytest.mark.parametrize("text, shapes", [
    ("(X @ W) @ (X @ W).T", {"X": (3, 2), "W": (2, 4)}),  # a moved row of X @ W meets all of it
    ("sum(X) * X", {"X": (2, 3)}),  # moving one entry changes every entry
    ("inv(A) @ B", {"A": (3, 3), "B": (3, 2)}),
    ("det(A) * B", {"A": (3, 3), "B": (2, 2)}),
    ("trace(A @ A) + sum(A.T)", {"A": (3, 3)}),
    ("X.T @ X", {"X": (4, 3)}),
    ("sigmoid(X) / 3 - X ** -1", {"X": (2, 3)}),
    ("sqrt(X) * log(X) + exp(-X)", {"X": (3, 2)}),
    ("sin(X @ W) * cos(b)", {"X": (3, 2), "W": (2, 4), "b": (1, 4)}),
])
def test_the_witness_agrees_wherever_the_exact_check_verifies(text, shapes):
    """Agrees, not merely "no witness": a witness that gave up everywhere would
    never disagree either."""
    r = derive(text, shapes=shapes)
    gradients = [identity for identity in r.identities if identity.kind == "gradient"]
    assert gradients and all(identity.verdict.holds for identity in gradients)
    for identity in gradients:
        assert identity.witness.agrees is True, (identity.statement, identity.witness)
        assert identity.witness.largest_error < 1e-12, identity.witness


@pytest.mark.parametrize("text, shapes, wrt", [
    ("(X @ W) @ (X @ W).T", {"X": (3, 2), "W": (2, 4)}, "X"),
    ("(X @ W) @ (X @ W).T", {"X": (3, 2), "W": (2, 4)}, "W"),
    ("tanh(X @ W + b)", {"X": (3, 2), "W": (2, 4), "b": (1, 4)}, "b"),
    ("sum(X) * X + inv(A) @ X", {"X": (2, 3), "A": (2, 2)}, "A"),
])
def test_recomputing_only_what_moves_gives_the_full_evaluation(text, shapes, wrt):
    """Central differences recompute only the entries a moved input reaches; the
    same differences taken from whole evaluations at the two points agree."""
    import mpmath
    import numpy as np

    tree = parse(text)
    rng = np.random.default_rng(1)
    with mpmath.workdps(50):
        arrays = {name: numeric._to_mp(rng.uniform(0.5, 1.5, size=shape)) for name, shape in shapes.items()}
        output = numeric.evaluate(tree, arrays)
        upstream = numeric._to_mp(rng.standard_normal(output.shape))
        entries = [(i, j) for i in range(shapes[wrt][0]) for j in range(shapes[wrt][1])]
        step = mpmath.mpf(10) ** -20
        fast = numeric.central_differences(tree, wrt, arrays, upstream, step, entries)
        for index, value in zip(entries, fast):
            sides = []
            for sign in (1, -1):
                moved = arrays[wrt].copy()
                moved[index] = moved[index] + sign * step
                whole = numeric.evaluate(tree, {**arrays, wrt: moved})
                sides.append(mpmath.fsum(upstream.ravel() * whole.ravel()))
            slow = (sides[0] - sides[1]) / (2 * step)
            assert abs(value - slow) <= mpmath.mpf(10) ** -20 * max(1, abs(slow)), (index, value, slow)


def test_where_the_expression_is_complex_there_is_no_witness():
    # log of a negative number: no real value, nothing to compare
    found = numeric.witness(parse("sum(log(X - 2))"), "X", parse("(X - 2) ** -1"), {"X": (2, 2)}, None)
    assert found.agrees is None


def test_the_witness_is_independent_of_sympy_and_of_the_derivation():
    """numeric.py imports only numpy, mpmath and the expression tree: no sympy, no
    symengine, nothing of the rules, the chain rule or the kernel."""
    source = Path(numeric.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0] if node.level == 0 else "." + (node.module or ""))
    assert imported <= {"__future__", "dataclasses", "typing", "numpy", "mpmath", ".expr"}, imported
    assert "mpmath" in imported


def test_mpmath_is_a_declared_dependency():
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert re.search(r'"mpmath[>=<~ 0-9.]*"', dependencies), dependencies


# ---------------------------------------------------------------------------
# Summaries that say each thing once, in the right words
# ---------------------------------------------------------------------------


def test_the_kernel_says_shapes_differ_once():
    verdict = verify.equal_matrices(sympy.ones(2, 3), sympy.ones(3, 2), "test")
    assert not verdict.holds
    assert "shapes compared" not in verdict.method and verdict.method.endswith("shapes differ")
    assert f"{verdict.method} {verdict.reason}".count("shapes differ") == 1
    assert "2x3" in verdict.reason and "3x2" in verdict.reason
