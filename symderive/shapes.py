"""Shapes: sizes a user may ask for, and the shape of every sub-expression.

Shapes not given are inferred by unification of dimensions: a product A @ B
ties the columns of A to the rows of B, trace/inv/det make a matrix square, and
the entrywise operations tie equal dimensions together.  A dimension nothing
fixes gets a small default size, and :class:`ShapeReport` says which.

Broadcasting follows NumPy for 2-D arrays: in + - * / a dimension of size 1
stretches to the other side's (a 1 x d row added to every row of an n x d
matrix; a number everywhere).  Only a dimension *known* to be 1 broadcasts;
two unknown dimensions are taken to be equal.

A product that does not conform is refused here, naming the sub-expression and
both shapes, before anything is built: the seed note's ``Y = WX`` with
X: n x m and W: m x d is the standing example.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from .errors import BadInput, ShapeError
from .expr import (SCALAR_VALUED, SQUARE_ONLY, Add, Along, Call, Constant, Div, Expr, Hadamard,
                   Identity, MatMul, Name, Neg, Number, Ones, Power, Sub, Transpose, names_in)

__all__ = ["Shape", "ShapeReport", "size_argument", "shape_argument", "infer_shapes",
           "shape_of", "node_shapes", "DEFAULT_DIMENSIONS"]

Shape = tuple[int, int]

# Sizes given, in turn, to dimensions nothing fixes: distinct, so that a
# forgotten transpose cannot hide behind a square shape.
DEFAULT_DIMENSIONS = (3, 2, 4, 5, 6, 7, 8, 9)


def size_argument(label: str, value: object) -> int:
    """``value`` as a size (a positive integer), or BadInput naming ``label``.

    Accepts integers (Python's, NumPy's, SymPy's) and strings of ASCII decimal
    digits; refuses bools, floats such as 2.5 (and 2.0: a size is not a
    measurement), zero and negatives.
    """
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        if len(value.strip()) > 12:  # beyond any size worth deriving; int() of 5000 digits raises
            raise BadInput(f"{label}: {value.strip()[:12]}... is absurdly large for a size")
        number = int(value.strip())
    elif isinstance(value, bool) or isinstance(value, str):
        raise BadInput(f"{label}: expected a positive integer, got {value!r}")
    else:
        try:
            number = operator.index(value)
        except TypeError:
            raise BadInput(f"{label}: expected a positive integer, got {value!r}") from None
    if number < 1:
        raise BadInput(f"{label}: expected a positive integer (1 or more), got {number}")
    return number


def shape_argument(text: str) -> tuple[str, Shape]:
    """``NAME=RxC`` (as given to --shape) as (name, (rows, cols))."""
    name, sep, dims = text.partition("=")
    rows, x, cols = dims.lower().partition("x")
    if not (sep and x and name.strip()):
        raise BadInput(f"--shape: expected NAME=RxC such as X=3x2, got {text!r}")
    label = f"--shape {name.strip()}"
    return name.strip(), (size_argument(label, rows), size_argument(label, cols))


# ---------------------------------------------------------------------------
# Inference by unification
# ---------------------------------------------------------------------------


class _Dimensions:
    """Union-find over dimension variables, each class possibly fixed to a size."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int | None] = []

    def new(self, size: int | None = None) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        return len(self.parent) - 1

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def value(self, k: int) -> int | None:
        return self.size[self.find(k)]

    def unify(self, a: int, b: int) -> bool:
        """Make a and b one dimension; False if they are fixed to different sizes."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if self.size[a] is not None and self.size[b] is not None and self.size[a] != self.size[b]:
            return False
        self.parent[b] = a
        self.size[a] = self.size[a] if self.size[a] is not None else self.size[b]
        return True


@dataclass(frozen=True)
class ShapeReport:
    """The shape of every name, and which dimensions were given a default size
    (a lowercase name's "cols" default is 1: a column vector)."""

    shapes: dict[str, Shape]
    defaulted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> ("rows", "cols")


def infer_shapes(node: Expr, given: dict[str, Shape]) -> ShapeReport:
    """The shapes of the names in ``node``: those given, the rest inferred.

    Raises ShapeError when the constraints contradict each other (reported on
    the concrete shapes by :func:`node_shapes`, which names the sub-expression).
    """
    dims = _Dimensions()
    variables: dict[str, tuple[int, int]] = {}
    for name in names_in(node):
        rows, cols = given.get(name, (None, None))
        variables[name] = (dims.new(rows), dims.new(cols))
    one = dims.new(1)

    def shape(sub: Expr, entrywise: list) -> tuple[int, int]:
        """Symbolic shape of ``sub``; square and product constraints unified at once,
        entrywise ones collected for after (they need to know which sides are 1)."""
        if isinstance(sub, Name):
            return variables[sub.name]
        if isinstance(sub, (Number, Constant)):
            return (one, one)
        if isinstance(sub, Identity):
            k = dims.new(sub.size)
            return (k, k)
        if isinstance(sub, Ones):
            return (dims.new(sub.rows), dims.new(sub.cols))
        if isinstance(sub, MatMul):
            (r, a), (b, c) = shape(sub.left, entrywise), shape(sub.right, entrywise)
            dims.unify(a, b)  # a conflict is reported with names by node_shapes
            return (r, c)
        if isinstance(sub, (Add, Sub, Hadamard, Div)):
            left, right = shape(sub.left, entrywise), shape(sub.right, entrywise)
            result = (dims.new(), dims.new())
            entrywise.append((left, right, result))
            return result
        if isinstance(sub, Along):
            r, c = shape(sub.argument, entrywise)
            if not sub.reduces:
                return (r, c)
            return (one, c) if sub.axis == 0 else (r, one)
        if isinstance(sub, (Power, Neg)):
            return shape(sub.children()[0], entrywise)
        if isinstance(sub, Transpose):
            r, c = shape(sub.operand, entrywise)
            return (c, r)
        if isinstance(sub, Call):
            r, c = shape(sub.argument, entrywise)
            if sub.function in SQUARE_ONLY:
                dims.unify(r, c)
            return (one, one) if sub.function in SCALAR_VALUED else (r, c)
        raise BadInput(f"no shape rule for the operation {type(sub).__name__}")

    entrywise: list = []
    defaulted_vectors: list[str] = []
    shape(node, entrywise)
    # Entrywise operations, repeated until nothing changes: a dimension known
    # to be 1 broadcasts, otherwise the two sides are the same dimension.
    changed = True
    while changed:
        changed = False
        for left, right, result in entrywise:
            for a, b, r in zip(left, right, result):
                va, vb = dims.value(a), dims.value(b)
                if va == 1 and vb != 1:
                    target = b
                elif vb == 1 and va != 1:
                    target = a
                else:
                    if dims.find(a) != dims.find(b) and dims.unify(a, b):
                        changed = True
                    target = a
                if dims.find(r) != dims.find(target) and dims.unify(r, target):
                    changed = True
    # A name that starts with a lowercase letter is a column vector, as in the
    # Matrix Cookbook, unless its columns are tied to a capitalised name's.
    capital_roots = {dims.find(k) for name, pair in variables.items()
                     if not name[:1].islower() for k in pair}
    for name, (_, cols) in variables.items():
        root = dims.find(cols)
        if name[:1].islower() and dims.size[root] is None and root not in capital_roots:
            dims.size[root] = 1
            defaulted_vectors.append(name)
    # What nothing fixed gets a default, distinct per dimension.
    defaults = iter(DEFAULT_DIMENSIONS)
    chosen: dict[int, int] = {}
    shapes: dict[str, Shape] = {}
    defaulted: dict[str, tuple[str, ...]] = {}
    for name, pair in variables.items():
        sizes = []
        for axis, k in zip(("rows", "cols"), pair):
            root = dims.find(k)
            if dims.size[root] is None:
                if root not in chosen:
                    chosen[root] = next(defaults, 3)
                defaulted.setdefault(name, ())
                defaulted[name] += (axis,)
                sizes.append(chosen[root])
            else:
                sizes.append(dims.size[root])
        shapes[name] = (sizes[0], sizes[1])
        if name in defaulted_vectors:
            defaulted.setdefault(name, ())
            defaulted[name] += ("cols",)
    return ShapeReport(shapes, defaulted)


# ---------------------------------------------------------------------------
# Concrete shapes, checked
# ---------------------------------------------------------------------------


def _broadcast(node: Expr, left: Shape, right: Shape) -> Shape:
    result = []
    for axis, a, b in zip(("rows", "columns"), left, right):
        if a != b and 1 not in (a, b):
            (l_node, r_node) = node.children()
            raise ShapeError(
                f"{node} does not conform: {l_node} is {left[0]}x{left[1]} and {r_node} is "
                f"{right[0]}x{right[1]}; their {axis} differ ({a} and {b}) and neither is 1, "
                f"so neither broadcasts"
            )
        result.append(max(a, b))
    return (result[0], result[1])


def shape_of(node: Expr, shapes: dict[str, Shape], found: dict[Expr, Shape] | None = None) -> Shape:
    """The (rows, cols) of ``node`` given the shapes of its names.

    Raises ShapeError naming the first sub-expression that does not conform,
    and BadInput for a name with no shape.
    """
    found = {} if found is None else found
    if node in found:
        return found[node]
    kids = [shape_of(child, shapes, found) for child in node.children()]
    if isinstance(node, Name):
        if node.name not in shapes:
            raise BadInput(f"unknown name {node.name!r}: no shape was given or inferred for it")
        result = shapes[node.name]
    elif isinstance(node, (Number, Constant)):
        result = (1, 1)
    elif isinstance(node, Identity):
        result = (node.size, node.size)
    elif isinstance(node, Ones):
        result = (node.rows, node.cols)
    elif isinstance(node, MatMul):
        (rows, inner_left), (inner_right, cols) = kids
        if inner_left != inner_right:
            raise ShapeError(
                f"{node} does not conform: {node.left} is {rows}x{inner_left} and "
                f"{node.right} is {inner_right}x{cols}, so the columns of the left "
                f"factor ({inner_left}) differ from the rows of the right factor ({inner_right})"
            )
        result = (rows, cols)
    elif isinstance(node, (Add, Sub, Hadamard, Div)):
        result = _broadcast(node, *kids)
    elif isinstance(node, Along):
        rows, cols = kids[0]
        result = (rows, cols) if not node.reduces else (1, cols) if node.axis == 0 else (rows, 1)
    elif isinstance(node, (Power, Neg)):
        result = kids[0]
    elif isinstance(node, Transpose):
        result = (kids[0][1], kids[0][0])
    elif isinstance(node, Call):
        rows, cols = kids[0]
        if node.function in SQUARE_ONLY and rows != cols:
            raise ShapeError(f"{node}: {node.function} needs a square matrix, but "
                             f"{node.argument} is {rows}x{cols}")
        result = (1, 1) if node.function in SCALAR_VALUED else (rows, cols)
    else:
        raise BadInput(f"no shape rule for the operation {type(node).__name__}")
    found[node] = result
    return result


def node_shapes(node: Expr, shapes: dict[str, Shape]) -> dict[Expr, Shape]:
    """The shape of every sub-expression of ``node`` (ShapeError on the first misfit)."""
    found: dict[Expr, Shape] = {}
    shape_of(node, shapes, found)
    return found
