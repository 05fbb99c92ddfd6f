"""The prover never says "proven" for a false step, and says exactly what it checked.

Each test here was written against a way the prover once went wrong:

- the upstream gradient G (= df/dY) was treated as a constant under a second
  derivative, so d(G)/dX = 0 and d(df/dY)/dY = 0 were "proven" (f = |Y|^2 / 2
  refutes both: d(df/dY_pq)/dY_rs = delta_pr delta_qs);
- a delta contraction dropped the range of the contracted index when another
  sum's bound depended on it;
- the concrete witness sampled 27 size assignments and 64 index tuples, yet the
  report said "checked for all sizes up to K".
"""

from __future__ import annotations

import itertools
import json

import pytest

from symderive.cli import main
from symderive.derivation_file import read_derivation
from symderive.parse import ParseError
from symderive.prove import CHECKED, FALSE, PROVEN, check_derivation

HEADER = """\
sizes n m d
matrix X : n x m
matrix W : m x d
matrix Y = X @ W
upstream G of Y
index i : 1..n
index j : 1..m
index k : 1..n
index l : 1..m
index p : 1..n
index q : 1..d
index r : 1..n
index s : 1..d
"""


def report_of(chain: str, header: str = HEADER, k: int = 3):
    return check_derivation(read_derivation(header + "\n" + chain + "\n"), k=k)


# --- the upstream gradient is not a constant -------------------------------

SECOND_DERIVATIVES = [
    "d(d(f)/d(Y[p,q]))/d(Y[r,s])\n  = 0",
    "d(d(f)/d(X[i,j]))/d(X[k,l])\n  = 0",
    "d(G[p,q])/d(X[i,j])\n  = 0",
    "d(G[p,q] * X[i,j])/d(X[i,j])\n  = G[p,q]",  # true only if G did not depend on X
    "d(X[i,j])/d(G[p,q])\n  = 0",  # G is a function of Y, not an independent variable
    "d(f)/d(G[p,q])\n  = 0",
]


@pytest.mark.parametrize("chain", SECOND_DERIVATIVES)
def test_a_derivative_of_the_upstream_gradient_is_refused_not_proven(chain):
    try:
        report = report_of(chain)
    except ParseError as refused:  # a derivative *by* G is refused as the file is read
        assert "upstream gradient" in str(refused) and "by" in chain.split("/")[-1] + "by"
        return
    assert not report.proven
    assert all(step.verdict != PROVEN for step in report.steps)
    assert "upstream" in report.error and "not determined by the chain rule" in report.error


def test_the_refusal_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "second.sd"
    path.write_text(HEADER + "\nd(d(f)/d(Y[p,q]))/d(Y[r,s])\n  = 0\n", encoding="utf-8")
    assert main(["prove", str(path)]) == 2
    captured = capsys.readouterr()
    assert "not determined by the chain rule" in captured.out + captured.err


def test_a_counterexample_to_the_refused_steps_exists():
    """Why refusing is right: for f = |Y|^2 / 2, df/dY = Y, whose derivative by
    Y_pq is 1 at (p, q), not 0 (computed here independently of symderive)."""
    import sympy

    y = sympy.symbols("y11 y12 y21 y22")
    f = sum(v ** 2 for v in y) / 2
    grad = [sympy.diff(f, v) for v in y]
    assert sympy.diff(grad[0], y[0]) == 1


# --- delta contraction keeps every range it removes ------------------------

DEPENDENT = """\
sizes n m
matrix X : n x m
index k : 1..n
"""


def test_a_contraction_under_a_dependent_bound_is_not_proven_when_false():
    chain = ("sum(r=4..n, sum(s=4..r, delta(r,s) * X[s,1]))\n"
             "  = sum(r=4..k, sum(s=4..r, delta(r,s) * X[s,1]))")
    report = report_of(chain, DEPENDENT)
    assert report.steps[0].verdict != PROVEN
    # at sizes up to 3 both sums are empty; at 5 the witness finds n = 5, k = 4
    report = report_of(chain, DEPENDENT, k=5)
    step = report.steps[0]
    assert step.verdict == FALSE
    found = step.counterexample
    assert found["sizes"]["n"] >= 4 and found["lhs"] != found["rhs"]


def test_a_contraction_under_a_dependent_bound_is_proven_when_true():
    chain = ("sum(r=1..n, sum(s=1..r, delta(r,s) * X[s,s]))\n"
             "  = sum(s=1..n, X[s,s])")
    report = report_of(chain, "sizes n\nmatrix X : n x n\n")
    assert report.steps[0].verdict == PROVEN, report.steps[0].method


def test_a_contraction_with_an_index_outside_the_range_keeps_the_condition():
    """sum_r=2..n delta(r,k) X[r,1] is X[k,1] only when k >= 2: not X[k,1] for all k."""
    report = report_of("sum(r=2..n, delta(r,k) * X[r,1])\n  = X[k,1]", DEPENDENT)
    step = report.steps[0]
    assert step.verdict == FALSE and step.counterexample["indices"]["k"] == 1


def test_a_contraction_with_a_kept_condition_is_proven_against_the_same_condition():
    chain = ("sum(r=2..n, delta(r,k) * X[r,1])\n"
             "  = sum(s=2..k, delta(s,k) * X[k,1])")  # both are [k >= 2] X[k,1]
    report = report_of(chain, DEPENDENT)
    assert report.steps[0].verdict == PROVEN, report.steps[0].method


def test_a_sum_of_a_dependent_count_is_not_taken_for_a_constant():
    # sum_{r=1..n} sum_{s=1..r} 1 = n(n+1)/2, not n^2
    report = report_of("sum(r=1..n, sum(s=1..r, 1))\n  = sum(r=1..n, sum(s=1..n, 1))", DEPENDENT)
    assert report.steps[0].verdict == FALSE


# --- coverage is exactly what was checked ----------------------------------

FIVE_SIZES = """\
sizes a b c e g
matrix X : a x b
"""


def test_every_size_assignment_and_index_tuple_up_to_k_is_checked():
    # false only where a >= 2, b = 3, c >= 2, e = 3, g >= 2: 8 of the 243 assignments
    chain = ("sum(p=2..a, sum(q=3..b, sum(r=2..c, sum(s=3..e, sum(t=2..g, 1)))))\n"
             "  = 0")
    report = report_of(chain, FIVE_SIZES)
    assert report.steps[0].verdict == FALSE
    # and a true step is evaluated at all 3^5 assignments
    report = report_of("sum(p=1..a, 1)\n  = sum(q=1..a, 1)", FIVE_SIZES)
    step = report.steps[0]
    assert step.coverage.sizes_checked == step.coverage.sizes_total == 3 ** 5
    assert step.coverage.complete


def test_every_index_tuple_is_counted():
    header = "sizes n m\nmatrix X : n x m\nindex i : 1..n\nindex j : 1..m\nindex k : 1..n\n"
    report = report_of("X[i,j] * delta(i,k)\n  = X[k,j] * delta(k,i)", header)
    step = report.steps[0]
    # sum over n, m in 1..3 of n * m * n index tuples
    expected = sum(n * m * n for n, m in itertools.product(range(1, 4), repeat=2))
    assert step.coverage.points_checked == step.coverage.points_total == expected
    assert step.instances == expected


def test_the_json_report_states_the_coverage(tmp_path, capsys):
    path = tmp_path / "cover.sd"
    path.write_text(DEPENDENT + "\nsum(r=1..n, X[r,1])\n  = sum(s=1..n, X[s,1])\n", encoding="utf-8")
    assert main(["prove", str(path), "--json", "--k", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    (step,) = data["steps"]
    assert data["k"] == 2
    assert step["coverage"] == {"k": 2, "sizes_checked": 4, "sizes_total": 4,
                                "points_checked": 1 + 1 + 2 + 2,  # k ranges over 1..n
                                "points_total": 6, "complete": True}


def test_the_general_proof_is_witnessed_at_every_size_assignment():
    from symderive.general import prove_matmul

    for report in prove_matmul("X", "W").values():
        for step in report.steps:
            assert step.coverage.sizes_checked == step.coverage.sizes_total == 27
            assert step.coverage.complete


def test_the_document_says_what_the_witness_covered():
    from symderive import derive

    source = derive(n=2, m=2, d=2).latex()
    assert "every one of the 27 assignments of the sizes" in source


def test_an_unchecked_step_does_not_claim_coverage():
    assert CHECKED != PROVEN  # the verdict names stay distinct


def test_prove_exits_3_for_a_step_checked_but_not_proven(tmp_path, capsys):
    """Not proven is not false: no counterexample, so exit 3 (undecided), not 1."""
    path = tmp_path / "checked.sd"
    # equal at every size up to K = 3 (the extra sum is empty there), false at k = 5: the
    # prover cannot prove it, the witness finds no counterexample, so it is undecided
    path.write_text(DEPENDENT + "\nsum(r=4..n, X[r,1])\n  = sum(r=4..n, X[r,1]) + sum(r=5..k, X[r,1])\n",
                    encoding="utf-8")
    code = main(["prove", str(path)])
    out = capsys.readouterr().out
    assert code == 3 and "not proven" in out and "FALSE" not in out
