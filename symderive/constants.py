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

__all__ = ["NoValue", "combine", "function_of", "exact", "sign", "PI", "MAX_CHARACTERS"]

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


DIGITS = 60  # digits a constant is evaluated to when its sign is asked
TINY = sympy.Float("1e-40")


def sign(value) -> int | None:
    """The sign of a real constant: 1, -1 or 0, or None when it cannot be told.

    With symbols in it (a size, a named scalar), SymPy's assumptions decide (a
    size is positive).  Without, the constant is evaluated to DIGITS digits: a
    value clearly away from 0 has that sign; one that is tiny is 0 only if
    SymPy proves it (log(4) - 2 log(2) is 0; so is (1 + sqrt(2))**2 - 3 - 2 sqrt(2)),
    and otherwise its sign is unknown."""
    value = _sympy(value)
    if value.is_zero:
        return 0
    if value.free_symbols:
        return 1 if value.is_positive else -1 if value.is_negative else None
    approximate = value.evalf(DIGITS)
    if not approximate.is_real or not approximate.is_finite:
        return None
    if abs(approximate) > TINY:
        return 1 if approximate > 0 else -1
    # tiny: 0 only if the kernel proves it (logs expanded, radicals denested, ...)
    from .verify import constant_is_zero

    return 0 if constant_is_zero(value) is True else None


def combine(symbol: str, a, b):
    """``a symbol b`` for symbol in + - * / **, exactly; NoValue when it has none."""
    a, b = _sympy(a), _sympy(b)
    if symbol == "/":
        divisor = sign(b)
        if divisor == 0:
            raise NoValue("division by zero")
        if divisor is None and not b.free_symbols:
            raise NoValue(f"cannot tell whether the divisor {b} is 0")
    if symbol == "**":
        if not b.is_Rational:
            raise NoValue("the exponent of ** in a constant must be a rational number")
        if abs(b.p) > 1000 or b.q > 1000:
            raise NoValue("the exponent of ** in this constant is too large")
        base = sign(a)
        if base == 0 and b < 0:
            raise NoValue("division by zero (0 to a negative power)")
        if not b.is_Integer and base != 1 and base != 0:
            raise NoValue("a fractional power of a number that is not known to be positive is not real"
                          if base is None else "a negative number to a fractional power is not real")
    value = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
             "**": operator.pow}[symbol](a, b)
    if len(str(value)) > MAX_CHARACTERS:
        raise NoValue(f"this constant has more than {MAX_CHARACTERS} characters")
    return exact(value)


def function_of(name: str, value):
    """sqrt, exp or log of a constant, exactly; NoValue where it is not real."""
    value = _sympy(value)
    found = sign(value)
    if name == "sqrt" and found == -1:
        raise NoValue("sqrt of a negative number is not real")
    if name == "sqrt" and found is None:
        raise NoValue(f"sqrt of {value}, which is not known to be 0 or more")
    if name == "log" and found != 1:
        raise NoValue("log of a number that is not positive is not real" if found is not None
                      else f"log of {value}, which is not known to be positive")
    result = {"sqrt": sympy.sqrt, "exp": sympy.exp, "log": sympy.log}[name](value)
    if len(str(result)) > MAX_CHARACTERS:
        raise NoValue(f"this constant has more than {MAX_CHARACTERS} characters")
    return exact(result)
