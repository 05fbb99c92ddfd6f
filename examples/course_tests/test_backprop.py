"""A course's tests of the backward passes in backprop.py, with symderive.testing.

Run them with ``python3 -m pytest examples/course_tests``.  The right backward
passes must pass; each wrong one must be caught, its message naming the
gradient and the entry where it is wrong.  To see how a failure reads in
pytest's report, call a wrong version outside pytest.raises.
"""

import pytest

import backprop
from symderive.testing import assert_backward

LINEAR = "X @ W"
TANH_LAYER = "tanh(X @ W + b)"
TANH_SHAPES = {"X": (4, 3), "W": (3, 5), "b": (1, 5)}
# softmax with cross-entropy, averaged over a batch of n; the targets' rows sum to 1
SOFTMAX_CROSS_ENTROPY = """
Z : n x k
T : n x k
assume sum(T, axis=1) = 1
L = -sum(T * log_softmax(Z, axis=1)) / n
"""
SOFTMAX_SIZES = {"n": 4, "k": 3}


def test_linear_layer():
    assert_backward(backprop.linear_backward, LINEAR, {"X": (4, 3), "W": (3, 5)}, wrt=("X", "W"))


def test_linear_layer_square():
    assert_backward(backprop.linear_backward, LINEAR, {"X": (3, 3), "W": (3, 3)}, wrt=("X", "W"))


def test_tanh_layer():
    result = assert_backward(backprop.tanh_layer_backward, TANH_LAYER, TANH_SHAPES, wrt=("X", "W", "b"))
    assert result.method == "exact"  # products, sums and np.tanh run on symbols


def test_softmax_cross_entropy():
    result = assert_backward(backprop.softmax_cross_entropy_backward, SOFTMAX_CROSS_ENTROPY, SOFTMAX_SIZES,
                             wrt="Z")
    assert result.method == "high precision"  # Z.max branches on values: checked at random points


def test_swapped_product_is_caught():
    with pytest.raises(AssertionError, match=r"dW is wrong at entry \(1, 2\)"):
        assert_backward(backprop.linear_backward_swapped, LINEAR, {"X": (3, 3), "W": (3, 3)}, wrt=("X", "W"))


def test_swapped_product_of_the_wrong_shape_is_caught():
    with pytest.raises(AssertionError, match=r"dW has shape 5x3; it must be 3x5(.|\n)*entry \(1, 2\)"):
        assert_backward(backprop.linear_backward_swapped, LINEAR, {"X": (4, 3), "W": (3, 5)}, wrt=("X", "W"))


def test_forgotten_square_in_tanh_derivative_is_caught():
    with pytest.raises(AssertionError, match=r"dX is wrong at entry \(1, 1\)"):
        assert_backward(backprop.tanh_layer_backward_no_square, TANH_LAYER, TANH_SHAPES, wrt=("X", "W", "b"))


def test_bias_gradient_not_summed_over_rows_is_caught():
    with pytest.raises(AssertionError, match=r"db has shape 4x5; it must be 1x5(.|\n)*entry \(1, 1\)"):
        assert_backward(backprop.tanh_layer_backward_bias_not_summed, TANH_LAYER, TANH_SHAPES,
                        wrt=("X", "W", "b"))


def test_bias_gradient_from_one_row_is_caught():
    with pytest.raises(AssertionError, match=r"db is wrong at entry \(1, 1\)"):
        assert_backward(backprop.tanh_layer_backward_bias_first_row, TANH_LAYER, TANH_SHAPES,
                        wrt=("X", "W", "b"))


def test_cross_entropy_not_averaged_is_caught():
    with pytest.raises(AssertionError, match=r"dZ is wrong at entry \(1, 1\)"):
        assert_backward(backprop.softmax_cross_entropy_backward_not_averaged, SOFTMAX_CROSS_ENTROPY,
                        SOFTMAX_SIZES, wrt="Z")
