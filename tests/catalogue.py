"""A catalogue of gradient identities, as data, for checking symderive against.

What this is
------------
Each entry states one gradient identity: an ``expression``, the name ``wrt`` it
is differentiated by, the claimed gradient ``claim``, the ``shapes`` at which to
check it, and ``wrong`` variants that look plausible but are false at those
shapes (a checker must reject every one of them).  Everything is written in
symderive's expression language (NumPy notation): names, integer literals,
``@`` ``+`` ``-``, ``*`` (elementwise, or by a number), ``/`` and ``**`` by a
number, ``.T``, parentheses, ``trace``, ``sum``, ``eye(N)`` and ``ones(R, C)``.
Vectors are n x 1 matrices.

Layout convention
-----------------
The Matrix Cookbook's: for a scalar f and a matrix X, df/dX has X's shape and
entry (i, j) equal to df/dX_ij; for a column vector x, df/dx is the column with
entries df/dx_i (Cookbook sec. 2, "[dx/dy]_i = dx/dy_i").  So d(a.T @ X @ b)/dX
is ``a @ b.T``, not its transpose.  Every expression here is scalar valued
(1 x 1) except the two seed-note entries, whose expression ``X @ W`` is matrix
valued: there the name ``G`` stands for the upstream gradient, G_pq = df/dY_pq
for Y = X @ W and an arbitrary scalar f, and the claim is df/d(wrt); a numeric
check can take f = sum(G * (X @ W)).

Sources
-------
* "seed note": "Chain Rule on Matrix Multiplication" (M. Samir, 2021), the note
  symderive starts from (see README.md): df/dX = G W^T (sec. 3), df/dW = X^T G
  (sec. 4).
* K. B. Petersen and M. S. Pedersen, "The Matrix Cookbook", version of
  November 15, 2012.  Sections used: 2.4.1 (first order), 2.4.2 (second
  order), 2.4.3 (higher order), 2.4.4 (gradient and Hessian), 2.5.1, 2.5.2
  and 2.5.3 (derivatives of traces: first, second and higher order).
  Identities with inverses or determinants are left out, as are those that are
  not gradients of a scalar (eqs. 73-75, 79, 80, 90: single-entry-matrix and
  index forms), the Kronecker ones (105, 120), the complex one (89), and
  Tr(sin(X)) (128), whose sin is the matrix function, not the elementwise sin
  of this language.

How the equation numbers were confirmed (the PDF itself was not at hand):
* printed next to the formula, as ``\\tag{..}``, in T. Ahle's "Tensor Cookbook"
  (github.com/thomasahle/tensorgrad, paper/chapters/simple_derivatives.tex),
  which keeps the Matrix Cookbook's numbering: 69, 70, 76, 77, 81, 91, 99,
  100, 101, 106, 107, and 108-110 as a group; it also numbers 73, 74, 79, 80,
  90 and puts the symmetric-W identities at 84-88;
* the remaining numbers by position: github.com/eric-wieser/lean-matrix-cookbook
  (which follows the November 15, 2012 edition) numbers every subsection's
  equations (2.4.1: 69-75, 2.4.2: 76-89, 2.4.3: 90-95, 2.4.4: 96-98, 2.5.1:
  99-105, 2.5.2: 106-120, 2.5.3: 121-123), and its transcription of the PDF
  (md/main.md) lists the formulas of each subsection in order, so a formula
  lying between two confirmed numbers, or k-th in a subsection whose range is
  known, has its number fixed: 71, 72, 78, 82, 83, 84-88, 97, 102-104,
  108/109/110 separately, 111-119, 121-123.  Two cross-checks: the Cookbook's
  own text calls Tr(AXB+C)(AXB+C)^T "equation 119" (sec. 2.7.1), and a
  question on math.stackexchange cites Tr(BXX^T) as "equation 109".

Shapes are rectangular, with different sizes, wherever the expression allows;
where it needs a square matrix the ``note`` says so.  Where the Cookbook
assumes a symmetric W (eqs. 84-88) the expression writes W as ``V + V.T`` with
V arbitrary, so that a random V makes W symmetric.  The Cookbook's sign
``-2 A^T W (x - A s)`` is written ``2 * A.T @ W @ (A @ s - x)`` (no unary
minus needed); a formula for a general power (91, 121, 122) is taken at the
power given in ``note``.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    source: str            # e.g. "Matrix Cookbook (2012), sec. 2.4.1"
    equation: int | None   # Cookbook equation number, or None if not confirmed
    expression: str        # scalar-valued expression, in the language above
    wrt: str               # the name differentiated by
    claim: str             # the gradient, in the language above, same shape as wrt
    shapes: dict           # name -> (rows, cols): rectangular wherever the identity allows
    wrong: tuple = ()      # plausible wrong claims: (claim_text, why) pairs
    note: str = ""         # e.g. "requires square X"


_MC = "Matrix Cookbook (2012), sec. "
_W_SYM = ("the Cookbook assumes W symmetric; W is written V + V.T "
          "with V arbitrary (square)")

CATALOGUE = [
    # ------------------------------------------------------------------
    # The seed note: Y = X W, G = df/dY (matrix-valued expression)
    # ------------------------------------------------------------------
    Identity(
        source="seed note, sec. 3",
        equation=None,
        expression="X @ W",
        wrt="X",
        claim="G @ W.T",
        shapes={"X": (3, 2), "W": (2, 4), "G": (3, 4)},
        wrong=(
            ("W @ G.T", "the transpose of the answer (numerator layout); shape 2x3, not 3x2"),
            ("X.T @ G", "the gradient with respect to W, not X; shape 2x4, not 3x2"),
        ),
        note="matrix-valued: G is the upstream gradient df/dY for Y = X @ W",
    ),
    Identity(
        source="seed note, sec. 4",
        equation=None,
        expression="X @ W",
        wrt="W",
        claim="X.T @ G",
        shapes={"X": (3, 2), "W": (2, 4), "G": (3, 4)},
        wrong=(
            ("G.T @ X", "the transpose of the answer (numerator layout); shape 4x2, not 2x4"),
            ("G @ W.T", "the gradient with respect to X, not W; shape 3x2, not 2x4"),
        ),
        note="matrix-valued: G is the upstream gradient df/dY for Y = X @ W",
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.4.1: first order
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.4.1",
        equation=69,
        expression="x.T @ a",
        wrt="x",
        claim="a",
        shapes={"x": (3, 1), "a": (3, 1)},
        wrong=(
            ("a.T", "row vector (numerator layout); shape 1x3, not 3x1"),
            ("x", "differentiates as if the expression were x.T @ x / 2"),
        ),
    ),
    Identity(
        source=_MC + "2.4.1",
        equation=69,
        expression="a.T @ x",
        wrt="x",
        claim="a",
        shapes={"x": (3, 1), "a": (3, 1)},
        wrong=(
            ("a.T", "row vector (numerator layout); shape 1x3, not 3x1"),
        ),
    ),
    Identity(
        source=_MC + "2.4.1",
        equation=70,
        expression="a.T @ X @ b",
        wrt="X",
        claim="a @ b.T",
        shapes={"a": (3, 1), "X": (3, 2), "b": (2, 1)},
        wrong=(
            ("b @ a.T", "transposed (numerator layout); shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.4.1",
        equation=71,
        expression="a.T @ X.T @ b",
        wrt="X",
        claim="b @ a.T",
        shapes={"a": (2, 1), "X": (3, 2), "b": (3, 1)},
        wrong=(
            ("a @ b.T", "eq. 70's answer, the transpose ignored; shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.4.1",
        equation=72,
        expression="a.T @ X @ a",
        wrt="X",
        claim="a @ a.T",
        shapes={"a": (3, 1), "X": (3, 3)},
        wrong=(
            ("2 * a @ a.T", "a product-rule factor 2, but a is a constant: X appears once"),
            ("(X + X.T) @ a", "the gradient with respect to a, not X; shape 3x1, not 3x3"),
        ),
        note="requires square X",
    ),
    Identity(
        source=_MC + "2.4.1",
        equation=72,
        expression="a.T @ X.T @ a",
        wrt="X",
        claim="a @ a.T",
        shapes={"a": (3, 1), "X": (3, 3)},
        wrong=(
            ("2 * a @ a.T", "a product-rule factor 2, but a is a constant: X appears once"),
            ("(X + X.T) @ a", "the gradient with respect to a, not X; shape 3x1, not 3x3"),
        ),
        note="requires square X",
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.4.2: second order
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.4.2",
        equation=76,
        expression="sum(X) * sum(X)",
        wrt="X",
        claim="2 * ones(3, 3) @ X @ ones(2, 2)",
        shapes={"X": (3, 2)},
        wrong=(
            ("2 * X", "differentiates sum(X * X) instead of sum(X) * sum(X)"),
            ("ones(3, 3) @ X @ ones(2, 2)", "missing the factor 2 of the product rule"),
        ),
        note="the Cookbook's sum over k,l,m,n of X_kl X_mn; its answer 2 sum_kl X_kl in "
             "every entry is written 2 * ones @ X @ ones",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=77,
        expression="b.T @ X.T @ X @ c",
        wrt="X",
        claim="X @ (b @ c.T + c @ b.T)",
        shapes={"X": (3, 2), "b": (2, 1), "c": (2, 1)},
        wrong=(
            ("2 * X @ b @ c.T", "assumes b = c (a symmetric b c^T)"),
            ("X @ b @ c.T", "missing the product-rule term from X.T"),
        ),
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=78,
        expression="(B @ x + b).T @ C @ (D @ x + d)",
        wrt="x",
        claim="B.T @ C @ (D @ x + d) + D.T @ C.T @ (B @ x + b)",
        shapes={"x": (2, 1), "B": (3, 2), "b": (3, 1), "C": (3, 4), "D": (4, 2), "d": (4, 1)},
        wrong=(
            ("B.T @ C @ (D @ x + d)", "missing the product-rule term from D x + d"),
            ("2 * B.T @ C @ (D @ x + d)", "treats the two factors as the same (a quadratic form)"),
        ),
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=81,
        expression="x.T @ B @ x",
        wrt="x",
        claim="(B + B.T) @ x",
        shapes={"x": (3, 1), "B": (3, 3)},
        wrong=(
            ("2 * B @ x", "assumes B symmetric"),
            ("B @ x", "missing the product-rule term from x.T"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=82,
        expression="b.T @ X.T @ D @ X @ c",
        wrt="X",
        claim="D.T @ X @ b @ c.T + D @ X @ c @ b.T",
        shapes={"X": (3, 2), "D": (3, 3), "b": (2, 1), "c": (2, 1)},
        wrong=(
            ("2 * D @ X @ c @ b.T", "assumes D symmetric and b = c"),
            ("D @ X @ b @ c.T + D.T @ X @ c @ b.T", "the transposes of D on the wrong terms"),
        ),
        note="requires square D",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=83,
        expression="(X @ b + c).T @ D @ (X @ b + c)",
        wrt="X",
        claim="(D + D.T) @ (X @ b + c) @ b.T",
        shapes={"X": (3, 2), "b": (2, 1), "c": (3, 1), "D": (3, 3)},
        wrong=(
            ("2 * D @ (X @ b + c) @ b.T", "assumes D symmetric"),
            ("(D + D.T) @ (X @ b + c)", "the gradient with respect to X b + c, chain-rule "
                                        "factor b.T missing; shape 3x1, not 3x2"),
        ),
        note="requires square D",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=84,
        expression="(x - A @ s).T @ (V + V.T) @ (x - A @ s)",
        wrt="s",
        claim="2 * A.T @ (V + V.T) @ (A @ s - x)",
        shapes={"x": (3, 1), "A": (3, 2), "s": (2, 1), "V": (3, 3)},
        wrong=(
            ("2 * A.T @ (V + V.T) @ (x - A @ s)", "sign error: the inner derivative of x - A s is -A"),
            ("A.T @ (V + V.T) @ (A @ s - x)", "missing the factor 2"),
        ),
        note=_W_SYM + "; Cookbook: -2 A^T W (x - A s)",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=85,
        expression="(x - s).T @ (V + V.T) @ (x - s)",
        wrt="x",
        claim="2 * (V + V.T) @ (x - s)",
        shapes={"x": (3, 1), "s": (3, 1), "V": (3, 3)},
        wrong=(
            ("(V + V.T) @ (x - s)", "missing the factor 2"),
            ("2 * (V + V.T) @ (s - x)", "sign error"),
        ),
        note=_W_SYM,
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=86,
        expression="(x - s).T @ (V + V.T) @ (x - s)",
        wrt="s",
        claim="2 * (V + V.T) @ (s - x)",
        shapes={"x": (3, 1), "s": (3, 1), "V": (3, 3)},
        wrong=(
            ("2 * (V + V.T) @ (x - s)", "sign error: the inner derivative of x - s is -I"),
        ),
        note=_W_SYM + "; Cookbook: -2 W (x - s)",
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=87,
        expression="(x - A @ s).T @ (V + V.T) @ (x - A @ s)",
        wrt="x",
        claim="2 * (V + V.T) @ (x - A @ s)",
        shapes={"x": (3, 1), "A": (3, 2), "s": (2, 1), "V": (3, 3)},
        wrong=(
            ("2 * A.T @ (V + V.T) @ (x - A @ s)", "a chain-rule factor A.T that belongs to s; "
                                                 "shape 2x1, not 3x1"),
            ("(V + V.T) @ (x - A @ s)", "missing the factor 2"),
        ),
        note=_W_SYM,
    ),
    Identity(
        source=_MC + "2.4.2",
        equation=88,
        expression="(x - A @ s).T @ (V + V.T) @ (x - A @ s)",
        wrt="A",
        claim="2 * (V + V.T) @ (A @ s - x) @ s.T",
        shapes={"x": (3, 1), "A": (3, 2), "s": (2, 1), "V": (3, 3)},
        wrong=(
            ("2 * (V + V.T) @ (x - A @ s) @ s.T", "sign error"),
            ("2 * s @ (A @ s - x).T @ (V + V.T)", "transposed (numerator layout); shape 2x3, not 3x2"),
        ),
        note=_W_SYM + "; Cookbook: -2 W (x - A s) s^T",
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.4.3: higher order; 2.4.4: gradient
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.4.3",
        equation=91,
        expression="a.T @ X @ X @ b",
        wrt="X",
        claim="a @ b.T @ X.T + X.T @ a @ b.T",
        shapes={"a": (3, 1), "X": (3, 3), "b": (3, 1)},
        wrong=(
            ("2 * X.T @ a @ b.T", "treats the two terms of the sum as equal"),
            ("a @ b.T @ X.T", "missing the product-rule term from the second X"),
        ),
        note="the case n = 2 of a^T X^n b; requires square X",
    ),
    Identity(
        source=_MC + "2.4.4",
        equation=97,
        expression="x.T @ A @ x + b.T @ x",
        wrt="x",
        claim="(A + A.T) @ x + b",
        shapes={"x": (3, 1), "A": (3, 3), "b": (3, 1)},
        wrong=(
            ("2 * A @ x + b", "assumes A symmetric"),
            ("(A + A.T) @ x", "drops the linear term's gradient b"),
        ),
        note="f = x^T A x + b^T x (eq. 96); requires square A",
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.5.1: derivatives of traces, first order
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.5.1",
        equation=99,
        expression="trace(X)",
        wrt="X",
        claim="eye(3)",
        shapes={"X": (3, 3)},
        wrong=(
            ("ones(3, 3)", "the gradient of sum(X), not of trace(X)"),
        ),
        note="requires square X",
    ),
    Identity(
        source=_MC + "2.5.1",
        equation=100,
        expression="trace(X @ A)",
        wrt="X",
        claim="A.T",
        shapes={"X": (3, 2), "A": (2, 3)},
        wrong=(
            ("A", "missing transpose; shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.1",
        equation=101,
        expression="trace(A @ X @ B)",
        wrt="X",
        claim="A.T @ B.T",
        shapes={"A": (4, 3), "X": (3, 2), "B": (2, 4)},
        wrong=(
            ("B @ A", "transposed (numerator layout); shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.1",
        equation=102,
        expression="trace(A @ X.T @ B)",
        wrt="X",
        claim="B @ A",
        shapes={"A": (4, 2), "X": (3, 2), "B": (3, 4)},
        wrong=(
            ("A.T @ B.T", "eq. 101's answer, the transpose on X ignored; shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.1",
        equation=103,
        expression="trace(X.T @ A)",
        wrt="X",
        claim="A",
        shapes={"X": (3, 2), "A": (3, 2)},
        wrong=(
            ("A.T", "a spurious transpose; shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.1",
        equation=104,
        expression="trace(A @ X.T)",
        wrt="X",
        claim="A",
        shapes={"X": (3, 2), "A": (3, 2)},
        wrong=(
            ("A.T", "a spurious transpose; shape 2x3, not 3x2"),
        ),
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.5.2: derivatives of traces, second order
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.5.2",
        equation=106,
        expression="trace(X @ X)",
        wrt="X",
        claim="2 * X.T",
        shapes={"X": (3, 3)},
        wrong=(
            ("2 * X", "missing transpose (right only for symmetric X)"),
        ),
        note="requires square X",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=107,
        expression="trace(X @ X @ B)",
        wrt="X",
        claim="(X @ B + B @ X).T",
        shapes={"X": (3, 3), "B": (3, 3)},
        wrong=(
            ("X @ B + B @ X", "missing transpose"),
            ("2 * B.T @ X.T", "assumes X and B commute"),
        ),
        note="requires square X and B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=108,
        expression="trace(X.T @ B @ X)",
        wrt="X",
        claim="B @ X + B.T @ X",
        shapes={"X": (3, 2), "B": (3, 3)},
        wrong=(
            ("2 * B @ X", "assumes B symmetric"),
            ("B @ X", "missing the product-rule term from X.T"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=109,
        expression="trace(B @ X @ X.T)",
        wrt="X",
        claim="B @ X + B.T @ X",
        shapes={"X": (3, 2), "B": (3, 3)},
        wrong=(
            ("2 * B @ X", "assumes B symmetric"),
            ("B.T @ X", "missing the product-rule term from X.T"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=110,
        expression="trace(X @ X.T @ B)",
        wrt="X",
        claim="B @ X + B.T @ X",
        shapes={"X": (3, 2), "B": (3, 3)},
        wrong=(
            ("2 * B.T @ X", "assumes B symmetric"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=111,
        expression="trace(X @ B @ X.T)",
        wrt="X",
        claim="X @ B.T + X @ B",
        shapes={"X": (3, 2), "B": (2, 2)},
        wrong=(
            ("2 * X @ B", "assumes B symmetric"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=112,
        expression="trace(B @ X.T @ X)",
        wrt="X",
        claim="X @ B.T + X @ B",
        shapes={"X": (3, 2), "B": (2, 2)},
        wrong=(
            ("X @ B", "missing the product-rule term from X.T"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=113,
        expression="trace(X.T @ X @ B)",
        wrt="X",
        claim="X @ B.T + X @ B",
        shapes={"X": (3, 2), "B": (2, 2)},
        wrong=(
            ("2 * X @ B.T", "assumes B symmetric"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=114,
        expression="trace(A @ X @ B @ X)",
        wrt="X",
        claim="A.T @ X.T @ B.T + B.T @ X.T @ A.T",
        shapes={"A": (2, 3), "X": (3, 2), "B": (2, 3)},
        wrong=(
            ("2 * A.T @ X.T @ B.T", "treats the two product-rule terms as equal"),
            ("A.T @ X.T @ B.T", "missing the product-rule term from the second X"),
        ),
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=115,
        expression="trace(X.T @ X)",
        wrt="X",
        claim="2 * X",
        shapes={"X": (3, 2)},
        wrong=(
            ("X", "missing the factor 2"),
            ("2 * X.T", "a spurious transpose; shape 2x3, not 3x2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=115,
        expression="trace(X @ X.T)",
        wrt="X",
        claim="2 * X",
        shapes={"X": (3, 2)},
        wrong=(
            ("X", "missing the factor 2"),
        ),
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=116,
        expression="trace(B.T @ X.T @ C @ X @ B)",
        wrt="X",
        claim="C.T @ X @ B @ B.T + C @ X @ B @ B.T",
        shapes={"X": (3, 2), "C": (3, 3), "B": (2, 4)},
        wrong=(
            ("2 * C @ X @ B @ B.T", "assumes C symmetric"),
        ),
        note="requires square C",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=117,
        expression="trace(X.T @ B @ X @ C)",
        wrt="X",
        claim="B @ X @ C + B.T @ X @ C.T",
        shapes={"X": (3, 2), "B": (3, 3), "C": (2, 2)},
        wrong=(
            ("B @ X @ C + B.T @ X @ C", "missing the transpose of C in the second term"),
            ("2 * B @ X @ C", "assumes B and C symmetric"),
        ),
        note="requires square B and C",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=118,
        expression="trace(A @ X @ B @ X.T @ C)",
        wrt="X",
        claim="A.T @ C.T @ X @ B.T + C @ A @ X @ B",
        shapes={"A": (4, 3), "X": (3, 2), "B": (2, 2), "C": (3, 4)},
        wrong=(
            ("A.T @ C.T @ X @ B + C @ A @ X @ B.T", "the transposes of B on the wrong terms"),
            ("2 * C @ A @ X @ B", "treats the two product-rule terms as equal"),
        ),
        note="requires square B",
    ),
    Identity(
        source=_MC + "2.5.2",
        equation=119,
        expression="trace((A @ X @ B + C) @ (A @ X @ B + C).T)",
        wrt="X",
        claim="2 * A.T @ (A @ X @ B + C) @ B.T",
        shapes={"A": (4, 3), "X": (3, 2), "B": (2, 5), "C": (4, 5)},
        wrong=(
            ("A.T @ (A @ X @ B + C) @ B.T", "missing the factor 2"),
            ("2 * (A @ X @ B + C)", "the gradient with respect to A X B + C, chain-rule factors "
                                    "A.T and B.T missing; shape 4x5, not 3x2"),
        ),
    ),

    # ------------------------------------------------------------------
    # Matrix Cookbook 2.5.3: derivatives of traces, higher order
    # ------------------------------------------------------------------
    Identity(
        source=_MC + "2.5.3",
        equation=121,
        expression="trace(X @ X @ X)",
        wrt="X",
        claim="3 * (X @ X).T",
        shapes={"X": (3, 3)},
        wrong=(
            ("3 * X @ X", "missing transpose"),
        ),
        note="the case k = 3 of Tr(X^k); requires square X",
    ),
    Identity(
        source=_MC + "2.5.3",
        equation=122,
        expression="trace(A @ X @ X @ X)",
        wrt="X",
        claim="(A @ X @ X).T + (X @ A @ X).T + (X @ X @ A).T",
        shapes={"A": (3, 3), "X": (3, 3)},
        wrong=(
            ("3 * (X @ X @ A).T", "assumes A and X commute"),
            ("A @ X @ X + X @ A @ X + X @ X @ A", "missing transpose"),
        ),
        note="the case k = 3 of Tr(A X^k); requires square A and X",
    ),
    Identity(
        source=_MC + "2.5.3",
        equation=123,
        expression="trace(B.T @ X.T @ C @ X @ X.T @ C @ X @ B)",
        wrt="X",
        claim="C @ X @ X.T @ C @ X @ B @ B.T + C.T @ X @ B @ B.T @ X.T @ C.T @ X"
              " + C @ X @ B @ B.T @ X.T @ C @ X + C.T @ X @ X.T @ C.T @ X @ B @ B.T",
        shapes={"B": (2, 4), "X": (3, 2), "C": (3, 3)},
        wrong=(
            ("4 * C @ X @ X.T @ C @ X @ B @ B.T", "assumes C symmetric and the four terms equal"),
            ("2 * C @ X @ X.T @ C @ X @ B @ B.T + 2 * C.T @ X @ X.T @ C.T @ X @ B @ B.T",
             "assumes B B^T and X X^T interchangeable"),
        ),
        note="requires square C",
    ),
]


def distinct_expressions() -> list[tuple["Identity", dict]]:
    """Each expression of the catalogue once, at its shapes (the upstream G left out,
    as derive infers it), with the first catalogue entry that uses it."""
    seen, cases = set(), []
    for entry in CATALOGUE:
        shapes = {name: shape for name, shape in entry.shapes.items() if name != "G"}
        key = (entry.expression, tuple(sorted(shapes.items())))
        if key not in seen:
            seen.add(key)
            cases.append((entry, shapes))
    return cases
