"""SymEngine and SymPy give identical derivations: every polynomial expression is
derived both ways and compared entry by entry."""

from unittest import mock

import pytest
import sympy

from symderive import derive, engine
from symderive.parse import parse

pytestmark = pytest.mark.skipif(not engine.available(),
                                reason="symengine is not installed (pip install symengine); "
                                       "without it every derivation runs on SymPy and there is nothing to compare")

POLYNOMIAL = [
    ("X @ W", {"X": (3, 2), "W": (2, 4)}),
    ("X.T @ X", {"X": (3, 2)}),
    ("(X @ W + b) * V - 2 * X @ W / 3", {"X": (3, 2), "W": (2, 4), "b": (1, 4)}),
    ("(X @ W) ** 2", {"X": (2, 3), "W": (3, 2)}),
    ("trace(X @ A)", {"X": (2, 3)}),  # trace is not polynomial in the engine's sense: SymPy both times
]


def both(expression, shapes):
    fast = derive(expression, shapes=shapes)
    with mock.patch.object(engine, "symengine", None):
        slow = derive(expression, shapes=shapes)
    return fast, slow


@pytest.mark.parametrize("expression, shapes", POLYNOMIAL, ids=[e for e, _ in POLYNOMIAL])
def test_both_engines_agree_exactly(expression, shapes):
    fast, slow = both(expression, shapes)
    assert slow.engine == engine.SYMPY
    assert fast.verified and slow.verified
    assert fast.closed_form_trees == slow.closed_form_trees
    for name in slow.gradients:
        assert isinstance(fast.gradients[name], sympy.ImmutableMatrix)
        assert (fast.gradients[name] - slow.gradients[name]).expand() == sympy.zeros(*slow.gradients[name].shape)
        a, b = fast.jacobians[name], slow.jacobians[name]
        assert a.entries.keys() == b.entries.keys()
        assert all(sympy.expand(engine.to_sympy(a.entries[k]) - b.entries[k]) == 0 for k in b.entries)
    assert fast.inputs == slow.inputs
    # SymEngine keeps entrywise products expanded (so that they differentiate in one
    # pass); the values are the same
    assert (fast.output - slow.output).expand() == sympy.zeros(*slow.output.shape)


def test_the_engine_is_chosen_by_the_expression():
    assert engine.engine_for(parse("X @ W + 2 * V")) == engine.SYMENGINE
    assert engine.engine_for(parse("tanh(X @ W)")) == engine.SYMPY
    assert engine.engine_for(parse("X ** -1")) == engine.SYMPY
    assert derive(n=3, m=2, d=4).engine == engine.SYMENGINE


def test_documents_are_the_same_from_either_engine():
    fast, slow = both("X @ W", {"X": (3, 2), "W": (2, 4)})
    assert fast.latex() == slow.latex()
