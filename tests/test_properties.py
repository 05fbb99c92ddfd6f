"""Property-based tests (Hypothesis): random expressions derive verified closed
forms, and wrong claims about products are refuted.

Two profiles, chosen by the environment variable SYMDERIVE_HYPOTHESIS_PROFILE:

* ``ci`` (the default): derandomized, so every run tries the same examples;
  300 examples per property, 600 in all, about 20 s;
* ``thorough``: 2500 new random examples per property, 5000 in all, a few
  minutes, for a long run by hand::

      SYMDERIVE_HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_properties.py

The profile is loaded when this module is imported, so it takes precedence over
pytest's ``--hypothesis-profile`` option.  Add ``--hypothesis-show-statistics``
to see how many examples ran, how long they took, and what kinds of example
(events) were tried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from symderive import BadInput, check, derive
from symderive.expr import (Add, Call, Div, Expr, Hadamard, MatMul, Name, Neg, Number, Power, Sub,
                            Transpose)
from symderive.parse import parse

# Under pytest-xdist these tests run in one worker: Hypothesis caches what it reads of
# the source (.hypothesis/constants/), and two processes must not write it at once.
pytestmark = pytest.mark.xdist_group("hypothesis")

# --------------------------------------------------------------------------- profiles

PROFILE_VARIABLE = "SYMDERIVE_HYPOTHESIS_PROFILE"
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=2500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get(PROFILE_VARIABLE, "ci"))

# --------------------------------------------------------------------------- random expressions

# Names a leaf may take (G is the upstream gradient and Y, Z, F, H, Out the
# output, so none of those).  Each example takes names in this order from a
# random starting point, so that odd but legal names (T, e, x_2) get their turn.
NAME_POOL = ("A", "B", "C", "D", "X", "W", "W1", "b", "T", "e", "x_2")
# No log or sqrt: their exact checks may be undecided on real symbols.
FUNCTIONS = ("tanh", "sin", "cos", "exp", "sigmoid")
MAX_DEPTH = 3  # operations nested inside one another
MAX_LEAVES = 4
DIMENSION = st.integers(1, 3)
# the shape of the whole expression: 1x1 (differentiated directly, without G)
# about a quarter of the time
OUTPUT_SHAPES = [(1, 1)] * 3 + [(r, c) for r in range(1, 4) for c in range(1, 4) if (r, c) != (1, 1)]


class _Names:
    """The names used so far, each with its one shape."""

    def __init__(self, order: list[str]) -> None:
        self.unused = list(order)
        self.shapes: dict[str, tuple[int, int]] = {}

    def leaf(self, draw, shape: tuple[int, int]) -> Name:
        same = [name for name, s in self.shapes.items() if s == shape]
        if same and (not self.unused or draw(st.integers(0, 2)) == 2):  # reuse a third of the time
            return Name(draw(st.sampled_from(same)))
        name = self.unused.pop(0)  # a fresh name; the pool outlasts MAX_LEAVES
        self.shapes[name] = shape
        return Name(name)


def _node(draw, names: _Names, shape: tuple[int, int], depth: int, budget: int,
          in_function: bool, top: bool = False) -> tuple[Expr, int]:
    """A random expression of the given shape, at most ``depth`` operations deep
    and with at most ``budget`` leaves; returns it and the leaves it used.  The
    whole expression (``top``) is never a bare name."""
    options = [] if top else ["leaf"]
    if depth > 0:
        options += ["neg", "transpose", "power", "div"]
        if not in_function:  # elementwise functions are not nested in one another
            options.append("function")
        if shape == (1, 1):
            options += ["trace", "sum"]
        if budget >= 2:  # twice as likely as each unary operation
            options += ["matmul", "add", "sub", "hadamard"] * 2
    op = draw(st.sampled_from(options))
    rows, cols = shape
    deeper = depth - 1
    if op == "leaf":
        return names.leaf(draw, shape), 1
    if op in ("neg", "power", "div"):
        child, used = _node(draw, names, shape, deeper, budget, in_function)
        if op == "neg":
            return Neg(child), used
        if op == "power":
            return Power(child, Fraction(2)), used
        return Div(child, Number(Fraction(draw(st.integers(2, 3))))), used
    if op == "transpose":
        child, used = _node(draw, names, (cols, rows), deeper, budget, in_function)
        return Transpose(child), used
    if op == "function":
        child, used = _node(draw, names, shape, deeper, budget, True)
        return Call(draw(st.sampled_from(FUNCTIONS)), child), used
    if op == "trace":
        size = draw(DIMENSION)
        child, used = _node(draw, names, (size, size), deeper, budget, in_function)
        return Call("trace", child), used
    if op == "sum":
        child, used = _node(draw, names, (draw(DIMENSION), draw(DIMENSION)), deeper, budget, in_function)
        return Call("sum", child), used
    # a binary operation: the left operand leaves at least one leaf to the right
    if op == "matmul":
        inner = draw(DIMENSION)
        left_shape, right_shape = (rows, inner), (inner, cols)
    else:
        left_shape = right_shape = shape
    left, used_left = _node(draw, names, left_shape, deeper, budget - 1, in_function)
    right, used_right = _node(draw, names, right_shape, deeper, budget - used_left, in_function)
    kind = {"matmul": MatMul, "add": Add, "sub": Sub, "hadamard": Hadamard}[op]
    return kind(left, right), used_left + used_right


@st.composite
def expressions(draw) -> tuple[Expr, dict[str, tuple[int, int]], tuple[int, int]]:
    """A random well-shaped expression, the shape of each of its names, and its shape."""
    start = draw(st.integers(0, len(NAME_POOL) - 1))
    names = _Names(list(NAME_POOL[start:] + NAME_POOL[:start]))
    shape = draw(st.sampled_from(OUTPUT_SHAPES))
    tree, _ = _node(draw, names, shape, MAX_DEPTH, MAX_LEAVES, in_function=False, top=True)
    return tree, dict(names.shapes), shape


def _failures(identities) -> list[tuple[str, str, object]]:
    return [(i.statement, i.verdict.method, i.witness and i.witness.method)
            for i in identities if not i.holds]


@given(case=expressions(), pick=st.integers(0, MAX_LEAVES - 1))
def test_random_expressions_derive_verified_closed_forms(case, pick):
    tree, shapes, shape = case
    text = str(tree)
    assert parse(text) == tree, text  # the text says what the generator built
    event(f"names: {len(shapes)}")
    event("scalar-valued" if shape == (1, 1) else "matrix-valued")
    r = derive(text, shapes=shapes)
    assert r.output_shape == shape
    assert r.shapes == shapes
    gradient_names = {i.wrt for i in r.identities if i.kind == "gradient"}
    assert gradient_names == set(shapes) == set(r.closed_form_trees)
    assert r.verified, (text, shapes, _failures(r.identities))
    for identity in r.identities:
        assert identity.witness is None or identity.witness.agrees is not False, \
            (text, shapes, identity.statement, identity.witness.method)
    # the closed form as printed is a claim that check() accepts
    wrt = sorted(shapes)[pick % len(shapes)]
    claim = str(r.closed_form_trees[wrt])
    c = check(text, wrt=wrt, claim=claim, shapes=shapes)
    assert c.holds, (text, shapes, wrt, claim, c.verdict.method, c.verdict.reason)


# --------------------------------------------------------------------------- wrong claims


@dataclass(frozen=True)
class Family:
    """A product whose gradients are known in closed form.

    ``expression`` uses L and R; ``shapes(r, k, c)`` gives their shapes; each
    correct claim is a list of factors (name, transposed), G the upstream.
    """

    expression: str
    shapes: Callable[[int, int, int], dict[str, tuple[int, int]]]
    claims: dict[str, tuple[tuple[str, bool], ...]]


FAMILIES = [
    # Y = L R:  df/dL = G R^T,  df/dR = L^T G
    Family("L @ R", lambda r, k, c: {"L": (r, k), "R": (k, c)},
           {"L": (("G", False), ("R", True)), "R": (("L", True), ("G", False))}),
    # Y = L^T R:  df/dL = R G^T,  df/dR = L G
    Family("L.T @ R", lambda r, k, c: {"L": (k, r), "R": (k, c)},
           {"L": (("R", False), ("G", True)), "R": (("L", False), ("G", False))}),
    # Y = L R^T:  df/dL = G R,  df/dR = G^T L
    Family("L @ R.T", lambda r, k, c: {"L": (r, k), "R": (c, k)},
           {"L": (("G", False), ("R", False)), "R": (("G", True), ("L", False))}),
    # Y = L^T R^T, f = tr(R L G):  df/dL = R^T G^T,  df/dR = G^T L^T
    Family("L.T @ R.T", lambda r, k, c: {"L": (k, r), "R": (c, k)},
           {"L": (("R", True), ("G", True)), "R": (("G", True), ("L", True))}),
    # f = tr(L R):  df/dL = R^T,  df/dR = L^T
    Family("trace(L @ R)", lambda r, k, c: {"L": (r, k), "R": (k, r)},
           {"L": (("R", True),), "R": (("L", True),)}),
    # f = tr(L^T R):  df/dL = R,  df/dR = L
    Family("trace(L.T @ R)", lambda r, k, c: {"L": (k, r), "R": (k, r)},
           {"L": (("R", False),), "R": (("L", False),)}),
]

PAIR_NAMES = ("A", "B", "X", "W", "W2", "h")


def _mutations(factors):
    """Every one-step mutation: transpose a factor, swap the two, drop one."""
    found = []
    for k in range(len(factors)):
        flipped = list(factors)
        flipped[k] = (factors[k][0], not factors[k][1])
        found.append((f"transpose factor {k + 1}", tuple(flipped)))
    if len(factors) == 2:
        found.append(("swap the factors", (factors[1], factors[0])))
        found += [(f"drop factor {k + 1}", (factors[1 - k],)) for k in range(2)]
    return found


@st.composite
def wrong_claims(draw):
    """(expression, shapes, wrt, correct claim, one mutation of it, which mutation)."""
    family = draw(st.sampled_from(FAMILIES))
    left = draw(st.sampled_from(PAIR_NAMES))
    right = draw(st.sampled_from([name for name in PAIR_NAMES if name != left]))
    if draw(st.booleans()):  # square: transposed and swapped factors conform
        r = k = c = draw(st.integers(2, 3))
    else:
        r, k, c = draw(DIMENSION), draw(DIMENSION), draw(DIMENSION)
    rename = {"L": left, "R": right, "G": "G"}
    shapes = {rename[n]: s for n, s in family.shapes(r, k, c).items()}
    wrt = draw(st.sampled_from(sorted(family.claims)))
    correct = tuple((rename[n], t) for n, t in family.claims[wrt])
    # a 1x1 expression is differentiated directly: there is no G (it is 1)
    scalar = family.expression.startswith("trace(") or (r, c) == (1, 1)
    if scalar:
        correct = tuple(f for f in correct if f[0] != "G")
    description, mutated = draw(st.sampled_from(_mutations(correct)))
    text = "".join(rename.get(ch, ch) for ch in family.expression)
    output = None if scalar else (r, c)
    return text, shapes, rename[wrt], output, correct, mutated, description


def _claim_text(factors) -> str:
    return " @ ".join(name + (".T" if transposed else "") for name, transposed in factors)


def _numeric_value(factors, arrays):
    """The claim's value at the given numbers (NumPy, independent of symderive),
    or None when its products do not conform."""
    value = None
    for name, transposed in factors:
        a = arrays[name].T if transposed else arrays[name]
        if value is None:
            value = a
        elif value.shape[1] != a.shape[0]:
            return None
        else:
            value = value @ a
    return value


@given(case=wrong_claims())
def test_one_mutation_of_a_product_gradient_is_refuted(case):
    text, shapes, wrt, output, correct, mutated, description = case
    correct_claim, wrong_claim = _claim_text(correct), _claim_text(mutated)
    where = (text, shapes, wrt, correct_claim, wrong_claim, description)

    good = check(text, wrt=wrt, claim=correct_claim, shapes=shapes)
    assert good.holds, (where, good.verdict.method, good.verdict.reason)

    # what to expect, decided by NumPy at random numbers
    rng = np.random.default_rng(2021)
    arrays = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    if output is not None:
        arrays["G"] = rng.standard_normal(output)
    expected = _numeric_value(correct, arrays)
    value = _numeric_value(mutated, arrays)
    if value is None:
        outcome = "does not conform"
    elif value.shape != expected.shape:
        outcome = "has the wrong shape"
    elif not np.allclose(value, expected, rtol=1e-9, atol=1e-9):
        outcome = "conforms, wrong value"
    else:  # the mutation changed nothing (a transposed 1x1 factor, two 1x1 factors swapped)
        outcome = "equals the correct one"
    event(f"mutated claim {outcome}")

    if outcome == "does not conform":  # rejected as bad input (or refuted), never verified
        try:
            c = check(text, wrt=wrt, claim=wrong_claim, shapes=shapes)
        except BadInput:
            return
        assert not c.holds, where
        return
    c = check(text, wrt=wrt, claim=wrong_claim, shapes=shapes)
    if outcome == "has the wrong shape":  # refuted on shape, with the reason
        assert not c.holds, where
        assert c.verdict.counterexample is None and c.verdict.reason, (where, c.verdict)
    elif outcome == "conforms, wrong value":  # refuted at an entry, the witness disagreeing
        assert not c.holds, where
        found = c.verdict.counterexample
        assert found is not None and found.decided, (where, c.verdict.method)
        assert all(1 <= i <= n for i, n in zip(found.index, expected.shape)), (where, found.index)
        assert found.difference != 0, where
        assert c.witness is not None and c.witness.agrees is False, (where, c.witness)
    else:
        assert c.holds, (where, c.verdict.method)
