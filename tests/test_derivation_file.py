"""Derivation files: the example, every declaration and construct, printing back, every error, hostile text.

Expected trees are written out by hand from the classes of symderive.index and symderive.expr.
"""

from __future__ import annotations

import ast
import inspect
import random
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

import symderive.derivation_file
from symderive.derivation_file import format_index_expr, read_derivation, read_derivation_file
from symderive.errors import BadInput
from symderive.expr import Add, MatMul, Name, Sub, Transpose
from symderive.index import (Declarations, Delta, Derivation, Derivative, Entry, IndexExpr, Neg, Num,
                             Plus, Scalar, Step, Sum, Times)
from symderive.parse import ParseError

G, W, X, Y = (Name(name) for name in ("G", "W", "X", "Y"))
F = Scalar("f")

EXAMPLE = """\
# Section 3 of "Chain Rule on Matrix Multiplication", transcribed
title Section 3: df/dX
sizes n m d
matrix X : n x m
matrix W : m x d
matrix Y = X @ W
upstream G of Y
index i : 1..n
index j : 1..m

d(f)/d(X[i,j])
  = sum(p=1..n, sum(q=1..d, d(f)/d(Y[p,q]) * d(Y[p,q])/d(X[i,j])))   # by multivariable chain rule
  = sum(p=1..n, sum(q=1..d, G[p,q] * sum(r=1..m, delta(p,i) * delta(r,j) * W[r,q])))
  = sum(q=1..d, G[i,q] * W.T[q,j])
  = (G @ W.T)[i,j]    # by recognition of a product
"""

# The example's declarations, for the tests of single expressions (8 lines: step 0 is line 9).
HEADER = """\
sizes n m d
matrix X : n x m
matrix W : m x d
matrix Y = X @ W
upstream G of Y
index i : 1..n
index j : 1..m
index k : 2..5
"""
FIRST_STEP_LINE = 9


def num(value) -> Num:
    return Num(Fraction(value))


def entry(matrix, row, col) -> Entry:
    return Entry(matrix, row, col)


def read_expression(text: str) -> IndexExpr:
    """The tree of ``text`` as the second step of a chain under HEADER."""
    return read_derivation(f"{HEADER}X[i,j]\n= {text}\n").steps[1].expression


def error_of(text: str) -> ParseError:
    with pytest.raises(ParseError) as caught:
        read_derivation(text)
    return caught.value


# --------------------------------------------------------------------------- the example


def test_the_example_declarations():
    derivation = read_derivation(EXAMPLE)
    assert isinstance(derivation, Derivation)
    assert derivation.title == "Section 3: df/dX"
    assert derivation.declarations == Declarations(
        sizes=["n", "m", "d"],
        shapes={"X": ("n", "m"), "W": ("m", "d")},  # G's shape is left to the prover: Y is defined
        defined={"Y": MatMul(X, W)},
        upstream=("G", "Y"),
        ranges={"i": (1, "n"), "j": (1, "m")},
    )


def test_the_example_steps_lines_texts_and_rules():
    steps = read_derivation(EXAMPLE).steps
    assert [step.line for step in steps] == [11, 12, 13, 14, 15]
    assert [step.rule for step in steps] == ["", "multivariable chain rule", "", "",
                                             "recognition of a product"]
    assert steps[0].text == "d(f)/d(X[i,j])"
    assert steps[1].text == "sum(p=1..n, sum(q=1..d, d(f)/d(Y[p,q]) * d(Y[p,q])/d(X[i,j])))"
    assert steps[4].text == "(G @ W.T)[i,j]"


def test_the_example_trees():
    steps = read_derivation(EXAMPLE).steps
    x_ij = entry(X, "i", "j")
    y_pq = entry(Y, "p", "q")
    assert steps[0] == Step(Derivative(F, x_ij), "", 11, "d(f)/d(X[i,j])")
    assert steps[1].expression == Sum("p", 1, "n", Sum("q", 1, "d", Times((
        Derivative(F, y_pq), Derivative(y_pq, x_ij)))))
    assert steps[2].expression == Sum("p", 1, "n", Sum("q", 1, "d", Times((
        entry(G, "p", "q"),
        Sum("r", 1, "m", Times((Delta("p", "i"), Delta("r", "j"), entry(W, "r", "q"))))))))
    assert steps[3].expression == Sum("q", 1, "d", Times((entry(G, "i", "q"),
                                                          entry(Transpose(W), "q", "j"))))
    assert steps[4].expression == entry(MatMul(G, Transpose(W)), "i", "j")


def test_the_example_prints_back_as_written():
    for step in read_derivation(EXAMPLE).steps:
        assert format_index_expr(step.expression) == step.text


def test_the_example_reads_from_a_file(tmp_path):
    path = tmp_path / "section3.deriv"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert read_derivation_file(path) == read_derivation(EXAMPLE)
    assert read_derivation_file(str(path)) == read_derivation(EXAMPLE)


# --------------------------------------------------------------------------- declarations

CHAIN = "X[1,1]\n= X[1,1]\n"


def declarations_of(text: str) -> Declarations:
    return read_derivation(text + CHAIN).declarations


def test_title_is_the_rest_of_the_line_without_the_comment():
    derivation = read_derivation("title   Backprop: dL/dW, part 2   # draft\nsizes n\nmatrix X : n x n\n"
                                 + CHAIN)
    assert derivation.title == "Backprop: dL/dW, part 2"


def test_the_title_is_optional_and_may_be_any_printable_text():
    assert read_derivation("matrix X : 2 x 2\n" + CHAIN).title == ""
    assert read_derivation("title Dérivée de f\nmatrix X : 2 x 2\n" + CHAIN).title == "Dérivée de f"


def test_sizes():
    assert declarations_of("sizes n m d batch_2\nmatrix X : n x m\n").sizes == ["n", "m", "d", "batch_2"]


def test_matrix_with_a_shape_of_sizes_and_whole_numbers():
    shapes = declarations_of("sizes n m\nmatrix X : n x m\nmatrix b : 1 x m\nmatrix C : 3 x 4\n").shapes
    assert shapes == {"X": ("n", "m"), "b": (1, "m"), "C": (3, 4)}


def test_a_size_may_be_called_x():
    assert declarations_of("sizes x\nmatrix X : x x x\n").shapes == {"X": ("x", "x")}


def test_matrix_defined_by_an_expression_is_parsed_not_checked():
    defined = declarations_of(
        "sizes n m d\nmatrix X : n x m\nmatrix W : m x d\nmatrix B : n x d\n"
        "matrix Y = X @ W + B\n"
        "matrix Z = (X @ W - B).T @ X\n"
        "matrix V = W @ X\n"  # does not conform: the prover reports it, not the reader
        "matrix U = Y.T.T - (B - Y)\n"
        "matrix S = Y\n"
    ).defined
    assert defined == {
        "Y": Add(MatMul(X, W), Name("B")),
        "Z": MatMul(Transpose(Sub(MatMul(X, W), Name("B"))), X),
        "V": MatMul(W, X),
        "U": Sub(Transpose(Transpose(Y)), Sub(Name("B"), Y)),
        "S": Y,
    }


def test_upstream_of_a_base_matrix_gets_its_shape():
    declarations = declarations_of("sizes n m\nmatrix X : n x m\nupstream G of X\n")
    assert declarations.upstream == ("G", "X")
    assert declarations.shapes == {"X": ("n", "m"), "G": ("n", "m")}


def test_upstream_of_a_defined_matrix_leaves_its_shape_to_the_prover():
    declarations = declarations_of("sizes n m d\nmatrix X : n x m\nmatrix W : m x d\n"
                                   "matrix Y = X @ W\nupstream G of Y\n")
    assert declarations.upstream == ("G", "Y")
    assert "G" not in declarations.shapes


def test_index_ranges_of_whole_numbers_and_sizes():
    ranges = declarations_of("sizes n m\nmatrix X : n x m\nindex i : 1..n\nindex j : 2..m\n"
                             "index k : 3..3\nindex l : 1 .. 4\n").ranges
    assert ranges == {"i": (1, "n"), "j": (2, "m"), "k": (3, 3), "l": (1, 4)}


def test_comments_blank_lines_tabs_and_crlf_are_ignored():
    text = ("# a comment\r\n\r\n\tsizes n   # sizes\r\n   \r\nmatrix\tX : n x n\r\n"
            "# between\r\nX[1,1]\r\n\r\n# inside the chain\r\n  =\tX[1,1]  \r\n")
    derivation = read_derivation(text)
    assert derivation.declarations.shapes == {"X": ("n", "n")}
    assert [(step.line, step.text) for step in derivation.steps] == [(7, "X[1,1]"), (10, "X[1,1]")]


def test_a_byte_order_mark_is_skipped():
    assert read_derivation("\ufeffmatrix X : 2 x 2\n" + CHAIN).declarations.shapes == {"X": (2, 2)}


# --------------------------------------------------------------------------- expressions

x_ij = entry(X, "i", "j")
w_jk = entry(W, "j", "k")

EXPRESSIONS = [
    # numbers: exact
    ("2", num(2)),
    ("0", num(0)),
    ("0.5", num("1/2")),
    ("1.25", num("5/4")),
    ("10.0", num(10)),
    # entries
    ("X[i,j]", x_ij),
    ("X[ i , j ]", x_ij),
    ("X[1,2]", entry(X, 1, 2)),
    ("X[i,2]", entry(X, "i", 2)),
    ("W.T[k,j]", entry(Transpose(W), "k", "j")),
    ("W.T.T[j,k]", entry(Transpose(Transpose(W)), "j", "k")),
    ("Y[i,k]", entry(Y, "i", "k")),  # a defined matrix
    ("G[i,k]", entry(G, "i", "k")),  # the upstream gradient
    ("(G @ W.T)[i,j]", entry(MatMul(G, Transpose(W)), "i", "j")),
    ("(X @ W).T[k,i]", entry(Transpose(MatMul(X, W)), "k", "i")),
    ("(X + X - X)[i,j]", entry(Sub(Add(X, X), X), "i", "j")),
    ("(X)[i,j]", x_ij),
    ("((X @ W))[i,k]", entry(MatMul(X, W), "i", "k")),
    # delta
    ("delta(i,j)", Delta("i", "j")),
    ("delta(i, 3)", Delta("i", 3)),
    # sums: bounds are whole numbers, sizes, declared indices or enclosing sum variables
    ("sum(p=1..n, X[p,j])", Sum("p", 1, "n", entry(X, "p", "j"))),
    ("sum(p = 2 .. 4, X[p,j])", Sum("p", 2, 4, entry(X, "p", "j"))),
    ("sum(p=1..k, X[p,j])", Sum("p", 1, "k", entry(X, "p", "j"))),
    ("sum(p=1..n, sum(q=p..m, X[p,q]))", Sum("p", 1, "n", Sum("q", "p", "m", entry(X, "p", "q")))),
    ("sum(p=1..n, X[p,j]) + sum(p=1..n, X[p,i])",  # the same variable in two sums side by side
     Plus((Sum("p", 1, "n", entry(X, "p", "j")), Sum("p", 1, "n", entry(X, "p", "i"))))),
    ("sum(p=1..n, X[p,j] * 2 + 1)",
     Sum("p", 1, "n", Plus((Times((entry(X, "p", "j"), num(2))), num(1))))),
    # derivatives
    ("d(f)/d(X[i,j])", Derivative(F, x_ij)),
    ("d(f)/d(Y[i,k])", Derivative(F, entry(Y, "i", "k"))),
    ("d(Y[i,k])/d(W[j,k])", Derivative(entry(Y, "i", "k"), w_jk)),
    ("d(X[i,j] * W[j,k])/d(X[1,j])", Derivative(Times((x_ij, w_jk)), entry(X, 1, "j"))),
    ("d((X @ W)[i,k])/d(X[i,j])", Derivative(entry(MatMul(X, W), "i", "k"), x_ij)),
    ("sum(p=1..n, d(f)/d(X[p,j]))", Sum("p", 1, "n", Derivative(F, entry(X, "p", "j")))),
    # operators: + - * and unary minus, flat tuples
    ("X[i,j] + W[j,k]", Plus((x_ij, w_jk))),
    ("X[i,j] - W[j,k]", Plus((x_ij, Neg(w_jk)))),
    ("X[i,j] + W[j,k] - 2 + 1", Plus((x_ij, w_jk, Neg(num(2)), num(1)))),
    ("X[i,j] * W[j,k]", Times((x_ij, w_jk))),
    ("2 * X[i,j] * W[j,k]", Times((num(2), x_ij, w_jk))),
    ("-X[i,j]", Neg(x_ij)),
    ("--X[i,j]", Neg(Neg(x_ij))),
    ("-X[i,j] * W[j,k]", Times((Neg(x_ij), w_jk))),  # unary minus binds tighter than *
    ("X[i,j] * -W[j,k]", Times((x_ij, Neg(w_jk)))),
    ("X[i,j] - W[j,k] * 2", Plus((x_ij, Neg(Times((w_jk, num(2))))))),  # a - b is a + (-b)
    ("-(X[i,j] + 1)", Neg(Plus((x_ij, num(1))))),
    ("X[i,j] - -1", Plus((x_ij, Neg(Neg(num(1)))))),
    ("X[i,j] * W[j,k] + 2 * 3", Plus((Times((x_ij, w_jk)), Times((num(2), num(3)))))),
    # parentheses group, and are kept as nesting
    ("(X[i,j])", x_ij),
    ("((X[i,j]))", x_ij),
    ("(X[i,j] + 1) * 2", Times((Plus((x_ij, num(1))), num(2)))),
    ("X[i,j] * (W[j,k] * 2)", Times((x_ij, Times((w_jk, num(2)))))),
    ("X[i,j] + (W[j,k] + 2)", Plus((x_ij, Plus((w_jk, num(2)))))),
    ("X[i,j] - (W[j,k] - 2)", Plus((x_ij, Neg(Plus((w_jk, Neg(num(2)))))))),
]


@pytest.mark.parametrize("text, tree", EXPRESSIONS)
def test_expressions(text, tree):
    assert read_expression(text) == tree


def test_a_sum_variable_is_bound_only_inside_its_sum():
    error = error_of(f"{HEADER}X[i,j]\n= sum(p=1..n, X[p,j]) + X[p,j]\n")
    assert (error.line, error.column) == (FIRST_STEP_LINE + 1, 27)
    assert error.message == "unknown index 'p' (declare it with: index p : 1..n)"


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize("comment, rule", [
    ("", ""),
    ("# by the chain rule", "the chain rule"),
    ("#by   the chain rule  ", "the chain rule"),
    ("# by\tlinearity", "linearity"),
    ("# by", ""),
    ("# bypass", ""),
    ("# the chain rule", ""),
    ("#", ""),
    ("# by summing over r # twice", "summing over r # twice"),
])
def test_a_comment_starting_with_by_gives_the_rule(comment, rule):
    derivation = read_derivation(f"{HEADER}X[i,j] {comment}\n= X[i,j]   {comment}\n")
    assert [step.rule for step in derivation.steps] == [rule, rule]
    assert [step.text for step in derivation.steps] == ["X[i,j]", "X[i,j]"]


# --------------------------------------------------------------------------- printing back


@pytest.mark.parametrize("text, tree", EXPRESSIONS)
def test_printing_and_reading_again_gives_the_same_tree(text, tree):
    printed = format_index_expr(tree)
    assert read_expression(printed) == tree


@pytest.mark.parametrize("tree, printed", [
    (Plus((x_ij, Neg(w_jk))), "X[i,j] - W[j,k]"),
    (Plus((Neg(x_ij), w_jk)), "-X[i,j] + W[j,k]"),
    (Plus((x_ij, Neg(Neg(w_jk)))), "X[i,j] - -W[j,k]"),
    (Plus((x_ij, Neg(Plus((w_jk, num(1)))))), "X[i,j] - (W[j,k] + 1)"),
    (Plus((x_ij, Plus((w_jk, num(1))))), "X[i,j] + (W[j,k] + 1)"),
    (Times((x_ij, Neg(w_jk))), "X[i,j] * -W[j,k]"),
    (Times((Neg(x_ij), w_jk)), "-X[i,j] * W[j,k]"),
    (Neg(Times((x_ij, w_jk))), "-(X[i,j] * W[j,k])"),
    (Neg(Neg(x_ij)), "--X[i,j]"),
    (Neg(Plus((x_ij, num(1)))), "-(X[i,j] + 1)"),
    (Times((Plus((x_ij, num(1))), Times((w_jk, num(2))))), "(X[i,j] + 1) * (W[j,k] * 2)"),
    (num("1/8"), "0.125"),
    (num("5/2"), "2.5"),
    (num(12), "12"),
    (entry(Sub(X, Sub(X, X)), 1, 2), "(X - (X - X))[1,2]"),
    (entry(Transpose(Add(X, X)), "i", "j"), "(X + X).T[i,j]"),
    (Derivative(F, x_ij), "d(f)/d(X[i,j])"),
    (Sum("p", 1, "n", Plus((entry(X, "p", "j"), num(1)))), "sum(p=1..n, X[p,j] + 1)"),
])
def test_printing_uses_only_the_parentheses_needed(tree, printed):
    assert format_index_expr(tree) == printed
    assert read_expression(printed) == tree


def test_trees_the_reader_cannot_make_still_print():
    assert format_index_expr(num(-3)) == "-3"
    assert format_index_expr(num("1/3")) == "(1/3)"
    assert format_index_expr(Plus((x_ij,))) == "X[i,j]"
    assert format_index_expr(Plus(())) == "0"
    assert format_index_expr(Times(())) == "1"
    with pytest.raises(TypeError):
        format_index_expr("X[i,j]")


def _random_tree(rng: random.Random, depth: int, bound: tuple[str, ...] = ()) -> IndexExpr:
    indices = ("i", "j", 1, 2) + bound
    leaves = [
        lambda: num(rng.choice(["0", "3", "1/2", "7/4", "12.5"])),
        lambda: entry(rng.choice([X, Transpose(W), MatMul(X, W), Sub(X, Add(X, X))]),
                      rng.choice(indices), rng.choice(indices)),
        lambda: Delta(rng.choice(indices), rng.choice(indices)),
        lambda: Derivative(rng.choice([F, entry(Y, "i", 1)]), entry(rng.choice([X, W, Y]), "i", "j")),
    ]
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(leaves)()
    choice = rng.randrange(5)
    if choice == 0:
        return Plus(tuple(_random_tree(rng, depth - 1, bound) for _ in range(rng.randrange(2, 4))))
    if choice == 1:
        return Times(tuple(_random_tree(rng, depth - 1, bound) for _ in range(rng.randrange(2, 4))))
    if choice == 2:
        return Neg(_random_tree(rng, depth - 1, bound))
    if choice == 3:
        variable = f"p{len(bound)}"
        return Sum(variable, 1, rng.choice(["n", "k", 3]), _random_tree(rng, depth - 1, bound + (variable,)))
    return Derivative(_random_tree(rng, depth - 1, bound), entry(X, "i", "j"))


def test_printing_and_reading_random_trees_gives_them_back():
    rng = random.Random(2024)
    for _ in range(300):
        tree = _random_tree(rng, 5)
        assert read_expression(format_index_expr(tree)) == tree, format_index_expr(tree)


# --------------------------------------------------------------------------- errors

ERRORS = [
    # (text, line, column, a part of the message)
    ("sizes n\nmatrix X : n x k\n" + CHAIN, 2, 16, "unknown size 'k'"),
    ("sizes n\nindex i : 1..m\n" + CHAIN, 2, 14, "unknown size 'm'"),
    ("sizes n\nmatrix X : n x n\nindex i : 1..X\n" + CHAIN, 3, 14, "'X' is a matrix, not a size"),
    (HEADER + "Z[i,j]\n= 1\n", 9, 1, "unknown matrix 'Z' (declare it with: matrix Z : rows x cols)"),
    (HEADER + "X[i,j]\n= X[i,j] * (X @ Q)[i,j]\n", 10, 17, "unknown matrix 'Q'"),
    ("sizes n\nmatrix X : n x n\nmatrix Y = X @ Z\n" + CHAIN, 3, 16, "unknown matrix 'Z'"),
    ("sizes n\nmatrix X : n x n\nmatrix Y = Y @ X\n" + CHAIN, 3, 12, "unknown matrix 'Y'"),
    (HEADER + "X[i,l]\n= 1\n", 9, 5, "unknown index 'l' (declare it with: index l : 1..n)"),
    (HEADER + "X[i,j]\n= delta(i,q)\n", 10, 11, "unknown index 'q'"),
    (HEADER + "X[i,j]\n= X[n,j]\n", 10, 5, "'n' is a size, not an index"),
    (HEADER + "X[i,j]\n= sum(p=1..z, X[p,j])\n", 10, 12, "unknown bound 'z'"),
    ("sizes n\nmatrix sum : n x n\n" + CHAIN, 2, 8, "'sum' is reserved"),
    ("sizes n\nmatrix d : n x n\n" + CHAIN, 2, 8, "'d' is reserved"),
    ("sizes n\nmatrix f : n x n\n" + CHAIN, 2, 8, "'f' is reserved"),
    ("sizes n\nmatrix delta : n x n\n" + CHAIN, 2, 8, "'delta' is reserved"),
    ("sizes n\nmatrix index : n x n\n" + CHAIN, 2, 8, "'index' is a declaration keyword"),
    ("sizes n\nmatrix lambda : n x n\n" + CHAIN, 2, 8, "'lambda' is a Python keyword"),
    ("sizes n\nmatrix tanh : n x n\n" + CHAIN, 2, 8, "'tanh' is a function"),
    ("sizes n\nmatrix X : n x n\nupstream sum of X\n" + CHAIN, 3, 10, "'sum' is reserved"),
    ("sizes n _m\n" + CHAIN, 1, 9, "may not start with '_'"),
    ("sizes n\nmatrix X : n x n\nindex n : 1..n\n" + CHAIN, 3, 7,
     "'n' is already declared as a size on line 1"),
    ("sizes n\nmatrix X : n x n\nmatrix X : n x n\n" + CHAIN, 3, 8,
     "'X' is already declared as a matrix on line 2"),
    (HEADER + "X[i,j]\n= sum(i=1..n, X[i,j])\n", 10, 7, "'i' is already declared as an index on line 6"),
    (HEADER + "X[i,j]\n= sum(p=1..n, sum(p=1..n, X[p,j]))\n", 10, 19, "enclosing sum"),
    (HEADER + "X[i,j]\n= 1\nindex l : 1..n\n", 11, 1, "a declaration after the chain started on line 9"),
    (HEADER + "X[i,j]\n= 1\n  title Late\n", 11, 3, "a declaration after the chain started"),
    (HEADER + "X[i,j]\n", 9, 1, "a chain needs at least two steps"),
    (HEADER + "# only comments\n\n   X[i,j]  # by nothing\n", 11, 4, "a chain needs at least two steps"),
    (HEADER, 8, 15, "there is no chain of equalities"),
    ("", 1, 1, "there is no chain of equalities"),
    (HEADER + "X[i,j]\nX[i,j]\n", 10, 1, "expected '=' at the start of the line"),
    (HEADER + "X[i,j]\n= 1\n  W[j,k]\n", 11, 3, "expected '=' at the start of the line"),
    (HEADER + "= X[i,j]\n= 1\n", 9, 1, "the chain starts with an expression, not '='"),
    (HEADER + "X[i,j]\n=   # nothing\n", 10, 2, "expected an expression after '='"),
    (HEADER + "X[i,j] = X[i,j]\n= 1\n", 9, 8, "one step a line"),
    (HEADER + "X[i,j]\n= sum(p=1.., X[p,j])\n", 10, 12, "expected a bound"),
    ("sizes n\nindex i : 1..\n" + CHAIN, 2, 14, "expected a size or a whole number, found the end"),
    ("sizes n\nindex i : 1\n" + CHAIN, 2, 12, "expected '..' between the bounds"),
    ("sizes n\nindex i : 1...n\n" + CHAIN, 2, 14, "expected a size or a whole number, found '.'"),
    ("sizes n\nindex i : 0..n\n" + CHAIN, 2, 11, "indices count from 1"),
    ("sizes n\nindex i : 1.5..n\n" + CHAIN, 2, 11, "must be a whole number"),
    ("sizes n\nindex i : 5..2\n" + CHAIN, 2, 11, "the range 5..2 is empty"),
    (HEADER + "X[i,j]\n= (X[i,j] + 1\n", 10, 3, "this '(' is never closed"),
    (HEADER + "X[i,j]\n= sum(p=1..n, X[p,j]\n", 10, 6, "this '(' is never closed"),
    (HEADER + "X[i,j]\n= X[i,j])\n", 10, 9, "unexpected ')': there is no '(' for it to close"),
    (HEADER + "X[i,j]\n= X[i,j\n", 10, 8, "expected ']'"),
    (HEADER + "X[i,j]\n= X[i,j] $ 2\n", 10, 10, "unexpected character '$'"),
    (HEADER + "X[i,j]\n= X[i,j]^2\n", 10, 9, "unexpected character '^': there are no powers"),
    (HEADER + "X[i,j]\n= X[i,j] × 2\n", 10, 10, "only ASCII is allowed"),
    (HEADER + "X[i,j]\n= X[i,j]\x07\n", 10, 9, "control characters are not allowed"),
    (HEADER + "X[i,j]\n= 1 # by \u202erule\n", 10, 10, "control characters are not allowed"),
    (HEADER + "X[i,j]\n= X[i,j] 2\n", 10, 10, "unexpected '2': is an operator missing?"),
    (HEADER + "X[i,j]\n= 2x\n", 10, 3, "malformed number '2x'"),
    (HEADER + "X[i,j]\n= 007\n", 10, 3, "leading zeros"),
    (HEADER + "X[i,j]\n= 1" + "0" * 100 + "\n", 10, 3, "at most 100 characters"),
    (HEADER + "X[0,j]\n= 1\n", 9, 3, "indices count from 1"),
    (HEADER + "X[i,j]\n= X[i,2.5]\n", 10, 7, "an index must be a whole number"),
    (HEADER + "X[i,j]\n= X[i,j] / 2\n", 10, 10, "'/' appears only in a derivative"),
    (HEADER + "X[i,j]\n= X[i,j] @ W[j,k]\n", 10, 10, "'@' appears only in a matrix expression"),
    (HEADER + "X[i,j]\n= f\n", 10, 3, "f, the scalar, appears only as d(f)/d(X[i,j])"),
    (HEADER + "X[i,j]\n= d(f * 2)/d(X[i,j])\n", 10, 5, "f, the scalar"),
    (HEADER + "X[i,j]\n= X\n", 10, 4, "expected '[' and the indices of an entry"),
    (HEADER + "X[i,j]\n= X(i,j)\n", 10, 4, "write an entry with brackets"),
    (HEADER + "X[i,j]\n= X.t[i,j]\n", 10, 5, "only .T may follow a matrix"),
    (HEADER + "X[i,j]\n= sum p\n", 10, 3, "'sum' is reserved: write sum(p=1..n, ...)"),
    (HEADER + "X[i,j]\n= delta(i)\n", 10, 10, "expected ',' between the two indices of delta"),
    (HEADER + "X[i,j]\n= sum(p=1..n X[p,j])\n", 10, 14, "expected ',' after the bounds"),
    (HEADER + "X[i,j]\n= d(f)d(X[i,j])\n", 10, 7, "expected '/' after d(...)"),
    (HEADER + "X[i,j]\n= d(f)/d(G[i,j])\n", 10, 10, "'G' is the upstream gradient"),
    (HEADER + "X[i,j]\n= d(f)/d(W.T[k,j])\n", 10, 11, "differentiate by an entry of W itself"),
    (HEADER + "X[i,j]\n= d(f)/d((X @ W)[i,k])\n", 10, 10, "differentiate by an entry of a declared matrix"),
    (HEADER + "X[i,j]\n= d(f)/d(i)\n", 10, 10, "'i' is an index, not a matrix"),
    (HEADER + "X[i,j]\n= X[i,j] +\n", 10, 11, "expected an expression after '+', found the end of the line"),
    (HEADER + "X[i,j]\n= (X * W)[i,j]\n", 10, 6, "in a matrix expression the product is '@'"),
    ("sizes n\nmatrix X : n x n\nmatrix Y = \n" + CHAIN, 3, 11, "expected a matrix expression after '='"),
    ("sizes n\nmatrix X : n n\n" + CHAIN, 2, 14, "expected 'x' between the rows and the columns"),
    ("sizes n\nmatrix X : 2x3\n" + CHAIN, 2, 12, "malformed number '2x3'"),
    ("sizes n\nmatrix X n x n\n" + CHAIN, 2, 10, "expected ':' and a shape"),
    ("sizes n\nmatrix X : n x n\nupstream G of Z\n" + CHAIN, 3, 15, "unknown matrix 'Z'"),
    ("sizes n\nmatrix X : n x n\nupstream G X\n" + CHAIN, 3, 12, "expected 'of'"),
    ("sizes n\nmatrix X : n x n\nupstream G of X\nupstream H of X\n" + CHAIN, 4, 1,
     "the upstream gradient is already declared on line 3"),
    ("sizes n\nsizes m\n" + CHAIN, 2, 1, "the sizes are already declared on line 1"),
    ("sizes\n" + CHAIN, 1, 6, "expected the names of the sizes"),
    ("sizes n, m\n" + CHAIN, 1, 8, "expected the name of a size"),
    ("title\n" + CHAIN, 1, 6, "expected the title's text"),
    ("title A\ntitle B\n" + CHAIN, 2, 1, "the title is already given on line 1"),
    ("sizes n\nmatrix X : n x n\nindex i 1..n\n" + CHAIN, 3, 9, "expected ':' and a range"),
]


@pytest.mark.parametrize("text, line, column, message", ERRORS, ids=range(len(ERRORS)))
def test_errors_point_at_the_line_and_column(text, line, column, message):
    error = error_of(text)
    assert message in error.message
    assert (error.line, error.column) == (line, column), error.message
    assert error.source_line == (text.split("\n")[line - 1].rstrip("\r") if text else "")


def test_an_error_is_a_bad_input_shown_in_three_lines():
    error = error_of(HEADER + "X[i,q]\n= 1\n")
    assert isinstance(error, BadInput)
    assert str(error) == ("line 9, column 5: unknown index 'q' (declare it with: index q : 1..n)\n"
                          "X[i,q]\n"
                          "    ^")


def test_text_that_is_not_a_str_is_a_parse_error():
    error = error_of(b"sizes n\n")
    assert (error.line, error.column) == (1, 1)
    assert "bytes" in error.message


# --------------------------------------------------------------------------- files


def test_a_missing_file(tmp_path):
    path = tmp_path / "nowhere.deriv"
    with pytest.raises(BadInput) as caught:
        read_derivation_file(path)
    assert str(caught.value) == f"{path}: no such file"
    assert not isinstance(caught.value, ParseError)


def test_a_directory(tmp_path):
    with pytest.raises(BadInput) as caught:
        read_derivation_file(tmp_path)
    assert str(caught.value) == f"{tmp_path}: is a directory, not a derivation file"


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.deriv"
    path.write_bytes("sizes n\n# dérivée\n".encode("latin-1"))
    with pytest.raises(BadInput) as caught:
        read_derivation_file(path)
    assert str(caught.value) == f"{path}: not UTF-8 text (byte 0xE9 on line 2)"
    assert "\n" not in str(caught.value)


def test_a_file_too_large(tmp_path):
    path = tmp_path / "huge.deriv"
    path.write_bytes(b"#" * (symderive.derivation_file.MAX_FILE_BYTES + 1))
    with pytest.raises(BadInput) as caught:
        read_derivation_file(path)
    assert "too large" in str(caught.value) and str(path) in str(caught.value)


def test_errors_in_a_file_are_parse_errors(tmp_path):
    path = tmp_path / "bad.deriv"
    path.write_text(HEADER + "X[i,j]\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        read_derivation_file(path)
    assert caught.value.line == FIRST_STEP_LINE


def test_a_utf8_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.deriv"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode("utf-8"))
    assert read_derivation_file(path) == read_derivation(EXAMPLE)


# --------------------------------------------------------------------------- hostile text

MAX_LINES = symderive.derivation_file.MAX_LINES
MAX_LINE_LENGTH = symderive.derivation_file.MAX_LINE_LENGTH


def test_too_many_lines():
    error = error_of("\n" * MAX_LINES + "x\n")
    assert (error.line, error.column) == (MAX_LINES + 1, 1)
    assert "more than 200 lines" in error.message


def test_as_many_lines_as_allowed():
    text = HEADER + "X[i,j]\n" + "= X[i,j]\n" * (MAX_LINES - 9)
    assert len(read_derivation(text).steps) == MAX_LINES - 8


@pytest.mark.parametrize("text", [
    "#" * (MAX_LINE_LENGTH + 1),
    "#" * 10_000_000,
    "sizes n\n" + "X" * (MAX_LINE_LENGTH + 1) + "\n",
    "sizes n\n" + "#" * MAX_LINE_LENGTH + "\r\n" + "#" * (MAX_LINE_LENGTH + 1) + "\r\n",
], ids=["one too many", "ten million", "an expression", "crlf"])
def test_too_long_a_line(text):
    start = time.perf_counter()
    error = error_of(text)
    assert time.perf_counter() - start < 1.0
    assert error.column == MAX_LINE_LENGTH + 1
    assert "longer than 2000 characters" in error.message


def test_a_line_as_long_as_allowed():
    text = HEADER + "X[i,j]\n= X[i,j]" + " " * (MAX_LINE_LENGTH - 8) + "\n"
    assert len(read_derivation(text).steps) == 2


HOSTILE_STEPS = [
    # (the second step, whether it is read: too deep is a ParseError)
    ("(" * 1990, False),
    (")" * 1990, False),
    ("(" * 300 + "X[i,j]" + ")" * 300, False),
    ("-" * 1990 + "X[i,j]", False),
    ("(-" * 600 + "1" + ")" * 600, False),
    ("".join(f"sum(q{k}=1..n, " for k in range(120)) + "1" + ")" * 120, False),
    ("d(" * 120 + "f" + ")/d(X[i,j])" * 120, False),
    ("X" + ".T" * 990 + "[i,j]", False),
    ("(X" + " @ X" * 490 + ")[i,j]", False),
    ("(" * 120 + "X" + ")" * 120 + "[i,j]", False),
    ("X[i,j] - 2 * (" * 99 + "1" + ")" * 99, False),  # within the nesting limit, too deep a tree
    ("X[i,j]" + " * X[i,j]" * 220, True),  # long but flat
    ("1 - (" * 90 + "1" + ")" * 90, True),
    ("-" * 150 + "1", True),
    ("(-" * 99 + "1" + ")" * 99, True),
    ("X" + ".T" * 198 + "[i,j]", True),  # 200 levels with the entry
    ("".join(f"sum(q{k}=1..n, " for k in range(99)) + "1" + ")" * 99, True),
]


@pytest.mark.parametrize("step, readable", HOSTILE_STEPS, ids=range(len(HOSTILE_STEPS)))
def test_deep_or_long_expressions_are_a_parse_error_or_a_tree_never_a_crash(step, readable):
    start = time.perf_counter()
    text = f"{HEADER}X[i,j]\n= {step}\n"
    try:
        derivation = read_derivation(text)
    except ParseError as error:
        assert not readable, error
        assert error.line == FIRST_STEP_LINE + 1
        assert "nested too deeply" in error.message or "never closed" in error.message \
            or "no '(' for it to close" in error.message
    else:
        assert readable
        tree = derivation.steps[1].expression
        assert read_expression(format_index_expr(tree)) == tree
    assert time.perf_counter() - start < 1.0


def test_deep_nesting_within_the_limits_is_read():
    depth = 40
    text = "(" * depth + "X[i,j]" + " * 2)" * depth
    tree = read_expression(text)
    for _ in range(depth):
        assert isinstance(tree, Times)
        tree = tree.factors[0]
    assert tree == x_ij


def test_a_long_matrix_definition_is_a_parse_error():
    error = error_of("sizes n\nmatrix X : n x n\nmatrix Y = X" + " @ X" * 400 + "\n" + CHAIN)
    assert error.line == 3 and "nested too deeply" in error.message


def test_a_nearly_full_stack_gives_a_parse_error_not_a_recursion_error():
    """The nesting limit keeps the parser's stack shallow; if even that is too deep, still a ParseError."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 120)
    try:
        error = error_of(f"{HEADER}X[i,j]\n= " + "(" * 90 + "X[i,j]" + ")" * 90 + "\n")
    finally:
        sys.setrecursionlimit(limit)
    assert error.line == FIRST_STEP_LINE + 1
    assert "nested too deeply" in error.message


def _read_or_error(text: str) -> Derivation | None:
    try:
        return read_derivation(text)
    except ParseError as error:
        assert len(str(error).split("\n")) == 3
        assert 1 <= error.line <= MAX_LINES + 1
        return None


def test_random_bytes_are_a_parse_error():
    rng = random.Random(20240601)
    start = time.perf_counter()
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        _read_or_error(data.decode("latin-1"))
        _read_or_error(data.decode("utf-8", errors="surrogateescape"))
    assert time.perf_counter() - start < 5.0


def test_random_byte_files_are_a_bad_input(tmp_path):
    rng = random.Random(99)
    path = tmp_path / "random.deriv"
    start = time.perf_counter()
    for _ in range(300):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(300))))
        with pytest.raises(BadInput):
            read_derivation_file(path)
    assert time.perf_counter() - start < 5.0


def test_random_token_soup_is_a_parse_error_or_a_derivation_that_prints_back():
    pieces = ["X", "W", "G", "Y", "[", "]", "i", "j", "k", "p", ",", "1", "2", "0.5", "+", "-", "*",
              "@", ".T", "(", ")", "delta(", "sum(p=1..n,", "d(f)/d(X[i,j])", "d(", ")/d(", "f",
              "..", "=", "/", " ", "#", "# by x", "\n= ", "\n", "X[i,j]", "W[j,k]"]
    rng = random.Random(7)
    read = 0
    start = time.perf_counter()
    for _ in range(3000):
        soup = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        derivation = _read_or_error(f"{HEADER}X[i,j]\n= {soup}\n")
        if derivation is not None:
            read += 1
            for step in derivation.steps:
                assert read_expression(format_index_expr(step.expression)) == step.expression, soup
    assert read > 100  # the soup does reach the grammar, not only its errors
    assert time.perf_counter() - start < 10.0


# --------------------------------------------------------------------------- security


def test_the_reader_uses_no_python_or_sympy_parser():
    source = Path(symderive.derivation_file.__file__).read_text(encoding="utf-8")
    builtins = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals", "vars"}
    parsers = {"sympify", "parse_expr", "literal_eval", "ast", "sympy", "pickle"}
    names, attributes, imported = set(), set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            attributes.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not names & (builtins | parsers)
    assert not attributes & parsers
    assert imported <= {"__future__", "keyword", "os", "re", "unicodedata", "dataclasses", "fractions",
                        "errors", "expr", "index", "parse"}


def test_the_exports():
    assert symderive.derivation_file.__all__ == ["read_derivation", "read_derivation_file",
                                                 "format_index_expr"]
