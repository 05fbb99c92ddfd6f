"""Build: matrices of symbols for concrete shapes.

Entries are named as the seed note names them, with 1-based indices:
``X_11`` ... ``X_32``.  When an index of a matrix can reach 10, every entry of
that matrix separates its two indices (``X_1,1`` ... ``X_10,1``), so that
``X_111`` can never mean both X_{1,11} and X_{11,1}.

The naming rule lives here, and so does its inverse (:func:`entry_indices`),
which the LaTeX printer uses to typeset ``X_{10,1}``.
"""

from __future__ import annotations

import re

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .kinks import kinked_template

__all__ = ["symbol_names", "entry_indices", "matrix_of_symbols", "separates_indices", "explicit",
           "matrix_expression", "ELEMENTWISE_FUNCTIONS", "Adjugate"]

# Plain symbols, with no assumptions: the same names in SymEngine and SymPy
# are then the same symbols, so results convert between the engines exactly.
_ASSUMPTIONS: dict = {}

_JOINED = re.compile(r"^(?P<base>.+)_(?P<i>[1-9])(?P<j>[1-9])$")
_SEPARATED = re.compile(r"^(?P<base>.+)_(?P<i>[1-9][0-9]*),(?P<j>[1-9][0-9]*)$")


def separates_indices(rows: int, cols: int) -> bool:
    """True when an index of a rows x cols matrix can reach 10."""
    return max(rows, cols) >= 10


def entry_indices(symbol: sympy.Symbol) -> tuple[str, int, int] | None:
    """Inverse of :func:`symbol_names`: ``(base, i, j)`` of an entry's symbol, or None
    for other symbols."""
    name = symbol.name
    found = _SEPARATED.match(name) or _JOINED.match(name)
    if found is None:
        return None
    return found["base"], int(found["i"]), int(found["j"])


def symbol_names(base: str, rows: int, cols: int) -> list[str]:
    """The names of the entries of a rows x cols matrix called ``base``, row by row."""
    separate = separates_indices(rows, cols)
    return [f"{base}_{i},{j}" if separate else f"{base}_{i}{j}"
            for i in range(1, rows + 1) for j in range(1, cols + 1)]


def matrix_of_symbols(base: str, rows: int, cols: int) -> sympy.ImmutableMatrix:
    """The rows x cols matrix whose entry (i, j) is the symbol base_ij (1-based)."""
    return sympy.ImmutableMatrix(rows, cols, [sympy.Symbol(name, **_ASSUMPTIONS)
                                              for name in symbol_names(base, rows, cols)])


# ---------------------------------------------------------------------------
# Evaluating an expression on matrices of symbols
# ---------------------------------------------------------------------------

# The elementwise functions, as sympy sees them.  sigmoid is written out, so
# that differentiating it is sympy's calculus, not a rule of symderive's.
_x = sympy.Symbol("x", real=True)
ELEMENTWISE_FUNCTIONS = {
    "exp": sympy.Lambda(_x, sympy.exp(_x)),
    "log": sympy.Lambda(_x, sympy.log(_x)),
    "tanh": sympy.Lambda(_x, sympy.tanh(_x)),
    "sigmoid": sympy.Lambda(_x, 1 / (1 + sympy.exp(-_x))),
    "sin": sympy.Lambda(_x, sympy.sin(_x)),
    "cos": sympy.Lambda(_x, sympy.cos(_x)),
    "sqrt": sympy.Lambda(_x, sympy.sqrt(_x)),
}
# relu, abs, step, sign (and leaky_relu, with its slope) through the unit step
# of symderive.kinks: derivatives that hold wherever the argument is not 0
ELEMENTWISE_FUNCTIONS.update({name: sympy.Lambda(_x, kinked_template(name, _x))
                              for name in ("relu", "abs", "step", "sign")})

# inv, adj and det are expanded symbolically; past these sizes the expressions
# are too large to differentiate and check in reasonable time (measured: inv of
# a 3x3 takes 3 s to derive and verify, of a 4x4 over ten minutes; det of a 4x4
# takes 0.3 s, with its gradient adj(A).T).
MAX_EXPANDED_SIZE = {"inv": 3, "adj": 4, "det": 4}


def _stretch(matrix: sympy.MatrixBase, shape: tuple[int, int]) -> sympy.ImmutableMatrix:
    """NumPy broadcasting: a 1-row or 1-column matrix repeated up to ``shape``."""
    rows, cols = shape
    return sympy.ImmutableMatrix(rows, cols, lambda i, j: matrix[
        0 if matrix.rows == 1 else i, 0 if matrix.cols == 1 else j])


def _entrywise(combine, left: sympy.MatrixBase, right: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    shape = (max(left.rows, right.rows), max(left.cols, right.cols))
    a, b = _stretch(left, shape), _stretch(right, shape)
    return sympy.ImmutableMatrix(*shape, lambda i, j: combine(a[i, j], b[i, j]))


def explicit(node, matrices: dict[str, sympy.MatrixBase]) -> sympy.ImmutableMatrix:
    """The explicit matrix of ``node`` when each name stands for ``matrices[name]``.

    Every operation is computed entry by entry from its definition (the product
    as sum_r A_pr B_rq, elementwise functions on each entry, trace as the sum of
    the diagonal), so the entries are ordinary sympy expressions in the symbols
    of the inputs.  Shapes are assumed checked (see shapes.node_shapes).
    """
    from . import expr as E

    memo: dict = {}

    def value(sub) -> sympy.ImmutableMatrix:
        if sub in memo:
            return memo[sub]
        if isinstance(sub, E.Name):
            result = sympy.ImmutableMatrix(matrices[sub.name])
        elif isinstance(sub, E.Number):
            result = sympy.ImmutableMatrix([[sympy.Rational(sub.value.numerator, sub.value.denominator)]])
        elif isinstance(sub, E.Constant):
            result = sympy.ImmutableMatrix([[sub.value]])
        elif isinstance(sub, E.Identity):
            result = sympy.ImmutableMatrix(sympy.eye(sub.size))
        elif isinstance(sub, E.Ones):
            result = sympy.ImmutableMatrix(sympy.ones(sub.rows, sub.cols))
        elif isinstance(sub, E.MatMul):
            # entry by entry, as the definition sum_r A_pr B_rq: SymPy's Matrix product
            # consults the assumptions system on every entry
            left, right = value(sub.left), value(sub.right)
            result = sympy.ImmutableMatrix(left.rows, right.cols, [
                sympy.Add(*[left[p, r] * right[r, q] for r in range(left.cols)])
                for p in range(left.rows) for q in range(right.cols)])
        elif isinstance(sub, E.Add):
            result = _entrywise(lambda a, b: a + b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Sub):
            result = _entrywise(lambda a, b: a - b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Hadamard):
            result = _entrywise(lambda a, b: a * b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Div):
            result = _entrywise(lambda a, b: a / b, value(sub.left), value(sub.right))
        elif isinstance(sub, E.Power):
            exponent = sympy.Rational(sub.exponent.numerator, sub.exponent.denominator)
            result = value(sub.base).applyfunc(lambda a: a ** exponent)
        elif isinstance(sub, E.Neg):
            result = -value(sub.operand)
        elif isinstance(sub, E.Transpose):
            result = value(sub.operand).T
        elif isinstance(sub, E.Call):
            result = _call(sub.function, value(sub.argument), sub.parameter)
        elif isinstance(sub, E.Along):
            result = along(sub.function, value(sub.argument), sub.axis)
        else:
            raise TypeError(f"cannot build the operation {type(sub).__name__}")
        memo[sub] = result = sympy.ImmutableMatrix(result)
        return result

    return value(node)


def _applied(template: sympy.Expr, place: sympy.Dummy, value: sympy.Expr) -> sympy.Expr:
    """``template`` with ``value`` for ``place``.  A function of anything but a number
    is left unevaluated: SymPy's tanh, exp, sin look for multiples of i pi in their
    argument, which for a long sum costs more than everything else (measured: 10 s
    of the 14 s of tanh(X @ W) at 8 x 8); for a number (log of 0) SymPy evaluates,
    so an expression undefined everywhere is still seen to be."""
    if value.is_number:
        return template.xreplace({place: value})

    def rebuild(node):
        if node == place:
            return value
        if not node.args or not node.has(place):
            return node
        args = [rebuild(arg) for arg in node.args]
        if isinstance(node, sympy.Function):
            return node.func(*args, evaluate=False)
        return node.func(*args)

    return rebuild(template)


def _exp(a: sympy.Expr) -> sympy.Expr:
    """e^a, left unevaluated unless a is a number (see :func:`_applied`)."""
    return sympy.exp(a) if a.is_number else sympy.exp(a, evaluate=False)


def _log(a: sympy.Expr) -> sympy.Expr:
    return sympy.log(a) if a.is_number else sympy.log(a, evaluate=False)


def _normalized(entries: list, function: str) -> list:
    """softmax, log_softmax or logsumexp of one group of entries (a row, a
    column, or all of them): e^a / sum e^b, a - log sum e^b, log sum e^b."""
    total = sympy.Add(*[_exp(a) for a in entries])
    if function == "softmax":
        return [_exp(a) / total for a in entries]
    if function == "log_softmax":
        return [a - _log(total) for a in entries]
    if function == "logsumexp":
        return [_log(total)]
    size = len(entries)
    if function == "sum":
        return [sympy.Add(*entries)]
    if function == "mean":
        return [sympy.Add(*entries) / size]
    raise TypeError(f"cannot build the function {function} along an axis")


def along(function: str, arg: sympy.MatrixBase, axis: int | None) -> sympy.ImmutableMatrix:
    """``function`` applied to each column (axis 0), each row (axis 1) or all entries
    (None) of ``arg``: a reduction gives one entry per group, softmax and
    log_softmax one per entry."""
    rows, cols = arg.rows, arg.cols
    if axis is None:
        found = _normalized(list(arg), function)
        return sympy.ImmutableMatrix(rows, cols, found) if len(found) > 1 or rows * cols == 1 \
            else sympy.ImmutableMatrix([[found[0]]])
    if axis == 1:
        groups = [_normalized([arg[i, j] for j in range(cols)], function) for i in range(rows)]
        return sympy.ImmutableMatrix([row for row in groups])
    groups = [_normalized([arg[i, j] for i in range(rows)], function) for j in range(cols)]
    return sympy.ImmutableMatrix([list(column) for column in groups]).T


def _call(function: str, arg: sympy.ImmutableMatrix, parameter=None) -> sympy.ImmutableMatrix:
    if function == "leaky_relu":
        place = sympy.Dummy("x")
        template = kinked_template(function, place, parameter)
        return arg.applyfunc(lambda a: _applied(template, place, a))
    if function in ("mean", "softmax", "log_softmax", "logsumexp"):
        return along(function, arg, None)
    if function == "norm":  # the Frobenius norm
        total = sympy.Add(*[a ** 2 for a in arg])
        return sympy.ImmutableMatrix([[sympy.sqrt(total) if total.is_number else sympy.Pow(total, sympy.S.Half)]])
    if function in ELEMENTWISE_FUNCTIONS:
        # built once at a placeholder, each entry put in: building 1/(1 + e^-x) afresh
        # for every entry asks SymPy's assumptions the same questions each time
        place = sympy.Dummy("x")
        template = ELEMENTWISE_FUNCTIONS[function](place)
        return arg.applyfunc(lambda a: _applied(template, place, a))
    if function == "trace":
        return sympy.ImmutableMatrix([[arg.trace()]])
    if function == "sum":
        return sympy.ImmutableMatrix([[sympy.Add(*arg)]])
    if function in MAX_EXPANDED_SIZE:
        limit = MAX_EXPANDED_SIZE[function]
        if arg.rows > limit:
            from .errors import BadInput

            raise BadInput(f"{function} of a {arg.rows}x{arg.cols} matrix is too large to expand "
                           f"symbolically (at most {limit}x{limit})")
        if function == "adj":  # the transposed matrix of cofactors: polynomial, defined for every matrix
            return sympy.ImmutableMatrix(arg.adjugate(method="berkowitz"))
        determinant = arg.det(method="berkowitz")
        if function == "det":
            return sympy.ImmutableMatrix([[determinant]])
        if sympy.expand(determinant) == 0:
            from .errors import BadInput

            raise BadInput("inv of a matrix whose determinant is identically 0: it has no inverse")
        return sympy.ImmutableMatrix(arg.adjugate(method="berkowitz") / determinant)
    raise TypeError(f"cannot build the function {function}")


class Adjugate(sympy.MatrixExpr):
    """adj(A) as a SymPy matrix expression, for display (SymPy has none): the
    transposed matrix of cofactors, det(A) inv(A) where A is invertible."""

    def __new__(cls, arg):
        if not isinstance(arg, sympy.Basic):  # built from matrix expressions only, never from text
            raise TypeError(f"adj of {type(arg).__name__}, not a SymPy matrix expression")
        return sympy.Basic.__new__(cls, arg)

    @property
    def arg(self):
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return self.arg.as_explicit().adjugate(method="berkowitz")[i, j]

    def _sympystr(self, printer):
        return f"adj({printer._print(self.arg)})"

    def _latex(self, printer):
        return r"\operatorname{adj}\left(%s\right)" % printer._print(self.arg)


def matrix_expression(node, symbols: dict[str, sympy.MatrixSymbol], shapes: dict) -> sympy.Basic:
    """``node`` as a sympy matrix expression over MatrixSymbols, for display and for
    notebooks (never for verification: sympy cannot always expand these).

    ``shapes`` maps each sub-expression to its shape (shapes.node_shapes), so
    that broadcasting can be written out as products with a column of ones.
    """
    from . import expr as E

    def stretch(sub, target):
        rows, cols = shapes[sub]
        out = convert(sub)
        if isinstance(sub, E.Number):
            return out  # a scalar needs no stretching
        if rows == 1 and target[0] > 1:
            out = sympy.OneMatrix(target[0], 1) * out
        if cols == 1 and target[1] > 1:
            out = out * sympy.OneMatrix(1, target[1])
        return out

    def convert(sub):
        if isinstance(sub, E.Name):
            return symbols[sub.name]
        if isinstance(sub, E.Constant):
            return sub.value
        if isinstance(sub, E.Along) or (isinstance(sub, E.Call) and (
                sub.function not in ELEMENTWISE_FUNCTIONS
                and sub.function not in ("trace", "sum", "inv", "adj", "det"))):
            # no SymPy matrix expression for softmax, mean, norm, leaky_relu, ...:
            # shown as a matrix named by the expression
            return sympy.MatrixSymbol(str(sub), *shapes[sub])
        if isinstance(sub, E.Number):
            return sympy.Rational(sub.value.numerator, sub.value.denominator)
        if isinstance(sub, E.Identity):
            return sympy.Identity(sub.size)
        if isinstance(sub, E.Ones):
            return sympy.OneMatrix(sub.rows, sub.cols)
        if isinstance(sub, E.MatMul):
            return sympy.MatMul(convert(sub.left), convert(sub.right))
        if isinstance(sub, (E.Add, E.Sub, E.Hadamard)):
            target = shapes[sub]
            left, right = stretch(sub.left, target), stretch(sub.right, target)
            if isinstance(sub, E.Hadamard):
                if isinstance(sub.left, E.Number) or isinstance(sub.right, E.Number):
                    return left * right
                return sympy.HadamardProduct(left, right)
            if isinstance(sub.left, E.Number):
                left = left * sympy.OneMatrix(*target)
            if isinstance(sub.right, E.Number):
                right = right * sympy.OneMatrix(*target)
            return left + right if isinstance(sub, E.Add) else left - right
        if isinstance(sub, E.Div):
            return convert(sub.left) / convert(sub.right)
        if isinstance(sub, E.Power):
            exponent = sympy.Rational(sub.exponent.numerator, sub.exponent.denominator)
            return sympy.HadamardPower(convert(sub.base), exponent)
        if isinstance(sub, E.Neg):
            return -convert(sub.operand)
        if isinstance(sub, E.Transpose):
            return sympy.Transpose(convert(sub.operand))
        if isinstance(sub, E.Call):
            arg = convert(sub.argument)
            if sub.function in ELEMENTWISE_FUNCTIONS:
                return ElementwiseApplyFunction(ELEMENTWISE_FUNCTIONS[sub.function], arg)
            if sub.function == "trace":
                return sympy.Trace(arg)
            if sub.function == "sum":
                rows, cols = shapes[sub.argument]
                return sympy.OneMatrix(1, rows) * arg * sympy.OneMatrix(cols, 1)
            if sub.function == "inv":
                return sympy.Inverse(arg)
            if sub.function == "adj":
                return Adjugate(arg)
            if sub.function == "det":
                return sympy.Determinant(arg)
        raise TypeError(f"cannot convert the operation {type(sub).__name__}")

    return convert(node)
