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

from symderive import check, derive, numeric, pipeline, verify
from symderive.cli import main
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
    assert result.status == "verified" and result.holds


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
    assert imported <= {"__future__", "dataclasses", "fractions", "typing", "numpy", "mpmath", ".expr"}, imported
    assert "mpmath" in imported


def test_mpmath_is_a_declared_dependency():
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert re.search(r'"mpmath[>=<~ 0-9.]*"', dependencies), dependencies


# ---------------------------------------------------------------------------
# Undecided is an outcome of its own, exit status 3, never REFUTED
# ---------------------------------------------------------------------------

# d/dx sqrt(x*x) is x/sqrt(x^2): 1 for x > 0, -1 for x < 0.  The symbols carry no
# sign, so "= 1" is neither an identity nor provably false at the kernel's
# points (all positive): the kernel cannot decide it.
UNDECIDABLE = ("sum(sqrt(X * X))", "X", "ones(3, 2)")


def test_an_entry_the_kernel_cannot_decide_is_undecided_not_refuted():
    result = check(*UNDECIDABLE, shapes={"X": (3, 2)})
    found = result.verdict.counterexample
    assert found is not None and found.decided is False  # the kernel's own word
    assert result.status == "undecided" and not result.holds
    assert result.report()["status"] == "undecided"


def test_undecided_on_the_command_line_exits_3_and_never_says_refuted():
    expression, wrt, claim = UNDECIDABLE
    code, out, _ = run("check", expression, "--wrt", wrt, "--claim", claim, "--shape", "X=3x2")
    assert code == ExitStatus.UNDECIDED == 3, out
    assert "UNDECIDED" in out and "REFUTED" not in out
    assert "entry (1, 1)" in out  # where, and why
    code, out, _ = run("check", expression, "--wrt", wrt, "--claim", claim, "--shape", "X=3x2", "--json")
    assert code == 3 and json.loads(out)["status"] == "undecided"


def test_an_undecided_entry_where_the_witness_disagrees_is_still_undecided():
    """d/dx sqrt((x - 1)^2) is the sign of x - 1.  The kernel, at its points (1 and
    above), cannot decide "= 1"; the witness, at random points in [0.5, 1.5], finds
    -1 where x < 1.  Probably false, then, but with no exact counterexample."""
    result = check("sum(sqrt((X - 1) * (X - 1)))", "X", "ones(3, 2)", shapes={"X": (3, 2)})
    assert result.verdict.counterexample is not None and result.verdict.counterexample.decided is False
    assert result.witness.agrees is False
    i, j = result.witness.entry
    assert result.witness.numeric_value == pytest.approx(-1) and result.witness.claimed_value == pytest.approx(1)
    assert result.status == "undecided"
    assert result.report()["note"].startswith(f"the numeric witness disagrees at entry ({i}, {j})")


def test_notebooks_and_documents_do_not_call_undecided_refuted(tmp_path):
    shown = check(*UNDECIDABLE[:3], shapes={"X": (3, 2)})._repr_latex_()
    assert r"\text{undecided}" in shown and "refuted" not in shown and r"\neq" not in shown
    refuted = check("X @ W", "X", "G @ W", shapes={"X": (3, 3), "W": (3, 3)})._repr_latex_()
    assert r"\text{refuted}" in refuted and r"\neq" in refuted


def test_the_exit_statuses_are_distinct():
    assert [int(s) for s in (ExitStatus.VERIFIED, ExitStatus.REFUTED, ExitStatus.BAD_INPUT,
                             ExitStatus.UNDECIDED)] == [0, 1, 2, 3]


def _result(verdict, witness):
    """A CheckResult with a given exact verdict and numeric witness."""
    return pipeline.CheckResult(parse("X @ W"), "X", parse("G @ W.T"), {"X": (2, 2), "W": (2, 2)}, {},
                                "G", verdict, witness)


X11, G11 = sympy.symbols("X_11 G_11")
UNDECIDED_ENTRY = verify.Counterexample((1, 2), X11, G11, decided=False)
DIFFERING_ENTRY = verify.Counterexample((1, 2), X11, G11, decided=True)
AGREES = NumericWitness(True, 0.0, "central differences agree")


def _disagreeing():
    """A witness that disagrees at entry (2, 1), with both values."""
    return NumericWitness(False, 0.5, "central differences disagree at entry (2, 1)", entry=(2, 1),
                          numeric_value=1.25, claimed_value=0.75)


DISAGREES = "disagrees"  # made by _disagreeing() inside each test


@pytest.mark.parametrize("verdict, witness, status", [
    (verify.Verdict(True, 4, "exact"), AGREES, "verified"),
    (verify.Verdict(True, 4, "exact"), None, "verified"),
    # the exact check holds and the witness disagrees: an internal inconsistency
    (verify.Verdict(True, 4, "exact"), DISAGREES, "undecided"),
    (verify.Verdict(False, 2, "exact", UNDECIDED_ENTRY), AGREES, "undecided"),
    # undecided stays undecided even when the witness disagrees: no exact counterexample
    (verify.Verdict(False, 2, "exact", UNDECIDED_ENTRY), DISAGREES, "undecided"),
    (verify.Verdict(False, 2, "exact", DIFFERING_ENTRY), DISAGREES, "refuted"),
    (verify.Verdict(False, 2, "exact", DIFFERING_ENTRY), AGREES, "refuted"),
    (verify.Verdict(False, 0, "shapes differ", reason="2x3 against 3x2"), None, "refuted"),
])
def test_the_status_rules(verdict, witness, status):
    witness = _disagreeing() if witness == DISAGREES else witness
    result = _result(verdict, witness)
    assert result.status == status
    assert result.holds == (status == "verified")
    identity = pipeline.Identity("gradient", "X", parse("G @ W.T"), "df/dX = G @ W.T", verdict, witness)
    assert identity.status == status and identity.holds == (status == "verified")
    assert pipeline._identity_data(identity)["status"] == status


def test_an_undecided_entry_with_a_disagreeing_witness_says_probably_false(monkeypatch):
    expression, wrt, claim = UNDECIDABLE
    monkeypatch.setattr(pipeline.numeric, "witness", lambda *args, **kwargs: _disagreeing())
    code, out, _ = run("check", expression, "--wrt", wrt, "--claim", claim, "--shape", "X=3x2")
    assert code == 3 and "REFUTED" not in out
    assert "the numeric witness disagrees at entry (2, 1)" in out
    assert "probably false, but no exact counterexample was found" in out


def test_a_witness_contradicting_an_exact_proof_is_an_internal_inconsistency(monkeypatch):
    # a fault injected into the witness: the exact check is right, so the two disagree
    monkeypatch.setattr(pipeline.numeric, "witness", lambda *args, **kwargs: _disagreeing())
    code, out, _ = run("check", "X @ W", "--wrt", "X", "--claim", "G @ W.T")
    assert code == 3, out
    assert "REFUTED" not in out and "VERIFIED" not in out
    assert "internal inconsistency: the exact check and the numeric witness disagree; please report it" in out
    code, out, _ = run("check", "X @ W", "--wrt", "X", "--claim", "G @ W.T", "--json")
    assert code == 3 and json.loads(out)["status"] == "undecided"


def test_a_derivation_is_refuted_if_any_identity_is_and_undecided_otherwise():
    r = derive(n=2, m=2, d=2)
    assert r.status == "verified" and r.report()["status"] == "verified"
    right = r.identities[-1]
    undecided = pipeline.Identity("gradient", "X", right.claim, right.statement,
                                  verify.Verdict(False, 1, "exact", UNDECIDED_ENTRY), None)
    refuted = pipeline.Identity("gradient", "X", right.claim, right.statement,
                                verify.Verdict(False, 1, "exact", DIFFERING_ENTRY), None)
    r.identities = [right, undecided]
    assert r.status == "undecided" and not r.verified
    r.identities = [right, undecided, refuted]
    assert r.status == "refuted" and not r.verified
    assert r.report()["status"] == "refuted"


def test_an_undecided_derivation_exits_3(tmp_path, monkeypatch):
    """A closed form the kernel cannot decide (made so by a rule that writes df/dX
    through sqrt(X * X) / X, equal to 1 only for positive X) is undecided."""
    from symderive.expr import Call, Hadamard, Power
    from symderive.rules import Rule, _RULES

    (identity_rule,) = _RULES["exp"]
    unsure = Rule("exp", 0, "df/dA = G * exp(A) * sqrt(A * A) * A ** -1", "test",
                  lambda G, node, shapes, out: Hadamard(Hadamard(Hadamard(G, Call("exp", node.argument)),
                                                                 Call("sqrt", Hadamard(node.argument, node.argument))),
                                                        Power(node.argument, Fraction(-1))),
                  identity_rule.entry_jacobian)
    monkeypatch.setitem(_RULES, "exp", (unsure,))
    code, out, _ = run("derive", "exp(X)", "--shape", "X=2x2", "--out", str(tmp_path))
    assert code == ExitStatus.UNDECIDED == 3, out
    assert "UNDECIDED" in out and "undecided" in out.splitlines()[-2]
    document = " ".join((tmp_path / "expX_X2x2.tex").read_text().split())
    assert "differs from the chain rule" not in document and "Not every identity holds" not in document
    assert "could not be decided exactly" in document and "Not every identity could be verified" in document
    code, out, _ = run("derive", "exp(X)", "--shape", "X=2x2", "--out", str(tmp_path), "--json")
    assert code == 3 and json.loads(out)["status"] == "undecided"


@pytest.mark.parametrize("command", [[], ["derive"], ["check"]])
def test_help_documents_exit_status_3(command, capsys):
    assert main([*command, "--help"]) == 0
    flat = " ".join(capsys.readouterr().out.split())  # argparse wraps lines where it likes
    assert re.search(r"\b3 undecided\b", flat), flat[-400:]
    assert re.search(r"\b1 refuted\b", flat) and "(or undecided)" not in flat


def test_readme_documents_exit_status_3():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert re.search(r"3 when [^.]*undecided", text)
    section = text.split('## What "verified" means', 1)[1].split("## ", 1)[0]
    assert "undecided" in section and "mpmath" in section and "internal inconsistency" in section


# ---------------------------------------------------------------------------
# Summaries that say each thing once, in the right words
# ---------------------------------------------------------------------------


def test_the_proven_line_names_the_matrix_differentiated_by():
    code, out, _ = run("check", "X @ W", "--wrt", "W", "--claim", "X.T @ G")
    assert code == 0
    (proven,) = [line for line in out.splitlines() if "PROVEN" in line]
    assert "df/dW" in proven and "df/dA" not in out


def test_a_refutation_names_its_entry_once():
    code, out, _ = run("check", "X @ W", "--wrt", "W", "--claim", "G @ X", "--shape", "X=3x3", "--shape", "W=3x3")
    assert code == 1
    # said once (the numeric witness may say where it disagrees, in its own words)
    assert out.count("entry (1, 1) differ") == 1, out
    assert "entry (1, 1) differs: derived" in out and " differ:" not in out
    # independently: df/dW_11 = sum_p X_p1 G_p1, the claim's (1, 1) entry sum_r G_1r X_r1
    (line,) = [line for line in out.splitlines() if "entry (1, 1) differ" in line]
    assert "X_11*G_11 + X_21*G_21 + X_31*G_31" in line.replace("G_11*X_11", "X_11*G_11")


def test_a_shape_refutation_says_shapes_differ_once():
    code, out, _ = run("check", "X @ W", "--wrt", "X", "--claim", "W.T", "--n", "3", "--m", "2", "--d", "4")
    assert code == 1
    assert "shapes compared" not in out
    assert out.count("shapes differ") == 1, out
    assert sum("4x2" in line for line in out.splitlines()) == 1, out


def test_the_kernel_says_shapes_differ_once():
    verdict = verify.equal_matrices(sympy.ones(2, 3), sympy.ones(3, 2), "test")
    assert not verdict.holds
    assert "shapes compared" not in verdict.method and verdict.method.endswith("shapes differ")
    assert f"{verdict.method} {verdict.reason}".count("shapes differ") == 1
    assert "2x3" in verdict.reason and "3x2" in verdict.reason


def test_a_failed_derivation_names_each_failing_entry_once(tmp_path, monkeypatch):
    from symderive.expr import MatMul
    from symderive.rules import Rule, _RULES

    left, right = _RULES["matmul"]
    broken = Rule("matmul", 1, "df/dB = A @ G", "test", lambda G, node, shapes, out: MatMul(node.left, G),
                  right.entry_jacobian)
    monkeypatch.setitem(_RULES, "matmul", (left, broken))
    code, out, _ = run("--n", "2", "--m", "2", "--d", "2", "--out", str(tmp_path))
    assert code == 1
    entries = [line for line in out.splitlines() if re.search(r"entry \(\d+, \d+\) differ", line)]
    assert len(entries) == 1 and "differs: derived" in entries[0], out


def test_a_wrong_index_formula_names_its_index_tuple_once(tmp_path, monkeypatch):
    from symderive.rules import Rule, _RULES

    left, right = _RULES["matmul"]
    # dY_pq/dX_ij = delta_pi W_jq, with the indices of W swapped: W_qj
    wrong = Rule(left.operation, left.argument, left.identity, left.source, left.vjp,
                 lambda p, q, i, j, A, B: sympy.KroneckerDelta(p, i) * B[q, j])
    monkeypatch.setitem(_RULES, "matmul", (wrong, right))
    code, out, _ = run("--n", "2", "--m", "2", "--d", "2", "--out", str(tmp_path))
    assert code == 1
    tuples = [line for line in out.splitlines() if re.search(r"\(\d+, \d+, \d+, \d+\)", line)]
    assert len(tuples) == 1 and "differs: derived" in tuples[0], out
