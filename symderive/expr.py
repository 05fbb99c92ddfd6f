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
    "Transpose", "Call", "Along", "Constant", "Identity", "Ones", "ELEMENTWISE", "KINKED",
    "SCALAR_VALUED", "SQUARE_ONLY", "FUNCTIONS", "ALONG_AXIS", "PARAMETRIZED", "names_in", "walk",
    "size_symbol", "scalar_symbol",
]

# Functions of the language.  Elementwise ones apply to every entry; the
# scalar-valued ones return a 1x1 result; inv, adj (the adjugate) and det need
# a square argument.  The kinked ones are not differentiable where their
# argument is 0: their derivatives, and every verdict about them, hold away
# from there.  leaky_relu takes a slope as a second argument.
KINKED = ("relu", "leaky_relu", "abs", "step", "sign")
ELEMENTWISE = ("exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt") + KINKED
PARAMETRIZED = ("leaky_relu",)
# Reductions and row/column-wise functions: without an axis they act on every
# entry at once (a 1x1 result, except softmax, which keeps the shape); with
# axis=0 along each column, with axis=1 along each row (NumPy's convention),
# as an Along node.
ALONG_AXIS = ("sum", "mean", "softmax", "log_softmax", "logsumexp")
SCALAR_VALUED = ("trace", "sum", "det", "mean", "norm", "logsumexp")
SQUARE_ONLY = ("trace", "inv", "adj", "det")
FUNCTIONS = ELEMENTWISE + ("trace", "sum", "mean", "norm", "softmax", "log_softmax", "logsumexp",
                           "inv", "adj", "det")


def size_symbol(name: str):
    """A size (n, d) as a SymPy symbol: a positive integer.  The prover's symbol for
    the same size, so a constant 1/sqrt(d) means the same everywhere."""
    import sympy

    return sympy.Symbol(name, integer=True, positive=True)


def scalar_symbol(name: str):
    """A named real scalar of a program (``scalar lam``) as a SymPy symbol."""
    import sympy

    return sympy.Symbol(name, real=True)

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
class Constant(Expr):
    """An exact constant that is not a rational number: ``sqrt(2)``, ``pi``,
    ``1/sqrt(d)`` for a size d, a program's named scalar ``lam``.  ``value`` is a
    SymPy expression in pi, roots, size symbols (:func:`size_symbol`) and scalar
    symbols (:func:`scalar_symbol`); it is 1x1 and broadcasts like a Number."""

    value: object  # a sympy.Expr (kept untyped so that importing expr does not import sympy)

    def __str__(self) -> str:
        text = constant_text(self.value)
        return text if _ATOMIC.match(text) else f"({text})"


_ATOMIC = __import__("re").compile(r"^[A-Za-z_][A-Za-z0-9_]*(\([^()]*\))?$")


def constant_text(value) -> str:
    """A constant's value in the language's notation (SymPy's, with e as exp(1))."""
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Exp1(self, expr):
            return "exp(1)"

    return _Printer().doprint(value)


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
    """``left / right``: entrywise division, broadcasting as for ``*`` (a number,
    a row, a column or a matrix of the same shape)."""

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
    """``function(argument)`` for a function of the language (see FUNCTIONS);
    ``leaky_relu(argument, parameter)`` with its slope."""

    function: str
    argument: Expr
    parameter: Fraction | None = None
    precedence = _POSTFIX

    def children(self) -> tuple[Expr, ...]:
        return (self.argument,)

    def rebuild(self, argument: Expr) -> Expr:
        return Call(self.function, argument, self.parameter)

    def __str__(self) -> str:
        if self.parameter is not None:
            return f"{self.function}({self.argument}, {Number(self.parameter)})"
        return f"{self.function}({self.argument})"


@dataclass(frozen=True)
class Along(Expr):
    """``function(argument, axis=k)``: sum, mean, softmax, log_softmax or logsumexp
    along each column (axis=0) or each row (axis=1), as NumPy and SciPy do.  A
    reduction keeps two dimensions: along axis=0 an n x k matrix gives 1 x k,
    along axis=1 it gives n x 1."""

    function: str
    argument: Expr
    axis: int
    precedence = _POSTFIX

    def children(self) -> tuple[Expr, ...]:
        return (self.argument,)

    def rebuild(self, argument: Expr) -> Expr:
        return Along(self.function, argument, self.axis)

    @property
    def reduces(self) -> bool:
        """Whether the result has one row (axis=0) or one column (axis=1)."""
        return self.function in ("sum", "mean", "logsumexp")

    def __str__(self) -> str:
        return f"{self.function}({self.argument}, axis={self.axis})"


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
