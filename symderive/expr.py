"""Expressions: the small tree that every stage walks.

A node is a frozen dataclass, so that trees compare and hash by value and print
deterministically.  The same tree serves for the expression a user derives, for
the closed forms the rule table produces, and for the claims a user asks
symderive to check: all three are written in one language (NumPy's notation,
see :mod:`symderive.parse`), and ``str(node)`` prints a node back in it, with
only the parentheses it needs.

One node type per operation; each has its shape rule in :mod:`symderive.shapes`,
its explicit value in :mod:`symderive.build`, its numeric value in
:mod:`symderive.numeric` and its derivative rule in :mod:`symderive.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator

__all__ = [
    "Expr", "Name", "Number", "MatMul", "Add", "Sub", "Hadamard", "Div", "Power", "Neg",
    "Transpose", "Call", "Identity", "Ones", "ELEMENTWISE", "SCALAR_VALUED", "SQUARE_ONLY",
    "FUNCTIONS", "names_in", "walk",
]

# Functions of the language.  Elementwise ones apply to every entry; the
# scalar-valued ones return a 1x1 result; inv, adj (the adjugate) and det need
# a square argument.
ELEMENTWISE = ("exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt")
SCALAR_VALUED = ("trace", "sum", "det")
SQUARE_ONLY = ("trace", "inv", "adj", "det")
FUNCTIONS = ELEMENTWISE + ("trace", "sum", "inv", "adj", "det")

# Binding strength, loosest first, as in NumPy: + -, then @ * / (equal, left to
# right), then unary minus, then **, then .T and calls.
_ADD, _MUL, _UNARY, _POWER, _POSTFIX, _ATOM = range(6)


class Expr:
    """Base class of expression nodes."""

    precedence = _ATOM

    def children(self) -> tuple["Expr", ...]:
        return ()

    def rebuild(self, *children: "Expr") -> "Expr":
        """The same operation on other children (leaves return themselves)."""
        return self


def _wrap(node: Expr, level: int) -> str:
    return str(node) if node.precedence >= level else f"({node})"


@dataclass(frozen=True)
class Name(Expr):
    """A matrix the user names: a leaf, and something to differentiate by."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Number(Expr):
    """An exact rational constant; it broadcasts in + - * / like a NumPy scalar."""

    value: Fraction

    def __str__(self) -> str:
        v = self.value
        text = str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
        return f"({text})" if v < 0 or v.denominator != 1 else text


@dataclass(frozen=True)
class Identity(Expr):
    """The size x size identity matrix, ``eye(size)``."""

    size: int

    def __str__(self) -> str:
        return f"eye({self.size})"


@dataclass(frozen=True)
class Ones(Expr):
    """The rows x cols matrix of ones, ``ones(rows, cols)``."""

    rows: int
    cols: int

    def __str__(self) -> str:
        return f"ones({self.rows}, {self.cols})"


@dataclass(frozen=True)
class _Binary(Expr):
    left: Expr
    right: Expr

    symbol = "?"

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def rebuild(self, left: Expr, right: Expr) -> Expr:
        return type(self)(left, right)

    def __str__(self) -> str:
        # left-associative: the right operand needs parentheses at equal binding;
        # @ next to * or / gets them too, for the reader's sake
        left = _wrap(self.left, self.precedence)
        if self.left.precedence == self.precedence and type(self.left) is not type(self):
            if MatMul in (type(self), type(self.left)):
                left = f"({self.left})"
        return f"{left} {self.symbol} {_wrap(self.right, self.precedence + 1)}"


@dataclass(frozen=True)
class MatMul(_Binary):
    """``left @ right``: (AB)_pq = sum_r A_pr B_rq."""

    symbol = "@"
    precedence = _MUL


@dataclass(frozen=True)
class Hadamard(_Binary):
    """``left * right``: the entrywise product (a number or 1x1 side broadcasts)."""

    symbol = "*"
    precedence = _MUL


@dataclass(frozen=True)
class Div(_Binary):
    """``left / right`` with ``right`` a number."""

    symbol = "/"
    precedence = _MUL


@dataclass(frozen=True)
class Add(_Binary):
    """``left + right`` (NumPy broadcasting of a row, a column or a number)."""

    symbol = "+"
    precedence = _ADD


@dataclass(frozen=True)
class Sub(_Binary):
    """``left - right`` (broadcasting as for +)."""

    symbol = "-"
    precedence = _ADD


@dataclass(frozen=True)
class Power(Expr):
    """``base ** exponent``: every entry raised to a number."""

    base: Expr
    exponent: Fraction
    precedence = _POWER

    def children(self) -> tuple[Expr, ...]:
        return (self.base,)

    def rebuild(self, base: Expr) -> Expr:
        return Power(base, self.exponent)

    def __str__(self) -> str:
        # ** is right-associative and binds tighter than unary minus on its left
        return f"{_wrap(self.base, _POSTFIX)}**{Number(self.exponent)}"


@dataclass(frozen=True)
class Neg(Expr):
    """``-operand``."""

    operand: Expr
    precedence = _UNARY

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def rebuild(self, operand: Expr) -> Expr:
        return Neg(operand)

    def __str__(self) -> str:
        return f"-{_wrap(self.operand, _UNARY)}"


@dataclass(frozen=True)
class Transpose(Expr):
    """``operand.T``."""

    operand: Expr
    precedence = _POSTFIX

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)

    def rebuild(self, operand: Expr) -> Expr:
        return Transpose(operand)

    def __str__(self) -> str:
        return f"{_wrap(self.operand, _POSTFIX)}.T"


@dataclass(frozen=True)
class Call(Expr):
    """``function(argument)`` for a function of the language (see FUNCTIONS)."""

    function: str
    argument: Expr
    precedence = _POSTFIX

    def children(self) -> tuple[Expr, ...]:
        return (self.argument,)

    def rebuild(self, argument: Expr) -> Expr:
        return Call(self.function, argument)

    def __str__(self) -> str:
        return f"{self.function}({self.argument})"


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children, left to right."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))


def names_in(node: Expr) -> list[str]:
    """The names of the leaves, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for sub in walk(node):
        if isinstance(sub, Name):
            seen.setdefault(sub.name)
    return list(seen)
