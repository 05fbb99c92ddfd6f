"""Exact constants that are not rational: arithmetic on SymPy values, never on text.

The parser (:mod:`symderive.parse`) works out the value of a constant such as
``1 / sqrt(d)`` or ``sqrt(2) / 2`` as it reads it.  While only numbers are
involved it uses fractions; once a root, pi, a logarithm, a size or a named
scalar is involved, it hands the two values and the operator to this module,
which combines SymPy objects with SymPy's arithmetic.  Nothing here reads text:
the parser has already read it, and SymPy's own parsers are never used.
"""

from __future__ import annotations

import operator
from fractions import Fraction

import sympy

__all__ = ["NoValue", "combine", "function_of", "exact", "PI", "MAX_CHARACTERS"]

MAX_CHARACTERS = 1000  # longest constant, as printed, that symderive accepts
PI = sympy.pi


class NoValue(Exception):
    """A constant with no value (division by zero) or none worth writing down."""


def exact(value):
    """A Fraction when ``value`` is rational, else the SymPy value itself."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    if not isinstance(value, sympy.Basic):
        raise TypeError(f"not an exact value: {type(value).__name__}")
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return value


def _sympy(value):
    return sympy.Rational(value.numerator, value.denominator) if isinstance(value, Fraction) else value


def combine(symbol: str, a, b):
    """``a symbol b`` for symbol in + - * / **, exactly; NoValue when it has none."""
    a, b = _sympy(a), _sympy(b)
    if symbol == "/" and b == 0:
        raise NoValue("division by zero")
    if symbol == "**":
        if not b.is_Rational:
            raise NoValue("the exponent of ** in a constant must be a rational number")
        if a == 0 and b < 0:
            raise NoValue("division by zero (0 to a negative power)")
        if abs(b.p) > 1000 or b.q > 1000:
            raise NoValue("the exponent of ** in this constant is too large")
    value = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "**": operator.pow}[symbol](a, b)
    if len(str(value)) > MAX_CHARACTERS:
        raise NoValue(f"this constant has more than {MAX_CHARACTERS} characters")
    return exact(value)


def function_of(name: str, value):
    """sqrt, exp or log of a constant, exactly; NoValue where it is not real."""
    value = _sympy(value)
    if name == "sqrt" and value.is_negative:
        raise NoValue("sqrt of a negative number is not real")
    if name == "log" and value.is_positive is False:
        raise NoValue("log of a number that is not positive is not real")
    result = {"sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log}[name](value)
    if len(str(result)) > MAX_CHARACTERS:
        raise NoValue(f"this constant has more than {MAX_CHARACTERS} characters")
    return exact(result)
