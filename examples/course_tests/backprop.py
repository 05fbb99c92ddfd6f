"""A student's backward passes, as a course hands them in: NumPy only.

Each function takes the layer's inputs by name and the upstream gradient G
(the gradient of the loss with respect to the layer's output), and returns the
gradients of the inputs.  The right versions come first; the ones below them
each carry one mistake that students make, for test_backprop.py to catch.
"""

import numpy as np


# --- right ----------------------------------------------------------------


def linear_backward(X, W, G):
    """Y = X @ W."""
    return G @ W.T, X.T @ G


def tanh_layer_backward(X, W, b, G):
    """Y = tanh(X @ W + b), b a row broadcast over the batch."""
    H = np.tanh(X @ W + b)
    dZ = G * (1 - H ** 2)
    return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0, keepdims=True)


def softmax_cross_entropy_backward(Z, T):
    """L = mean over the batch of -sum_k T_pk log softmax(Z)_pk, every row of T summing to 1.
    Computed the numerically stable way, with the row maximum subtracted."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return (P - T) / Z.shape[0]


# --- wrong: one mistake each ----------------------------------------------


def linear_backward_swapped(X, W, G):
    """dW's product in the wrong order (it conforms when every matrix is square)."""
    return G @ W.T, G.T @ X


def tanh_layer_backward_no_square(X, W, b, G):
    """tanh'(z) = 1 - tanh(z)**2, written 1 - tanh(z)."""
    H = np.tanh(X @ W + b)
    dZ = G * (1 - H)
    return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0, keepdims=True)


def tanh_layer_backward_bias_not_summed(X, W, b, G):
    """db should add the rows of dZ (b is broadcast over them); this keeps them all."""
    H = np.tanh(X @ W + b)
    dZ = G * (1 - H ** 2)
    return dZ @ W.T, X.T @ dZ, dZ


def tanh_layer_backward_bias_first_row(X, W, b, G):
    """db from the first example of the batch only."""
    H = np.tanh(X @ W + b)
    dZ = G * (1 - H ** 2)
    return dZ @ W.T, X.T @ dZ, dZ[:1]


def softmax_cross_entropy_backward_not_averaged(Z, T):
    """The loss is a mean over the batch; this forgets to divide by its size."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return P - T
