"""The acceptance table of the soundness issue: gradient claims, with no truth value.

Each row is (expression, wrt, claim, shapes, note), plus the category it is
counted under.  A row says *nothing* about whether its claim is right: the
truth comes from the independent numeric oracle (tests/oracle.py), and
tests/test_identity_table.py compares symderive's ``check()`` with it.  The
``note`` says where a claim comes from or how it was made ("Cookbook eq. 100";
"variant: the transpose dropped"), never what it should come out as.

Language and conventions are symderive's (README.md, "Any expression"):
NumPy notation, ``@`` matrix product, ``*`` ``/`` ``+`` ``-`` entrywise with
NumPy broadcasting (a 1 x d bias stretches over the rows), ``**`` by a
constant, ``.T``; vectors are n x 1 matrices; df/dX has the shape of X
(the Cookbook's layout).  A 1 x 1 expression is differentiated directly; a
matrix-valued expression Y against the upstream gradient ``G`` (G_pq =
df/dY_pq), which the claims of those rows use.  ``shapes`` names the shape of
every input; G always has the shape of the expression and is not listed.

Where the oracle looks (see tests/oracle.py): region P, every entry in
[0.5, 1.5], and region M, entries of size in [0.5, 1.5] with random signs,
at every point where the expression is real.  A claim that matches the
gradient only for positive entries -- d sqrt(X ** 2)/dX = 1 -- is therefore a
false claim: sqrt(X ** 2) is |X| on the reals.

Categories:

* ``trace``: traces and bilinear forms from the Matrix Cookbook (K. B. Petersen
  and M. S. Pedersen, Nov. 15, 2012 edition, sec. 2.4-2.5), and variants with
  a transpose dropped, the factors swapped, a factor 2 dropped, a sign flipped;
* ``least-squares``: sum((X @ W - T) ** 2) and relatives;
* ``layers``: tanh, sigmoid, exp, log, softplus and logistic layers with
  biases broadcast over the rows, and wrong derivatives (1 - tanh for
  1 - tanh ** 2, sigmoid for sigmoid * (1 - sigmoid));
* ``entrywise``: Hadamard products and powers;
* ``upstream``: matrix-valued expressions, claims in terms of G;
* ``square``: det and inv at 2x2 and 3x3;
* ``domain``: domain traps, sqrt(X ** 2), (X ** 2) ** 0.5, log(X ** 2)
  against 2 * log(X), exp(log(X)), and claims true only for positive entries;
* ``kinks``: relu, leaky_relu, abs, step and sign (issue #13), and claims true
  on one sign region only (the step forgotten), judged away from the kinks;
* ``softmax``: softmax, log_softmax and logsumexp along an axis or over all
  entries, softmax cross-entropy with and without rows of T summing to 1,
  scaled dot-product attention at square sizes, and softmax's Jacobian taken
  as its diagonal only;
* ``reductions``: sum and mean along each axis, the Frobenius norm, the mean
  squared error, entrywise division by a matrix, exact constants pi and sqrt(2);
* ``constants``: cancellation between huge terms, ((X + 1e8) ** 2 -
  (X - 1e8) ** 2, whose gradient is 4e8 everywhere), huge and tiny constants,
  and claims wrong by a relative 1e-10 or less, which no float64 difference
  quotient can see.

Every wrong variant is still a well-formed claim (its products conform) so
that the oracle can answer it; some have the wrong shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    expression: str
    wrt: str
    claim: str
    shapes: dict
    note: str
    category: str

    def command(self) -> str:
        """The same check on the command line."""
        shapes = " ".join(f"--shape {name}={r}x{c}" for name, (r, c) in self.shapes.items())
        return (f"python3 -m symderive check '{self.expression}' --wrt {self.wrt} "
                f"--claim '{self.claim}' {shapes}")


ROWS: list[Row] = []


def _rows(category: str, expression: str, wrt: str, shapes: dict, *claims: tuple[str, str]) -> None:
    for claim, note in claims:
        ROWS.append(Row(expression, wrt, claim, dict(shapes), note, category))


CB = "Matrix Cookbook (2012) eq. "

# ---------------------------------------------------------------------------- trace
_rows("trace", "trace(A @ X)", "X", {"A": (2, 3), "X": (3, 2)},
      ("A.T", CB + "100"),
      ("A", "variant: the transpose dropped (a 2x3 claim for a 3x2 X)"))
_rows("trace", "trace(A @ X)", "X", {"A": (3, 3), "X": (3, 3)},
      ("A.T", CB + "100, square"),
      ("A", "variant: the transpose dropped, square so the shapes agree"))
_rows("trace", "trace(X.T @ A @ X)", "X", {"X": (3, 2), "A": (3, 3)},
      ("(A + A.T) @ X", CB + "108"),
      ("2 * A @ X", "variant: A taken to be symmetric"),
      ("A @ X", "variant: the product-rule term of X.T dropped"),
      ("X.T @ (A + A.T)", "variant: transposed (a 2x3 claim)"))
_rows("trace", "a.T @ X @ b", "X", {"a": (3, 1), "X": (3, 2), "b": (2, 1)},
      ("a @ b.T", CB + "70"),
      ("b @ a.T", "variant: numerator layout (a 2x3 claim)"))
_rows("trace", "a.T @ X @ b", "X", {"a": (3, 1), "X": (3, 3), "b": (3, 1)},
      ("a @ b.T", CB + "70, square"),
      ("b @ a.T", "variant: numerator layout, square so the shapes agree"))
_rows("trace", "trace(A @ X @ B)", "X", {"A": (3, 3), "X": (3, 3), "B": (3, 3)},
      ("A.T @ B.T", CB + "101"),
      ("B.T @ A.T", "variant: the factors swapped"),
      ("B @ A", "variant: numerator layout"))
_rows("trace", "trace(X @ X)", "X", {"X": (3, 3)},
      ("2 * X.T", CB + "106"),
      ("2 * X", "variant: the transpose dropped"))
_rows("trace", "trace(X.T @ X)", "X", {"X": (3, 2)},
      ("2 * X", CB + "115"),
      ("X", "variant: the factor 2 dropped"),
      ("-2 * X", "variant: the sign flipped"))
_rows("trace", "trace(X)", "X", {"X": (3, 3)},
      ("eye(3)", CB + "99"),
      ("ones(3, 3)", "variant: the gradient of sum(X)"))
_rows("trace", "x.T @ B @ x", "x", {"x": (3, 1), "B": (3, 3)},
      ("(B + B.T) @ x", CB + "81"),
      ("2 * B @ x", "variant: B taken to be symmetric"))
_rows("trace", "x.T @ x", "x", {"x": (4, 1)},
      ("2 * x", "the squared norm"),
      ("x", "variant: the factor 2 dropped"))
_rows("trace", "trace(X @ X @ X)", "X", {"X": (3, 3)},
      ("3 * (X @ X).T", CB + "121 at k = 3"),
      ("3 * X @ X", "variant: the transpose dropped"))
_rows("trace", "b.T @ X.T @ X @ c", "X", {"X": (3, 2), "b": (2, 1), "c": (2, 1)},
      ("X @ (b @ c.T + c @ b.T)", CB + "77"),
      ("2 * X @ b @ c.T", "variant: b taken equal to c"))

# ---------------------------------------------------------------------------- least squares
_LS = {"X": (4, 3), "W": (3, 2), "T": (4, 2)}
_rows("least-squares", "sum((X @ W - T) ** 2)", "W", _LS,
      ("2 * X.T @ (X @ W - T)", "linear regression, the weights"),
      ("X.T @ (X @ W - T)", "variant: the factor 2 dropped"),
      ("2 * X.T @ (T - X @ W)", "variant: the sign flipped"),
      ("2 * (X @ W - T).T @ X", "variant: numerator layout (a 2x3 claim)"))
_rows("least-squares", "sum((X @ W - T) ** 2)", "X", _LS,
      ("2 * (X @ W - T) @ W.T", "linear regression, the inputs"),
      ("2 * (X @ W - T) @ W.T / 4", "variant: a mean over the 4 rows, not a sum"))
_rows("least-squares", "sum((X @ W - T) ** 2)", "T", _LS,
      ("2 * (T - X @ W)", "linear regression, the targets"),
      ("2 * (X @ W - T)", "variant: the sign of the inner derivative dropped"))
_rows("least-squares", "sum((X @ w - t) ** 2) / 2", "w", {"X": (4, 3), "w": (3, 1), "t": (4, 1)},
      ("X.T @ (X @ w - t)", "half the squared residual"),
      ("X.T @ X @ w - X.T @ t", "the same, expanded"),
      ("X.T @ X @ w", "variant: the target term dropped"))
_rows("least-squares", "trace((A @ X @ B + C) @ (A @ X @ B + C).T)", "X",
      {"A": (4, 3), "X": (3, 2), "B": (2, 5), "C": (4, 5)},
      ("2 * A.T @ (A @ X @ B + C) @ B.T", CB + "119"),
      ("A.T @ (A @ X @ B + C) @ B.T", "variant: the factor 2 dropped"))

# ---------------------------------------------------------------------------- layers
_LAYER = {"X": (3, 2), "W": (2, 4), "b": (1, 4)}
_rows("layers", "sum(tanh(X @ W + b))", "W", _LAYER,
      ("X.T @ (1 - tanh(X @ W + b) ** 2)", "tanh layer with a bias"),
      ("X.T @ (1 - tanh(X @ W + b))", "variant: 1 - tanh for 1 - tanh ** 2"),
      ("X.T @ (1 + tanh(X @ W + b) ** 2)", "variant: the sign in 1 - tanh ** 2"))
_rows("layers", "sum(tanh(X @ W + b))", "b", _LAYER,
      ("ones(1, 3) @ (1 - tanh(X @ W + b) ** 2)", "the bias sums over the rows"),
      ("1 - tanh(X @ W + b) ** 2", "variant: the sum over rows forgotten (a 3x4 claim)"),
      ("ones(1, 3) @ (1 - tanh(X @ W + b))", "variant: 1 - tanh for 1 - tanh ** 2"))
_rows("layers", "sum(sigmoid(X @ W + b))", "W", _LAYER,
      ("X.T @ (sigmoid(X @ W + b) * (1 - sigmoid(X @ W + b)))", "sigmoid layer with a bias"),
      ("X.T @ (sigmoid(X @ W + b) * sigmoid(-(X @ W + b)))", "the same, 1 - s(z) written s(-z)"),
      ("X.T @ sigmoid(X @ W + b)", "variant: sigmoid for its derivative"),
      ("X.T @ (sigmoid(X @ W + b) * (1 + sigmoid(X @ W + b)))", "variant: 1 + s for 1 - s"))
_rows("layers", "sum(exp(X @ W))", "W", {"X": (3, 2), "W": (2, 4)},
      ("X.T @ exp(X @ W)", "exponential layer"),
      ("X.T @ (X @ W * exp(X @ W))", "variant: a power rule applied to exp"))
_rows("layers", "sum(log(X @ W))", "W", {"X": (3, 2), "W": (2, 4)},
      ("X.T @ (X @ W) ** -1", "log layer (defined where X @ W > 0)"),
      ("X.T @ log(X @ W)", "variant: log for its derivative"))
_rows("layers", "sum(log(1 + exp(X @ w)))", "w", {"X": (3, 2), "w": (2, 1)},
      ("X.T @ sigmoid(X @ w)", "softplus"),
      ("X.T @ sigmoid(-(X @ w))", "variant: the sign of the sigmoid's argument"))
_rows("layers", "sum(log(1 + exp(-y * (X @ w))))", "w", {"X": (3, 2), "w": (2, 1), "y": (3, 1)},
      ("-X.T @ (y * sigmoid(-y * (X @ w)))", "logistic regression loss"),
      ("X.T @ (y * sigmoid(-y * (X @ w)))", "variant: the sign flipped"))
_rows("layers", "sum(tanh(X @ W1) @ W2)", "W1", {"X": (3, 2), "W1": (2, 4), "W2": (4, 2)},
      ("X.T @ ((1 - tanh(X @ W1) ** 2) * (ones(3, 2) @ W2.T))", "two layers, the first weights"),
      ("X.T @ (1 - tanh(X @ W1) ** 2)", "variant: the second layer forgotten"))
_rows("layers", "sum(tanh(X))", "X", {"X": (3, 2)},
      ("1 - tanh(X) ** 2", "tanh"),
      ("4 * exp(2 * X) * (exp(2 * X) + 1) ** -2", "the same, sech ** 2 in exponentials"),
      ("1 - tanh(X)", "variant: 1 - tanh for 1 - tanh ** 2"))
_rows("layers", "sum(sigmoid(X))", "X", {"X": (3, 2)},
      ("sigmoid(X) - sigmoid(X) ** 2", "sigmoid"),
      ("exp(-X) * sigmoid(X) ** 2", "the same, written with exp"),
      ("sigmoid(X)", "variant: sigmoid for its derivative"))
_rows("layers", "sum(sin(X) * cos(X))", "X", {"X": (3, 2)},
      ("cos(2 * X)", "sin cos = sin(2X) / 2"),
      ("cos(X) ** 2 - sin(X) ** 2", "the same, expanded"),
      ("cos(X) ** 2 + sin(X) ** 2", "variant: the sign in the product rule"))
_rows("layers", "sum(X @ W + b)", "b", _LAYER,
      ("3 * ones(1, 4)", "a bias added to 3 rows"),
      ("ones(1, 4)", "variant: the broadcast over rows forgotten"))

# ---------------------------------------------------------------------------- entrywise
_rows("entrywise", "sum(A * X * X)", "X", {"A": (3, 2), "X": (3, 2)},
      ("2 * A * X", "Hadamard square"),
      ("A * X", "variant: the factor 2 dropped"))
_rows("entrywise", "sum((A * X) @ B)", "X", {"A": (3, 2), "X": (3, 2), "B": (2, 4)},
      ("A * (ones(3, 4) @ B.T)", "Hadamard then product"),
      ("ones(3, 4) @ B.T", "variant: the Hadamard factor dropped"),
      ("A * (B @ ones(4, 3)).T", "the same, the row sums of B written as a column"))
_rows("entrywise", "sum(X ** 3)", "X", {"X": (3, 2)},
      ("3 * X ** 2", "power rule"),
      ("3 * X ** 3", "variant: the exponent not lowered"))
_rows("entrywise", "sum(X ** -1)", "X", {"X": (3, 2)},
      ("-X ** -2", "power rule, a negative power"),
      ("X ** -2", "variant: the sign dropped"))
_rows("entrywise", "sum(X ** 0.5)", "X", {"X": (3, 2)},
      ("0.5 * X ** -0.5", "power rule, a root"),
      ("0.5 * X ** 0.5", "variant: the exponent not lowered"))
_rows("entrywise", "sum(X ** 1.5)", "X", {"X": (3, 2)},
      ("1.5 * sqrt(X)", "power rule, x ** 1.5"))
_rows("entrywise", "sum(X.T @ A)", "X", {"X": (3, 2), "A": (3, 4)},
      ("A @ ones(4, 2)", "a transposed product summed"),
      ("ones(3, 4) @ A.T @ ones(3, 2)", "variant: rows and columns confused"))

# ---------------------------------------------------------------------------- upstream G
_XW = {"X": (3, 2), "W": (2, 4)}
_rows("upstream", "X @ W", "X", _XW,
      ("G @ W.T", "seed note sec. 3"),
      ("W @ G.T", "variant: numerator layout (a 2x3 claim)"))
_rows("upstream", "X @ W", "W", _XW,
      ("X.T @ G", "seed note sec. 4"),
      ("(G.T @ X).T", "the same, transposed twice"))
_rows("upstream", "X @ W", "W", {"X": (3, 3), "W": (3, 3)},
      ("X.T @ G", "seed note sec. 4, square"),
      ("X @ G", "variant: the transpose dropped, square"),
      ("G.T @ X", "variant: numerator layout, square"))
_rows("upstream", "tanh(X @ W + b)", "W", _LAYER,
      ("X.T @ (G * (1 - tanh(X @ W + b) ** 2))", "tanh layer, backprop"),
      ("X.T @ (G * (1 - tanh(X @ W + b)))", "variant: 1 - tanh for 1 - tanh ** 2"),
      ("X.T @ G", "variant: the activation's derivative forgotten"))
_rows("upstream", "tanh(X @ W + b)", "b", _LAYER,
      ("ones(1, 3) @ (G * (1 - tanh(X @ W + b) ** 2))", "tanh layer, the bias"),
      ("G * (1 - tanh(X @ W + b) ** 2)", "variant: the sum over rows forgotten (a 3x4 claim)"))
_rows("upstream", "tanh(X @ W + b)", "X", _LAYER,
      ("(G * (1 - tanh(X @ W + b) ** 2)) @ W.T", "tanh layer, the inputs"),
      ("G * (1 - tanh(X @ W + b) ** 2) @ W.T", "the same, as NumPy groups it"))
_rows("upstream", "sigmoid(X @ W)", "X", _XW,
      ("(G * sigmoid(X @ W) * (1 - sigmoid(X @ W))) @ W.T", "sigmoid layer, the inputs"),
      ("(G * sigmoid(X @ W)) @ W.T", "variant: sigmoid for its derivative"))
_rows("upstream", "X * W", "X", {"X": (3, 2), "W": (3, 2)},
      ("G * W", "Hadamard product"),
      ("G", "variant: the other factor forgotten"))
_rows("upstream", "X.T", "X", {"X": (3, 3)},
      ("G.T", "transpose"),
      ("G", "variant: the transpose dropped"))
_rows("upstream", "A @ X @ B", "X", {"A": (3, 3), "X": (3, 3), "B": (3, 3)},
      ("A.T @ G @ B.T", "a product on both sides"),
      ("A @ G @ B", "variant: both transposes dropped"))
_rows("upstream", "exp(X)", "X", {"X": (3, 2)},
      ("G * exp(X)", "entrywise exp"),
      ("exp(X)", "variant: the upstream forgotten"))
_rows("upstream", "X ** 2", "X", {"X": (3, 2)},
      ("2 * G * X", "entrywise square"),
      ("G * X", "variant: the factor 2 dropped"))
_rows("upstream", "log(X)", "X", {"X": (3, 2)},
      ("G * X ** -1", "entrywise log"),
      ("G * log(X)", "variant: log for its derivative"))
_rows("upstream", "X @ W + c", "c", {"X": (3, 2), "W": (2, 4), "c": (3, 1)},
      ("G @ ones(4, 1)", "a column bias, stretched over the columns"),
      ("G @ ones(4, 1) / 4", "variant: averaged over the columns, not summed"))
_rows("upstream", "X @ W + b", "b", _LAYER,
      ("ones(1, 3) @ G", "a row bias, stretched over the rows"),
      ("G @ ones(4, 1)", "variant: a sum over the wrong axis (a 3x1 claim)"))
_rows("upstream", "sum(X) * W", "X", {"X": (3, 2), "W": (2, 4)},
      ("sum(G * W) * ones(3, 2)", "a 1x1 factor stretched over a matrix"),
      ("G @ W.T", "variant: the product rule for X @ W"))
_rows("upstream", "X @ X", "X", {"X": (3, 3)},
      ("G @ X.T + X.T @ G", "a square, both factors"),
      ("2 * G @ X.T", "variant: the two terms taken equal"))

# ---------------------------------------------------------------------------- square
_rows("square", "det(X)", "X", {"X": (2, 2)},
      ("det(X) * inv(X).T", "Matrix Cookbook (2012) sec. 2.1, d det(X)/dX"),
      ("det(X) * inv(X)", "variant: the transpose dropped"),
      ("inv(X).T", "variant: the factor det(X) dropped"))
_rows("square", "det(X)", "X", {"X": (3, 3)},
      ("det(X) * inv(X).T", "Matrix Cookbook (2012) sec. 2.1, d det(X)/dX, 3x3"),
      ("det(X) * inv(X)", "variant: the transpose dropped, 3x3"))
_rows("square", "det(2 * X)", "X", {"X": (3, 3)},
      ("8 * det(X) * inv(X).T", "det of a multiple"),
      ("2 * det(2 * X) * inv(X).T", "variant: the chain-rule factor 2 on top of det(2X)"))
_rows("square", "log(det(X) ** 2)", "X", {"X": (2, 2)},
      ("2 * inv(X).T", "Matrix Cookbook (2012) sec. 2.1, 2 log |det X| written log(det(X) ** 2)"),
      ("2 * inv(X)", "variant: the transpose dropped"))
_rows("square", "log(det(X @ X.T))", "X", {"X": (2, 3)},
      ("2 * inv(X @ X.T) @ X", "log det of a Gram matrix"),
      ("inv(X @ X.T) @ X", "variant: the factor 2 dropped"))
_rows("square", "trace(inv(X))", "X", {"X": (2, 2)},
      ("-(inv(X) @ inv(X)).T", "Matrix Cookbook (2012) sec. 2.2, Tr(A inv(X) B) with A = B = I"),
      ("-inv(X) @ inv(X)", "variant: the transpose dropped"))
_rows("square", "trace(inv(X))", "X", {"X": (3, 3)},
      ("-(inv(X) @ inv(X)).T", "Matrix Cookbook (2012) sec. 2.2, Tr(A inv(X) B) with A = B = I, 3x3"),
      ("-inv(X) @ inv(X)", "variant: the transpose dropped, 3x3"))
_rows("square", "a.T @ inv(X) @ b", "X", {"a": (2, 1), "X": (2, 2), "b": (2, 1)},
      ("-inv(X).T @ a @ b.T @ inv(X).T", "Matrix Cookbook (2012) sec. 2.2, a.T inv(X) b"),
      ("-inv(X) @ a @ b.T @ inv(X)", "variant: the transposes dropped"),
      ("inv(X).T @ a @ b.T @ inv(X).T", "variant: the sign dropped"))
_rows("square", "sum(inv(X))", "X", {"X": (2, 2)},
      ("-inv(X).T @ ones(2, 2) @ inv(X).T", "sum of an inverse"),
      ("-inv(X) @ inv(X)", "variant: as if the sum were a trace"))
_rows("square", "inv(X)", "X", {"X": (2, 2)},
      ("-inv(X).T @ G @ inv(X).T", "inverse, backprop"),
      ("-inv(X) @ G @ inv(X)", "variant: the transposes dropped"),
      ("inv(X).T @ G @ inv(X).T", "variant: the sign dropped"))
_rows("square", "inv(X)", "X", {"X": (3, 3)},
      ("-inv(X).T @ G @ inv(X).T", "inverse, backprop, 3x3"),
      ("-inv(X) @ G @ inv(X)", "variant: the transposes dropped, 3x3"))
_rows("square", "det(A @ X)", "X", {"A": (2, 2), "X": (2, 2)},
      ("det(A @ X) * inv(X).T", "det of a product"),
      ("det(A @ X) * inv(A @ X).T", "variant: the chain-rule factor A.T dropped"))
_rows("square", "trace(A @ inv(X) @ B)", "X", {"A": (2, 2), "X": (2, 2), "B": (2, 2)},
      ("-(inv(X) @ B @ A @ inv(X)).T", "Matrix Cookbook (2012) sec. 2.2, Tr(A inv(X) B)"),
      ("-inv(X) @ B @ A @ inv(X)", "variant: the transpose dropped"))

_rows("square", "det(X)", "X", {"X": (1, 1)},
      ("ones(1, 1)", "det of a 1x1 matrix is its entry"),
      ("X", "variant: the entry for the derivative"))
_rows("square", "inv(X)", "X", {"X": (1, 1)},
      ("-X ** -2", "a 1x1 inverse is 1x1: differentiated directly, no G"),
      ("-inv(X).T @ inv(X).T", "the same, as the matrix formula at 1x1"),
      ("X ** -2", "variant: the sign dropped"))

# ---------------------------------------------------------------------------- domain traps
_X = {"X": (3, 2)}
_rows("domain", "sum(sqrt(X ** 2))", "X", _X,
      ("ones(3, 2)", "sqrt(x ** 2) read as x"),
      ("X * (X ** 2) ** -0.5", "x / |x|"),
      ("sqrt(X ** 2) * X ** -1", "|x| / x"))
_rows("domain", "sum((X ** 2) ** 0.5)", "X", _X,
      ("ones(3, 2)", "(x ** 2) ** 0.5 read as x"),
      ("X * sqrt(X ** 2) ** -1", "x / |x|"))
_rows("domain", "sum(sqrt(X ** 2) - X)", "X", _X,
      ("0 * X", "|x| - x read as 0"),
      ("X * (X ** 2) ** -0.5 - 1", "x / |x| - 1"))
_rows("domain", "sum(sqrt((X - 1) ** 2))", "X", _X,
      ("ones(3, 2)", "|x - 1| read as x - 1; x - 1 changes sign inside [0.5, 1.5]"),
      ("(X - 1) * ((X - 1) ** 2) ** -0.5", "(x - 1) / |x - 1|"))
_rows("domain", "sum(sqrt(X ** 2) * X)", "X", _X,
      ("2 * X", "|x| x read as x ** 2"),
      ("2 * sqrt(X ** 2)", "2 |x|"))
_rows("domain", "sum((X ** 2) ** 1.5)", "X", _X,
      ("3 * X ** 2", "|x| ** 3 read as x ** 3"),
      ("3 * X * sqrt(X ** 2)", "3 x |x|"))
_rows("domain", "sum(sqrt(X ** 4))", "X", _X,
      ("2 * X", "sqrt(x ** 4) = x ** 2 on all reals"))
_rows("domain", "sum(log(X ** 2))", "X", _X,
      ("2 * X ** -1", "log(x ** 2), defined for negative x too"),
      ("X ** -1", "variant: the factor 2 dropped"))
_rows("domain", "sum(2 * log(X))", "X", _X,
      ("2 * X ** -1", "2 log(x), defined for positive x only"))
_rows("domain", "sum(log(X ** 2) - 2 * log(X))", "X", _X,
      ("0 * X", "zero where both logs are defined"))
_rows("domain", "sum(log(sqrt(X ** 2)))", "X", _X,
      ("X ** -1", "log |x|"),
      ("sqrt(X ** 2) ** -1", "variant: 1/|x| for 1/x"))
_rows("domain", "sum(exp(log(X)))", "X", _X,
      ("ones(3, 2)", "exp(log(x)) = x for positive x"))
_rows("domain", "sum(log(exp(X)))", "X", _X,
      ("ones(3, 2)", "log(exp(x)) = x on all reals"))
_rows("domain", "sum(sqrt(X) ** 2)", "X", _X,
      ("ones(3, 2)", "sqrt(x) ** 2 = x for x >= 0"))
_rows("domain", "sum(sqrt(exp(2 * X)))", "X", _X,
      ("exp(X)", "sqrt(e ** 2x) = e ** x"))
_rows("domain", "sqrt(x.T @ x)", "x", {"x": (3, 1)},
      ("x * (x.T @ x) ** -0.5", "the gradient of the norm"),
      ("x", "variant: the gradient of half the squared norm"))

# ---------------------------------------------------------------------------- constants
_rows("constants", "sum((X + 1e8) ** 2 - (X - 1e8) ** 2)", "X", _X,
      ("4e8 * ones(3, 2)", "cancellation: 4e8 x in disguise"),
      ("2e8 * ones(3, 2)", "variant: half the slope"),
      ("0 * X", "variant: the huge terms cancelled to 0"))
_rows("constants", "sum(((X + 1e8) ** 2 - (X - 1e8) ** 2) / 1e8)", "X", _X,
      ("4 * ones(3, 2)", "cancellation, scaled back"))
_rows("constants", "sum(1e8 * X - (1e8 * X - X))", "X", _X,
      ("ones(3, 2)", "x recovered from the difference of two terms of size 1e8"),
      ("0 * X", "variant: the huge terms cancelled to 0"))
_rows("constants", "(X + 1e8) ** 2 - (X - 1e8) ** 2", "X", _X,
      ("4e8 * G", "matrix-valued cancellation, against the upstream"),
      ("4e8 * ones(3, 2)", "variant: the upstream forgotten"))
_rows("constants", "sum(exp(X + 50) - exp(50) * exp(X))", "X", _X,
      ("0 * X", "two terms of size 1e22 that cancel exactly"),
      ("exp(X + 50)", "variant: the second term forgotten"))
_rows("constants", "sum(1e-12 * X ** 2)", "X", _X,
      ("2e-12 * X", "a tiny constant"),
      ("1e-12 * X", "variant: the factor 2 dropped"))
_rows("constants", "sum(1e-30 * X)", "X", _X,
      ("1e-30 * ones(3, 2)", "a constant below any float64 tolerance"),
      ("0 * X", "variant: the tiny term read as 0"))
_rows("constants", "sum(1e20 * X ** 2)", "X", _X,
      ("2e20 * X", "a huge constant"),
      ("2e20 * X + 1e12", "variant: off by 1e12 in 2e20, a relative 5e-9"))
_rows("constants", "sum((1 + 1e-10 * X) ** 2)", "X", _X,
      ("2e-10 * (1 + 1e-10 * X)", "a tiny slope"),
      ("2e-10 * ones(3, 2)", "variant: wrong by a relative 1e-10"))
_rows("constants", "sum((X + 1e-20) ** 2 - X ** 2)", "X", _X,
      ("2e-20 * ones(3, 2)", "cancellation down to 2e-20"),
      ("0 * X", "variant: the difference read as 0"))
_rows("constants", "sum(sigmoid(X - 20))", "X", _X,
      ("sigmoid(X - 20) * (1 - sigmoid(X - 20))", "a saturated sigmoid"),
      ("exp(X - 20)", "variant: the tail approximation, wrong by a relative 2e-9"))
_rows("constants", "sum(log(1e8 * X))", "X", _X,
      ("X ** -1", "a huge constant inside a log"),
      ("1e8 * X ** -1", "variant: the constant kept"))

# ---------------------------------------------------------------------------- kinks (issue #13)
# relu, leaky_relu, abs, step and sign are not differentiable (or not continuous)
# at 0; the oracle judges them away from the kinks, on entries of both signs, so
# a claim true on one sign region only (the step forgotten) is a false claim.
_rows("kinks", "sum(relu(X @ W))", "X", _XW,
      ("step(X @ W) @ W.T", "relu layer, the inputs"),
      ("ones(3, 4) @ W.T", "variant: the step forgotten (true only where X @ W > 0)"),
      ("relu(X @ W) @ W.T", "variant: relu for its derivative"))
_rows("kinks", "sum(relu(X @ W))", "W", _XW,
      ("X.T @ step(X @ W)", "relu layer, the weights"),
      ("X.T @ relu(X @ W)", "variant: relu for its derivative"))
_rows("kinks", "relu(X @ W + b)", "b", _LAYER,
      ("ones(1, 3) @ (G * step(X @ W + b))", "relu layer, the bias, backprop"),
      ("ones(1, 3) @ G", "variant: the step forgotten"))
_rows("kinks", "sum(abs(X))", "X", _X,
      ("sign(X)", "d|x|/dx = sign(x)"),
      ("2 * step(X) - 1", "the same, written with the step"),
      ("ones(3, 2)", "variant: |x| read as x"))
_rows("kinks", "sum(abs(X - A))", "X", {"X": (3, 2), "A": (3, 2)},
      ("sign(X - A)", "the L1 distance"),
      ("-sign(A - X)", "the same, the argument negated"),
      ("sign(A - X)", "variant: the sign of the inner derivative dropped"))
_rows("kinks", "sum(leaky_relu(X, 0.1))", "X", _X,
      ("0.1 + 0.9 * step(X)", "leaky relu with slope 0.1"),
      ("step(X)", "variant: relu's derivative, the slope forgotten"))
_rows("kinks", "sum(leaky_relu(X @ W, 0.2))", "W", _XW,
      ("X.T @ (0.2 + 0.8 * step(X @ W))", "leaky relu layer, slope 0.2"),
      ("X.T @ (0.8 + 0.2 * step(X @ W))", "variant: the two slopes swapped"))
_rows("kinks", "sum(relu(X) - relu(-X))", "X", _X,
      ("ones(3, 2)", "relu(x) - relu(-x) = x"),
      ("step(X) - step(-X)", "variant: the inner derivative of relu(-x) dropped"))
_rows("kinks", "sum(X * sign(X))", "X", _X,
      ("sign(X)", "x sign(x) = |x|; sign is constant off its kink"),
      ("2 * sign(X)", "variant: the product rule with a derivative of sign taken as 1"))

# ---------------------------------------------------------------------------- softmax (issue #13)
_Z = {"Z": (2, 3), "T": (2, 3)}
_S1 = "softmax(Z, axis=1)"
_rows("softmax", f"sum({_S1} * T)", "Z", _Z,
      (f"{_S1} * (T - sum({_S1} * T, axis=1))", "softmax's Jacobian-vector product, each row"),
      (f"{_S1} * (1 - {_S1}) * T", "variant: softmax's Jacobian taken as its diagonal only"))
_rows("softmax", _S1, "Z", {"Z": (2, 3)},
      (f"{_S1} * (G - sum(G * {_S1}, axis=1))", "softmax along rows, backprop"),
      (f"G * {_S1} * (1 - {_S1})", "variant: the diagonal only"),
      (f"{_S1} * (G - sum(G * {_S1}, axis=0))", "variant: the sum over the wrong axis"))
_rows("softmax", "softmax(Z, axis=0)", "Z", {"Z": (3, 2)},
      ("softmax(Z, axis=0) * (G - sum(G * softmax(Z, axis=0), axis=0))", "softmax along columns, backprop"),
      ("G * softmax(Z, axis=0) * (1 - softmax(Z, axis=0))", "variant: the diagonal only"))
_rows("softmax", "-sum(T * log_softmax(Z, axis=1))", "Z", _Z,
      (f"{_S1} * sum(T, axis=1) - T", "softmax cross-entropy, any targets"),
      (f"{_S1} - T", "variant: the rows of T taken to sum to 1 without saying so"),
      (f"T - {_S1}", "variant: the sign flipped"))
_rows("softmax", "log_softmax(Z, axis=1)", "Z", {"Z": (2, 3)},
      (f"G - {_S1} * sum(G, axis=1)", "log-softmax, backprop"),
      (f"G - {_S1}", "variant: the row sums of G dropped"))
_rows("softmax", "logsumexp(Z, axis=1)", "Z", {"Z": (2, 3)},
      (f"G * {_S1}", "logsumexp along rows: a column of upstreams times softmax"),
      ("G * exp(Z)", "variant: the normalisation forgotten"))
_rows("softmax", "logsumexp(Z)", "Z", {"Z": (2, 3)},
      ("softmax(Z)", "logsumexp of all entries: softmax of all entries"),
      (_S1, "variant: softmax of each row instead of all entries"))
_ATT = {"Q": (2, 2), "K": (2, 2), "V": (2, 2)}
_A = "softmax(Q @ K.T / sqrt(2), axis=1)"
_DA = f"({_A} * (G @ V.T - sum(G @ V.T * {_A}, axis=1)))"
_rows("softmax", f"{_A} @ V", "V", _ATT,
      (f"{_A}.T @ G", "scaled dot-product attention, the values"),
      (f"{_A} @ G", "variant: the transpose missing, square sizes"))
_rows("softmax", f"{_A} @ V", "Q", _ATT,
      (f"{_DA} @ K / sqrt(2)", "attention, the queries"),
      (f"{_DA} @ K", "variant: the scale 1/sqrt(2) forgotten"))
# (A false claim for dK is left out: refuting one takes the exact kernel 10 s or
# more, in simplify, with sqrt(2) in the exponents; the false claims for dV and
# dQ above take 0.3 s and 2 s.)
_rows("softmax", f"{_A} @ V", "K", _ATT,
      (f"{_DA}.T @ Q / sqrt(2)", "attention, the keys"))

# ---------------------------------------------------------------------------- reductions (issue #13)
_rows("reductions", "mean(X)", "X", _X,
      ("ones(3, 2) / 6", "the mean of 6 entries"),
      ("ones(3, 2)", "variant: the 1/n of the mean missing"))
_rows("reductions", "mean(X, axis=0)", "X", _X,
      ("ones(3, 1) @ G / 3", "the mean of each column, backprop"),
      ("ones(3, 1) @ G", "variant: the 1/n missing"))
_rows("reductions", "mean(X, axis=1)", "X", _X,
      ("G @ ones(1, 2) / 2", "the mean of each row, backprop"),
      ("G @ ones(1, 2) / 3", "variant: divided by the number of rows"))
_rows("reductions", "sum(X, axis=0)", "X", _X,
      ("ones(3, 1) @ G", "the sum of each column, backprop"),
      ("ones(3, 2) * G / 3", "variant: a mean's 1/n"))
_rows("reductions", "norm(X) ** 2", "X", _X,
      ("2 * X", "the squared Frobenius norm"),
      ("X", "variant: the factor 2 forgotten"))
_rows("reductions", "norm(X)", "X", _X,
      ("X / norm(X)", "the Frobenius norm (away from X = 0)"),
      ("2 * X / norm(X)", "variant: the derivative of the square kept"))
_rows("reductions", "mean((X @ W - T) ** 2)", "W", _LS,
      ("2 * X.T @ (X @ W - T) / 8", "the mean-squared error over 8 entries"),
      ("X.T @ (X @ W - T) / 8", "variant: the factor 2 forgotten"),
      ("2 * X.T @ (X @ W - T)", "variant: the 1/n missing"))
_rows("reductions", "sum(X / Y)", "Y", {"X": (2, 3), "Y": (2, 3)},
      ("-X / Y ** 2", "entrywise division by a matrix"),
      ("X / Y ** 2", "variant: the sign dropped"))
_rows("reductions", "sum(X / Y)", "X", {"X": (2, 3), "Y": (2, 3)},
      ("1 / Y", "entrywise division, the numerator"),
      ("Y", "variant: multiplied instead of divided"))
_rows("reductions", "sum(X / b)", "b", {"X": (2, 3), "b": (1, 3)},
      ("-sum(X, axis=0) / b ** 2", "division by a row, stretched over the rows"),
      ("-X / b ** 2", "variant: the sum over the rows forgotten (a 2x3 claim)"))
_rows("reductions", "sum(pi * X / sqrt(2))", "X", {"X": (2, 3)},
      ("pi / sqrt(2) * ones(2, 3)", "exact constants"),
      ("pi * sqrt(2) * ones(2, 3)", "variant: sqrt(2) multiplied, not divided"))
