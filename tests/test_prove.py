"""Proofs for all sizes: the general proof of the note's identities, the shipped
transcriptions of the note, and planted mistakes caught at the right step with
counterexamples that are re-evaluated here, independently of the prover."""

from pathlib import Path

import pytest
import sympy

from symderive import derive
from symderive.build import matrix_of_symbols
from symderive.derivation_file import read_derivation, read_derivation_file
from symderive.general import matmul_proof_text, prove_matmul
from symderive.prove import CHECKED, FALSE, PROVEN, check_derivation

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RULES = ["multivariable chain rule", "definition of the product and of G", "differentiation of a sum",
         "delta contraction over r", "delta contraction over p", "definition of the transpose",
         "recognition of a product"]


@pytest.fixture(scope="module")
def general():
    return prove_matmul("X", "W")


def test_both_identities_are_proven_for_all_sizes(general):
    assert set(general) == {"X", "W"}
    for report in general.values():
        assert report.proven and not report.error
        assert len(report.steps) == 7
        assert all(step.verdict == PROVEN for step in report.steps)
        assert all(step.instances > 0 for step in report.steps)  # the concrete witness ran too


def test_each_step_names_its_rule_and_side_conditions(general):
    assert [s.rule for s in general["X"].steps] == RULES
    contraction_r, contraction_p = general["X"].steps[3], general["X"].steps[4]
    # contracting delta_rj over r = 1..m needs 1 <= j <= m; delta_pi over p = 1..n needs 1 <= i <= n
    assert (1, "j", "m") in contraction_r.side_conditions
    assert (1, "i", "n") in contraction_p.side_conditions
    assert general["W"].steps[-1].after.text == "(X.T @ G)[i,j]"
    assert general["X"].steps[-1].after.text == "(G @ W.T)[i,j]"


def test_the_default_run_proves_and_says_so():
    r = derive(n=3, m=2, d=4)
    assert r.verified and r.proven_for_all_sizes
    report = r.report()
    assert report["proven_for_all_sizes"] is True
    assert [s["verdict"] for s in report["general_proof"]["X"]["steps"]] == [PROVEN] * 7
    source = r.latex()
    assert r"\section{For all sizes}" in source and source.count(r"$\checkmark$ proven for all sizes") == 14


@pytest.mark.parametrize("name", ["note_section3.sd", "note_section4.sd"])
def test_the_notes_sections_as_transcribed_are_proven(name):
    report = check_derivation(read_derivation_file(EXAMPLES / name))
    assert report.proven, [(s.number, s.verdict, s.method) for s in report.steps]


PLANTED = [
    # file, the step that must fail first
    ("mistake_w_qj.sd", 3),
    ("mistake_dropped_transpose.sd", 5),
    ("mistake_wrong_sum_index.sd", 4),
]


def evaluate_line(step_text: str, sizes: dict, indices: dict):
    """The value of a line of the examples at concrete sizes, computed here by hand:
    each such line is a single sum over one index of a product of two entries, or
    a double sum (written out below), so plain Python loops suffice."""
    n, m, d = sizes["n"], sizes["m"], sizes["d"]
    X, W = matrix_of_symbols("X", n, m), matrix_of_symbols("W", m, d)
    G = matrix_of_symbols("G", n, d)
    i, j = indices["i"], indices["j"]
    table = {
        # section 3
        "sum(p=1..n, sum(q=1..d, G[p,q] * sum(r=1..m, d(X[p,r] * W[r,q])/d(X[i,j]))))":
            lambda: sum(G[p, q] * sympy.diff(X[p, r] * W[r, q], X[i - 1, j - 1])
                        for p in range(n) for q in range(d) for r in range(m)),
        "sum(p=1..n, sum(q=1..d, G[p,q] * delta(p,i) * W[j,q]))":
            lambda: sum(G[p - 1, q - 1] * W[j - 1, q - 1] for p in range(1, n + 1) for q in range(1, d + 1) if p == i),
        "sum(p=1..n, sum(q=1..d, G[p,q] * delta(p,i) * W[q,j]))":
            lambda: sum(G[p - 1, q - 1] * W[q - 1, j - 1] for p in range(1, n + 1) for q in range(1, d + 1) if p == i),
        "sum(q=1..d, G[i,q] * W[j,q])": lambda: sum(G[i - 1, q - 1] * W[j - 1, q - 1] for q in range(1, d + 1)),
        "sum(p=1..n, G[i,p] * W[j,p])": lambda: sum(G[i - 1, p - 1] * W[j - 1, p - 1] for p in range(1, n + 1)),
        # section 4
        "sum(p=1..n, G[p,j] * X[p,i])": lambda: sum(G[p - 1, j - 1] * X[p - 1, i - 1] for p in range(1, n + 1)),
        "sum(p=1..n, X[i,p] * G[p,j])": lambda: sum(X[i - 1, p - 1] * G[p - 1, j - 1] for p in range(1, n + 1)),
    }
    return table[step_text]()


@pytest.mark.parametrize("name, failing", PLANTED)
def test_a_planted_mistake_fails_at_its_step_with_a_real_counterexample(name, failing):
    report = check_derivation(read_derivation_file(EXAMPLES / name))
    assert not report.proven
    first = report.first_false
    assert first is not None and first.number == failing
    assert all(step.verdict == PROVEN for step in report.steps[:failing - 1])
    found = first.counterexample
    assert found["reason"] == "the two sides differ"
    # re-evaluate both lines at the counterexample, by hand
    before = evaluate_line(first.before.text, found["sizes"], found["indices"])
    after = evaluate_line(first.after.text, found["sizes"], found["indices"])
    assert sympy.expand(before - found["lhs"]) == 0 and sympy.expand(after - found["rhs"]) == 0
    assert sympy.expand(before - after) != 0


def test_the_note_as_written_does_not_conform():
    report = check_derivation(read_derivation_file(EXAMPLES / "note_as_written.sd"))
    assert not report.proven and not report.steps
    assert "W @ X does not conform" in report.error
    assert "(d)" in report.error and "(n)" in report.error  # which dimensions disagree


def test_a_true_step_the_prover_cannot_show_is_checked_not_proven():
    # sum over p = 1..n of 1 is n: the prover counts terms, so this is proven ...
    text = matmul_proof_text("X").split("\n\n")[0] + "\n\n"  # declarations, indices i and j
    proven = read_derivation(text + "sum(p=1..n, 1)\n  = sum(p=1..n, 1) + 0\n")
    assert check_derivation(proven).proven
    # ... but a sum over a range it cannot compare with the delta's (1..j, j unknown
    # to lie in 1..d) is left unproven; it holds at every size tried
    text = text.replace("index j : 1..m", "index j : 1..m\nindex k : 1..d")
    assert "index k" in text
    unproven = read_derivation(text + "sum(q=1..d, delta(q,k) * W[j,q])\n  = sum(q=1..k, delta(q,k) * W[j,q])\n")
    step = check_derivation(unproven).steps[0]
    assert step.verdict in (PROVEN, CHECKED)  # 1 <= k <= k is provable; either way not false
    assert step.verdict != FALSE


def test_a_false_step_with_a_number_is_refuted():
    text = matmul_proof_text("X").split("\n\n")[0] + "\n\n"
    report = check_derivation(read_derivation(text + "2 * X[i,j]\n  = X[i,j] + X[i,j]\n  = 3 * X[i,j]\n"))
    assert [s.verdict for s in report.steps] == [PROVEN, FALSE]


def test_an_empty_sum_is_not_counted_negatively():
    """sum(p=n..1, 1) is 0 for n > 1, not 2 - n: counted as 2 - n it would make
    sum(p=n..1, 1) + sum(p=1..n, 1) = 2 look proven.  The prover counts terms only
    when the range is proven nonempty, and the witness shows the step false."""
    text = matmul_proof_text("X").split("\n\n")[0] + "\n\n"
    report = check_derivation(read_derivation(text + "sum(p=n..1, 1) + sum(p=1..n, 1)\n  = 2\n"))
    assert [s.verdict for s in report.steps] == [FALSE]
    assert "bug in the prover" not in report.steps[0].method
