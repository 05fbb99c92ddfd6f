"""Shapes: sizes a user may ask for, and the shape of every sub-expression.

A product that does not conform is refused here, naming the sub-expression and
both shapes, before anything is built: the seed note's ``Y = WX`` with
X: n x m and W: m x d is the standing example.
"""

from __future__ import annotations

import operator

from .errors import BadInput, ShapeError
from .expr import Expr, MatMul, Name

__all__ = ["Shape", "size_argument", "shape_of"]

Shape = tuple[int, int]


def size_argument(label: str, value: object) -> int:
    """``value`` as a size (a positive integer), or BadInput naming ``label``.

    Accepts integers (Python's, NumPy's, SymPy's) and strings of ASCII decimal
    digits; refuses bools, floats such as 2.5 (and 2.0: a size is not a
    measurement), zero and negatives.
    """
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
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


def _shape_rule_name(node: Name, shapes: dict[str, Shape]) -> Shape:
    try:
        return shapes[node.name]
    except KeyError:
        raise BadInput(f"unknown name {node.name!r}: no shape was given for it") from None


def _shape_rule_matmul(node: MatMul, shapes: dict[str, Shape]) -> Shape:
    (rows, inner_left) = shape_of(node.left, shapes)
    (inner_right, cols) = shape_of(node.right, shapes)
    if inner_left != inner_right:
        raise ShapeError(
            f"{node} does not conform: {node.left} is {rows}x{inner_left} and "
            f"{node.right} is {inner_right}x{cols}, so the columns of the left "
            f"factor ({inner_left}) differ from the rows of the right factor ({inner_right})"
        )
    return (rows, cols)


_SHAPE_RULES = {Name: _shape_rule_name, MatMul: _shape_rule_matmul}


def shape_of(node: Expr, shapes: dict[str, Shape]) -> Shape:
    """The (rows, cols) of ``node`` given the shapes of its names."""
    try:
        rule = _SHAPE_RULES[type(node)]
    except KeyError:
        raise BadInput(f"no shape rule for the operation {type(node).__name__}") from None
    return rule(node, shapes)
