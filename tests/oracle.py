"""An independent high-precision numeric oracle for gradient claims.

Given a row of tests/identity_table.py -- an expression, the name ``wrt`` it is
differentiated by, a claimed gradient and the shapes of the names -- the oracle
decides whether the claim *is* the gradient, by numbers alone:

* f is the expression itself when it is 1x1, and f = sum(G * Y) for a
  matrix-valued expression Y, with G (the upstream gradient, the name the claim
  may use) drawn at random.  This is symderive's convention (README, "Any
  expression": "A 1x1 expression ... is differentiated directly").
* df/d(wrt) is taken by central differences, entry by entry, at 80 significant
  digits (``mpmath.mp.dps = 80``) with the step h = 1e-30: the truncation error
  is of order h**2 = 1e-60 and the rounding error of order 1e-80 / h = 1e-50,
  both far below the tolerance.
* The claim is evaluated at the same numbers, and it *holds* at a point when
  max |claim - numeric| <= 1e-20 * scale + 1e-40 * size, where scale is the
  largest entry, in absolute value, of the numeric gradient or of the claim,
  and size the largest absolute value of any number met while evaluating f
  (the rounding floor; it matters only when the gradient is 0).

Where the claim is judged (the "domain" of a row): the gradient identity must
hold at every point of the real domain of the expression.  The oracle samples
two regions and uses every point where the expression, the claim and every
perturbed evaluation are real and finite:

* region P: every entry of every input uniform in [0.5, 1.5] (3 points; each
  expression of the table is defined there, and the oracle fails loudly if not);
* region M: every entry uniform in [0.5, 1.5] in size with a random sign
  (up to 3 points, drawn from at most 40 tries; points where the expression is
  not real -- log or sqrt of a negative entry, a fractional power of a
  negative number -- are skipped).  Region M is what exposes the domain
  traps: sqrt(X ** 2) is |X|, not X, so a claim true only on positive entries
  is false for the oracle.

The answer must be decisive: at every point the error over the allowed error
is below 1e-6 (a true claim: in practice about 1e-25) or above 1e6 (a false
one: in practice about 1e19); anything in between raises OracleError rather
than guess.  What the oracle cannot see: a claim wrong by a relative 1e-20 or
less (the table has none), and a claim right at the sampled points but wrong
elsewhere in the domain (three random points per region).

The upstream G is drawn uniform in [-1, 1] at every point.  Evaluation is real
arithmetic only: log of x <= 0, sqrt of x < 0, x ** p for x < 0 and p not a
whole number, division by 0 and inverses of singular matrices make the point
undefined, never complex.

Functions that are not smooth: relu, leaky_relu(A, c), abs, step and sign
are evaluated from their definitions, case by case (step and sign are
undefined at 0).  A gradient claim about them is judged only away from the
kinks: a point at which any argument of one of them, in the expression, the
claim or any perturbed evaluation, is within KINK_MARGIN = 1e-10 of 0 is not a
point of the row (like a point where log is undefined).  Region M, with its
random signs, puts the arguments on both sides of 0, so a claim true on one
sign region only (relu's gradient without its step) is false for the oracle.

Reductions keep two dimensions, as in NumPy with keepdims: sum, mean,
logsumexp over all entries give 1x1, with axis=0 a 1xk row (one value per
column), with axis=1 an nx1 column (one per row); softmax and log_softmax keep
the shape.  norm is the Frobenius norm.  A / B divides entry by entry, with
broadcasting; pi and sqrt(2) are numbers (a 1x1 value broadcasts).

The expression language is read by a tokenizer and a recursive-descent parser
written here (the grammar of README.md, "Any expression"); nothing is passed to
eval, exec, compile or sympify, and nothing is imported from symderive.  The
oracle is also stricter than needed in one way: a claim whose products do not
conform, or whose shape is not that of ``wrt``, is simply false.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

import mpmath

__all__ = ["Answer", "OracleError", "ShapeMismatch", "Undefined", "parse", "evaluate", "decide",
           "DPS", "STEP_EXPONENT", "TOLERANCE", "POINTS"]

DPS = 80
STEP_EXPONENT = -30  # the step of the central differences is 10 ** STEP_EXPONENT
TOLERANCE = 1e-20  # relative to the largest entry of the gradient or of the claim
FLOOR = 1e-40  # times the largest number met: the rounding floor, for gradients that are 0
POINTS = 3  # per region
MIXED_TRIES = 40
FUNCTIONS = ("trace", "sum", "det", "inv", "exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt",
             "relu", "abs", "step", "sign", "mean", "norm", "softmax", "log_softmax", "logsumexp")
# The functions that may take axis=0 (along each column) or axis=1 (along each row).
ALONG = ("sum", "mean", "softmax", "log_softmax", "logsumexp")
# Not differentiable (relu, leaky_relu, abs) or not continuous (step, sign) at 0:
# a point where an argument of one of them is within KINK_MARGIN of 0 is not used.
KINKED = ("relu", "leaky_relu", "abs", "step", "sign")
KINK_MARGIN = mpmath.mpf(10) ** -10  # far above the step of the differences, 1e-30
# The error over the allowed error at a point: a true claim is met far below 1
# (about 1e-25), a false one missed far above it.  In between the oracle refuses
# to answer rather than guess.
BORDERLINE = (1e-6, 1e6)


class OracleError(Exception):
    """A row the oracle cannot judge: bad text, shapes that do not conform, no points."""


class ShapeMismatch(OracleError):
    """A product that does not conform, shapes that do not broadcast, trace of a non-square."""


class Undefined(Exception):
    """The value is not a real number at this point (log of a negative, ...)."""


# --------------------------------------------------------------------------- tokens

_NUMBER = re.compile(r"(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs, kind in number / name / op; a final ('end', '')."""
    tokens = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in " \t\n":
            i += 1
            continue
        if c.isdigit() or (c == "." and i + 1 < len(text) and text[i + 1].isdigit()):
            number = _NUMBER.match(text, i).group()
            if number.endswith(".") and text[i + len(number):i + len(number) + 1].isalpha():
                number = number[:-1]  # 2.T is the transpose of 2
            tokens.append(("number", number))
            i += len(number)
            continue
        if c.isalpha():
            name = _NAME.match(text, i).group()
            tokens.append(("name", name))
            i += len(name)
            continue
        if text.startswith("**", i):
            tokens.append(("op", "**"))
            i += 2
            continue
        if c in "@*/+-(),.=":
            tokens.append(("op", c))
            i += 1
            continue
        raise OracleError(f"unexpected character {c!r} at {i} in {text!r}")
    tokens.append(("end", ""))
    return tokens


# --------------------------------------------------------------------------- parser
#
# Trees are tuples: ("num", Fraction), ("name", str), ("eye", n), ("ones", r, c),
# ("neg", a), ("T", a), ("pow", a, exponent_tree), ("call", function, a),
# ("along", function, a, axis) for axis 0 or 1, ("leaky", a, slope as a Fraction),
# ("pi",), and (op, a, b) for op in @ * / + -.


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str):
        kind, got = self.take()
        if got != text or kind not in ("op", "name"):
            raise OracleError(f"expected {text!r}, found {got!r} in {self.text!r}")

    def is_op(self, *ops):
        kind, text = self.peek()
        return kind == "op" and text in ops

    def whole(self):
        tree = self.expression()
        if self.peek()[0] != "end":
            raise OracleError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return tree

    def expression(self):
        # expression := term (('+' | '-') term)*
        left = self.term()
        while self.is_op("+", "-"):
            op = self.take()[1]
            left = (op, left, self.term())
        return left

    def term(self):
        # term := unary (('@' | '*' | '/') unary)*
        left = self.unary()
        while self.is_op("@", "*", "/"):
            op = self.take()[1]
            left = (op, left, self.unary())
        return left

    def unary(self):
        # unary := ('-' | '+')* power
        if self.is_op("-"):
            self.take()
            return ("neg", self.unary())
        if self.is_op("+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self):
        # power := postfix ('**' unary)?   (right-associative; the exponent is a constant)
        base = self.postfix()
        if self.is_op("**"):
            self.take()
            return ("pow", base, self.unary())
        return base

    def postfix(self):
        # postfix := atom ('.' 'T')*
        tree = self.atom()
        while self.is_op("."):
            self.take()
            kind, text = self.take()
            if (kind, text) != ("name", "T"):
                raise OracleError(f"expected T after '.', found {text!r} in {self.text!r}")
            tree = ("T", tree)
        return tree

    def atom(self):
        kind, text = self.take()
        if kind == "number":
            return ("num", Fraction(text))
        if kind == "op" and text == "(":
            tree = self.expression()
            self.expect(")")
            return tree
        if kind == "name":
            if text in FUNCTIONS:
                self.expect("(")
                argument = self.expression()
                if text in ALONG and self.is_op(","):
                    self.take()
                    self.expect("axis")
                    self.expect("=")
                    axis = self.whole_number()
                    if axis not in (0, 1):
                        raise OracleError(f"axis must be 0 or 1, not {axis} in {self.text!r}")
                    self.expect(")")
                    return ("along", text, argument, axis)
                self.expect(")")
                return ("call", text, argument)
            if text == "leaky_relu":
                self.expect("(")
                argument = self.expression()
                self.expect(",")
                slope = _constant(self.unary())
                self.expect(")")
                return ("leaky", argument, slope)
            if text == "pi":
                return ("pi",)
            if text == "eye":
                self.expect("(")
                n = self.whole_number()
                self.expect(")")
                return ("eye", n)
            if text == "ones":
                self.expect("(")
                r = self.whole_number()
                self.expect(",")
                c = self.whole_number()
                self.expect(")")
                return ("ones", r, c)
            return ("name", text)
        raise OracleError(f"unexpected {text!r} in {self.text!r}")

    def whole_number(self) -> int:
        kind, text = self.take()
        if kind != "number" or not text.isdigit():
            raise OracleError(f"expected a size, found {text!r} in {self.text!r}")
        return int(text)


def parse(text: str):
    return _Parser(text).whole()


def names(tree) -> set[str]:
    if tree[0] == "name":
        return {tree[1]}
    found = set()
    for part in tree[1:]:
        if isinstance(part, tuple):
            found |= names(part)
    return found


# --------------------------------------------------------------------------- values
#
# A value is a list of rows, each a list of mpf.


def _shape(a):
    return len(a), len(a[0])


def _constant(tree) -> Fraction:
    """The exact value of a constant sub-tree (an exponent)."""
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "neg":
        return -_constant(tree[1])
    if kind in ("+", "-", "*", "/"):
        a, b = _constant(tree[1]), _constant(tree[2])
        if kind == "/" and b == 0:
            raise OracleError("division by zero in a constant")
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[kind]
    if kind == "pow":
        a, b = _constant(tree[1]), _constant(tree[2])
        if b.denominator != 1:
            raise OracleError("a constant exponent must be whole inside a constant")
        return a ** int(b)
    raise OracleError(f"an exponent must be a constant, not {tree[0]}")


def _broadcast(op, a, b):
    (ra, ca), (rb, cb) = _shape(a), _shape(b)
    if not (ra == rb or 1 in (ra, rb)) or not (ca == cb or 1 in (ca, cb)):
        raise ShapeMismatch(f"shapes {ra}x{ca} and {rb}x{cb} do not broadcast")
    rows, cols = max(ra, rb), max(ca, cb)
    return [[op(a[i if ra > 1 else 0][j if ca > 1 else 0], b[i if rb > 1 else 0][j if cb > 1 else 0])
             for j in range(cols)] for i in range(rows)]


def _divide(x, y):
    if y == 0:
        raise Undefined("division by zero")
    return x / y


def _log(x):
    if x <= 0:
        raise Undefined("log of a number <= 0")
    return mpmath.log(x)


def _sqrt(x):
    if x < 0:
        raise Undefined("sqrt of a negative number")
    return mpmath.sqrt(x)


def _power(x, p: Fraction):
    if p.denominator == 1:
        if x == 0 and p < 0:
            raise Undefined("0 to a negative power")
        return x ** int(p)
    if x < 0:
        raise Undefined("a fractional power of a negative number")
    if x == 0:
        if p < 0:
            raise Undefined("0 to a negative power")
        return mpmath.mpf(0)
    return mpmath.exp(mpmath.mpf(p.numerator) / p.denominator * mpmath.log(x))


def _step(x):
    if x == 0:
        raise Undefined("step at 0")
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


_ELEMENTWISE = {
    "exp": mpmath.exp, "log": _log, "tanh": mpmath.tanh, "sin": mpmath.sin, "cos": mpmath.cos,
    "sqrt": _sqrt, "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    # by their definitions, case by case (no step function behind them)
    "relu": lambda x: x if x > 0 else mpmath.mpf(0), "abs": lambda x: -x if x < 0 else x,
    "step": _step, "sign": lambda x: mpmath.mpf(1) if x > 0 else (mpmath.mpf(-1) if x < 0 else _step(x)),
}


def _group(values: list, function: str) -> list:
    """sum, mean, softmax, log_softmax or logsumexp of one group of numbers, from
    the definitions (softmax_k = exp(v_k) / sum exp(v), no shift: 80 digits suffice)."""
    total = mpmath.fsum(values)
    if function == "sum":
        return [total]
    if function == "mean":
        return [total / len(values)]
    exps = [mpmath.exp(v) for v in values]
    denominator = mpmath.fsum(exps)
    if function == "softmax":
        return [e / denominator for e in exps]
    if function == "log_softmax":
        return [v - mpmath.log(denominator) for v in values]
    if function == "logsumexp":
        return [mpmath.log(denominator)]
    raise OracleError(f"unknown reduction {function}")


def _along(function: str, a, axis):
    """``function`` over all entries (axis None), down each column (0) or along each row (1);
    a reduction keeps two dimensions: 1x1, 1xk, nx1."""
    rows, cols = _shape(a)
    if axis is None:
        found = _group([x for row in a for x in row], function)
        return [[found[0]]] if len(found) == 1 else [found[i * cols:(i + 1) * cols] for i in range(rows)]
    if axis == 1:
        return [_group(list(row), function) for row in a]
    columns = [_group([a[i][j] for i in range(rows)], function) for j in range(cols)]
    return [list(row) for row in zip(*columns)]


class _Evaluator:
    """Evaluates a tree; remembers the largest absolute value met (the rounding floor)."""

    def __init__(self, env):
        self.env = env
        self.largest = mpmath.mpf(0)
        self.nearest_kink = mpmath.inf  # the smallest |argument| of a kinked function met

    def note(self, value):
        for row in value:
            for x in row:
                if not mpmath.isfinite(x):
                    raise Undefined("not finite")
                if abs(x) > self.largest:
                    self.largest = abs(x)
        return value

    def __call__(self, tree):
        return self.note(self.value(tree))

    def value(self, tree):
        kind = tree[0]
        if kind == "num":
            return [[mpmath.mpf(tree[1].numerator) / tree[1].denominator]]
        if kind == "name":
            if tree[1] not in self.env:
                raise OracleError(f"unknown name {tree[1]!r}")
            return self.env[tree[1]]
        if kind == "eye":
            return [[mpmath.mpf(int(i == j)) for j in range(tree[1])] for i in range(tree[1])]
        if kind == "ones":
            return [[mpmath.mpf(1)] * tree[2] for _ in range(tree[1])]
        if kind == "neg":
            return [[-x for x in row] for row in self(tree[1])]
        if kind == "T":
            a = self(tree[1])
            return [list(column) for column in zip(*a)]
        if kind == "pow":
            p = _constant(tree[2])
            return [[_power(x, p) for x in row] for row in self(tree[1])]
        if kind == "pi":
            return [[+mpmath.pi]]
        if kind == "call":
            return self.call(tree[1], self.kink(tree[1], self(tree[2])))
        if kind == "along":
            return _along(tree[1], self(tree[2]), tree[3])
        if kind == "leaky":
            c = mpmath.mpf(tree[2].numerator) / tree[2].denominator
            return [[x if x > 0 else c * x for x in row] for row in self.kink("leaky_relu", self(tree[1]))]
        a, b = self(tree[1]), self(tree[2])
        if kind == "@":
            (ra, ca), (rb, cb) = _shape(a), _shape(b)
            if ca != rb:
                raise ShapeMismatch(f"product of {ra}x{ca} and {rb}x{cb} does not conform")
            return [[mpmath.fsum(a[i][k] * b[k][j] for k in range(ca)) for j in range(cb)]
                    for i in range(ra)]
        if kind == "*":
            return _broadcast(lambda x, y: x * y, a, b)
        if kind == "/":
            return _broadcast(_divide, a, b)
        if kind == "+":
            return _broadcast(lambda x, y: x + y, a, b)
        if kind == "-":
            return _broadcast(lambda x, y: x - y, a, b)
        raise OracleError(f"unknown node {kind}")

    def kink(self, function, a):
        """``a``, the argument of ``function``; notes how near a kink it comes."""
        if function in KINKED:
            for row in a:
                for x in row:
                    self.nearest_kink = min(self.nearest_kink, abs(x))
        return a

    def call(self, function, a):
        rows, cols = _shape(a)
        if function in _ELEMENTWISE:
            return [[_ELEMENTWISE[function](x) for x in row] for row in a]
        if function in ALONG:
            return _along(function, a, None)
        if function == "norm":
            return [[mpmath.sqrt(mpmath.fsum(x * x for row in a for x in row))]]
        if rows != cols:
            raise ShapeMismatch(f"{function} of a {rows}x{cols} matrix")
        if function == "trace":
            return [[mpmath.fsum(a[i][i] for i in range(rows))]]
        if function == "det":
            return [[mpmath.det(mpmath.matrix(a))]]
        if function == "inv":
            m = mpmath.matrix(a)
            if mpmath.det(m) == 0:
                raise Undefined("singular matrix")
            inverse = mpmath.inverse(m)
            return [[inverse[i, j] for j in range(cols)] for i in range(rows)]
        raise OracleError(f"unknown function {function}")


def evaluate(text_or_tree, env):
    """The value of an expression (text or tree) with ``env`` mapping names to lists of rows."""
    tree = parse(text_or_tree) if isinstance(text_or_tree, str) else text_or_tree
    with mpmath.workdps(DPS):
        return _Evaluator(env)(tree)


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Answer:
    holds: bool              # the claim equals the gradient at every point used
    worst: float             # the largest normalized error (error / allowed); <= 1 where it holds
    points: tuple            # (region, normalized error) for every point used
    reason: str = ""         # why it is false without a number (a shape)

    def count(self, region: str) -> int:
        return sum(1 for where, _ in self.points if where == region)


def _draw(shapes, rng, mixed):
    def entry():
        x = mpmath.mpf(rng.uniform(0.5, 1.5))
        return -x if mixed and rng.random() < 0.5 else x
    return {name: [[entry() for _ in range(c)] for _ in range(r)] for name, (r, c) in shapes.items()}


def _gradient(tree, wrt, env, upstream, step):
    """Central differences of f at ``env``, and the largest value met (for the floor)."""
    largest = mpmath.mpf(0)

    def f(moved_env):
        nonlocal largest
        evaluator = _Evaluator(moved_env)
        out = evaluator(tree)
        if evaluator.nearest_kink < KINK_MARGIN:
            raise Undefined("within KINK_MARGIN of a kink")
        largest = max(largest, evaluator.largest)
        if _shape(out) == (1, 1):
            return out[0][0]
        g = moved_env[upstream]
        products = [g[i][j] * out[i][j] for i in range(len(out)) for j in range(len(out[0]))]
        largest = max([largest] + [abs(x) for x in products])
        return mpmath.fsum(products)

    base = env[wrt]
    numeric = []
    for i in range(len(base)):
        row = []
        for j in range(len(base[0])):
            values = []
            for sign in (1, -1):
                moved = [list(r) for r in base]
                moved[i][j] = base[i][j] + sign * step
                values.append(f({**env, wrt: moved}))
            row.append((values[0] - values[1]) / (2 * step))
        numeric.append(row)
    return numeric, largest


def decide(expression: str, wrt: str, claim: str, shapes: dict, upstream: str = "G",
           seed: int = 20240601) -> Answer:
    """Whether ``claim`` is df/d(wrt) for ``expression`` (see the module docstring).

    ``shapes`` maps every name of the expression to (rows, cols); an entry for the
    upstream name is ignored (G has the shape of the expression)."""
    tree, claim_tree = parse(expression), parse(claim)
    inputs = {name: tuple(shape) for name, shape in shapes.items() if name != upstream}
    missing = names(tree) - set(inputs)
    if missing or wrt not in names(tree):
        raise OracleError(f"no shape for {sorted(missing)}, or {wrt!r} not in {expression!r}")
    unknown = names(claim_tree) - set(inputs) - {upstream}
    if unknown:
        raise OracleError(f"the claim uses {sorted(unknown)}, not in the expression")
    rng = random.Random(seed)
    points = []
    with mpmath.workdps(DPS):
        step = mpmath.mpf(10) ** STEP_EXPONENT
        for region, mixed, tries in (("P", False, POINTS), ("M", True, MIXED_TRIES)):
            found = 0
            for _ in range(tries):
                if found == POINTS:
                    break
                env = _draw(inputs, rng, mixed)
                try:
                    y = _Evaluator(env)(tree)
                    if _shape(y) != (1, 1):
                        env[upstream] = [[mpmath.mpf(rng.uniform(-1, 1)) for _ in range(len(y[0]))]
                                         for _ in range(len(y))]
                    elif upstream in names(claim_tree):
                        raise OracleError("the claim uses the upstream of a 1x1 expression")
                    try:
                        claim_evaluator = _Evaluator(env)
                        claimed = claim_evaluator(claim_tree)
                        if claim_evaluator.nearest_kink < KINK_MARGIN:
                            raise Undefined("the claim is within KINK_MARGIN of a kink")
                    except ShapeMismatch as problem:
                        return Answer(False, float("inf"), (), f"the claim is ill-formed: {problem}")
                    if _shape(claimed) != _shape(env[wrt]):
                        r, c = _shape(claimed)
                        return Answer(False, float("inf"), (),
                                      f"the claim is {r}x{c}, {wrt} is {inputs[wrt][0]}x{inputs[wrt][1]}")
                    numeric, largest = _gradient(tree, wrt, env, upstream, step)
                except Undefined:
                    continue  # not in the real domain of the row: not a point of it
                cells = [(a, b) for ra, rb in zip(claimed, numeric) for a, b in zip(ra, rb)]
                error = max(abs(a - b) for a, b in cells)
                scale = max(max(abs(a), abs(b)) for a, b in cells)
                allowed = TOLERANCE * scale + FLOOR * max(1, largest)
                normalized = float(error / allowed)
                if BORDERLINE[0] < normalized < BORDERLINE[1]:
                    raise OracleError(f"borderline at a point of region {region}: the error is "
                                      f"{normalized:g} times the tolerance ({expression!r}, {claim!r})")
                points.append((region, normalized))
                found += 1
            if region == "P" and found < POINTS:
                raise OracleError(f"{expression!r} or its claim is undefined at points of region P")
    worst = max(error for _, error in points)
    return Answer(worst <= 1, worst, tuple(points))
