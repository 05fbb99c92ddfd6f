"""The table of derivative rules: one small function per operation and argument.

Each rule is a vector-Jacobian product in the style of autograd's ``defvjp``:
given the upstream gradient G = df/dY of the operation's output Y, it returns
the operation's contribution to df/dA for one argument A, as an expression of
the language (so closed forms print, parse and evaluate like anything a user
writes).  ``G`` has Y's shape; for a scalar-valued Y it is 1x1.  Broadcast
arguments get their contribution summed back to their own shape.

A rule may also state the operation's Jacobian entry by entry, in index
notation (Kronecker deltas and indexed entries): the seed note's intermediate
results.

These are *claims*.  :mod:`symderive.verify` checks every one of them against
the chain-rule derivation of :mod:`symderive.chain_rule` and never calls this
module.  Walking the expression from the output down, each rule applied is
recorded as a :class:`RuleStep`, so the document can show how the closed form
was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import sympy
from sympy import KroneckerDelta

from .errors import BadInput
from .expr import (Add, Along, Call, Constant, Div, Expr, Hadamard, Identity, MatMul, Name, Neg,
                   Number, Ones, Power, Sub, Transpose, names_in, size_symbol)
from .shapes import Shape

__all__ = ["Rule", "RuleStep", "INDEX", "defvjp", "rules_for", "operation", "closed_forms"]

# The note's index names, as sympy symbols: entry (p, q) of the output,
# entry (i, j) of the argument.  1-based, like the note.
INDEX = dict(zip("pqij", sympy.symbols("p q i j", integer=True, positive=True)))

ONE = Number(Fraction(1))


@dataclass(frozen=True)
class Rule:
    """The derivative of one operation with respect to one of its arguments.

    ``vjp(G, node, shapes, out)`` gets the upstream gradient, the operation's
    node (its arguments are ``node.children()``), their shapes and the
    output's shape.
    """

    operation: str
    argument: int
    identity: str  # the rule in one line of plain text
    source: str  # where the identity is stated
    vjp: Callable[[Expr, Expr, tuple[Shape, ...], Shape], Expr]
    entry_jacobian: Callable[..., sympy.Expr] | None = None  # (p, q, i, j, *operands) -> dY_pq/dA_ij

    @property
    def name(self) -> str:
        return f"{self.operation}_vjp_{self.argument}"


@dataclass(frozen=True)
class RuleStep:
    """One application of a rule while walking the tree from the output down."""

    rule: Rule
    node: Expr  # the operation's node
    argument: Expr  # the argument the contribution is for
    upstream: Expr  # df/d(node)
    result: Expr  # the contribution to df/d(argument), simplified


_RULES: dict[str, tuple[Rule, ...]] = {}


def defvjp(operation: str, identities: tuple[str, ...], source: str, *vjps, jacobians=()) -> None:
    """Register the rules of ``operation``, one VJP per argument, in argument order."""
    jacobians = tuple(jacobians) + (None,) * (len(vjps) - len(jacobians))
    _RULES[operation] = tuple(
        Rule(operation, k, identity, source, vjp, jac)
        for k, (identity, vjp, jac) in enumerate(zip(identities, vjps, jacobians)))


def operation(node: Expr) -> str:
    """The name of the operation at ``node``, the key of the rule table."""
    if isinstance(node, Along):
        return f"{node.function}_axis{node.axis}"
    return node.function if isinstance(node, Call) else type(node).__name__.lower()


def rules_for(node: Expr) -> tuple[Rule, ...]:
    """The rules of the operation at ``node``; BadInput naming it when there are none."""
    try:
        return _RULES[operation(node)]
    except KeyError:
        raise BadInput(f"no derivative rule for the operation {operation(node)!r} (in {node})") from None


def _reduce_to(G: Expr, shape: Shape, out: Shape) -> Expr:
    """Undo broadcasting: sum G over the rows and/or columns an argument was stretched along."""
    if shape[0] == 1 and out[0] > 1:
        G = MatMul(Ones(1, out[0]), G)
    if shape[1] == 1 and out[1] > 1:
        G = MatMul(G, Ones(out[1], 1))
    return G


def _n(value) -> Number:
    return Number(Fraction(value))


def _size(*dims) -> Expr:
    """The product of sizes as a constant: a Number for whole numbers, a Constant in
    the size symbols for sizes written as names (the lemmas' n, m)."""
    import sympy

    if all(isinstance(d, int) for d in dims):
        product = 1
        for d in dims:
            product *= d
        return _n(product)
    value = sympy.Mul(*[sympy.Integer(d) if isinstance(d, int) else size_symbol(str(d)) for d in dims])
    return Constant(value)


# ---------------------------------------------------------------------------
# Matrix product  Y = A B,  Y_pq = sum_r A_pr B_rq
# ---------------------------------------------------------------------------


def matmul_jacobian_left(p, q, i, j, A, B) -> sympy.Expr:
    """dY_pq/dA_ij = sum_r delta_pi delta_rj B_rq = delta_pi B_jq.  Seed note, sec. 3."""
    return KroneckerDelta(p, i, evaluate=False) * B[j, q]  # in the note's order


def matmul_jacobian_right(p, q, i, j, A, B) -> sympy.Expr:
    """dY_pq/dB_ij = sum_r A_pr delta_ri delta_qj = delta_qj A_pi.  Seed note, sec. 4."""
    return KroneckerDelta(q, j, evaluate=False) * A[p, i]


defvjp("matmul",
       ("Y = A @ B  gives  df/dA = G @ B.T", "Y = A @ B  gives  df/dB = A.T @ G"),
       "seed note, sections 3 and 4; J. Johnson, CS231n handout on the linear layer",
       lambda G, node, shapes, out: MatMul(G, Transpose(node.children()[1])),
       lambda G, node, shapes, out: MatMul(Transpose(node.children()[0]), G),
       jacobians=(matmul_jacobian_left, matmul_jacobian_right))

# ---------------------------------------------------------------------------
# Sums, differences, negation: d(A + B) = dA + dB
# ---------------------------------------------------------------------------

defvjp("add", ("Y = A + B  gives  df/dA = G", "Y = A + B  gives  df/dB = G"),
       "linearity (summed over broadcast axes, as NumPy stretches them)",
       lambda G, node, shapes, out: _reduce_to(G, shapes[0], out),
       lambda G, node, shapes, out: _reduce_to(G, shapes[1], out))

defvjp("sub", ("Y = A - B  gives  df/dA = G", "Y = A - B  gives  df/dB = -G"),
       "linearity (summed over broadcast axes)",
       lambda G, node, shapes, out: _reduce_to(G, shapes[0], out),
       lambda G, node, shapes, out: _reduce_to(Neg(G), shapes[1], out))

defvjp("neg", ("Y = -A  gives  df/dA = -G",), "linearity",
       lambda G, node, shapes, out: Neg(G))

# ---------------------------------------------------------------------------
# Entrywise products and powers: Y_pq = A_pq B_pq
# ---------------------------------------------------------------------------

defvjp("hadamard", ("Y = A * B  gives  df/dA = G * B", "Y = A * B  gives  df/dB = G * A"),
       "product rule, entry by entry (Matrix Cookbook (2012) sec. 2.8 for the Hadamard product)",
       lambda G, node, shapes, out: _reduce_to(Hadamard(G, node.children()[1]), shapes[0], out),
       lambda G, node, shapes, out: _reduce_to(Hadamard(G, node.children()[0]), shapes[1], out))

defvjp("div", ("Y = A / B  gives  df/dA = G / B", "Y = A / B  gives  df/dB = -(G * A / B**2)"),
       "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2, entry by entry (summed over broadcast axes)",
       lambda G, node, shapes, out: _reduce_to(Div(G, node.right), shapes[0], out),
       lambda G, node, shapes, out: _reduce_to(Neg(Div(Hadamard(G, node.left), Power(node.right, Fraction(2)))),
                                               shapes[1], out))


defvjp("power", ("Y = A**c  gives  df/dA = G * (c * A**(c-1))",), "d a^c/da = c a^(c-1)",
       lambda G, node, shapes, out: Hadamard(G, Hadamard(Number(node.exponent),
                                                         Power(node.base, node.exponent - 1))))

defvjp("transpose", ("Y = A.T  gives  df/dA = G.T",), "definition of the transpose",
       lambda G, node, shapes, out: Transpose(G))

# ---------------------------------------------------------------------------
# Entrywise functions: Y_pq = s(A_pq) gives df/dA = G * s'(A)
# ---------------------------------------------------------------------------


def _entrywise(derivative: Callable[[Expr], Expr]) -> Callable:
    return lambda G, node, shapes, out: Hadamard(G, derivative(node.argument))


def _call(name: str, A: Expr) -> Expr:
    return Call(name, A)


defvjp("exp", ("Y = exp(A)  gives  df/dA = G * exp(A)",), "d e^a/da = e^a",
       _entrywise(lambda A: _call("exp", A)))
defvjp("log", ("Y = log(A)  gives  df/dA = G * A**-1",), "d log a/da = 1/a",
       _entrywise(lambda A: Power(A, Fraction(-1))))
defvjp("tanh", ("Y = tanh(A)  gives  df/dA = G * (1 - tanh(A)**2)",), "d tanh a/da = 1 - tanh^2 a",
       _entrywise(lambda A: Sub(ONE, Power(_call("tanh", A), Fraction(2)))))
defvjp("sigmoid", ("Y = sigmoid(A)  gives  df/dA = G * sigmoid(A) * (1 - sigmoid(A))",),
       "d s(a)/da = s(a)(1 - s(a)) for s(a) = 1/(1 + e^-a)",
       _entrywise(lambda A: Hadamard(_call("sigmoid", A), Sub(ONE, _call("sigmoid", A)))))
defvjp("sin", ("Y = sin(A)  gives  df/dA = G * cos(A)",), "d sin a/da = cos a",
       _entrywise(lambda A: _call("cos", A)))
defvjp("cos", ("Y = cos(A)  gives  df/dA = -(G * sin(A))",), "d cos a/da = -sin a",
       lambda G, node, shapes, out: Neg(Hadamard(G, _call("sin", node.children()[0]))))
defvjp("sqrt", ("Y = sqrt(A)  gives  df/dA = G * sqrt(A)**-1 / 2",), "d sqrt(a)/da = 1/(2 sqrt a)",
       lambda G, node, shapes, out: Div(Hadamard(G, Power(_call("sqrt", node.children()[0]), Fraction(-1))), _n(2)))

# The kinked functions: derivatives that hold where the argument is not 0
# (symderive.kinks defines them through the unit step, whose derivative is 0 there).
defvjp("relu", ("Y = relu(A)  gives  df/dA = G * step(A)   (where A != 0)",),
       "d max(a, 0)/da = 1 for a > 0, 0 for a < 0",
       _entrywise(lambda A: _call("step", A)))
defvjp("abs", ("Y = abs(A)  gives  df/dA = G * sign(A)   (where A != 0)",), "d |a|/da = sign a for a != 0",
       _entrywise(lambda A: _call("sign", A)))
defvjp("step", ("Y = step(A)  gives  df/dA = 0 * G   (where A != 0)",), "the step is constant on each side of 0",
       lambda G, node, shapes, out: Hadamard(_n(0), G))
defvjp("sign", ("Y = sign(A)  gives  df/dA = 0 * G   (where A != 0)",), "the sign is constant on each side of 0",
       lambda G, node, shapes, out: Hadamard(_n(0), G))
defvjp("leaky_relu", ("Y = leaky_relu(A, c)  gives  df/dA = G * (c + (1 - c) * step(A))   (where A != 0)",),
       "d leaky_relu(a, c)/da = 1 for a > 0, c for a < 0",
       lambda G, node, shapes, out: Hadamard(G, Add(Number(node.parameter),
                                                   Hadamard(Number(1 - node.parameter), _call("step", node.argument)))))

# ---------------------------------------------------------------------------
# Reductions and softmax, over all entries or along an axis (G has the result's shape)
# ---------------------------------------------------------------------------


def _spread(G: Expr, shape, axis: int | None) -> Expr:
    """G, one entry per column (axis 0), per row (axis 1) or in all (None), copied to
    every entry of a matrix of ``shape`` that was reduced."""
    rows, cols = shape
    if axis == 0:
        return MatMul(Ones(rows, 1), G)
    if axis == 1:
        return MatMul(G, Ones(1, cols))
    return Hadamard(G, Ones(rows, cols))


def _reduced(function: str, A: Expr, axis: int | None) -> Expr:
    return Call(function, A) if axis is None else Along(function, A, axis)


def _reduction_rules(axis: int | None) -> None:
    suffix = "" if axis is None else f", axis={axis}"
    key = (lambda name: name) if axis is None else (lambda name: f"{name}_axis{axis}")
    where = {None: "over all entries", 0: "along each column", 1: "along each row"}[axis]
    defvjp(key("mean"), (f"Y = mean(A{suffix})  gives  df/dA = G spread {where}, / the count",),
           "d mean/dA_ij = 1 / (the entries averaged)",
           lambda G, node, shapes, out: Div(_spread(G, shapes[0], axis),
                                            _size(*([shapes[0][axis]] if axis is not None else shapes[0]))))
    defvjp(key("softmax"), (f"S = softmax(A{suffix})  gives  df/dA = S * (G - sum(G * S{suffix}))",),
           "dS_pq/dA_pj = S_pq (delta_qj - S_pj) within each group",
           lambda G, node, shapes, out: Hadamard(node, Sub(G, _reduced("sum", Hadamard(G, node), axis))))
    defvjp(key("log_softmax"),
           (f"Y = log_softmax(A{suffix})  gives  df/dA = G - softmax(A{suffix}) * sum(G{suffix})",),
           "dY_pq/dA_pj = delta_qj - S_pj within each group",
           lambda G, node, shapes, out: Sub(G, Hadamard(_reduced("softmax", node.argument, axis),
                                                        _reduced("sum", G, axis))))
    defvjp(key("logsumexp"), (f"y = logsumexp(A{suffix})  gives  df/dA = G * softmax(A{suffix})",),
           "d log sum_j e^(a_j) / d a_k = e^(a_k) / sum_j e^(a_j)",
           lambda G, node, shapes, out: Hadamard(G, _reduced("softmax", node.argument, axis)))
    if axis is not None:
        defvjp(key("sum"), (f"Y = sum(A{suffix})  gives  df/dA = G spread {where}",),
               "d (sum along the axis)/dA_ij = 1 for the group of A_ij",
               lambda G, node, shapes, out: _spread(G, shapes[0], axis))


for _axis in (None, 0, 1):
    _reduction_rules(_axis)

defvjp("norm", ("y = norm(A)  gives  df/dA = G * A / norm(A)",), "d ||A||_F / dA = A / ||A||_F (where A != 0)",
       lambda G, node, shapes, out: Div(Hadamard(G, node.argument), node))

# ---------------------------------------------------------------------------
# Scalar-valued functions (G is 1x1) and the inverse
# ---------------------------------------------------------------------------

defvjp("trace", ("y = trace(A)  gives  df/dA = G * I",), "Matrix Cookbook (2012) eq. (100)",
       lambda G, node, shapes, out: Hadamard(G, Identity(shapes[0][0])))
defvjp("sum", ("y = sum(A)  gives  df/dA = G * ones",), "d (sum of entries)/dA_ij = 1",
       lambda G, node, shapes, out: Hadamard(G, Ones(*shapes[0])))
# Jacobi's formula, d det(A) = tr(adj(A) dA), so d det(A)/dA = adj(A).T: the
# matrix of cofactors, a polynomial in the entries, defined for every A.  The
# Matrix Cookbook's det(A) inv(A).T is the same where A is invertible, and
# undefined where it is not (det(X @ W) for X 3x2, W 2x3 is identically 0, and
# so is its gradient).
defvjp("det", ("y = det(A)  gives  df/dA = G * adj(A).T",),
       "Jacobi's formula; Matrix Cookbook (2012) eq. (49) where A is invertible",
       lambda G, node, shapes, out: Hadamard(G, Transpose(_call("adj", node.children()[0]))))
defvjp("inv", ("Y = inv(A)  gives  df/dA = -(inv(A).T @ G @ inv(A).T)",),
       "Matrix Cookbook (2012) eq. (59)",
       lambda G, node, shapes, out: Neg(MatMul(MatMul(Transpose(_call("inv", node.children()[0])), G),
                                               Transpose(_call("inv", node.children()[0])))))


# ---------------------------------------------------------------------------
# Simplification of the closed forms
# ---------------------------------------------------------------------------


def _is_number(node: Expr, value=None) -> bool:
    return isinstance(node, Number) and (value is None or node.value == value)


class _Simplifier:
    """Rewrites that keep value and shape, applied bottom-up: numbers folded and
    moved to the front, signs pulled out, identities and all-ones factors that
    do not broadcast dropped, transposes pushed through products to the names."""

    def __init__(self, leaf_shapes: dict[str, Shape]) -> None:
        self.leaf_shapes = leaf_shapes
        self.cache: dict[Expr, Shape] = {}

    def shape(self, node: Expr) -> Shape | None:
        from .shapes import shape_of

        try:
            return shape_of(node, self.leaf_shapes, self.cache)
        except BadInput:
            return None

    def __call__(self, node: Expr) -> Expr:
        kids = [self(child) for child in node.children()]
        node = node.rebuild(*kids) if kids else node
        method = getattr(self, "_" + type(node).__name__.lower(), None)
        return method(node) if method else node

    def _hadamard(self, node: Hadamard) -> Expr:
        a, b = node.left, node.right
        if _is_number(a) and _is_number(b):
            return Number(a.value * b.value)
        if _is_number(b) or (isinstance(b, Ones) and not isinstance(a, Ones)):
            a, b = b, a  # numbers and ones first: 2 * X
        if _is_number(a, 1):
            return b  # a number is 1x1 and broadcasts: the shape is b's
        if _is_number(a, -1):
            return self(Neg(b))
        if isinstance(a, Ones) and self.shape(b) == (a.rows, a.cols):
            return b
        if isinstance(a, Neg):
            return self(Neg(Hadamard(a.operand, b)))
        if isinstance(b, Neg):
            return self(Neg(Hadamard(a, b.operand)))
        if _is_number(a) and isinstance(b, Hadamard) and _is_number(b.left):
            return self(Hadamard(Number(a.value * b.left.value), b.right))
        if _is_number(a) and isinstance(b, Div) and _is_number(b.right):
            return self(Hadamard(Number(a.value / b.right.value), b.left))
        if isinstance(b, Hadamard) and _is_number(b.left):
            return self(Hadamard(b.left, Hadamard(a, b.right)))
        if isinstance(a, Hadamard) and _is_number(a.left) and not _is_number(b):
            return self(Hadamard(a.left, Hadamard(a.right, b)))
        return Hadamard(a, b)

    def _div(self, node: Div) -> Expr:
        a, c = node.left, node.right
        if _is_number(c, 1):
            return a
        if isinstance(a, Neg):
            return self(Neg(Div(a.operand, c)))
        if not _is_number(c):
            return node
        if _is_number(a):
            return Number(a.value / c.value)
        if isinstance(a, Hadamard) and _is_number(a.left):
            return self(Hadamard(Number(a.left.value / c.value), a.right))
        if isinstance(a, Ones):
            return self(Hadamard(Number(1 / c.value), a))
        return node

    def _matmul(self, node: MatMul) -> Expr:
        a, b = node.left, node.right
        if isinstance(a, Identity) or _is_number(a, 1):
            return b
        if isinstance(b, Identity) or _is_number(b, 1):
            return a
        if isinstance(a, Neg):
            return self(Neg(MatMul(a.operand, b)))
        if isinstance(b, Neg):
            return self(Neg(MatMul(a, b.operand)))
        return node

    def _transpose(self, node: Transpose) -> Expr:
        a = node.operand
        if isinstance(a, Transpose):
            return a.operand
        if isinstance(a, (Identity, Number, Constant)):
            return a
        if isinstance(a, Ones):
            return Ones(a.cols, a.rows)
        if isinstance(a, Neg):
            return self(Neg(Transpose(a.operand)))
        if isinstance(a, MatMul):  # (AB)^T = B^T A^T
            return self(MatMul(Transpose(a.right), Transpose(a.left)))
        return node

    def _neg(self, node: Neg) -> Expr:
        a = node.operand
        if isinstance(a, Neg):
            return a.operand
        if _is_number(a):
            return Number(-a.value)
        return node

    def _power(self, node: Power) -> Expr:
        return node.base if node.exponent == 1 else node

    def _add(self, node: Add) -> Expr:
        if node.left == node.right:
            return self(Hadamard(Number(Fraction(2)), node.left))
        if isinstance(node.right, Neg):
            return Sub(node.left, node.right.operand)
        if isinstance(node.left, Neg):
            return Sub(node.right, node.left.operand)
        return node

    def _sub(self, node: Sub) -> Expr:
        if isinstance(node.right, Neg):
            return Add(node.left, node.right.operand)
        return node


# ---------------------------------------------------------------------------
# Walking the tree: reverse accumulation
# ---------------------------------------------------------------------------


def closed_forms(root: Expr, upstream: Expr, shapes: dict[Expr, Shape],
                 leaf_shapes: dict[str, Shape]) -> tuple[dict[str, Expr], list[RuleStep]]:
    """df/dA for every name A in ``root``, by reverse accumulation through the rules.

    ``upstream`` is df/d(root): the name of the upstream gradient, or the
    number 1 for a scalar-valued root.  ``shapes`` holds the shape of every
    sub-expression; ``leaf_shapes`` that of every name, the upstream's included.  A name used more than once
    collects the sum of its contributions.  Returns the simplified closed forms
    and the steps taken, in order.
    """
    found: dict[str, Expr] = {}
    steps: list[RuleStep] = []
    tidy = _Simplifier(leaf_shapes)

    def backward(node: Expr, G: Expr) -> None:
        if isinstance(node, Name):
            found[node.name] = Add(found[node.name], G) if node.name in found else G
            return
        children = node.children()
        if not any(names_in(child) for child in children):
            return
        rules = rules_for(node)
        child_shapes = tuple(shapes[child] for child in children)
        for rule, child in zip(rules, children):
            if not names_in(child):
                continue  # a constant: nothing to differentiate by
            contribution = tidy(rule.vjp(G, node, child_shapes, shapes[node]))
            steps.append(RuleStep(rule, node, child, G, contribution))
            backward(child, contribution)

    backward(root, upstream)
    return {name: tidy(form) for name, form in found.items()}, steps
