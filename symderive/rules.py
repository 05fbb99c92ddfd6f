"""The table of derivative rules: one small function per operation and argument.

Each rule is a vector-Jacobian product in the style of autograd's ``defvjp``:
given the upstream gradient G = df/dY of the operation's output Y, it returns
the operation's contribution to df/dA for one argument A, as a sympy matrix
expression.  A rule may also state the operation's Jacobian entry by entry, in
index notation (Kronecker deltas and indexed entries), which is the seed note's
intermediate result.

These are *claims*.  :mod:`symderive.verify` checks every one of them against
the chain-rule derivation of :mod:`symderive.chain_rule` and never calls this
module.

Walking the expression tree from the output down, each rule applied is recorded
as a :class:`RuleStep`, so the document can show how the closed form was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy
from sympy import KroneckerDelta, MatrixExpr

from .errors import BadInput
from .expr import Expr, MatMul, Name

__all__ = [
    "Rule",
    "RuleStep",
    "INDEX",
    "defvjp",
    "rules_for",
    "matrix_expression",
    "closed_forms",
]

# The note's index names, as sympy symbols: entry (p, q) of the output,
# entry (i, j) of the argument.  1-based, like the note.
INDEX = dict(zip("pqij", sympy.symbols("p q i j", integer=True, positive=True)))


@dataclass(frozen=True)
class Rule:
    """The derivative of one operation with respect to one of its arguments."""

    operation: type
    argument: int
    name: str
    identity: str  # the rule as a sentence of maths, in plain text
    source: str  # where the identity is stated
    vjp: Callable[..., MatrixExpr]  # (G, *operands) -> contribution to df/d(argument)
    entry_jacobian: Callable[..., sympy.Expr] | None = None  # (p, q, i, j, *operands) -> dY_pq/dA_ij


@dataclass(frozen=True)
class RuleStep:
    """One application of a rule while walking the tree from the output down."""

    rule: Rule
    node: Expr
    upstream: MatrixExpr
    result: MatrixExpr


_RULES: dict[type, tuple[Rule, ...]] = {}


def defvjp(operation: type, *rules: Rule) -> None:
    """Register the rules of ``operation``, one per argument, in argument order."""
    assert all(r.operation is operation and r.argument == k for k, r in enumerate(rules))
    _RULES[operation] = rules


def rules_for(node: Expr) -> tuple[Rule, ...]:
    """The rules of the operation at ``node``; BadInput naming it when there are none."""
    try:
        return _RULES[type(node)]
    except KeyError:
        raise BadInput(
            f"no derivative rule for the operation {type(node).__name__} (in {node})"
        ) from None


# ---------------------------------------------------------------------------
# Matrix product  Y = A B,  Y_pq = sum_r A_pr B_rq
# ---------------------------------------------------------------------------


def matmul_vjp_left(G: MatrixExpr, A: MatrixExpr, B: MatrixExpr) -> MatrixExpr:
    """df/dA = G B^T.  Seed note, sec. 3; J. Johnson, CS231n handout on the linear layer."""
    return G * B.T


def matmul_vjp_right(G: MatrixExpr, A: MatrixExpr, B: MatrixExpr) -> MatrixExpr:
    """df/dB = A^T G.  Seed note, sec. 4; J. Johnson, CS231n handout on the linear layer."""
    return A.T * G


def matmul_jacobian_left(p, q, i, j, A, B) -> sympy.Expr:
    """dY_pq/dA_ij = sum_r delta_pi delta_rj B_rq = delta_pi B_jq.  Seed note, sec. 3."""
    return KroneckerDelta(p, i, evaluate=False) * B[j, q]  # in the note's order


def matmul_jacobian_right(p, q, i, j, A, B) -> sympy.Expr:
    """dY_pq/dB_ij = sum_r A_pr delta_ri delta_qj = delta_qj A_pi.  Seed note, sec. 4."""
    return KroneckerDelta(q, j, evaluate=False) * A[p, i]


defvjp(
    MatMul,
    Rule(MatMul, 0, "matmul_vjp_left", "Y = A B  implies  df/dA = (df/dY) B^T",
         "seed note, section 3", matmul_vjp_left, matmul_jacobian_left),
    Rule(MatMul, 1, "matmul_vjp_right", "Y = A B  implies  df/dB = A^T (df/dY)",
         "seed note, section 4", matmul_vjp_right, matmul_jacobian_right),
)


# ---------------------------------------------------------------------------
# Walking the tree
# ---------------------------------------------------------------------------


def matrix_expression(node: Expr, symbols: dict[str, sympy.MatrixSymbol]) -> MatrixExpr:
    """``node`` as a sympy matrix expression over the MatrixSymbols of its names."""
    if isinstance(node, Name):
        return symbols[node.name]
    if isinstance(node, MatMul):
        return matrix_expression(node.left, symbols) * matrix_expression(node.right, symbols)
    raise BadInput(f"no matrix expression for the operation {type(node).__name__}")


def closed_forms(
    root: Expr, upstream: MatrixExpr, symbols: dict[str, sympy.MatrixSymbol]
) -> tuple[dict[str, MatrixExpr], list[RuleStep]]:
    """df/dA for every name A in ``root``, by reverse accumulation through the rules.

    ``upstream`` is df/d(root).  A name used more than once collects the sum of
    its contributions.  Returns the closed forms and the steps taken, in order.
    """
    found: dict[str, MatrixExpr] = {}
    steps: list[RuleStep] = []
    forward: dict[Expr, MatrixExpr] = {}  # equal sub-trees have equal expressions

    def operand(child: Expr) -> MatrixExpr:
        if child not in forward:
            forward[child] = matrix_expression(child, symbols)
        return forward[child]

    def backward(node: Expr, G: MatrixExpr) -> None:
        if isinstance(node, Name):
            found[node.name] = found[node.name] + G if node.name in found else G
            return
        operands = [operand(child) for child in node.children()]
        for rule, child in zip(rules_for(node), node.children()):
            contribution = rule.vjp(G, *operands)
            steps.append(RuleStep(rule, node, G, contribution))
            backward(child, contribution)

    backward(root, upstream)
    return found, steps
