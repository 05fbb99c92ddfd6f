"""The second, independent witness: numbers and central finite differences.

Exact checks in :mod:`symderive.verify` are the proof; this module is a check on
the checker.  It evaluates the expression with mpmath (not sympy), takes

    f(A) = sum_pq G_pq Y_pq(A)

for random A and G, so that df/dY = G, and compares central differences of f
with the closed form evaluated at the same numbers.  It shares no code with the
symbolic derivation.

Every number is an mpmath float of PRECISION significant digits, and the step
is 10^-20, not a float64 and 10^-6: in sum((X + 1e8)**2 - (X - 1e8)**2) each
square is about 1e16, where float64 numbers are 2 apart, so a step of 1e-6
changes the sum by about 800, give or take a few units, and float64 central
differences of its gradient, exactly 4e8, gave 3.99e8.  A disagreement is
reported only when it survives doubling the precision (with the step 10^-40);
finite differences that change with the precision are no witness at all.

Only the entries that can change are recomputed: moving X_ij in X @ W changes
row i of the product, so each finite difference costs one row, not the whole
product (at n = m = d = 64, 4,096 products instead of 262,144).  Values of
parts that do not move are computed once, on demand, and kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import mpmath
import numpy as np

from .expr import (Add, Along, Call, Constant, Div, Expr, Hadamard, Identity, MatMul, Name, Neg,
                   Number, Ones, Power, Sub, Transpose)

__all__ = ["NumericWitness", "evaluate", "central_differences", "witness"]

PRECISION = 50  # significant decimal digits; doubled, up to MAX_PRECISION, to confirm a disagreement
MAX_PRECISION = 200
TOLERANCE = 1e-12  # relative to the size of each entry (at least 1)
MAX_ENTRIES = 64  # entries of a larger input compared by finite differences (a fixed random sample)


def step_for(digits: int) -> mpmath.mpf:
    """The step of the central differences at ``digits`` digits: 10^(-2 digits / 5).

    Rounding then costs about 10^(-3 digits / 5) of the terms' size (10^-30 at 50
    digits, so terms 10^18 times larger than the result still leave 6 good
    digits), and the truncation error is about the step squared, 10^-40."""
    return mpmath.mpf(10) ** (-(2 * digits // 5))


def _sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def _step(x):
    if x == 0:
        raise ZeroDivisionError("step is undefined at 0")  # a kink: no witness there
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


_ELEMENTWISE: dict[str, Callable] = {
    "exp": mpmath.exp, "log": mpmath.log, "tanh": mpmath.tanh, "sin": mpmath.sin, "cos": mpmath.cos,
    "sqrt": mpmath.sqrt, "sigmoid": _sigmoid,
    "relu": lambda x: x if x > 0 else mpmath.mpf(0), "abs": abs, "step": _step,
    "sign": lambda x: 2 * _step(x) - 1,
}
_REDUCTIONS = ("trace", "sum", "det", "mean", "norm", "logsumexp")  # 1x1 results


def _group(values: list, function: str) -> list:
    """softmax, log_softmax, logsumexp, sum or mean of one group of numbers."""
    if function in ("sum", "mean"):
        total = mpmath.fsum(values)
        return [total / len(values) if function == "mean" else total]
    top = max(values)  # shifted by the largest, as every careful softmax is
    total = mpmath.fsum(mpmath.exp(v - top) for v in values)
    if function == "softmax":
        return [mpmath.exp(v - top) / total for v in values]
    if function == "log_softmax":
        return [v - top - mpmath.log(total) for v in values]
    return [top + mpmath.log(total)]  # logsumexp


def _along(function: str, operand: np.ndarray, axis: int | None) -> np.ndarray:
    rows, cols = operand.shape
    if axis is None:
        found = _group(list(operand.ravel()), function)
        return np.array(found, dtype=object).reshape((rows, cols) if len(found) > 1 or rows * cols == 1 else (1, 1))
    if axis == 1:
        return np.array([_group(list(operand[i, :]), function) for i in range(rows)], dtype=object)
    return np.array([_group(list(operand[:, j]), function) for j in range(cols)], dtype=object).T
_BINARY: dict[type, Callable] = {
    Add: lambda a, b: a + b, Sub: lambda a, b: a - b, Hadamard: lambda a, b: a * b, Div: lambda a, b: a / b,
}


def _constant(node: Expr) -> np.ndarray:
    """The value of a leaf that is not a name."""
    if isinstance(node, Constant):
        if node.value.free_symbols:
            raise TypeError(f"the constant {node} has symbols in it ({', '.join(map(str, node.value.free_symbols))}): "
                            "give them values first")
        # the constant's own digits (sqrt(2), pi), asked of the value itself: no derivation is involved
        return np.array([[mpmath.mpf(str(node.value.evalf(mpmath.mp.dps + 20)))]], dtype=object)
    if isinstance(node, Number):
        return np.array([[mpmath.mpf(node.value.numerator) / node.value.denominator]], dtype=object)
    if isinstance(node, Identity):
        return np.array([[mpmath.mpf(int(i == j)) for j in range(node.size)] for i in range(node.size)],
                        dtype=object)
    if isinstance(node, Ones):
        return np.array([[mpmath.mpf(1)] * node.cols for _ in range(node.rows)], dtype=object)
    raise TypeError(f"cannot evaluate the operation {type(node).__name__} numerically")


def _power(exponent):
    if exponent.denominator == 1:
        whole = int(exponent)
        return lambda x: x ** whole
    fraction = mpmath.mpf(exponent.numerator) / exponent.denominator
    return lambda x: x ** fraction


def _reduce(need: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The entries of an operand of ``shape`` that the entries ``need`` of a
    broadcast result read (a dimension of size 1 is read by the whole axis)."""
    for axis in (0, 1):
        if shape[axis] == 1 and need.shape[axis] != 1:
            need = need.any(axis=axis, keepdims=True)
    return need


class _Values:
    """Entries of each node's value at given inputs, computed when first asked
    for and kept (keyed by the node's identity: trees are not hashed again and
    again)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self.arrays = arrays
        self._inputs = {id(array): array for array in arrays.values()}
        self._aligned: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._shapes: dict[int, tuple[int, int]] = {}
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._alive: list[Expr] = []  # the nodes whose ids are keys

    def shape(self, node: Expr) -> tuple[int, int]:
        found = self._shapes.get(id(node))
        if found is not None:
            return found
        if isinstance(node, Name):
            shape = self.arrays[node.name].shape
        elif not node.children():
            shape = _constant(node).shape
        elif isinstance(node, Transpose):
            shape = self.shape(node.operand)[::-1]
        elif isinstance(node, MatMul):
            shape = (self.shape(node.left)[0], self.shape(node.right)[1])
        elif isinstance(node, Call) and node.function in _REDUCTIONS:
            shape = (1, 1)
        elif isinstance(node, Along) and node.reduces:
            rows, cols = self.shape(node.argument)
            shape = (1, cols) if node.axis == 0 else (rows, 1)
        elif isinstance(node, tuple(_BINARY)):
            shape = tuple(np.broadcast_shapes(self.shape(node.left), self.shape(node.right)))
        else:  # elementwise, powers, negation, inv
            shape = self.shape(node.children()[0])
        self._shapes[id(node)] = shape
        self._alive.append(node)
        return shape

    def aligned(self, array: np.ndarray, index: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_align` of the rows ``index`` (``axis`` 1) or columns (0) of
        ``array``; for an input, of all of it, once."""
        if self._inputs.get(id(array)) is not array:
            return _align(array[index] if axis == 1 else array[:, index], axis)
        key = (id(array), axis)
        if key not in self._aligned:
            self._aligned[key] = _align(array, axis)
        ints, low = self._aligned[key]
        return (ints[index] if axis == 1 else ints[:, index]), low[index]

    def get(self, node: Expr, need: np.ndarray) -> np.ndarray:
        """The value of ``node``, an object array with at least the entries ``need``."""
        if isinstance(node, Name):
            return self.arrays[node.name]
        kept = self._kept.get(id(node))
        if kept is None:
            shape = self.shape(node)
            kept = (np.empty(shape, dtype=object), np.zeros(shape, dtype=bool))
            self._kept[id(node)] = kept
            self._alive.append(node)
        values, have = kept
        missing = need & ~have
        if missing.any():
            values[missing] = _compute(node, missing, self)[missing]
            have |= missing
        return values


class _Moved(_Values):
    """The values with one entry of one input moved: only the entries that
    depend on it (``depends``) are computed afresh; the others are the base's."""

    def __init__(self, base: _Values, name: str, index: tuple[int, int], value, depends: dict[int, np.ndarray]):
        moved = base.arrays[name].copy()
        moved[index] = value
        super().__init__({**base.arrays, name: moved})
        self._shapes, self._inputs, self._aligned, self._alive = base._shapes, base._inputs, base._aligned, base._alive
        self.base, self.depends = base, depends
        self._fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # a node met twice is computed once

    def get(self, node: Expr, need: np.ndarray) -> np.ndarray:
        if isinstance(node, Name):
            return self.arrays[node.name]
        depends = self.depends.get(id(node))
        fresh = need if depends is None else need & depends
        if depends is None or not fresh.any():
            return self.base.get(node, need)
        earlier = self._fresh.get(id(node))
        if earlier is not None and not (need & ~earlier[0]).any():
            return earlier[1]
        stale = need & ~depends
        values = self.base.get(node, stale).copy() if stale.any() else np.empty(self.shape(node), dtype=object)
        values[fresh] = _compute(node, fresh, self)[fresh]
        self._fresh[id(node)] = (need, values)
        return values


def _dependence(node: Expr, name: str, index: tuple[int, int], values: _Values,
                found: dict[int, np.ndarray]) -> np.ndarray | None:
    """The entries of ``node`` that can change when ``name``[index] moves (a
    superset: recomputing an entry that does not change is only slower), or None
    when none can; filled into ``found`` by node identity."""
    if isinstance(node, Name):
        if node.name != name:
            return None
        mask = np.zeros(values.shape(node), dtype=bool)
        mask[index] = True
        return mask
    children = [_dependence(child, name, index, values, found) for child in node.children()]
    if all(child is None for child in children):
        return None
    shape = values.shape(node)
    if isinstance(node, Transpose):
        mask = children[0].T
    elif isinstance(node, MatMul):
        left, right = children
        rows = np.zeros(shape[0], dtype=bool) if left is None else left.any(axis=1)
        cols = np.zeros(shape[1], dtype=bool) if right is None else right.any(axis=0)
        mask = rows[:, None] | cols[None, :]
    elif isinstance(node, tuple(_BINARY)):
        mask = np.zeros(shape, dtype=bool)
        for child in children:
            if child is not None:
                mask = mask | np.broadcast_to(child, shape)
    elif isinstance(node, Along) or (isinstance(node, Call) and node.function not in _ELEMENTWISE
                                     and node.function != "leaky_relu"):
        mask = np.ones(shape, dtype=bool)  # trace, sum, det, inv, softmax, ...: every entry (a superset)
    else:  # elementwise functions, powers, negation
        mask = children[0]
    found[id(node)] = mask
    return mask


def _compute(node: Expr, need: np.ndarray, values: _Values) -> np.ndarray:
    """The entries ``need`` of ``node``'s value, from its operands' values."""
    if not node.children():
        return _constant(node)
    out = np.empty(need.shape, dtype=object)
    if isinstance(node, Transpose):
        return values.get(node.operand, need.T).T
    if isinstance(node, Neg):
        operand = values.get(node.operand, need)
        out[need] = [-x for x in operand[need]]
        return out
    if isinstance(node, Power):
        operand, power = values.get(node.base, need), _power(node.exponent)
        out[need] = [power(x) for x in operand[need]]
        return out
    if isinstance(node, Call) and node.function in _ELEMENTWISE:
        operand, function = values.get(node.argument, need), _ELEMENTWISE[node.function]
        out[need] = [function(x) for x in operand[need]]
        return out
    if isinstance(node, Call) and node.function == "leaky_relu":
        operand = values.get(node.argument, need)
        slope = mpmath.mpf(node.parameter.numerator) / node.parameter.denominator
        out[need] = [x if x > 0 else slope * x for x in operand[need]]
        return out
    if isinstance(node, Along):
        operand = values.get(node.argument, np.ones(values.shape(node.argument), dtype=bool))
        return _along(node.function, operand, node.axis)
    if isinstance(node, tuple(_BINARY)):
        combine = _BINARY[type(node)]
        left = np.broadcast_to(values.get(node.left, _reduce(need, values.shape(node.left))), need.shape)
        right = np.broadcast_to(values.get(node.right, _reduce(need, values.shape(node.right))), need.shape)
        out[need] = [combine(a, b) for a, b in zip(left[need], right[need])]
        return out
    if isinstance(node, MatMul):
        rows, cols = need.any(axis=1), need.any(axis=0)
        inner = values.shape(node.left)[1]
        left = values.get(node.left, np.repeat(rows[:, None], inner, axis=1))
        right = values.get(node.right, np.repeat(cols[None, :], inner, axis=0))
        return _products(left, right, need, rows, cols, values)
    if isinstance(node, Call):
        shape = values.shape(node.argument)
        if node.function == "trace":
            operand = values.get(node.argument, np.eye(*shape, dtype=bool))
            return np.array([[mpmath.fsum(operand.diagonal())]], dtype=object)
        operand = values.get(node.argument, np.ones(shape, dtype=bool))
        if node.function == "sum":
            return np.array([[mpmath.fsum(operand.ravel())]], dtype=object)
        if node.function in ("mean", "softmax", "log_softmax", "logsumexp"):
            return _along(node.function, operand, None)
        if node.function == "norm":
            return np.array([[mpmath.sqrt(mpmath.fsum(x * x for x in operand.ravel()))]], dtype=object)
        if node.function == "det":
            return np.array([[mpmath.det(mpmath.matrix(operand.tolist()))]], dtype=object)
        if node.function == "inv":
            return np.array(mpmath.inverse(mpmath.matrix(operand.tolist())).tolist(), dtype=object)
    raise TypeError(f"cannot evaluate the operation {type(node).__name__} numerically")


class _NotExact(Exception):
    """An entry that is not a finite real mpmath number, or exponents too far apart."""


_NO_EXPONENT = np.iinfo(np.int64).max  # a zero's exponent: ignored when exponents are aligned
_MAX_SPREAD = 1 << 16  # bits between the smallest and largest exponents aligned in integers


def _align(array: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Integers I and exponents e, one per row (``axis`` 1) or per column (0), with
    array = I * 2**e exactly: every mpmath number is an integer times a power of 2,
    and shifting the integers to the smallest exponent of their row makes a
    row's entries share one exponent."""
    flat = array.ravel()
    mantissas = np.empty(len(flat), dtype=object)
    exponents = np.empty(len(flat), dtype=np.int64)
    for k, x in enumerate(flat):
        try:
            sign, mantissa, exponent, _ = x._mpf_
        except AttributeError:  # a complex number, or nothing
            raise _NotExact from None
        if not mantissa:
            if exponent:  # infinity or nan
                raise _NotExact
            mantissas[k], exponents[k] = 0, _NO_EXPONENT
        elif abs(exponent) > _MAX_SPREAD:
            raise _NotExact
        else:
            mantissas[k], exponents[k] = -mantissa if sign else mantissa, exponent
    mantissas, exponents = mantissas.reshape(array.shape), exponents.reshape(array.shape)
    low = exponents.min(axis=axis)
    low = np.where(low == _NO_EXPONENT, 0, low)
    shifts = np.where(exponents == _NO_EXPONENT, 0, exponents - np.expand_dims(low, axis))
    if shifts.size and shifts.max() > _MAX_SPREAD:
        raise _NotExact
    return mantissas << shifts.astype(object), low


def _products(left: np.ndarray, right: np.ndarray, need: np.ndarray, rows: np.ndarray, cols: np.ndarray,
              values: "_Values") -> np.ndarray:
    """The entries ``need`` of left @ right, each sum of products exact, rounded once.

    The rows of ``left`` and the columns of ``right`` become integers over one
    exponent each (see :func:`_align`), so a sum of products is a product of
    integer matrices, which NumPy runs in C; mpmath.fdot, term by term in
    Python, is the fallback for entries that are not finite real numbers."""
    out = np.empty(need.shape, dtype=object)
    r, c = np.nonzero(rows)[0], np.nonzero(cols)[0]
    try:
        left_ints, left_low = values.aligned(left, r, axis=1)
        right_ints, right_low = values.aligned(right, c, axis=0)
    except _NotExact:
        for p, q in zip(*np.nonzero(need)):
            out[p, q] = mpmath.fdot(left[p], right[:, q])
        return out
    if need.sum() == len(r) * len(c):  # a whole block: one product of integer matrices
        sums = left_ints @ right_ints
        for a, p in enumerate(r):
            for b, q in enumerate(c):
                out[p, q] = mpmath.mpf((int(sums[a, b]), int(left_low[a] + right_low[b])))
        return out
    row_at, col_at = {p: a for a, p in enumerate(r)}, {q: b for b, q in enumerate(c)}
    for p, q in zip(*np.nonzero(need)):
        a, b = row_at[p], col_at[q]
        out[p, q] = mpmath.mpf((int(np.dot(left_ints[a], right_ints[:, b])), int(left_low[a] + right_low[b])))
    return out


def _to_mp(array) -> np.ndarray:
    """A float array as an object array of mpmath floats (exactly: a float64 is a
    binary fraction, which mpmath holds without rounding from 53 bits up)."""
    return np.array([[mpmath.mpf(float(x)) for x in row] for row in np.asarray(array, dtype=float)], dtype=object)


def evaluate(node: Expr, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The value of ``node`` (an object array of mpmath numbers, at mpmath's
    current precision) with the given arrays for its names (NumPy broadcasting)."""
    values = _Values({name: _to_mp(a) if a.dtype != object else a for name, a in arrays.items()})
    return values.get(node, np.ones(values.shape(node), dtype=bool))


def central_differences(node: Expr, wrt: str, arrays: Mapping[str, np.ndarray], upstream: np.ndarray,
                        step, entries: list[tuple[int, int]], values: _Values | None = None) -> list:
    """df/d(wrt) at each of ``entries``, for f = sum(upstream * node), by central
    differences at mpmath's current precision.  ``arrays`` and ``upstream`` are
    object arrays of mpmath numbers.

    Entries of the output that do not depend on the moved input are the same at
    both points, and left out of the difference of the two sums (exactly: their
    terms cancel); only the others are computed."""
    values = values or _Values(arrays)
    gradient = []
    for index in entries:
        depends: dict[int, np.ndarray] = {}
        changed = _dependence(node, wrt, index, values, depends)
        at = values.arrays[wrt][index]
        plus = _Moved(values, wrt, index, at + step, depends).get(node, changed)
        minus = _Moved(values, wrt, index, at - step, depends).get(node, changed)
        where = np.broadcast_to(upstream, changed.shape)
        difference = mpmath.fsum(where[k] * (plus[k] - minus[k]) for k in zip(*np.nonzero(changed)))
        gradient.append(difference / (2 * step))
    return gradient


@dataclass(frozen=True)
class NumericWitness:
    agrees: bool | None  # None: the numbers could not be compared (not finite, not real, not stable)
    largest_error: float
    method: str
    entry: tuple[int, int] | None = None  # 1-based: where they disagree, when they do
    numeric_value: float | None = None  # the central difference there
    claimed_value: float | None = None  # the closed form there


def _real(value) -> bool:
    return isinstance(value, mpmath.mpf) and bool(mpmath.isfinite(value))


def _at(digits: int, node: Expr, wrt: str, closed_form: Expr, drawn: Mapping[str, np.ndarray],
        upstream: str | None, entries: list[tuple[int, int]]):
    """Central differences and the closed form at ``entries``, to ``digits`` digits;
    None where a value is not a finite real number."""
    with mpmath.workdps(digits):
        arrays = {name: _to_mp(array) for name, array in drawn.items()}
        values = _Values(arrays)
        gradient_upstream = arrays[upstream] if upstream is not None else np.array([[mpmath.mpf(1)]], dtype=object)
        numeric = central_differences(node, wrt, arrays, gradient_upstream, step_for(digits), entries, values)
        claimed_all = values.get(closed_form, _mask(values.shape(closed_form), entries))
        claimed = [claimed_all[index] for index in entries]
    if not all(_real(x) for x in numeric + claimed):
        return None
    return numeric, claimed


def _mask(shape: tuple[int, int], entries: list[tuple[int, int]]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for index in entries:
        mask[index] = True
    return mask


def _first_disagreement(numeric: list, claimed: list) -> tuple[int | None, float]:
    """The position of the first entry where the two differ by more than the
    tolerance (relative, to at least 1), and the largest error."""
    first, largest = None, 0.0
    for k, (a, b) in enumerate(zip(numeric, claimed)):
        error = abs(a - b)
        largest = max(largest, float(error))
        if first is None and error > TOLERANCE * max(1, abs(a)):
            first = k
    return first, largest


KINK_MARGIN = 1e-3  # how far from 0 every argument of a kinked function is drawn
KINK_TRIES = 50
_KINKED = ("relu", "leaky_relu", "abs", "step", "sign")


def _kinked(node: Expr) -> set[str]:
    from .expr import walk

    return {sub.function for sub in walk(node) if isinstance(sub, Call) and sub.function in _KINKED}


def _draw(rng, shapes, upstream, signed) -> dict[str, np.ndarray]:
    """Inputs from [0.5, 1.5] (where log and sqrt are defined), or, for an expression
    with kinked functions, with random signs too, so that every side of a kink is seen."""
    drawn = {}
    for name, shape in sorted(shapes.items()):
        if name == upstream:
            continue
        values = rng.uniform(0.5, 1.5, size=shape)
        if signed:
            values = values * rng.choice([-1.0, 1.0], size=shape)
        drawn[name] = values
    return drawn


def _kink_values(node: Expr, drawn: Mapping[str, np.ndarray]) -> list[list] | None:
    """The values, at the drawn inputs, of every argument of a kinked function in
    ``node`` (at 20 digits: for a test of distance and sign, not a value); None
    where one of them is not a real number."""
    from .expr import walk

    arguments = [sub.argument for sub in walk(node) if isinstance(sub, Call) and sub.function in _KINKED]
    found = []
    try:
        with mpmath.workdps(20):
            values = _Values({name: _to_mp(array) for name, array in drawn.items()})
            for argument in arguments:
                entries = list(values.get(argument, np.ones(values.shape(argument), dtype=bool)).ravel())
                if not all(_real(x) for x in entries):
                    return None
                found.append(entries)
    except (ValueError, ArithmeticError, KeyError):
        return None
    return found


def _away_from_kinks(node: Expr, drawn: Mapping[str, np.ndarray]) -> bool:
    """Whether every argument of a kinked function in ``node`` is at least KINK_MARGIN
    from 0 at the drawn inputs."""
    found = _kink_values(node, drawn)
    return found is not None and all(abs(x) >= KINK_MARGIN for entries in found for x in entries)


def _both_signs(node: Expr, drawn: Mapping[str, np.ndarray]) -> bool:
    """Whether every argument of a kinked function with more than one entry has
    entries of both signs at the drawn inputs: then the witness sees both sides
    of the kink (each region's formula), not only one."""
    found = _kink_values(node, drawn)
    return found is not None and all(len(entries) < 2 or (any(x > 0 for x in entries) and any(x < 0 for x in entries))
                                     for entries in found)


def _point_away_from_kinks(node: Expr, closed_form: Expr, rng, shapes, upstream) -> dict | None:
    """Signed inputs at which every argument of a kinked function is at least
    KINK_MARGIN from 0 (the witness never evaluates at a kink, nor within its
    differences' step of one), preferring a point where each such argument has
    entries of both signs; None if KINK_TRIES draws find no point away from the kinks."""
    fallback = None
    for _ in range(KINK_TRIES):
        drawn = _draw(rng, shapes, upstream, True)
        if _away_from_kinks(node, drawn) and _away_from_kinks(closed_form, drawn):
            if _both_signs(node, drawn) and _both_signs(closed_form, drawn):
                return drawn
            fallback = fallback or drawn
    return fallback


def _scalars_drawn(node: Expr, closed_form: Expr, rng) -> tuple[Expr, Expr]:
    """Both trees with each named real scalar of a constant (lam, eps) given one
    random value in [0.5, 1.5], the same in both."""
    from fractions import Fraction

    from .expr import walk

    symbols = sorted({x for tree in (node, closed_form) for sub in walk(tree) if isinstance(sub, Constant)
                      for x in sub.value.free_symbols}, key=str)
    if not symbols:
        return node, closed_form
    sizes = [x for x in symbols if x.is_integer]
    if sizes:
        raise TypeError(f"the sizes {', '.join(map(str, sizes))} need values before a numeric witness")
    values = {x: Fraction(int(rng.integers(500, 1500)), 1000) for x in symbols}

    def put(tree: Expr) -> Expr:
        if isinstance(tree, Constant):
            return Constant(tree.value.subs(values))
        children = tree.children()
        return tree.rebuild(*(put(child) for child in children)) if children else tree

    return put(node), put(closed_form)


def witness(node: Expr, wrt: str, closed_form: Expr, shapes: Mapping[str, tuple[int, int]],
            upstream: str | None, seed: int = 0, max_entries: int = MAX_ENTRIES,
            signs: bool = True) -> NumericWitness:
    """Compare the closed form at random numbers with central differences there.

    Inputs are drawn from [0.5, 1.5], where log and sqrt are defined; the
    upstream gradient (absent for a scalar-valued expression) from a normal
    distribution.  ``agrees`` is None when the expression or the closed form is
    not a finite real number there, or the finite differences do not settle as
    the precision grows.
    """
    rng = np.random.default_rng(seed)
    original = node, closed_form
    node, closed_form = _scalars_drawn(node, closed_form, rng)
    signed = (_kinked(node) or _kinked(closed_form)) if signs else set()
    drawn = _point_away_from_kinks(node, closed_form, rng, shapes, upstream) if signed \
        else _draw(rng, shapes, upstream, False)
    if not signs:  # positive inputs, still away from the kinks
        for _ in range(KINK_TRIES):
            if _away_from_kinks(node, drawn) and _away_from_kinks(closed_form, drawn):
                break
            drawn = _draw(rng, shapes, upstream, False)

    def positive_instead(reason: NumericWitness) -> NumericWitness:
        """With both signs log or sqrt may not be real: the witness at positive inputs."""
        if not signed:
            return reason
        again = witness(*original[:1], wrt, original[1], shapes, upstream, seed, max_entries, signs=False)
        if again.agrees is None:
            return reason
        return NumericWitness(again.agrees, again.largest_error, again.method + " (positive inputs: with both "
                              "signs the expression is not real)", again.entry, again.numeric_value,
                              again.claimed_value)
    if drawn is None:
        return NumericWitness(None, float("nan"), "no numeric witness: no random point away from the kinks "
                                                  f"(where an argument of {', '.join(sorted(signed))} is 0) was found")
    try:
        output_shape = _Values(drawn).shape(node)
        if upstream is not None:
            drawn[upstream] = rng.standard_normal(output_shape)
        claim_shape = _Values(drawn).shape(closed_form)
    except ValueError as problem:
        return NumericWitness(None, float("nan"), f"no numeric witness: the shapes do not broadcast ({problem})")
    rows, cols = drawn[wrt].shape
    entries = [(i, j) for i in range(rows) for j in range(cols)]
    sampled = len(entries) > max_entries
    if sampled:  # a large input: a fixed random sample of its entries
        entries = [entries[k] for k in sorted(rng.choice(len(entries), max_entries, replace=False))]
    where = (f"central differences (step 1e-{2 * PRECISION // 5}, {PRECISION} digits) at random "
             f"values (seed {seed})" + (f", at {max_entries} sampled entries" if sampled else ""))
    if claim_shape != (rows, cols):
        return NumericWitness(False, float("inf"), f"{where}: shapes differ, {claim_shape} against {(rows, cols)}")

    earlier = None
    digits = PRECISION
    while digits <= MAX_PRECISION:
        try:
            found = _at(digits, node, wrt, closed_form, drawn, upstream, entries)
        except (ValueError, ArithmeticError) as problem:
            return positive_instead(NumericWitness(None, float("nan"), f"no numeric witness: the expression cannot "
                                                   f"be evaluated at random values ({problem or type(problem).__name__})"))
        if found is None:
            return positive_instead(NumericWitness(None, float("nan"),
                                                   f"{where}: not a finite real number there, no numeric witness"))
        numeric, claimed = found
        first, largest = _first_disagreement(numeric, claimed)
        if first is None:
            confirmed = "" if digits == PRECISION else f" (at {digits} digits; at {digits // 2}, rounding errors showed)"
            return NumericWitness(True, largest, f"{where} agree to a relative {TOLERANCE:g}{confirmed}")
        if earlier is not None and _first_disagreement(earlier, numeric)[0] is None:
            # the finite differences are the same at twice the precision: the disagreement is real
            i, j = entries[first]
            a, b = numeric[first], claimed[first]
            return NumericWitness(
                False, largest,
                f"{where} disagree at entry {(i + 1, j + 1)}: finite differences give {mpmath.nstr(a, 12)}, "
                f"the claim {mpmath.nstr(b, 12)} (the same at {digits} digits)",
                entry=(i + 1, j + 1), numeric_value=float(a), claimed_value=float(b))
        earlier = numeric
        digits *= 2
    return NumericWitness(None, float("nan"), f"{where}: the finite differences change with the precision "
                                              f"(up to {MAX_PRECISION} digits), no numeric witness")
