"""Assumptions of a program (``assume sum(T, axis=1) = 1``) and the textbook forms they allow.

The gradients of a program are derived without its assumptions: they hold
everywhere.  A course writes some of them in a shorter form that is true only
under a fact about the data; softmax with cross-entropy gives

    dZ = softmax(Z) * sum(T, axis=1) - T,   which is softmax(Z) - T when every row of T sums to 1.

That last step is made here in three moves, each of which can be checked:

1. :func:`tidy` rewrites the derived form by identities that hold everywhere
   (signs pulled out of sums and products, ``-T - S * (-u)`` as ``S * u - T``,
   a factor 1 dropped), so that the assumed expression appears as written;
2. :func:`rewrite` replaces each occurrence of the assumed expression by its
   value: by congruence, the result equals the tidied form wherever the
   assumption holds;
3. :func:`tidy` again.

At concrete sizes the result is checked exactly against the derived form on the
set where the assumption holds (:func:`solve_for_entries` parametrises that set
by solving the assumption for one entry of each equation); for all sizes,
moves 1 and 3 are proven in index notation and move 2 is a syntactic
replacement (see :mod:`symderive.network`).  Nothing here evaluates text.
"""

from __future__ import annotations

from fractions import Fraction

import sympy

from .expr import Add, Along, Call, Constant, Div, Expr, Hadamard, MatMul, Neg, Number, Ones, Sub, Transpose
from .shapes import shape_of

__all__ = ["tidy", "rewrite", "occurs", "solve_for_entries", "Unsolvable"]

ONE = Number(Fraction(1))
_LINEAR_REDUCTIONS = ("sum", "mean", "trace")  # f(-A) = -f(A)


def _is_one(node: Expr) -> bool:
    return isinstance(node, Number) and node.value == 1


def _scalar(node: Expr) -> bool:
    """A 1x1 constant (a number, sqrt(2), 1/n, lam): it broadcasts against anything."""
    from .expr import Identity, walk

    return all(isinstance(sub, (Number, Constant)) or (sub.children() and not isinstance(sub, (MatMul, Transpose)))
               for sub in walk(node)) and not any(isinstance(sub, (Ones, Identity)) for sub in walk(node))


def _shape(node: Expr, shapes: dict | None):
    if shapes is None:
        return None
    try:
        return shape_of(node, shapes)
    except Exception:  # a name without a shape: the rule that needs it does not apply
        return None


def _tidy_node(node: Expr, shapes: dict | None = None) -> Expr:
    """One node, its children already tidy: each rule an identity for every shape
    (broadcasting included), so that the result equals ``node`` everywhere.  Rules
    about ones(r, c) need ``shapes`` (every name's shape) to see that the ones
    change nothing."""
    if isinstance(node, Neg) and isinstance(node.operand, Neg):
        return node.operand.operand
    if isinstance(node, (Along, Call)) and node.function in _LINEAR_REDUCTIONS and isinstance(node.argument, Neg):
        return Neg(node.rebuild(node.argument.operand))
    if isinstance(node, (Along, Call)) and node.function in _LINEAR_REDUCTIONS \
            and isinstance(node.argument, Hadamard) and _scalar(node.argument.left):
        return Hadamard(node.argument.left, node.rebuild(node.argument.right))  # sum(c A) = c sum(A)
    if isinstance(node, Hadamard):
        left, right = node.left, node.right
        if _scalar(right) and not _scalar(left):
            return Hadamard(right, left)  # the scalar first
        if isinstance(left, Hadamard) and _scalar(left.right):
            return Hadamard(left.right, Hadamard(left.left, right))
        if isinstance(right, Hadamard) and _scalar(right.left) and not _scalar(left):
            return Hadamard(right.left, Hadamard(left, right.right))
        if isinstance(left, Hadamard) and _scalar(left.left) and not _scalar(right):
            return Hadamard(left.left, Hadamard(left.right, right))
        if _scalar(left) and _scalar(right) and isinstance(left, Number) and isinstance(right, Number):
            return Number(left.value * right.value)
        for ones, other in ((left, right), (right, left)):
            if isinstance(ones, Ones) and _shape(other, shapes) == (ones.rows, ones.cols):
                return other  # ones(r, c) * B = B for B of shape r x c
    if isinstance(node, Div) and _scalar(node.right) and not _scalar(node.left):
        return Hadamard(Div(ONE, node.right), node.left)  # A / c = (1/c) * A, gathered with the other scalars
    if isinstance(node, MatMul):
        for k, side in enumerate((node.left, node.right)):
            if isinstance(side, Hadamard) and _scalar(side.left) and not _scalar(side.right):
                inner = MatMul(side.right, node.right) if k == 0 else MatMul(node.left, side.right)
                return Hadamard(side.left, inner)  # A @ (c B) = c (A @ B)
    if isinstance(node, Sub) and isinstance(node.left, Hadamard) and isinstance(node.right, Hadamard) \
            and _scalar(node.left.left) and node.left.left == node.right.left:
        return Hadamard(node.left.left, Sub(node.left.right, node.right.right))  # c A - c B = c (A - B)
    if isinstance(node, Add) and isinstance(node.left, Hadamard) and isinstance(node.right, Hadamard) \
            and _scalar(node.left.left) and node.left.left == node.right.left:
        return Hadamard(node.left.left, Add(node.left.right, node.right.right))
    if isinstance(node, Transpose) and isinstance(node.operand, Neg):
        return Neg(Transpose(node.operand.operand))
    if isinstance(node, (Hadamard, MatMul, Div)):
        left, right = node.left, node.right
        if isinstance(node, Hadamard) and _is_one(right):
            return left
        if isinstance(node, Hadamard) and _is_one(left):
            return right
        if isinstance(node, Div) and _is_one(right):
            return left
        if isinstance(left, Neg) and isinstance(right, Neg):
            return node.rebuild(left.operand, right.operand)
        if isinstance(left, Neg):
            return Neg(node.rebuild(left.operand, right))
        if isinstance(right, Neg):
            return Neg(node.rebuild(left, right.operand))
    if isinstance(node, Add):
        left, right = node.left, node.right
        if isinstance(left, Neg) and isinstance(right, Neg):
            return Neg(Add(left.operand, right.operand))
        if isinstance(right, Neg):
            return Sub(left, right.operand)
        if isinstance(left, Neg):
            return Sub(right, left.operand)
    if isinstance(node, Sub):
        left, right = node.left, node.right
        if isinstance(left, Neg) and isinstance(right, Neg):
            return Sub(right.operand, left.operand)
        if isinstance(right, Neg):
            return Add(left, right.operand)
        if isinstance(left, Neg):
            return Neg(Add(left.operand, right))
    return node


def _written(node: Expr) -> Expr:
    """As a course writes it: (1/c) * A as A / c."""
    children = node.children()
    if children:
        node = node.rebuild(*(_written(child) for child in children))
    if isinstance(node, Hadamard) and isinstance(node.left, Div) and _is_one(node.left.left) \
            and _scalar(node.left.right) and not _scalar(node.right):
        return Div(node.right, node.left.right)
    return node


def tidy(node: Expr, shapes: dict | None = None) -> Expr:
    """:func:`gathered`, then written as a course writes it ((1/n) * A as A / n)."""
    return _written(gathered(node, shapes))


def gathered(node: Expr, shapes: dict | None = None) -> Expr:
    """``node`` with signs gathered, scalar factors in front and factors 1 dropped,
    by identities that hold for every value and every shape: ``-T - S * sum(-T, axis=1)``
    becomes ``S * sum(T, axis=1) - T``."""
    for _ in range(200):  # each pass moves signs and scalars outwards or removes nodes: it settles
        children = node.children()
        tidied = node.rebuild(*(gathered(child, shapes) for child in children)) if children else node
        tidied = _tidy_node(tidied, shapes)
        if tidied == node:
            return node
        node = tidied
    return node


def occurs(pattern: Expr, node: Expr) -> bool:
    """Whether ``pattern`` is a subtree of ``node``."""
    if node == pattern:
        return True
    return any(occurs(pattern, child) for child in node.children())


def rewrite(node: Expr, left: Expr, right: Expr) -> Expr:
    """``node`` with every occurrence of ``left`` replaced by ``right`` (congruence:
    equal to ``node`` wherever left = right)."""
    if node == left:
        return right
    children = node.children()
    return node.rebuild(*(rewrite(child, left, right) for child in children)) if children else node


class Unsolvable(Exception):
    """The assumption cannot be solved for entries at these sizes by the linear method."""


def solve_for_entries(equations: list[sympy.Expr], unknowns: list[sympy.Symbol]) -> dict:
    """Values for some of ``unknowns`` that make every equation (``expr = 0``) hold,
    as functions of the others, such that the points satisfying the equations are
    exactly those given by the values: one unknown is chosen for each equation (the
    last one it mentions that no earlier equation took), and the equations must be
    linear in the chosen unknowns with a constant, invertible coefficient matrix.
    Then substituting the values in both sides of a claim and comparing is an exact
    check of the claim on the whole set where the assumption holds."""
    equations = [sympy.expand(e) for e in equations if sympy.expand(e) != 0]
    order = {symbol: k for k, symbol in enumerate(unknowns)}
    chosen: list[sympy.Symbol] = []
    for equation in equations:
        candidates = sorted((s for s in equation.free_symbols if s in order and s not in chosen),
                            key=order.get, reverse=True)
        pick = next((s for s in candidates if sympy.diff(equation, s).is_number and sympy.diff(equation, s) != 0),
                    None)
        if pick is None:
            raise Unsolvable(f"no entry to solve {equation} = 0 for")
        chosen.append(pick)
    if not chosen:
        return {}
    jacobian = sympy.Matrix([[sympy.diff(e, s) for s in chosen] for e in equations])
    if jacobian.free_symbols or jacobian.det() == 0:
        raise Unsolvable("the assumption is not linear in the entries solved for, with an invertible "
                         "constant coefficient matrix")
    solution = sympy.solve(equations, chosen, dict=True)
    if len(solution) != 1 or set(solution[0]) != set(chosen):
        raise Unsolvable("the linear system did not give one solution")
    return solution[0]
