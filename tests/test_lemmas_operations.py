"""The operations of issue #13 (relu, softmax, axis reductions, norm, division by a
matrix, exact constants): each rule of the table is a lemma proven for all sizes by
the prover, and a plausible wrong rule is refuted by the concrete witness."""

import copy
import re
from dataclasses import replace
from fractions import Fraction

import pytest
import sympy

from symderive import backward, lemmas, network, rules
from symderive.derivation_file import read_derivation
from symderive.parse import ParseError
from symderive.expr import Along, Div, Hadamard, Name, Number, Power
from symderive.index import (Declarations, Delta, Derivation, Derivative, Entry, Neg as INeg, Plus, Step,
                             Times)
from symderive.parse import parse
from symderive.program import read_program
from symderive.prove import FALSE, PROVEN, check_derivation

NONE2 = ((None, None), (None, None))
ROW, COLUMN, SCALAR = ((None, None), (1, None)), ((None, None), (None, 1)), ((None, None), (1, 1))
LEFT_ROW = ((1, None), (None, None))

NEW_CASES = [  # (operation, argument, broadcast classes, parameter)
    ("relu", 0, (), None), ("abs", 0, (), None), ("step", 0, (), None), ("sign", 0, (), None),
    ("leaky_relu", 0, (), Fraction(1, 10)),
    ("mean", 0, (), None), ("softmax", 0, (), None), ("log_softmax", 0, (), None), ("logsumexp", 0, (), None),
    ("norm", 0, (), None),
    *[(f"{f}_axis{k}", 0, (), None) for f in ("sum", "mean", "softmax", "log_softmax", "logsumexp")
      for k in (0, 1)],
    ("div", 0, NONE2, None), ("div", 1, NONE2, None), ("div", 0, ROW, None), ("div", 1, ROW, None),
    ("div", 0, COLUMN, None), ("div", 1, COLUMN, None), ("div", 1, SCALAR, None), ("div", 0, LEFT_ROW, None),
    ("div", 0, (), sympy.sqrt(2)), ("div", 0, (), 1 / sympy.sqrt(sympy.Symbol("d", integer=True, positive=True))),
    ("div", 0, (), sympy.pi),
]


def _mutated(operation, argument, vjp, monkeypatch):
    """The lemma of ``operation`` with its rule for ``argument`` replaced by ``vjp``."""
    original = rules._RULES[operation]
    wrong = replace(original[argument], vjp=vjp)
    monkeypatch.setitem(rules._RULES, operation, original[:argument] + (wrong,) + original[argument + 1:])
    lemmas._lemma.cache_clear()


@pytest.fixture
def fresh_lemmas():
    lemmas._lemma.cache_clear()
    yield
    lemmas._lemma.cache_clear()


def _refuted(lemma) -> bool:
    step = lemma.report.steps[-1]
    return (not lemma.proven and step.verdict == FALSE and step.counterexample is not None
            and step.counterexample["reason"] == "the two sides differ")


def _case_id(case):
    operation, argument, classes, parameter = case
    return f"{operation}-{argument}-{classes}-{parameter}"


@pytest.mark.parametrize("case", NEW_CASES, ids=_case_id)
def test_each_new_rule_is_a_lemma_proven_for_all_sizes(case):
    lemma = lemmas._lemma(*case)
    assert lemma.proven, (lemma.statement, lemma.verdict, lemma.report.error)
    assert all(step.verdict == PROVEN for step in lemma.report.steps)
    assert lemma.report.steps[-1].coverage.complete  # the witness evaluated every instance up to K


def _doubled(rule):
    return lambda G, node, shapes, out: Hadamard(Number(Fraction(2)), rule.vjp(G, node, shapes, out))


@pytest.mark.parametrize("case", NEW_CASES, ids=_case_id)
def test_each_new_rule_mutated_is_refuted(case, monkeypatch, fresh_lemmas):
    """Doubled (for step and sign, whose rule is 0, the claim df/dA = G): a
    counterexample at concrete sizes, never "proven"."""
    operation, argument = case[0], case[1]
    rule = rules._RULES[operation][argument]
    wrong = (lambda G, node, shapes, out: G) if operation in ("step", "sign") else _doubled(rule)
    _mutated(operation, argument, wrong, monkeypatch)
    assert _refuted(lemmas._lemma(*case))


@pytest.mark.parametrize("operation", ["softmax", "softmax_axis0", "softmax_axis1"])
def test_softmax_s_gradient_taken_as_its_diagonal_only_is_refuted(operation, monkeypatch, fresh_lemmas):
    # S * G keeps dS_pq/dZ_pq = S_pq (1 - S_pq) and drops the rest of the Jacobian (and the -S_pq^2)
    _mutated(operation, 0, lambda G, node, shapes, out: Hadamard(node, G), monkeypatch)
    assert _refuted(lemmas._lemma(operation, 0, (), None))


@pytest.mark.parametrize("operation, axis", [("mean", None), ("mean_axis0", 0), ("mean_axis1", 1)])
def test_a_mean_without_its_one_over_n_is_refuted(operation, axis, monkeypatch, fresh_lemmas):
    _mutated(operation, 0, lambda G, node, shapes, out: rules._spread(G, shapes[0], axis), monkeypatch)
    assert _refuted(lemmas._lemma(operation, 0, (), None))


def test_a_division_rule_with_the_wrong_sign_is_refuted(monkeypatch, fresh_lemmas):
    _mutated("div", 1, lambda G, node, shapes, out: rules._reduce_to(
        Div(Hadamard(G, node.left), Power(node.right, Fraction(2))), shapes[1], out), monkeypatch)
    assert _refuted(lemmas._lemma("div", 1, ROW, None))


@pytest.mark.parametrize("operation", ["relu", "abs", "leaky_relu", "step", "sign"])
def test_a_kinked_lemma_says_where_it_holds(operation):
    lemma = lemmas._lemma(operation, 0, (), Fraction(1, 10) if operation == "leaky_relu" else None)
    assert "where every entry of A is nonzero" in lemma.statement and f"{operation} " in lemma.domain
    assert lemma.data()["domain"] == lemma.domain


def test_a_smooth_lemma_claims_no_domain_and_a_count_is_never_zero():
    assert lemmas._lemma("softmax_axis1", 0, (), None).domain == ""
    mean = lemmas._lemma("mean", 0, (), None)
    assert mean.domain == "" and "(m*n)" in str(mean.claim)  # 1/(n m): a count of entries, positive
    assert "where every entry of B is nonzero" in lemmas._lemma("div", 0, NONE2, None).statement


def test_the_leaky_relu_slope_is_readable_in_the_lemma():
    lemma = lemmas._lemma("leaky_relu", 0, (), Fraction(1, 10))
    assert lemma.name == "leaky_relu (1/10)" and "leaky_relu(A, (1/10))" in lemma.statement


# --- softmax's Jacobian, entry by entry, as an index-notation derivation -----------

def _softmax_jacobian(claim):
    """d(S[p,q])/d(Z[i,j]) = claim for S = softmax(Z, axis=1), Z: n x m."""
    decl = Declarations(sizes=["n", "m"], shapes={"Z": ("n", "m")},
                        defined={"S": Along("softmax", Name("Z"), 1)},
                        ranges={"p": (1, "n"), "q": (1, "m"), "i": (1, "n"), "j": (1, "m")})
    before = Derivative(Entry(Name("S"), "p", "q"), Entry(Name("Z"), "i", "j"))
    return check_derivation(Derivation(decl, [Step(before, "", 0, "d(S[p,q])/d(Z[i,j])"),
                                              Step(claim, "the softmax Jacobian", 0, "")], "softmax"))


S = Name("S")


def test_softmax_s_jacobian_entry_is_proven_for_all_sizes():
    # delta_pi S_pq (delta_qj - S_pj)
    claim = Times((Delta("p", "i"), Entry(S, "p", "q"), Plus((Delta("q", "j"), INeg(Entry(S, "p", "j"))))))
    report = _softmax_jacobian(claim)
    assert report.proven, report.steps[0].method
    assert report.steps[0].coverage.complete


@pytest.mark.parametrize("claim", [
    Times((Delta("p", "i"), Delta("q", "j"), Entry(S, "p", "q"))),  # the diagonal only
    Times((Entry(S, "p", "q"), Plus((Delta("q", "j"), INeg(Entry(S, "p", "j")))))),  # no delta_pi
], ids=["diagonal-only", "rows-mixed"])
def test_a_wrong_softmax_jacobian_is_refuted(claim):
    step = _softmax_jacobian(claim).steps[0]
    assert step.verdict == FALSE and step.counterexample["reason"] == "the two sides differ"


# --- programs: backward steps proven at symbolic shapes ---------------------------

MSE = "X : n x m\nW : m x k\nT : n x k\nZ = X @ W\nL = mean((Z - T)**2)\n"
CROSS_ENTROPY = "Z : n x k\nT : n x k\nL = -sum(T * log_softmax(Z, axis=1))\n"
# a function of a matrix expression (relu of X @ W1 + b), read through an opaque entry
MLP = ("X : n x m\nW1 : m x h\nb : 1 x h\nW2 : h x k\nT : n x k\nH = relu(X @ W1 + b)\nZ = H @ W2\n"
       "L = -sum(T * log_softmax(Z, axis=1))\n")
# the column of an n x 1 matrix: its index ranges over 1..1, and is 1
LAYER_NORM = "X : n x m\nmu = mean(X, axis=1)\nC = X - mu\nv = mean(C**2, axis=1)\nY = C / sqrt(v + 1/1000)\n"


@pytest.mark.parametrize("text, sizes", [(MSE, {"n": 4, "m": 3, "k": 2}), (CROSS_ENTROPY, {"n": 3, "k": 4}),
                                         (MLP, {"n": 2, "m": 2, "h": 3, "k": 2}), (LAYER_NORM, {"n": 2, "m": 3})],
                         ids=["mean-squared-error", "cross-entropy", "mlp-relu", "layer-norm"])
def test_programs_with_the_new_operations_are_proven_for_all_sizes(text, sizes):
    derived = network.derive_program(text, sizes=sizes)
    assert derived.proven_for_all_sizes
    assert derived.local_checks and all(check.verdict.holds for check in derived.local_checks)


def test_the_mean_squared_error_is_proven_with_its_count_as_sizes():
    derived = network.derive_program(MSE, sizes={"n": 4, "m": 3, "k": 2})
    step = next(s for s in derived.backward.steps if (s.step, s.argument) == ("L", "Z"))
    assert str(step.contribution) == "(1/4) * (Z - T)"  # 2 / (4 * 2) at these sizes
    assert "(k*n)" in str(step.symbolic_contribution) and step.proven  # 2 / (n k) for all sizes


def test_a_wrong_contribution_of_a_new_operation_is_not_proven():
    """The proof is of the contribution shown: a wrong one (a dropped transpose, at
    square sizes; a mean's 1/n forgotten) is refuted, not replaced by the table's."""
    program = read_program(MSE)
    concrete = {"X": (3, 3), "W": (3, 3), "T": (3, 3), "Z": (3, 3), "L": (1, 1)}
    square = {name: (1, 1) if name == "L" else ("n", "n") for name in concrete}
    bp = backward.backward_pass(program, concrete, None)
    for (step_name, argument), wrong in {("Z", "X"): "dZ @ W", ("L", "Z"): "2 * (Z - T)"}.items():
        step = next(s for s in bp.steps if (s.step, s.argument) == (step_name, argument))
        right = copy.copy(step)
        step.contribution = parse(wrong)
        definition = program.definitions()[step_name]
        backward._prove_step(right, definition, square, ["n"], step_name == "L", concrete)
        backward._prove_step(step, definition, square, ["n"], step_name == "L", concrete)
        assert right.proven and not step.proven
        assert step.proof.steps[0].verdict == FALSE, (step_name, step.proof_error)


SOFTMAX_FILE = """title softmax's Jacobian
sizes n m
matrix Z : n x m
matrix S = softmax(Z, axis=1)
index p : 1..n
index q : 1..m
index i : 1..n
index j : 1..m

d(S[p,q])/d(Z[i,j])
  = delta(p,i) * S[p,q] * (delta(q,j) - S[p,j])   # by the softmax Jacobian
"""


def test_softmax_s_jacobian_is_proven_from_a_derivation_file():
    assert check_derivation(read_derivation(SOFTMAX_FILE)).proven
    diagonal = SOFTMAX_FILE.replace("(delta(q,j) - S[p,j])", "delta(q,j)")
    assert check_derivation(read_derivation(diagonal)).steps[0].verdict == FALSE


@pytest.mark.parametrize("written, message", [
    ("matrix S = relu(Z, axis=1)", "relu takes no axis"),
    ("matrix S = softmax(Z, axis=2)", "the axis is 0 (each column) or 1 (each row)"),
    ("matrix S = softmax(Z", "this '(' is never closed"),
])
def test_a_function_in_a_derivation_file_is_read_exactly(written, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        read_derivation(SOFTMAX_FILE.replace("matrix S = softmax(Z, axis=1)", written))
