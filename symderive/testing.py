"""Verify the identities in your own tests: gradient checks for a course's pytest files.

    import numpy as np
    from symderive.testing import assert_backward, assert_gradient

    SHAPES = {"X": (4, 3), "W": (3, 5), "b": (1, 5)}

    def backward(X, W, b, G):                 # a student's backward pass of tanh(X @ W + b)
        H = np.tanh(X @ W + b)
        dZ = G * (1 - H ** 2)
        return dZ @ W.T, X.T @ dZ, dZ.sum(axis=0, keepdims=True)

    def test_tanh_layer():
        assert_backward(backward, "tanh(X @ W + b)", SHAPES, wrt=("X", "W", "b"))

    def test_the_weights_gradient():
        assert_gradient("tanh(X @ W + b)", "W", "X.T @ (G * (1 - tanh(X @ W + b)**2))", SHAPES)

What the code is compared with: the gradients symderive derives by the chain
rule over explicit matrices of symbols at these shapes
(:func:`symderive.pipeline.chain_rule_gradients`), never a rule table.  The
comparison is the kernel's (:func:`symderive.verify.equal_matrices`): exact.

How ``backward`` is run, strongest first, and the verdict says which ran:

1. **exactly**: on object arrays whose entries are symbols (X_11, ..., G_11, ...)
   wrapped so that NumPy's object loops can compute with them: products, sums,
   transposes, indexing, ``np.tanh``, ``np.exp``, ``np.log``, ``np.sqrt``.  What
   it returns is compared with the derived gradients as expressions, by the
   kernel.  A float constant is read as the decimal it prints as (0.01 as 1/100).
   Numbers are then a second witness: the same code at one random point, in high
   precision (SymPy writes exp(2 log x) as x**2; NumPy gives NaN for x < 0);
2. **in high precision**, when the code cannot run on symbols (it compares
   entries, as ``Z > 0``, ``np.maximum`` and ``Z.max()`` do, or converts them to
   float) or the exact comparison is undecided: at POINTS (8) random rational points
   (inside the domain of log and sqrt, away from every kink, at scales from
   1/10000 to 3 so that thresholds and masks near 0 are met) with 50-digit
   numbers, against the derived gradients evaluated at the same points with 60;
3. **in double precision**, when the code cannot run on 50-digit numbers, converts
   them to float, or uses float constants that are not binary fractions (1/3.,
   0.01): at the same points, to a relative 1e-8 (1e-4 for float32 results).

An entry passes a numeric comparison when it is within the tolerance of the
derived value relative to the larger of that value and the gradient's largest
entry.  The whole check runs within ``time_limit`` seconds (60 by default),
``backward`` included.

Only ``backward`` itself is executed; the expression, the claim and the program
are read by symderive's grammar.  Entries are named 1-based, (i, j), as
everywhere in symderive, with the NumPy index beside them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import keyword
import math
import operator
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping

import mpmath
import numpy as np
import sympy

from . import budget, build, verify
from .errors import BadInput
from .expr import Expr, Name, names_in
from .kinks import Step

__all__ = ["assert_gradient", "assert_backward", "GradientMismatch", "GradientCheck"]

PRECISION = 50  # significant digits of the high-precision run
REFERENCE_DIGITS = 60  # the derived gradients are evaluated at the exact point with this many digits
# An entry passes when |yours - derived| <= tolerance * max(|derived|, the gradient's largest entry):
# relative to the entry, and near 0 relative to the matrix it belongs to.
HIGH_TOLERANCE = mpmath.mpf(10) ** -30
DOUBLE_TOLERANCE = 1e-8
SINGLE_TOLERANCE = 1e-4  # for a backward that returns float32 (about 7 digits)
POINTS = 8  # random points of the numeric runs
# Each point's inputs are k/q times a scale (q from a few primes and 16, so not all binary
# fractions): small scales find masks and thresholds near 0 (relu of the wrong argument,
# X > 1e-3), large ones code that is wrong only for large entries.
SCALES = (sympy.Integer(1), sympy.Rational(1, 100), sympy.Integer(3), sympy.Rational(1, 10000),
          sympy.Rational(1, 3), sympy.Rational(1, 10), sympy.Integer(1), sympy.Rational(1, 1000))
DENOMINATORS = (7, 11, 13, 16, 17)
TIME_LIMIT = 60.0  # seconds, default, of one assert_backward or assert_gradient
EXACT_SECONDS = 20.0  # the exact comparison's budget; past it the numeric runs decide
MAX_EXACT_ENTRIES = 400  # larger inputs go straight to the numeric runs (sympy on object arrays is slow)
SHOWN_CHARACTERS = 240  # of an expression in a message


# ---------------------------------------------------------------------------
# Verdicts
# ---------------------------------------------------------------------------


class GradientMismatch(AssertionError):
    """A gradient that is not the derived one, a backward pass that cannot be run,
    or a claim that cannot be decided.  ``report`` holds the facts as plain data
    (what the pytest plugin shows): the verdict, the gradient, the entry, both
    values, how they were compared."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class GradientCheck:
    """What passed, and how: ``method`` is "exact", "high precision" or "double
    precision"; ``statement`` says it in a sentence."""

    method: str
    statement: str
    for_all_sizes: bool = False  # assert_gradient(prove=True): also proven for all sizes

    def __str__(self) -> str:
        return self.statement


EXACT, HIGH, DOUBLE = "exact", "high precision", "double precision"
_HOW = {
    EXACT: "compared exactly, on matrices of symbols",
    HIGH: f"compared at random rational points, with {PRECISION}-digit numbers",
    DOUBLE: "compared at random rational points, in double precision",
}


def _shown(value: Any) -> str:
    text = str(value)
    if len(text) > SHOWN_CHARACTERS:
        text = text[:SHOWN_CHARACTERS] + f"... ({len(text)} characters)"
    return text


# ---------------------------------------------------------------------------
# Entries NumPy can compute with: symbols, and 50-digit numbers
# ---------------------------------------------------------------------------


class NotExact(TypeError):
    """The code asked of a symbol what only a number can answer (a branch on its
    value, a conversion to float): the exact run gives way to the numeric ones."""


class _Entry:
    """One entry of an object array.  NumPy's object loops call the operators, and
    for np.tanh, np.exp, ... the method of that name, on each entry."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    # the value of a plain number or of another entry in this field; NotImplemented otherwise
    @classmethod
    def _of(cls, other):
        raise NotImplementedError

    def _binary(self, other, op, reflected: bool = False):
        value = self._of(other)
        if value is NotImplemented:
            return NotImplemented
        return type(self)(op(value, self.value) if reflected else op(self.value, value))

    def __add__(self, other):
        return self._binary(other, operator.add)

    def __radd__(self, other):
        return self._binary(other, operator.add, True)

    def __sub__(self, other):
        return self._binary(other, operator.sub)

    def __rsub__(self, other):
        return self._binary(other, operator.sub, True)

    def __mul__(self, other):
        return self._binary(other, operator.mul)

    def __rmul__(self, other):
        return self._binary(other, operator.mul, True)

    def __truediv__(self, other):
        return self._binary(other, operator.truediv)

    def __rtruediv__(self, other):
        return self._binary(other, operator.truediv, True)

    def __pow__(self, other):
        return self._binary(other, operator.pow)

    def __rpow__(self, other):
        return self._binary(other, operator.pow, True)

    def __neg__(self):
        return type(self)(-self.value)

    def __pos__(self):
        return self

    def __repr__(self) -> str:
        return str(self.value)

    def conjugate(self):  # np.conj, and np.dot on some paths: the entries are real
        return self


def _decimal(number: float) -> tuple[sympy.Rational, bool]:
    """A float as the decimal it prints as (0.01 as 1/100, as symderive's grammar reads
    0.01), and whether that differs from the binary fraction the float holds."""
    shortest = sympy.Rational(repr(float(number)))
    return shortest, shortest != sympy.Rational(float(number))


def _rational(number) -> sympy.Rational | None:
    """A plain number as an exact rational; None for anything else.  A float is read
    as the decimal it prints as, and one that is not a binary fraction is recorded
    (_Exact.decimals): equality is then exact only up to its rounding."""
    if isinstance(number, (bool, np.bool_)):
        return sympy.Integer(int(number))
    if isinstance(number, (int, np.integer)):
        return sympy.Integer(int(number))
    if isinstance(number, Fraction):
        return sympy.Rational(number.numerator, number.denominator)
    if isinstance(number, (float, np.floating)):
        if not math.isfinite(float(number)):
            raise NotExact(f"the code uses the number {float(number)}")
        if isinstance(number, (np.float32, np.float16)):
            raise NotExact(f"the code uses {type(number).__name__} numbers")
        value, rounded = _decimal(number)
        if rounded and len(_Exact.decimals) < 3 and repr(float(number)) not in _Exact.decimals:
            _Exact.decimals.append(repr(float(number)))
        return value
    return None


class _Exact(_Entry):
    """An entry that is a SymPy expression in the symbols of the inputs."""

    __slots__ = ()
    decimals: list[str] = []  # float constants of the run that are not binary fractions; reset before each run

    @classmethod
    def _of(cls, other):
        if isinstance(other, _Exact):
            return other.value
        if isinstance(other, sympy.Basic):
            return other
        found = _rational(other)
        return NotImplemented if found is None else found

    def _decided(self, difference: sympy.Expr) -> int | None:
        """The sign of a difference of numbers (-1, 0, 1); None for one with symbols."""
        if not difference.is_number:
            return None
        if difference.is_zero:
            return 0
        if difference.is_positive:
            return 1
        if difference.is_negative:
            return -1
        raise NotExact(f"the sign of {_shown(difference)} is not decided")

    def _compare(self, other, op, positive: bool):
        value = self._of(other)
        if value is NotImplemented:
            return NotImplemented
        difference = self.value - value
        sign = self._decided(difference)
        if sign is not None:
            return op(sign, 0)
        # a comparison with symbols is the unit step of the difference: 1 where it is
        # positive, 0 where negative; at 0 (a kink) no derivative is claimed anyway
        return _Exact(Step(difference if positive else -difference))

    def __gt__(self, other):
        return self._compare(other, operator.gt, True)

    def __ge__(self, other):
        return self._compare(other, operator.ge, True)

    def __lt__(self, other):
        return self._compare(other, operator.lt, False)

    def __le__(self, other):
        return self._compare(other, operator.le, False)

    def __eq__(self, other):
        value = self._of(other)
        if value is NotImplemented:
            return NotImplemented
        sign = self._decided(self.value - value)
        if sign is None:
            raise NotExact("the code compares entries for equality")
        return sign == 0

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        sign = self._decided(self.value)
        if sign is None:
            raise NotExact("the code branches on the value of an entry")
        return sign != 0

    def __float__(self) -> float:
        raise NotExact("the code converts entries to float")

    def __int__(self) -> int:
        raise NotExact("the code converts entries to int")

    def __abs__(self):
        return _Exact(sympy.Abs(self.value)) if self.value.is_number else _Exact(
            self.value * (2 * Step(self.value) - 1))


class _Precise(_Entry):
    """An entry that is an mpmath number at the working precision.  A conversion to
    float is allowed but recorded: the comparison is then in double precision."""

    __slots__ = ()
    # set (on the class) by a conversion to float, or a float constant that is not a binary
    # fraction (0.01, 1/3.): the run is then only as precise as a double; reset before each run
    lost_precision = False

    @classmethod
    def _of(cls, other):
        if isinstance(other, _Precise):
            return other.value
        if isinstance(other, (mpmath.mpf, int, np.integer, bool, np.bool_)):
            return mpmath.mpf(int(other)) if not isinstance(other, mpmath.mpf) else other
        if isinstance(other, Fraction):
            return mpmath.mpf(other.numerator) / other.denominator
        if isinstance(other, (float, np.floating)):
            if isinstance(other, (np.float32, np.float16)) or _decimal(other)[1]:
                _Precise.lost_precision = True
            return mpmath.mpf(float(other))
        return NotImplemented

    def _compare(self, other, op):
        value = self._of(other)
        return NotImplemented if value is NotImplemented else op(self.value, value)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __float__(self) -> float:
        _Precise.lost_precision = True  # whatever follows is computed in doubles
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __abs__(self):
        return _Precise(abs(self.value))


def _real(value):
    if isinstance(value, mpmath.mpc):
        if value.imag != 0:
            raise ValueError("a value that is not a real number (log or sqrt of a negative number?)")
        return value.real
    return value


# the methods NumPy's object loops call for its elementwise functions
_FUNCTIONS = {
    "exp": (sympy.exp, mpmath.exp),
    "log": (sympy.log, mpmath.log),
    "tanh": (sympy.tanh, mpmath.tanh),
    "sinh": (sympy.sinh, mpmath.sinh),
    "cosh": (sympy.cosh, mpmath.cosh),
    "sin": (sympy.sin, mpmath.sin),
    "cos": (sympy.cos, mpmath.cos),
    "tan": (sympy.tan, mpmath.tan),
    "arctan": (sympy.atan, mpmath.atan),
    "sqrt": (sympy.sqrt, mpmath.sqrt),
    "log1p": (lambda x: sympy.log(1 + x), lambda x: mpmath.log(1 + x)),
    "expm1": (lambda x: sympy.exp(x) - 1, mpmath.expm1),
    "exp2": (lambda x: 2 ** x, lambda x: mpmath.mpf(2) ** x),
    "log2": (lambda x: sympy.log(x, 2), lambda x: mpmath.log(x, 2)),
    "log10": (lambda x: sympy.log(x, 10), mpmath.log10),
}


def _method(exact: Callable, precise: Callable, name: str):
    def exact_method(self):
        return _Exact(exact(self.value))

    def precise_method(self):
        return _Precise(_real(precise(self.value)))

    exact_method.__name__ = precise_method.__name__ = name
    return exact_method, precise_method


for _name, (_exact, _precise) in _FUNCTIONS.items():
    _e, _p = _method(_exact, _precise, _name)
    setattr(_Exact, _name, _e)
    setattr(_Precise, _name, _p)


def _object_array(values: Iterable, shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(shape, dtype=object)
    flat = array.reshape(-1)
    for k, value in enumerate(values):
        flat[k] = value
    return array


# ---------------------------------------------------------------------------
# The problem: an expression or a program, its inputs, its derived gradients
# ---------------------------------------------------------------------------


@dataclass
class _Problem:
    tree: Expr  # the expression, or the program with every step inlined, at its sizes
    text: str  # as the user wrote it, for messages
    shapes: dict[str, tuple[int, int]]  # every input's shape in symderive's terms
    vectors: set[str]  # inputs given as 1-D shapes (k,): passed to backward as 1-D arrays
    scalars: dict[str, sympy.Symbol]  # a program's named scalars
    upstream: str | None  # the upstream gradient's name; None for a scalar-valued expression
    output_shape: tuple[int, int]
    inputs: dict[str, sympy.ImmutableMatrix]  # matrices of symbols, assumptions solved in them
    upstream_matrix: sympy.ImmutableMatrix | None
    gradients: dict[str, sympy.ImmutableMatrix]  # derived, assumptions solved in them
    solution: dict  # entry -> its value where the assumptions hold ({} without assumptions)
    assumptions: list[str]
    program: Any = None  # the Program, when a program was given
    definitions: dict[str, Expr] = field(default_factory=dict)  # step -> its expression, inlined

    @property
    def where(self) -> str:
        shapes = ", ".join(f"{name}: {r}x{c}" if name not in self.vectors else f"{name}: ({c},)"
                           for name, (r, c) in self.shapes.items())
        text = f"at {shapes}"
        if self.upstream:
            text += f"; {self.upstream}: {self.output_shape[0]}x{self.output_shape[1]}, the upstream gradient"
        if self.assumptions:
            text += "; where " + " and ".join(self.assumptions)
        if self.domain:
            text += f"; {self.domain}"
        return text

    @property
    def domain(self) -> str:
        """Where the derived gradients hold: "where every entry of X @ W is nonzero
        (relu has a kink at 0)", or "" (symderive.domains)."""
        from .domains import conditions, domain_text

        return domain_text(conditions(self.tree))

    @functools.cached_property
    def output(self) -> sympy.ImmutableMatrix:
        """The expression's value on the matrices of symbols, built once: every draw of a
        point checks that it is real there."""
        return build.explicit(self.tree, self.inputs)

    def symbols(self) -> list[sympy.Symbol]:
        """Every free symbol the gradients and the arguments may have, in a fixed order."""
        found = [s for matrix in self.inputs.values() for s in matrix if isinstance(s, sympy.Symbol)]
        found += list(self.scalars.values())
        if self.upstream_matrix is not None:
            found += list(self.upstream_matrix)
        return list(dict.fromkeys(s for s in found if s not in self.solution))


def _as_text(expression) -> str:
    from .program import Program

    if isinstance(expression, (str, Expr, Program)):
        return str(expression)
    raise BadInput(f"expected an expression or a program as text, got {type(expression).__name__}")


def _shapes_argument(shapes: Mapping[str, Any] | None) -> tuple[dict[str, tuple[int, int]], dict[str, int], set[str]]:
    """Shapes by name: (rows, cols), or (k,) for a vector that backward receives as a
    1-D array (a 1 x k row in symderive's terms); sizes of a program by name."""
    matrices: dict[str, tuple[int, int]] = {}
    sizes: dict[str, int] = {}
    vectors: set[str] = set()
    if shapes is None:
        return matrices, sizes, vectors
    if not isinstance(shapes, Mapping):
        raise BadInput(f"shapes: expected a dict of names to (rows, cols), got {type(shapes).__name__}")
    for name, shape in shapes.items():
        if not isinstance(name, str):
            raise BadInput(f"shapes: names are strings, got {name!r}")
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            sizes[name] = int(shape)
            continue
        if not isinstance(shape, (tuple, list)) or not all(
                isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in shape):
            raise BadInput(f"shape of {name}: expected (rows, cols) or (k,), got {shape!r}")
        if len(shape) == 1:
            matrices[name] = (1, int(shape[0]))
            vectors.add(name)
        elif len(shape) == 2:
            matrices[name] = (int(shape[0]), int(shape[1]))
        else:
            raise BadInput(f"shape of {name}: expected (rows, cols) or (k,), got {shape!r}")
        if min(matrices[name]) < 1:
            raise BadInput(f"shape of {name}: sizes are positive, got {shape!r}")
    return matrices, sizes, vectors


def _problem(expression, shapes, wrt, upstream: str, max_work: int | None = None) -> tuple[_Problem, list[str]]:
    from .network import _concrete_shapes, _named_output, at_sizes
    from .parse import parse
    from .errors import TooMuchWork
    from .pipeline import DEFAULT_MAX_WORK, _check_depth, chain_rule_gradients
    from .program import Program, looks_like_program, read_program
    from .backward import inline

    text = _as_text(expression)
    matrices, sizes, vectors = _shapes_argument(shapes)
    if not isinstance(upstream, str) or not upstream.isidentifier() or keyword.iskeyword(upstream):
        raise BadInput(f"upstream: expected a name such as G or dY, got {upstream!r}")
    program = None
    if isinstance(expression, Program) or (isinstance(expression, str) and looks_like_program(expression)):
        program = _named_output(read_program(expression) if isinstance(expression, str) else expression)
        sizes = _program_sizes(program, sizes, matrices)
        concrete, _ = _concrete_shapes(program, sizes, matrices)
        shapes_now = {name: concrete[name] for name in program.inputs}
        here = at_sizes(program, sizes)
        tree = at_sizes(inline(Name(here.output), here), sizes)
        scalars = {name: symbol for name, symbol in program.constants().items() if name in program.scalars}
        definitions = {step.name: inline(Name(step.name), here) for step in here.steps}
        text = "; ".join(f"{step.name} = {step.expression}" for step in program.steps)
    else:
        if sizes:
            raise BadInput(f"shapes: {', '.join(sizes)} given as a number; an expression's inputs take "
                           "(rows, cols), only a program has named sizes")
        tree = expression if isinstance(expression, Expr) else parse(expression)
        here, scalars, definitions = None, {}, {}
        missing = [name for name in names_in(tree) if name not in matrices]
        if missing:
            raise BadInput(f"give the shape of every input: {', '.join(missing)} "
                           f"(shapes={{'{missing[0]}': (rows, cols), ...}})")
        shapes_now = {name: matrices[name] for name in names_in(tree)}
    _check_depth(tree)
    for name in matrices:
        if name not in shapes_now:
            raise BadInput(f"shapes: {name!r} is not an input of {text} (inputs: {', '.join(shapes_now)})")
    inputs = list(shapes_now)
    if upstream in inputs or upstream in scalars or (program is not None and upstream in program.step_names):
        raise BadInput(f"{upstream!r} is a name in {text}, and it names the upstream gradient: "
                       f"pass upstream='dY' (any free name) to call the upstream gradient that instead")
    chosen = _wrt(wrt, inputs)
    try:
        derivation = chain_rule_gradients(tree, {name: shapes_now[name] for name in names_in(tree)}, chosen, upstream,
                                          DEFAULT_MAX_WORK if max_work is None else max_work)
    except TooMuchWork as error:
        raise TooMuchWork(str(error).replace("--max-work", "max_work=")) from None
    gradients = {}
    for name in chosen:
        rows, cols = shapes_now[name]
        gradients[name] = derivation.gradients.get(name, sympy.ImmutableMatrix.zeros(rows, cols))
    symbols = {name: build.matrix_of_symbols(name, *shape) for name, shape in shapes_now.items()}
    solution, assumed = {}, []
    if program is not None and program.assumptions:
        solution, assumed = _solved(here, sizes, symbols)
    scalar = derivation.upstream_name is None
    problem = _Problem(
        tree=tree, text=text, shapes=shapes_now, vectors=vectors & set(shapes_now), scalars=scalars,
        upstream=None if scalar else upstream, output_shape=derivation.output_shape,
        inputs={name: matrix.xreplace(solution) for name, matrix in symbols.items()},
        upstream_matrix=None if scalar else derivation.upstream,
        gradients={name: matrix.xreplace(solution) for name, matrix in gradients.items()},
        solution=solution, assumptions=assumed, program=program, definitions=definitions)
    return problem, chosen


def _program_sizes(program, sizes: dict[str, int], matrices: dict[str, tuple[int, int]]) -> dict[str, int]:
    """A program's sizes: those given by name, and those a declared input's given
    shape fixes (X : n x m with X given as (4, 3) makes n = 4, m = 3)."""
    sizes = dict(sizes)
    for name in sizes:
        if name not in program.sizes:
            raise BadInput(f"shapes: the program has no size {name!r} (its sizes: {', '.join(program.sizes) or 'none'})")
    for name, shape in matrices.items():
        for dim, value in zip(program.declared.get(name, ()), shape):
            if isinstance(dim, str):
                if sizes.setdefault(dim, value) != value:
                    raise BadInput(f"shapes: {name} is {shape[0]}x{shape[1]}, so {dim} = {value}, but {dim} is "
                                   f"{sizes[dim]} elsewhere")
            elif dim != value:
                raise BadInput(f"shapes: {name} is declared {program.declared[name][0]} x "
                               f"{program.declared[name][1]}, not {shape[0]}x{shape[1]}")
    missing = [size for size in program.sizes if size not in sizes]
    if missing:
        raise BadInput(f"give every size of the program: shapes={{{', '.join(repr(m) + ': ...' for m in missing)}}} "
                       "(or the shape of an input declared with it)")
    return sizes


def _wrt(wrt, inputs: list[str]) -> list[str]:
    if wrt is None:
        return list(inputs)
    if not isinstance(wrt, (str, tuple, list)):
        raise BadInput(f"wrt: an input's name, or a tuple or list of them in the order backward returns their "
                       f"gradients; got {type(wrt).__name__}")
    chosen = [wrt] if isinstance(wrt, str) else list(wrt)
    if not chosen:
        raise BadInput("wrt: name at least one input")
    for name in chosen:
        if not isinstance(name, str) or name not in inputs:
            raise BadInput(f"wrt: {name!r} is not an input (inputs: {', '.join(inputs)})")
    if len(set(chosen)) != len(chosen):
        raise BadInput(f"wrt: an input is named twice in {chosen}")
    return chosen


def _solved(program, sizes, symbols) -> tuple[dict, list[str]]:
    """The program's assumptions solved for one entry of each equation: the set where
    they hold, parametrised by the other entries (symderive.assume)."""
    from .assume import Unsolvable, solve_for_entries
    from .network import at_sizes

    equations, unknowns = [], []
    for assumption in program.assumptions:
        left = build.explicit(at_sizes(assumption.left, sizes), symbols)
        right = build.explicit(at_sizes(assumption.right, sizes), symbols)[0, 0]
        equations += [left[i, j] - right for i in range(left.rows) for j in range(left.cols)]
        for name in names_in(assumption.left):
            unknowns += [s for s in symbols[name] if s not in unknowns]
    try:
        solution = solve_for_entries(equations, unknowns)
    except Unsolvable as problem:
        raise BadInput(f"the program's assumptions cannot be used at these sizes: {problem}") from None
    return solution, [str(a) for a in program.assumptions]


# ---------------------------------------------------------------------------
# Values at a point: the derived gradients, evaluated with mpmath
# ---------------------------------------------------------------------------

_MPMATH = {sympy.exp: mpmath.exp, sympy.log: mpmath.log, sympy.tanh: mpmath.tanh, sympy.sinh: mpmath.sinh,
           sympy.cosh: mpmath.cosh, sympy.sin: mpmath.sin, sympy.cos: mpmath.cos, sympy.tan: mpmath.tan,
           sympy.atan: mpmath.atan, sympy.Abs: mpmath.fabs}


def _mp_step(x):
    if x > 0:
        return mpmath.mpf(1)
    if x < 0:
        return mpmath.mpf(0)
    raise ValueError("at a kink")  # step(0) is undefined: not a point to compare at


def _mp_value(expr, point: dict, memo: dict):
    """``expr`` at ``point`` (symbol -> mpf), with mpmath at the working precision; each
    subexpression once (``memo``), as a gradient repeats its forward values many times.
    Walks SymPy's tree; executes nothing."""
    found = memo.get(expr)
    if found is not None:
        return found
    if expr.is_Symbol:
        value = point[expr]
    elif expr.is_Rational:
        value = mpmath.mpf(expr.p) / expr.q
    elif expr.is_Float:
        value = mpmath.mpf(expr._to_mpmath(mpmath.mp.prec))
    elif expr.is_Add:
        value = mpmath.fsum(_mp_value(term, point, memo) for term in expr.args)
    elif expr.is_Mul:
        value = mpmath.fprod(_mp_value(factor, point, memo) for factor in expr.args)
    elif expr.is_Pow:
        base, exponent = expr.args
        b = _mp_value(base, point, memo)
        if exponent.is_Integer:
            value = b ** int(exponent)
        elif exponent == sympy.S.Half:
            value = mpmath.sqrt(b)
        else:
            value = mpmath.power(b, _mp_value(exponent, point, memo))
    elif isinstance(expr, Step):
        value = _mp_step(_mp_value(expr.args[0], point, memo))
    elif expr.func in _MPMATH:
        value = _MPMATH[expr.func](*(_mp_value(a, point, memo) for a in expr.args))
    elif expr.is_number:  # pi, E, sqrt(2) as an atom of its own
        value = mpmath.mpf(str(sympy.N(expr, mpmath.mp.dps + 5)))
    else:  # anything else SymPy can evaluate
        value = sympy.N(expr.xreplace({s: sympy.Float(v, mpmath.mp.dps) for s, v in point.items()}),
                        mpmath.mp.dps)
        value = mpmath.mpmathify(complex(value)) if not value.is_real else mpmath.mpf(str(value))
    memo[expr] = value
    return value


def _real_number(value) -> bool:
    return isinstance(value, mpmath.mpf) and mpmath.isfinite(value)


def _mp_point(point: dict) -> dict:
    return {symbol: mpmath.mpf(value.p) / value.q for symbol, value in point.items()}


def _values_at(matrices: Mapping[str, sympy.MatrixBase], point: dict) -> dict[str, list] | None:
    """Every entry of each matrix at the exact rational ``point``, to REFERENCE_DIGITS
    digits; None where one is not a finite real number (outside a log's domain, at a kink)."""
    memo: dict = {}
    found = {}
    try:
        with mpmath.workdps(REFERENCE_DIGITS):
            numbers = _mp_point(point)
            for name, matrix in matrices.items():
                values = [_mp_value(entry, numbers, memo) for entry in matrix]
                if not all(_real_number(v) for v in values):
                    return None
                found[name] = values
    except (ValueError, ZeroDivisionError, ArithmeticError, TypeError, RecursionError):
        return None
    return found


def _points(problem: _Problem, count: int = POINTS, extra: Mapping[str, sympy.MatrixBase] | None = None,
            seed: int = 0) -> list[tuple[dict, dict]]:
    """``count`` random rational points where the expression, every derived gradient
    (and each ``extra`` matrix) are finite real numbers away from every kink, each with
    those values: first with both signs, then (for log and sqrt) positive inputs.  The
    k-th point is drawn at scale SCALES[k % len(SCALES)]; the seed is fixed, so a run
    is reproducible."""
    rng = np.random.default_rng(seed)
    symbols = problem.symbols()
    upstream = set(problem.upstream_matrix) if problem.upstream_matrix is not None else set()
    scalars = set(problem.scalars.values())
    matrices = {"output": problem.output, **problem.gradients, **(extra or {})}
    points: list[tuple[dict, dict]] = []
    tries = 12 * count
    for attempt in range(tries):
        signed = attempt < tries // 2
        scale = SCALES[len(points) % len(SCALES)]
        point = {}
        for symbol in symbols:
            q = int(rng.choice(DENOMINATORS))
            value = sympy.Rational(int(rng.integers(1, 2 * q + 1)), q)  # in (0, 2]
            if symbol in scalars:
                point[symbol] = value / 2 + sympy.Rational(1, 2)  # a named scalar: in (1/2, 3/2]
                continue
            if signed or symbol in upstream:
                value *= int(rng.choice([-1, 1]))
            point[symbol] = value if symbol in upstream else value * scale
        values = _values_at(matrices, point)
        if values is None:
            continue
        points.append((point, values))
        if len(points) == count:
            break
    if not points:
        raise BadInput(f"no random point was found where {problem.text} and its gradients are real numbers "
                       "away from every kink")
    return points


def _point_text(point: dict, shown: int = 6) -> str:
    items = [f"{symbol} = {value}" for symbol, value in point.items()]
    more = f", ... ({len(items)} values)" if len(items) > shown else ""
    return "the random point " + ", ".join(items[:shown]) + more


# ---------------------------------------------------------------------------
# Running the user's backward
# ---------------------------------------------------------------------------


class _Raised(Exception):
    """backward returned something that is not the gradients."""

    def __init__(self, message: str, report: dict) -> None:
        super().__init__(message)
        self.report = report


def _arguments(problem: _Problem, entry: Callable, point: dict | None) -> dict[str, Any]:
    """backward's keyword arguments: each input, the scalars, and the upstream gradient."""
    def value(symbolic):
        return entry(symbolic if point is None else symbolic.xreplace(point))

    arguments = {}
    for name, matrix in problem.inputs.items():
        rows, cols = matrix.shape
        array = _object_array((value(x) for x in matrix), (rows, cols))
        arguments[name] = array.reshape(cols) if name in problem.vectors else array
    for name, symbol in problem.scalars.items():
        arguments[name] = value(symbol)
    if problem.upstream_matrix is not None:
        arguments[problem.upstream] = _object_array((value(x) for x in problem.upstream_matrix),
                                                    problem.upstream_matrix.shape)
    return arguments


def _precise(value: sympy.Rational) -> _Precise:
    return _Precise(mpmath.mpf(value.p) / value.q)


def _as_floats(arguments: dict[str, Any]) -> dict[str, Any]:
    return {name: np.asarray(value, dtype=float) if isinstance(value, np.ndarray) else float(value)
            for name, value in arguments.items()}


def _signature_problem(backward: Callable, arguments: dict[str, Any], upstream: str | None) -> str | None:
    try:
        signature = inspect.signature(backward)
    except (TypeError, ValueError):  # a builtin or a C function: call it and see
        return None
    try:
        signature.bind(**arguments)
    except TypeError as problem:
        passed = "every input by its name" + (f", and the upstream gradient as {upstream}" if upstream else
                                              " (the expression is scalar-valued: there is no upstream gradient)")
        return (f"backward cannot be called as backward({', '.join(f'{k}=...' for k in arguments)}): {problem}; "
                f"symderive passes {passed}")
    return None


def _where_raised(error: BaseException) -> str:
    """" at line 12 of course/backprop.py, in backward: dW = X @ dZ": the deepest frame
    that is not NumPy's or symderive's."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if "numpy" not in frame.filename.replace("\\", "/").split("/")[-3:-1]
              and not frame.filename.endswith(("symderive/testing.py", "symderive\\testing.py"))]
    if not frames:
        return ""
    frame = frames[-1]
    line = f": {frame.line.strip()}" if frame.line else ""
    return f" at line {frame.lineno} of {frame.filename}, in {frame.name}{line}"


def _collected(returned, problem: _Problem, wrt: list[str]) -> dict[str, np.ndarray]:
    """The gradients backward returned, by input name, each as a 2-D object array of
    the input's shape; _Raised when they are not that."""
    if isinstance(returned, Mapping):
        found = {}
        for key, value in returned.items():
            name = key[1:] if isinstance(key, str) and key not in problem.shapes and key.startswith("d") else key
            if name in wrt:
                if name in found:
                    raise _Raised(f"backward returned the gradient of {name} twice (as {name} and d{name})",
                                  {"problem": "returned twice", "gradient": f"d{name}"})
                found[name] = value
            elif name not in problem.shapes:
                raise _Raised(f"backward returned {key!r}, which names no input (inputs: "
                              f"{', '.join(problem.shapes)})", {"problem": "unknown key", "key": str(key)})
        missing = [name for name in wrt if name not in found]
        if missing:
            raise _Raised(f"backward returned no gradient of {', '.join(missing)} (keys: "
                          f"{', '.join(map(str, returned))})", {"problem": "missing", "missing": missing})
    else:
        if len(wrt) == 1 and not isinstance(returned, (tuple, list)):
            returned = (returned,)
        if isinstance(returned, list) and len(wrt) == 1 and returned and not isinstance(returned[0], np.ndarray):
            returned = (returned,)  # one gradient as a nested list
        if not isinstance(returned, (tuple, list)):
            raise _Raised(f"backward returned a {type(returned).__name__}; expected the gradients of "
                          f"{', '.join(wrt)} as a tuple in that order, or a dict by name"
                          + ("" if len(wrt) == 1 else " (wrt=... names the inputs it returns, in order)"),
                          {"problem": "not a tuple"})
        if len(returned) != len(wrt):
            raise _Raised(f"backward returned {len(returned)} value{'s' if len(returned) != 1 else ''}; expected "
                          f"{len(wrt)}, the gradients of {', '.join(wrt)} in that order "
                          "(wrt=... names the inputs it returns, in order)",
                          {"problem": "count", "returned": len(returned), "expected": len(wrt)})
        found = dict(zip(wrt, returned))
    return {name: _as_matrix(found[name], name, problem) for name in wrt}


def _as_matrix(value, name: str, problem: _Problem) -> np.ndarray:
    rows, cols = problem.shapes[name]
    if value is None:
        raise _Raised(f"d{name} is None", {"problem": "None", "gradient": f"d{name}"})
    if not isinstance(value, (np.ndarray, list, tuple, _Entry, int, float, complex, np.generic, Fraction,
                              sympy.Basic)):
        raise _Raised(f"d{name} is a {type(value).__name__}, not an array",
                      {"problem": "not an array", "gradient": f"d{name}"})
    try:
        array = np.asarray(value, dtype=object)
    except Exception as error:  # a ragged list, an object NumPy cannot hold
        raise _Raised(f"d{name} is not an array: {error}", {"problem": "not an array", "gradient": f"d{name}"})
    wanted = f"{rows}x{cols}, the shape of {name}" + (f" (or ({cols},), as {name} is given)"
                                                      if name in problem.vectors else "")
    if array.ndim == 2 and array.shape == (rows, cols):
        return array
    if array.ndim == 1 and rows == 1 and array.shape == (cols,):
        return array.reshape(1, cols)
    if array.ndim == 0 and (rows, cols) == (1, 1):
        return array.reshape(1, 1)
    shape = "x".join(map(str, array.shape)) if array.ndim != 1 else f"({array.shape[0]},)"
    raise _Raised(f"d{name} has shape {shape or 'a scalar'}; it must be {wanted}",
                  {"problem": "shape", "gradient": f"d{name}", "shape": list(array.shape),
                   "expected": [rows, cols], "array": array})


def _single_precision(returned) -> bool:
    """Whether backward returned float32 (or float16) arrays or numbers."""
    values = returned.values() if isinstance(returned, Mapping) else \
        returned if isinstance(returned, (tuple, list)) else [returned]
    return any((isinstance(v, np.ndarray) and v.dtype in (np.float32, np.float16))
               or isinstance(v, (np.float32, np.float16)) for v in values)


# ---------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------


def _numpy_index(name: str, i: int, j: int, problem: _Problem) -> str:
    return f"d{name}[{j - 1}]" if name in problem.vectors else f"d{name}[{i - 1}, {j - 1}]"


def _not_a_number(name: str, k: int, columns: int, value) -> _Raised:
    i, j = divmod(k, columns)
    return _Raised(f"entry ({i + 1}, {j + 1}) of d{name} is a {type(value).__name__}, not a real number",
                   {"problem": "not a number", "gradient": f"d{name}", "entry": [i + 1, j + 1]})


def _exact_matrix(array: np.ndarray, name: str) -> sympy.ImmutableMatrix:
    entries = []
    for k, value in enumerate(array.reshape(-1)):
        if isinstance(value, _Exact):
            entries.append(value.value)
            continue
        if isinstance(value, sympy.Basic):
            entries.append(value)
            continue
        number = _rational(value) if not isinstance(value, _Precise) else None
        if number is None:
            raise _not_a_number(name, k, array.shape[1], value)
        entries.append(number)
    return sympy.ImmutableMatrix(array.shape[0], array.shape[1], entries)


@dataclass
class _Outcome:
    method: str
    holds: bool | None  # None: undecided
    gradient: str = ""
    entry: tuple[int, int] | None = None
    yours: Any = None  # the entry's two values: expressions (exact) or numbers
    derived: Any = None
    detail: str = ""
    point: dict | None = None  # where the numbers were taken


def _exact_outcome(found: dict[str, np.ndarray], problem: _Problem) -> _Outcome:
    undecided = None
    for name, array in found.items():
        yours = _exact_matrix(array, name)
        try:
            with budget.within(EXACT_SECONDS):
                verdict = verify.equal_matrices(problem.gradients[name], yours, f"d{name}")
        except budget.TimeLimitReached:
            return _Outcome(EXACT, None, detail=f"the exact comparison of d{name} did not finish in "
                                                f"{EXACT_SECONDS:g} s")
        if verdict.holds:
            continue
        found_at = verdict.counterexample
        if found_at is not None and found_at.decided:
            i, j = found_at.index
            detail = ""
            if found_at.region:
                from .pipeline import region_text

                detail = region_text(found_at)
            point = dict(found_at.point) if found_at.point else None
            return _Outcome(EXACT, False, name, (i, j), found_at.rhs, found_at.lhs, detail, point)
        where = f"entry {found_at.index} of " if found_at else ""
        undecided = undecided or _Outcome(EXACT, None, name, found_at.index if found_at else None,
                                          detail=f"the kernel could not decide whether {where}d{name} is the "
                                                 "derived one")
    return undecided or _Outcome(EXACT, True)


def _number(value, name: str, k: int, columns: int):
    """A returned entry as an mpf; _Raised for anything that is not a real number."""
    try:
        if isinstance(value, _Precise):
            number = value.value
        elif isinstance(value, mpmath.mpf):
            number = value
        elif isinstance(value, (bool, np.bool_, int, np.integer)):
            number = mpmath.mpf(int(value))
        elif isinstance(value, (float, np.floating)):
            number = mpmath.mpf(float(value))
        elif isinstance(value, Fraction):
            number = mpmath.mpf(value.numerator) / value.denominator
        elif isinstance(value, sympy.Basic) and value.is_Number and value.is_real:
            number = mpmath.mpf(str(value)) if value.is_Float else mpmath.mpf(value.p) / value.q
        else:
            raise _not_a_number(name, k, columns, value)
    except _Raised:
        raise
    except Exception:  # a float subclass whose conversion raises, ...
        raise _not_a_number(name, k, columns, value) from None
    return number


def _numeric_outcome(found: dict[str, np.ndarray], problem: _Problem, point: dict, derived: dict[str, list],
                     method: str, tolerance) -> _Outcome:
    tolerance = mpmath.mpf(tolerance)
    for name, array in found.items():
        columns = array.shape[1]
        expected = derived[name]
        largest = max((abs(v) for v in expected), default=mpmath.mpf(0))
        for k, value in enumerate(array.reshape(-1)):
            yours = _number(value, name, k, columns)
            bound = tolerance * max(abs(expected[k]), largest)
            if not mpmath.isfinite(yours) or abs(yours - expected[k]) > bound:
                i, j = divmod(k, columns)
                return _Outcome(method, False, name, (i + 1, j + 1), yours, expected[k], f"at {_point_text(point)}",
                                point)
    return _Outcome(method, True)


# ---------------------------------------------------------------------------
# assert_backward
# ---------------------------------------------------------------------------


def assert_backward(backward: Callable, expression, shapes: Mapping[str, Any] | None = None,
                    wrt: Iterable[str] | str | None = None, *, upstream: str = "G",
                    time_limit: float | None = TIME_LIMIT, max_work: int | None = None) -> GradientCheck:
    """Raise :class:`GradientMismatch` (an AssertionError) unless ``backward``
    computes symderive's derived gradients of ``expression``.

    ``expression``: an expression ("tanh(X @ W + b)") or a program of named steps
    (its declared sizes given in ``shapes`` by name, e.g. ``{"n": 4}``).
    ``shapes``: each input's shape, (rows, cols), or (k,) for a vector passed as a
    1-D array and read as a 1 x k row.  ``wrt``: the inputs whose gradients
    ``backward`` returns, in order (default: every input, in order of first
    appearance, a program's declared ones first).

    ``backward`` is called with every input as a keyword argument by its name (a
    program's scalars too), and the upstream gradient as ``G`` (``upstream``), left
    out when the expression is scalar-valued.  It returns the gradients of ``wrt``
    as a tuple in that order, a dict by name (``"W"`` or ``"dW"``), or the one
    array when there is one.  A gradient of a 1 x k input may be a 1-D array of k.

    ``time_limit`` (seconds, None for none) stops the whole check, ``backward``
    included; ``max_work`` raises the limit on the derivation's size.
    Returns a :class:`GradientCheck` saying how it was compared.
    """
    __tracebackhide__ = True
    if not callable(backward):
        raise BadInput(f"backward must be a function, got {type(backward).__name__}")
    with _time_limit(time_limit, f"the backward pass {getattr(backward, '__name__', 'backward')}"):
        problem, chosen = _problem(expression, shapes, wrt, upstream, max_work)
        return _check_backward(backward, problem, chosen)


@contextlib.contextmanager
def _time_limit(seconds: float | None, what: str):
    __tracebackhide__ = True
    try:
        with budget.within(seconds):
            yield
    except budget.TimeLimitReached as reached:
        stage = f" (it was {reached.stage})" if reached.stage else ""
        message = (f"{what}: UNDECIDED, not finished within the time limit of {seconds:g} s{stage}; "
                   "smaller shapes, or a larger time_limit=...")
        raise GradientMismatch(message, {"verdict": "UNDECIDED", "problem": "time", "message": message,
                                         "stage": reached.stage}) from None


def _check_backward(backward: Callable, problem: _Problem, chosen: list[str]) -> GradientCheck:
    __tracebackhide__ = True
    subject = f"the backward pass {getattr(backward, '__name__', 'backward')} of {problem.text}"
    trouble = _signature_problem(backward, _arguments(problem, _Exact, None), problem.upstream)
    if trouble is not None:
        raise GradientMismatch(f"{subject}: {trouble}", {"verdict": "ERROR", "problem": "signature",
                                                          "subject": subject, "message": trouble})
    notes: list[str] = []
    outcome = None
    # 1. exactly, on symbols
    if all(r * c <= MAX_EXACT_ENTRIES for r, c in problem.shapes.values()):
        _Exact.decimals = []
        try:
            found = _collected(backward(**_arguments(problem, _Exact, None)), problem, chosen)
            outcome = _exact_outcome(found, problem)
        except _Raised as problem_found:
            _fail(subject, problem, problem_found)
        except Exception as error:  # the code cannot run on symbols: the numeric runs decide
            _note(notes, f"not run on symbols: {_reason(error)}")
        if outcome is not None and outcome.holds is not True and _Exact.decimals:
            _note(notes, f"your float constants ({', '.join(_Exact.decimals)}) are not exact binary numbers: "
                         "equal only up to their rounding")
            outcome = None
        elif outcome is not None and outcome.holds is None:
            _note(notes, outcome.detail)
            outcome = None
    else:
        _note(notes, f"not run on symbols (an input has more than {MAX_EXACT_ENTRIES} entries)")
    if outcome is not None and outcome.holds:
        # numbers as a second witness: equal expressions must also give equal numbers (SymPy
        # rewrites exp(2 log x) as x**2, which NumPy cannot evaluate at x < 0)
        try:
            second = _numeric_runs(backward, problem, chosen, subject, notes, count=1)
        except BadInput:  # no point where the expression is real: the exact verdict stands alone
            second = _Outcome(HIGH, True)
            _note(notes, "no random point where the expression is a real number: no numeric witness")
        if not second.holds:
            second.detail += ("; as expressions your gradients equal the derived ones, but your code does not "
                              "compute them here")
            outcome = second
    elif outcome is None:
        # 2. and 3. at random points, in high precision, else in double precision
        outcome = _numeric_runs(backward, problem, chosen, subject, notes)
    if outcome.holds:
        names = ", ".join(f"d{name}" for name in chosen)
        verb = "equals the derived gradient" if len(chosen) == 1 else "equal the derived gradients"
        statement = f"{subject}: {names} {verb}, {_HOW[outcome.method]}, {problem.where}"
        if outcome.method == EXACT and _Exact.decimals:
            notes.append(f"your float constants read as the decimals they print as: {', '.join(_Exact.decimals)}")
        if notes:
            statement += f" ({'; '.join(notes)})"
        return GradientCheck(outcome.method, statement)
    _mismatch(subject, problem, outcome, notes)


def _note(notes: list[str], note: str) -> None:
    if note and note not in notes:
        notes.append(note)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, NotExact):
        return text
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__


def _numeric_runs(backward, problem: _Problem, chosen: list[str], subject: str, notes: list[str],
                  count: int = POINTS) -> _Outcome:
    """At ``count`` random points: in high precision where the code runs on 50-digit
    numbers without converting them, else in double precision."""
    __tracebackhide__ = True
    outcome = _Outcome(HIGH, True)
    for point, values in _points(problem, count):
        derived = {name: values[name] for name in chosen}
        outcome = None
        _Precise.lost_precision = False
        try:
            with mpmath.workdps(PRECISION):
                returned = backward(**_arguments(problem, _precise, point))
                found = _collected(returned, problem, chosen)
                method, tolerance = HIGH, HIGH_TOLERANCE
                if _single_precision(returned):
                    method, tolerance = DOUBLE, SINGLE_TOLERANCE
                    _note(notes, "your backward returned float32 numbers (about 7 digits): compared to a "
                                 f"relative {SINGLE_TOLERANCE:g}")
                elif _Precise.lost_precision:
                    method, tolerance = DOUBLE, DOUBLE_TOLERANCE
                    _note(notes, "your code converts to float, or uses float constants that are not exact "
                                 "binary numbers: compared as doubles")
                outcome = _numeric_outcome(found, problem, point, derived, method, tolerance)
        except _Raised as problem_found:
            _fail(subject, problem, problem_found, point)
        except Exception as error:
            _note(notes, f"not run on high-precision numbers: {_reason(error)}")
        if outcome is None:  # in double precision, as the code would run in class
            try:
                with np.errstate(all="ignore"):
                    returned = backward(**_as_floats(_arguments(problem, lambda v: v, point)))
            except Exception as error:
                message = f"{subject} raised {_reason(error)}{_where_raised(error)}"
                raise GradientMismatch(message, {"verdict": "ERROR", "problem": "raised", "subject": subject,
                                                 "message": message}) from error
            try:
                found = _collected(returned, problem, chosen)
                tolerance = SINGLE_TOLERANCE if _single_precision(returned) else DOUBLE_TOLERANCE
                outcome = _numeric_outcome(found, problem, point, derived, DOUBLE, tolerance)
            except _Raised as problem_found:
                _fail(subject, problem, problem_found, point)
        if not outcome.holds:
            return outcome
    return outcome


def _fail(subject: str, problem: _Problem, raised: _Raised, point: dict | None = None):
    __tracebackhide__ = True
    report = dict(raised.report)
    message = f"{subject}: {raised}"
    if report.get("problem") == "shape":
        message += _overlap_text(report, problem, point)
    report.pop("array", None)
    report.update({"verdict": "REFUTED" if report.get("problem") == "shape" else "ERROR",
                   "subject": subject, "message": message, "where": problem.where})
    raise GradientMismatch(message, report) from None


def _overlap_text(report: dict, problem: _Problem, point: dict | None) -> str:
    """For a gradient of the wrong shape, the first entry where it differs from the
    derived one among the entries both have, so a message names an entry even then
    (a bias gradient not summed over the rows has the upstream gradient's shape).
    Compared by value at a random point (the run's own, for a numeric run)."""
    array = report["array"]
    name = report["gradient"][1:]
    derived = problem.gradients[name]
    flat = array.ndim == 1
    if flat:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        return ""
    try:
        if point is None:
            point, values = _points(problem, 1)[0]
        else:
            values = _values_at({name: derived}, point)
    except BadInput:
        return ""
    if values is None:
        return ""
    for i in range(min(array.shape[0], derived.rows)):
        for j in range(min(array.shape[1], derived.cols)):
            value = array[i, j]
            try:
                mine = _number_at(value, point)
            except (TypeError, ValueError, _Raised):
                return ""
            theirs = values[name][i * derived.cols + j]
            if not mpmath.isfinite(mine) or abs(mine - theirs) > mpmath.mpf(DOUBLE_TOLERANCE) * max(1, abs(theirs)):
                shown = _shown(value.value) if isinstance(value, _Exact) else mpmath.nstr(mine, 15)
                report.update({"entry": [i + 1, j + 1], "yours": shown, "derived": mpmath.nstr(theirs, 15)})
                index = f"d{name}[{j}]" if flat else f"d{name}[{i}, {j}]"
                return (f"\n  entry ({i + 1}, {j + 1}) ({index} in NumPy): yours is {shown}"
                        + (f" ({mpmath.nstr(mine, 15)} at {_point_text(point)})" if isinstance(value, _Exact) else "")
                        + f"\n  the derived d{name} there is {mpmath.nstr(theirs, 15)}")
    return ""


def _number_at(value, point: dict):
    """An entry's value at ``point``: an expression evaluated there, a number as it is."""
    if isinstance(value, _Exact):
        found = _values_at({"entry": sympy.ImmutableMatrix([[value.value]])}, point)
        if found is None:
            raise ValueError("not a real number")
        return found["entry"][0]
    return _number(value, "", 0, 1)


def _values_text(outcome: _Outcome, problem: _Problem, mine: str = "yours") -> tuple[str, str, str]:
    """Both values as shown, and for an exact comparison, what they are at a point where
    they differ (the kernel's own counterexample when it has one): a student reads
    0.41 against 0.87 faster than two long sums."""
    if outcome.method != EXACT:
        return mpmath.nstr(outcome.yours, 15), mpmath.nstr(outcome.derived, 15), ""
    yours, derived = _shown(outcome.yours), _shown(outcome.derived)
    # both sides are the kernel's counterexample, SymPy expressions already: nothing is parsed
    pair = sympy.ImmutableMatrix([[outcome.yours, outcome.derived]])
    candidates = [outcome.point] if outcome.point else []
    try:
        candidates += [point for point, _ in _points(problem, 4)]
    except BadInput:
        pass
    for point in candidates:
        full = {**{s: sympy.Rational(1, 2) for s in pair.free_symbols}, **point}
        values = _values_at({"pair": pair}, full)
        if values is not None and abs(values["pair"][0] - values["pair"][1]) > mpmath.mpf(10) ** -20:
            a, b = (mpmath.nstr(v, 15) for v in values["pair"])
            return yours, derived, f"{mine} {a}, the derived {b}, at {_point_text(point)}"
    return yours, derived, ""


def _mismatch(subject: str, problem: _Problem, outcome: _Outcome, notes: list[str]):
    __tracebackhide__ = True
    if outcome.holds is None:
        message = (f"{subject}: UNDECIDED, {_HOW[outcome.method]}: {outcome.detail or 'not decided'}"
                   f" ({problem.where})")
        raise GradientMismatch(message, {"verdict": "UNDECIDED", "subject": subject, "message": message,
                                         "method": outcome.method, "where": problem.where})
    i, j = outcome.entry
    name = outcome.gradient
    yours, derived, numerically = _values_text(outcome, problem)
    message = (f"{subject}: d{name} is wrong at entry ({i}, {j}) ({_numpy_index(name, i, j, problem)} in NumPy), "
               f"{_HOW[outcome.method]}\n"
               f"  your backward gives  {yours}\n"
               f"  the derived d{name}   {derived}\n"
               f"  {problem.where}")
    for line in (outcome.detail, numerically):
        if line:
            message += f"\n  {line}"
    if notes:
        message += f"\n  ({'; '.join(notes)})"
    raise GradientMismatch(message, {"verdict": "REFUTED", "subject": subject, "gradient": f"d{name}",
                                     "entry": [i, j], "numpy_index": _numpy_index(name, i, j, problem),
                                     "yours": yours, "derived": derived, "numerically": numerically,
                                     "method": outcome.method, "how": _HOW[outcome.method],
                                     "where": problem.where, "detail": outcome.detail, "message": message,
                                     "notes": "; ".join(notes),
                                     "point": {str(k): str(v) for k, v in (outcome.point or {}).items()}})


# ---------------------------------------------------------------------------
# assert_gradient
# ---------------------------------------------------------------------------


def assert_gradient(expression, wrt: str, claim, shapes: Mapping[str, Any] | None = None, *,
                    upstream: str = "G", prove: bool = False, time_limit: float | None = TIME_LIMIT,
                    max_work: int | None = None) -> GradientCheck:
    """Raise :class:`GradientMismatch` (an AssertionError) unless ``claim`` is the
    gradient of ``expression`` with respect to the input ``wrt``, at ``shapes``.

    ``claim`` is an expression of the inputs and the upstream gradient ``G`` (and,
    for a program, of its step names).  It is compared exactly with the derived
    gradient, entry by entry; where the kernel cannot decide, at random points
    in high precision.  ``prove=True`` also asks for a proof for all sizes, and
    fails when there is none.
    """
    __tracebackhide__ = True
    if not isinstance(wrt, str):
        raise BadInput(f"wrt: the name of one input, got {wrt!r}")
    with _time_limit(time_limit, f"the claim d{wrt} = {claim}"):
        problem, (name,) = _problem(expression, shapes, [wrt], upstream, max_work)
        return _check_claim(expression, name, claim, shapes, upstream, prove, problem)


def _check_claim(expression, name: str, claim, shapes, upstream: str, prove: bool, problem: _Problem):
    __tracebackhide__ = True
    from .backward import substitute
    from .parse import parse
    from .shapes import shape_of

    constants = problem.program.constants() if problem.program is not None else None
    if isinstance(claim, Expr):
        claim_tree = claim
    elif isinstance(claim, str):
        try:
            claim_tree = parse(claim, constants=constants)
        except BadInput as error:
            raise BadInput(f"in the claim: {error}") from error
    else:
        raise BadInput(f"the claim: expected an expression as text, got {type(claim).__name__}")
    subject = f"the claim d{name} = {claim_tree} for {problem.text}"
    known = set(problem.shapes) | set(problem.definitions) | ({problem.upstream} if problem.upstream else set())
    for used in names_in(claim_tree):
        if used not in known:
            extra = "" if problem.upstream else f" (the expression is scalar-valued: there is no upstream {upstream})"
            raise BadInput(f"the claim uses {used!r}, which is not a name of {problem.text}; known: "
                           f"{', '.join(sorted(known))}{extra}")
    if problem.program is not None:
        from .network import at_sizes

        claim_tree = at_sizes(substitute(claim_tree, problem.definitions), _sizes_of(problem))
    leaves = dict(problem.shapes)
    matrices = dict(problem.inputs)
    if problem.upstream:
        leaves[problem.upstream] = problem.output_shape
        matrices[problem.upstream] = problem.upstream_matrix
    try:
        claim_shape = shape_of(claim_tree, leaves)
    except BadInput as error:
        raise BadInput(f"in the claim: {error}") from error
    wanted = problem.shapes[name]
    if claim_shape != wanted:
        message = (f"{subject}: REFUTED, the claim is {claim_shape[0]}x{claim_shape[1]} but d{name} has the shape "
                   f"of {name}, {wanted[0]}x{wanted[1]} ({problem.where})")
        raise GradientMismatch(message, {"verdict": "REFUTED", "subject": subject, "problem": "shape",
                                         "shape": list(claim_shape), "expected": list(wanted), "message": message})
    claimed = build.explicit(claim_tree, matrices).xreplace(problem.solution)
    outcome = _exact_outcome({name: np.array(claimed.tolist(), dtype=object)}, problem)
    notes = []
    if outcome.holds is None:
        notes.append(outcome.detail)
        outcome = _Outcome(HIGH, True)
        try:
            points = _points(problem, POINTS, extra={"claim": claimed})
        except BadInput:
            points = []
            outcome = _Outcome(HIGH, None, detail="the claim is not a real number at any random point tried")
        for point, values in points:
            found = {name: np.array(values["claim"], dtype=object).reshape(claimed.shape)}
            outcome = _numeric_outcome(found, problem, point, {name: values[name]}, HIGH, HIGH_TOLERANCE)
            if not outcome.holds:
                break
    if not outcome.holds:
        _claim_mismatch(subject, problem, outcome, notes)
    statement = f"{subject}: equal to the derived gradient, {_HOW[outcome.method]}, {problem.where}"
    if notes:
        statement += f" ({'; '.join(notes)})"
    proven = False
    if prove:
        proven, scope = _proven(expression, name, claim, shapes, upstream, problem)
        if not proven:
            message = f"{subject}: verified ({_HOW[outcome.method]}), but not proven for all sizes: {scope}"
            raise GradientMismatch(message, {"verdict": "NOT PROVEN", "subject": subject, "message": message})
        statement += "; proven for all sizes"
    return GradientCheck(outcome.method, statement, proven)


def _sizes_of(problem: _Problem) -> dict[str, int]:
    """A program's sizes at the shapes of its inputs."""
    sizes = {}
    for name, (rows, cols) in problem.program.declared.items():
        for dim, value in zip((rows, cols), problem.shapes[name]):
            if isinstance(dim, str):
                sizes[dim] = value
    return sizes


def _proven(expression, name, claim, shapes, upstream, problem: _Problem) -> tuple[bool, str]:
    if problem.program is not None:
        from .network import check_program

        result = check_program(problem.program, name, claim, sizes=_sizes_of(problem),
                               shapes={k: v for k, v in problem.shapes.items() if k not in problem.program.declared},
                               upstream=upstream)
        return result.for_all_sizes, result.report()["scope"]
    from .pipeline import check

    result = check(expression, name, claim, shapes=problem.shapes, upstream=upstream, numeric_witness=False)
    return result.for_all_sizes, result.report()["scope"]


def _claim_mismatch(subject: str, problem: _Problem, outcome: _Outcome, notes: list[str]):
    __tracebackhide__ = True
    if outcome.holds is None:
        message = f"{subject}: UNDECIDED: {'; '.join(n for n in notes + [outcome.detail] if n)} ({problem.where})"
        raise GradientMismatch(message, {"verdict": "UNDECIDED", "subject": subject, "message": message})
    i, j = outcome.entry
    name = outcome.gradient
    yours, derived, numerically = _values_text(outcome, problem, "the claim")
    message = (f"{subject}: REFUTED at entry ({i}, {j}), {_HOW[outcome.method]}\n"
               f"  the claim gives     {yours}\n"
               f"  the derived d{name}  {derived}\n"
               f"  {problem.where}")
    for line in (outcome.detail, numerically):
        if line:
            message += f"\n  {line}"
    raise GradientMismatch(message, {"verdict": "REFUTED", "subject": subject, "gradient": f"d{name}",
                                     "entry": [i, j], "yours": yours, "yours_label": "claim", "derived": derived,
                                     "numerically": numerically,
                                     "method": outcome.method, "how": _HOW[outcome.method],
                                     "where": problem.where, "message": message})
