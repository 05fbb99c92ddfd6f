"""The seed note's identities, checked at the issue's table of shapes.

For Y = X W, X: n x m, W: m x d, and G_pq = df/dY_pq:
    dY_pq/dX_ij = delta_pi W_jq        (seed note, section 3)
    dY_pq/dW_ij = delta_qj X_pi        (seed note, section 4)
    df/dX = G W^T,  df/dW = X^T G      (seed note, sections 3 and 4)
The expected values below are written from those formulas, not taken from
symderive's output.
"""

import pytest
import sympy

from symderive import derive

SHAPES = [(1, 1, 1), (1, 3, 2), (2, 2, 3), (3, 2, 4), (4, 4, 4), (5, 1, 3)]


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: "n%d-m%d-d%d" % s)
def result(request):
    n, m, d = request.param
    return derive(n=n, m=m, d=d)


def test_every_identity_is_verified(result):
    assert result.verified
    kinds = sorted((identity.kind, identity.wrt) for identity in result.identities)
    assert kinds == [("gradient", "W"), ("gradient", "X"), ("jacobian", "W"), ("jacobian", "X")]


def test_closed_forms_are_the_notes(result):
    n, m = result.inputs["X"].shape
    d = result.inputs["W"].shape[1]
    X, W, G = (sympy.MatrixSymbol(name, *shape) for name, shape in
               (("X", (n, m)), ("W", (m, d)), ("G", (n, d))))
    # df/dX = G W^T and df/dW = X^T G
    assert result.closed_forms["X"] == G * W.T
    assert result.closed_forms["W"] == X.T * G


def test_gradients_entry_by_entry(result):
    X, W, G = result.inputs["X"], result.inputs["W"], result.upstream
    n, m = X.shape
    d = W.shape[1]
    # df/dX_ij = sum_q G_iq W_jq ;  df/dW_ij = sum_p X_pi G_pj
    for i in range(n):
        for j in range(m):
            expected = sum(G[i, q] * W[j, q] for q in range(d))
            assert sympy.expand(result.gradients["X"][i, j] - expected) == 0
    for i in range(m):
        for j in range(d):
            expected = sum(X[p, i] * G[p, j] for p in range(n))
            assert sympy.expand(result.gradients["W"][i, j] - expected) == 0


def test_output_is_the_product(result):
    X, W, Y = result.inputs["X"], result.inputs["W"], result.output
    for p in range(Y.rows):
        for q in range(Y.cols):
            # Y_pq = sum_r X_pr W_rq
            expected = sum(X[p, r] * W[r, q] for r in range(X.cols))
            assert sympy.expand(Y[p, q] - expected) == 0


def test_jacobians_are_the_notes_kronecker_formulas(result):
    X, W = result.inputs["X"], result.inputs["W"]
    n, m = X.shape
    d = W.shape[1]
    dX, dW = result.jacobians["X"], result.jacobians["W"]
    assert dX.shape == (n, d, n, m) and dW.shape == (n, d, m, d)
    for p in range(n):
        for q in range(d):
            for i in range(n):
                for j in range(m):
                    assert dX[p, q, i, j] == (W[j, q] if p == i else 0)
            for i in range(m):
                for j in range(d):
                    assert dW[p, q, i, j] == (X[p, i] if q == j else 0)


def test_jacobians_store_only_their_nonzeros(result):
    n, m = result.inputs["X"].shape
    d = result.inputs["W"].shape[1]
    for name, size in (("X", n * d * n * m), ("W", n * d * m * d)):
        jac = result.jacobians[name]
        # each Y_pq = sum_r X_pr W_rq contains m entries of X and m of W
        assert jac.nnz == len(jac.entries) == n * d * m
        assert jac.size == size
        assert all(value != 0 for value in jac.entries.values())


def test_the_chain_rule_sum_records_which_terms_vanish_and_why():
    r = derive(n=3, m=2, d=4)
    entry = r.chain_rule_entry("X", 1, 0)  # df/dX_21
    assert len(entry.terms) == 3 * 4
    # Y_pq = sum_r X_pr W_rq contains X_21 only when p = 2
    survivors = [(t.p, t.q) for t in entry.terms if t.vanishes is None]
    assert survivors == [(1, q) for q in range(4)]
    assert all(t.vanishes == "absent" for t in entry.terms if t.p != 1)
    assert entry.value == r.gradients["X"][1, 0]


@pytest.mark.parametrize("bad", [0, -1, 2.5, 2.0, True, "x", "-2", [3]])
def test_derive_refuses_what_is_not_a_size(bad):
    from symderive import BadInput

    with pytest.raises(BadInput, match="n: expected a positive integer"):
        derive(n=bad)


def test_derive_accepts_numpy_integers():
    import numpy as np

    assert derive(n=np.int64(2), m=np.int32(1), d=1).verified
