"""Every rule of the table is a lemma in index notation, proven for all sizes, and a
mutated rule is refuted: the lemma table checks the rule table, not itself."""

from dataclasses import replace
from fractions import Fraction

import pytest

from symderive import lemmas, rules
from symderive.expr import Hadamard, Transpose
from symderive.prove import CHECKED, FALSE, PROVEN

NONE2 = ((None, None), (None, None))
ROW, COLUMN = ((None, None), (1, None)), ((None, None), (None, 1))
LEFT_ROW = ((1, None), (None, None))

CASES = [  # (operation, argument, broadcast classes, parameter)
    ("matmul", 0, (), None), ("matmul", 1, (), None),
    ("add", 0, NONE2, None), ("add", 1, NONE2, None), ("add", 1, ROW, None), ("add", 1, COLUMN, None),
    ("add", 0, LEFT_ROW, None), ("sub", 0, NONE2, None), ("sub", 1, ROW, None), ("sub", 1, COLUMN, None),
    ("hadamard", 0, NONE2, None), ("hadamard", 1, NONE2, None), ("hadamard", 1, ROW, None),
    ("hadamard", 0, COLUMN, None), ("div", 0, (), Fraction(2)), ("power", 0, (), Fraction(2)),
    ("power", 0, (), Fraction(3)), ("power", 0, (), Fraction(1, 2)), ("power", 0, (), Fraction(-1)),
    ("neg", 0, (), None), ("transpose", 0, (), None),
    ("exp", 0, (), None), ("log", 0, (), None), ("tanh", 0, (), None), ("sigmoid", 0, (), None),
    ("sin", 0, (), None), ("cos", 0, (), None), ("sqrt", 0, (), None),
    ("trace", 0, (), None), ("sum", 0, (), None),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}")
def test_each_rule_is_proven_for_all_sizes(case):
    lemma = lemmas._lemma(*case)
    assert lemma.proven, (lemma.statement, lemma.verdict, lemma.report.error)
    assert all(step.verdict == PROVEN for step in lemma.report.steps)


def test_the_product_rule_is_the_seed_note_s_proof():
    for argument, last in ((0, "(G @ B.T)[i,j]"), (1, "(A.T @ G)[i,j]")):
        lemma = lemmas._lemma("matmul", argument, (), None)
        # the note's seven steps, then the table's rule as the eighth
        assert len(lemma.report.steps) == 8 and lemma.report.steps[-2].after.text == last


@pytest.mark.parametrize("operation", ["inv", "det"])
def test_inverse_and_determinant_are_checked_not_proven(operation):
    lemma = lemmas._lemma(operation, 0, (), None)
    assert not lemma.proven and lemma.report.steps[0].verdict == CHECKED
    assert lemma.report.steps[0].coverage.complete


MUTATIONS = {  # a plausible wrong rule for each operation
    "matmul": lambda G, node, shapes, out: Hadamard(rules.Number(Fraction(2)), rules.MatMul(G, Transpose(node.children()[1]))),
    "hadamard": lambda G, node, shapes, out: Hadamard(G, node.children()[0]),
    "tanh": lambda G, node, shapes, out: Hadamard(G, rules.Sub(rules.ONE, rules.Call("tanh", node.argument))),
    "sigmoid": lambda G, node, shapes, out: Hadamard(G, rules.Call("sigmoid", node.argument)),
    "transpose": lambda G, node, shapes, out: G,
}


@pytest.mark.parametrize("operation", sorted(MUTATIONS))
def test_a_mutated_rule_is_refuted(operation, monkeypatch):
    original = rules._RULES[operation]
    mutated = (replace(original[0], vjp=MUTATIONS[operation]),) + original[1:]
    monkeypatch.setitem(rules._RULES, operation, mutated)
    lemmas._lemma.cache_clear()
    try:
        classes = NONE2 if operation == "hadamard" else ()
        lemma = lemmas._lemma(operation, 0, classes, None)
        assert not lemma.proven
        assert lemma.report.error or lemma.report.steps[-1].verdict == FALSE
    finally:
        lemmas._lemma.cache_clear()


def test_lemma_data_names_the_rule_and_its_proof():
    data = lemmas._lemma("tanh", 0, (), None).data()
    assert data["proven_for_all_sizes"] is True and data["proof"]["steps"][0]["verdict"] == PROVEN
    assert "tanh" in data["statement"] and data["rule"].startswith("Y = tanh(A)")


@pytest.mark.parametrize("case", CASES + [("inv", 0, (), None), ("det", 0, (), None)],
                         ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}")
def test_each_lemma_mutated_is_refuted(case, monkeypatch):
    """Every rule, its result doubled: the lemma must be refuted with a counterexample."""
    operation, argument = case[0], case[1]
    original = rules._RULES[operation]
    rule = original[argument]
    doubled = replace(rule, vjp=lambda G, node, shapes, out, vjp=rule.vjp:
                      Hadamard(rules.Number(Fraction(2)), vjp(G, node, shapes, out)))
    monkeypatch.setitem(rules._RULES, operation, original[:argument] + (doubled,) + original[argument + 1:])
    lemmas._lemma.cache_clear()
    try:
        lemma = lemmas._lemma(*case)
        assert not lemma.proven
        step = lemma.report.steps[-1]
        assert step.verdict == FALSE and step.counterexample["reason"] == "the two sides differ"
    finally:
        lemmas._lemma.cache_clear()
