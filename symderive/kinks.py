"""The kinked functions: relu, leaky_relu, abs, step and sign, all from one step.

Each is defined through the unit step, ``step(x)`` = 1 where x > 0 and 0 where
x < 0, undefined at 0::

    relu(x)          = x step(x)
    leaky_relu(x, c) = x (c + (1 - c) step(x))
    abs(x)           = x (2 step(x) - 1)
    sign(x)          = 2 step(x) - 1

These are the functions themselves wherever x != 0.  At 0 none of them is
differentiable (relu, leaky_relu, abs) or even continuous (step, sign), and no
derivative is claimed there: :class:`Step` differentiates to 0, which is true
on each side of the kink, so every derivative built from it holds *where no
argument of a kinked function is 0*.  Every verdict that involves one says so.

Equality is decided on every sign region at once: a step of an entry is an
unknown s with s**2 = s (it is 0 or 1), and an identity that holds for every
choice of 0 or 1 for the steps holds on every region (see :mod:`symderive.verify`).
"""

from __future__ import annotations

import sympy

__all__ = ["Step", "kinked_template"]


class Step(sympy.Function):
    """The unit step: 1 for a positive argument, 0 for a negative one; undefined at 0.
    Its derivative is 0 away from 0, which is the only place symderive uses it."""

    nargs = 1
    unit_step = True  # how the kernel (symderive.verify) recognises it: a function with values 0 and 1

    @classmethod
    def eval(cls, x):
        if x.is_extended_positive:
            return sympy.S.One
        if x.is_extended_negative:
            return sympy.S.Zero
        if x.could_extract_minus_sign():
            # step(-u) = 1 - step(u) wherever u != 0, the only place a step is used: one
            # canonical sign, so step(tanh(2 - y)) and SymPy's -tanh(y - 2) meet
            return 1 - cls(-x)
        return None  # symbols, and 0 itself (where step is undefined), stay unevaluated

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _eval_power(self, exponent):
        # a step is 0 or 1, so each of its positive powers is itself
        if exponent.is_Integer and exponent.is_positive:
            return self
        return None

    def _sympystr(self, printer):
        return f"step({printer._print(self.args[0])})"

    def _latex(self, printer, exp=None):
        text = r"\operatorname{step}\left(%s\right)" % printer._print(self.args[0])
        return text if exp is None else f"{text}^{{{exp}}}"


def kinked_template(function: str, x: sympy.Expr, parameter=None) -> sympy.Expr:
    """The kinked ``function`` of ``x``, written with :class:`Step` (see above)."""
    s = Step(x)
    if function == "step":
        return s
    if function == "sign":
        return 2 * s - 1
    if function == "relu":
        return x * s
    if function == "abs":
        return x * (2 * s - 1)
    if function == "leaky_relu":
        c = sympy.Rational(parameter.numerator, parameter.denominator)
        return x * (c + (1 - c) * s)
    raise ValueError(f"{function} is not a kinked function")
