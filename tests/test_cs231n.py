"""The (2, 2, 3) case against J. Johnson's CS231n handout "Backpropagation for a
Linear Layer", which writes out every entry for X: 2x2, W: 2x3, Y = X W: 2x3.

The handout's formulas, transcribed entry by entry (G_pq = dL/dY_pq):
    dL/dX_11 = G_11 W_11 + G_12 W_12 + G_13 W_13
    dL/dX_12 = G_11 W_21 + G_12 W_22 + G_13 W_23
    dL/dX_21 = G_21 W_11 + G_22 W_12 + G_23 W_13
    dL/dX_22 = G_21 W_21 + G_22 W_22 + G_23 W_23
    dL/dW_ij = X_1i G_1j + X_2i G_2j
"""

import pytest
import sympy

from symderive import derive


def s(name):
    return sympy.Symbol(name)


G11, G12, G13, G21, G22, G23 = map(s, "G_11 G_12 G_13 G_21 G_22 G_23".split())
W11, W12, W13, W21, W22, W23 = map(s, "W_11 W_12 W_13 W_21 W_22 W_23".split())
X11, X12, X21, X22 = map(s, "X_11 X_12 X_21 X_22".split())

HANDOUT_DX = {
    (1, 1): G11 * W11 + G12 * W12 + G13 * W13,
    (1, 2): G11 * W21 + G12 * W22 + G13 * W23,
    (2, 1): G21 * W11 + G22 * W12 + G23 * W13,
    (2, 2): G21 * W21 + G22 * W22 + G23 * W23,
}
HANDOUT_DW = {
    (1, 1): X11 * G11 + X21 * G21,
    (1, 2): X11 * G12 + X21 * G22,
    (1, 3): X11 * G13 + X21 * G23,
    (2, 1): X12 * G11 + X22 * G21,
    (2, 2): X12 * G12 + X22 * G22,
    (2, 3): X12 * G13 + X22 * G23,
}


@pytest.fixture(scope="module")
def result():
    return derive(n=2, m=2, d=3)


@pytest.mark.parametrize("index", sorted(HANDOUT_DX))
def test_df_dX_matches_handout(result, index):
    i, j = index
    assert sympy.expand(result.gradients["X"][i - 1, j - 1] - HANDOUT_DX[index]) == 0


@pytest.mark.parametrize("index", sorted(HANDOUT_DW))
def test_df_dW_matches_handout(result, index):
    i, j = index
    assert sympy.expand(result.gradients["W"][i - 1, j - 1] - HANDOUT_DW[index]) == 0


def test_symbols_are_named_as_the_handout_names_them(result):
    assert result.inputs["X"][0, 1] == X12
    assert result.upstream[1, 2] == G23
