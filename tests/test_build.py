"""Symbol matrices are named as the note names them, unambiguously."""

import pytest
import sympy

from symderive.build import entry_indices, matrix_of_symbols
from symderive.render import MathPrinter


def test_small_matrices_join_their_indices():
    X = matrix_of_symbols("X", 3, 2)
    assert X.shape == (3, 2)
    assert [str(s) for s in X] == ["X_11", "X_12", "X_21", "X_22", "X_31", "X_32"]


def test_indices_that_reach_ten_are_separated():
    X = matrix_of_symbols("X", 11, 2)
    assert str(X[9, 0]) == "X_10,1"
    assert str(X[0, 1]) == "X_1,2"  # the whole matrix follows one rule
    assert MathPrinter().doprint(X[9, 0]) == "X_{10,1}"


def test_no_two_entries_share_a_name():
    X = matrix_of_symbols("X", 12, 12)
    assert len({s.name for s in X}) == 144  # X_1,11 and X_11,1 stay apart


@pytest.mark.parametrize("rows, cols", [(3, 2), (10, 1), (1, 12), (12, 12)])
def test_names_can_be_read_back(rows, cols):
    X = matrix_of_symbols("W1", rows, cols)
    for i in range(rows):
        for j in range(cols):
            assert entry_indices(X[i, j]) == ("W1", i + 1, j + 1)


def test_entries_are_plain_symbols_the_same_in_both_engines():
    # no assumptions: a SymEngine symbol of the same name converts to the very same SymPy symbol
    assert all(s == sympy.Symbol(s.name) for s in matrix_of_symbols("W", 2, 2))
    assert entry_indices(sympy.Symbol("x")) is None
