"""The expression language: every rule of the grammar, its errors, and hostile text.

Expected trees are written out by hand from the classes of symderive.expr.
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

import symderive.parse
from symderive.errors import BadInput, ExitStatus
from sympy import sqrt

from symderive.expr import (FUNCTIONS, PARAMETRIZED, Add, Along, Call, Constant, Div, Expr, Hadamard, Identity, MatMul, Name, Neg,
                            Number, Ones, Power, Sub, Transpose)
from symderive.parse import ParseError, parse

A, B, C, W, X, Y, b = (Name(name) for name in ("A", "B", "C", "W", "X", "Y", "b"))


def num(value) -> Number:
    return Number(Fraction(value))


def power(base: Expr, exponent) -> Power:
    return Power(base, Fraction(exponent))


def parse_error(text) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(text)
    return caught.value


# --------------------------------------------------------------------------- atoms

ATOMS = [
    ("X", X),
    ("W1", Name("W1")),
    ("b_2", Name("b_2")),
    ("x" * 32, Name("x" * 32)),
    ("0", num(0)),
    ("12", num(12)),
    ("0.5", num("1/2")),
    (".5", num("1/2")),
    ("5.", num(5)),
    ("1e-3", num("1/1000")),
    ("2.5E+2", num(250)),
    ("1.e2", num(100)),
    ("0.125e1", num("5/4")),
    ("(X)", X),
    ("((X))", X),
    ("eye(3)", Identity(3)),
    ("eye(10000)", Identity(10000)),
    ("ones(2, 3)", Ones(2, 3)),
    ("ones(1,1)", Ones(1, 1)),
]


@pytest.mark.parametrize("text, tree", ATOMS)
def test_atoms(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if f not in PARAMETRIZED])
def test_every_function_is_a_call_with_one_argument(function):
    assert parse(f"{function}(X @ W)") == Call(function, MatMul(X, W))


def test_leaky_relu_takes_its_slope():
    assert parse("leaky_relu(X @ W, 0.1)") == Call("leaky_relu", MatMul(X, W), Fraction(1, 10))
    assert parse("leaky_relu(X, -1/2)") == Call("leaky_relu", X, Fraction(-1, 2))


def test_division_by_a_matrix_is_entrywise():
    assert parse("X / Y") == Div(X, Y)
    assert parse("X / (2 * Y)") == Div(X, Hadamard(Number(Fraction(2)), Y))


@pytest.mark.parametrize("text, axis", [("sum(X, axis=0)", 0), ("sum(X, axis = 1)", 1), ("sum(X, axis=-1)", 1),
                                        ("sum(X, axis=-2)", 0)])
def test_an_axis_is_zero_or_one_as_numpy_counts_them(text, axis):
    assert parse(text) == Along("sum", X, axis)


@pytest.mark.parametrize("text", ["sum(X, axis=2)", "sum(X, axis=W)", "sum(X, 1)", "tanh(X, axis=1)",
                                  "sum(X, axis=0, axis=1)", "leaky_relu(X)", "leaky_relu(X, W)", "axis"])
def test_malformed_axes_and_slopes_are_refused(text):
    with pytest.raises(ParseError):
        parse(text)


# --------------------------------------------------------------------------- operators

OPERATORS = [
    ("X + W", Add(X, W)),
    ("X - W", Sub(X, W)),
    ("X @ W", MatMul(X, W)),
    ("X * W", Hadamard(X, W)),
    ("X / 2", Div(X, num(2))),
    ("-X", Neg(X)),
    ("+X", X),
    ("X @ + W", MatMul(X, W)),  # unary plus, as in NumPy
    ("X**2", power(X, 2)),
    ("X.T", Transpose(X)),
    ("X.T.T", Transpose(Transpose(X))),
    ("X . T", Transpose(X)),
    ("eye(3).T", Transpose(Identity(3))),
    ("tanh(X).T", Transpose(Call("tanh", X))),
    ("1.5.T", Transpose(num("3/2"))),
    ("2.T", Transpose(num(2))),  # how str prints the transpose of 2 (Python would need 2 .T)
    ("2 .T", Transpose(num(2))),
    ("2..T", Transpose(num(2))),
]


@pytest.mark.parametrize("text, tree", OPERATORS)
def test_operators(text, tree):
    assert parse(text) == tree


ASSOCIATIVITY = [
    ("A - B - C", Sub(Sub(A, B), C)),
    ("A - (B - C)", Sub(A, Sub(B, C))),
    ("A + B - C", Sub(Add(A, B), C)),
    ("A @ B @ C", MatMul(MatMul(A, B), C)),
    ("A @ (B @ C)", MatMul(A, MatMul(B, C))),
    ("A / 2 / 4", Div(Div(A, num(2)), num(4))),
    ("A ** 2 ** 3", power(A, 8)),  # right-associative: A ** (2 ** 3)
    ("(A ** 2) ** 3", power(power(A, 2), 3)),
    ("A - -B", Sub(A, Neg(B))),
    ("--A", Neg(Neg(A))),
    ("-+-A", Neg(Neg(A))),
]


@pytest.mark.parametrize("text, tree", ASSOCIATIVITY)
def test_associativity(text, tree):
    assert parse(text) == tree


PRECEDENCE = [
    ("A @ B * C", Hadamard(MatMul(A, B), C)),  # @ * / bind equally, left to right
    ("A * B @ C", MatMul(Hadamard(A, B), C)),
    ("A / 2 @ B", MatMul(Div(A, num(2)), B)),
    ("A @ B / 2", Div(MatMul(A, B), num(2))),
    ("A / 2 * B", Hadamard(Div(A, num(2)), B)),
    ("A + B @ C", Add(A, MatMul(B, C))),
    ("A @ B + C", Add(MatMul(A, B), C)),
    ("A - B * C", Sub(A, Hadamard(B, C))),
    ("X @ W + b", Add(MatMul(X, W), b)),
    ("-A**2", Neg(power(A, 2))),  # ** binds tighter than unary minus
    ("(-A)**2", power(Neg(A), 2)),
    ("-X @ W", MatMul(Neg(X), W)),  # unary minus binds tighter than @
    ("X * -2", Hadamard(X, Neg(num(2)))),
    ("2 * X", Hadamard(num(2), X)),
    ("A ** -1", power(A, -1)),
    ("2**-1", power(num(2), -1)),
    ("A ** 2 ** -1", power(A, "1/2")),  # 2**-1 as an exponent
    ("A.T @ B.T", MatMul(Transpose(A), Transpose(B))),
    ("A @ B.T", MatMul(A, Transpose(B))),
    ("(A @ B).T", Transpose(MatMul(A, B))),
    ("A.T**2", power(Transpose(A), 2)),
    ("-A.T", Neg(Transpose(A))),
    ("1 - tanh(Y)**2", Sub(num(1), power(Call("tanh", Y), 2))),
    ("sigmoid(X @ W + b)", Call("sigmoid", Add(MatMul(X, W), b))),
    ("sum((X @ W - Y)**2) / 2", Div(Call("sum", power(Sub(MatMul(X, W), Y), 2)), num(2))),
]


@pytest.mark.parametrize("text, tree", PRECEDENCE)
def test_precedence(text, tree):
    assert parse(text) == tree


EXPONENTS = [
    ("X ** 0.5", power(X, "1/2")),
    ("X ** (1/2)", power(X, "1/2")),
    ("X ** (2 ** -1)", power(X, "1/2")),
    ("X ** -(1/2)", power(X, "-1/2")),
    ("X ** -0.5", power(X, "-1/2")),
    ("X ** (1 - 3)", power(X, -2)),
    ("X ** (2 * 3 / 4)", power(X, "3/2")),
    ("X ** ((-2) ** 3)", power(X, -8)),
    ("X ** (2 ** 2 ** 2)", power(X, 16)),
    ("X ** +2", power(X, 2)),
    ("X ** --1", power(X, 1)),
    ("X ** 1e2", power(X, 100)),
]


@pytest.mark.parametrize("text, tree", EXPONENTS)
def test_an_exponent_is_a_constant_folded_exactly(text, tree):
    assert parse(text) == tree


DIVISORS = [
    ("X / (2 * 3)", Div(X, num(6))),
    ("X / -2", Div(X, num(-2))),
    ("X / 2 ** 2", Div(X, num(4))),
    ("X / (1/2)", Div(X, num("1/2"))),
    ("X / 0.5", Div(X, num("1/2"))),
    ("X / (1 + 1/3)", Div(X, num("4/3"))),
]


@pytest.mark.parametrize("text, tree", DIVISORS)
def test_a_divisor_is_a_constant_folded_to_one_number(text, tree):
    assert parse(text) == tree


CONSTANTS_IN_PARENTHESES = [
    ("(1/2)", num("1/2")),  # how str(Number(1/2)) prints
    ("(-3)", num(-3)),  # how str(Number(-3)) prints
    ("(2 * 3)", num(6)),
    ("(1/2) * X", Hadamard(num("1/2"), X)),
    ("1/2", Div(num(1), num(2))),  # without parentheses nothing is folded
    ("-3", Neg(num(3))),
    ("2 * 3", Hadamard(num(2), num(3))),
    ("(2**0.5)", Constant(sqrt(2))),  # an exact irrational value: one Constant
    ("(sqrt(8) / 2)", Constant(sqrt(2))),
]


@pytest.mark.parametrize("text, tree", CONSTANTS_IN_PARENTHESES)
def test_a_constant_in_parentheses_is_one_number(text, tree):
    assert parse(text) == tree


WHITESPACE = [
    ("X\t@\nW", MatMul(X, W)),
    ("  X  ", X),
    ("(X\r\n+ W)", Add(X, W)),
    ("\n\ntanh (\n X\n)\n", Call("tanh", X)),
    ("A\n  .T", Transpose(A)),
]


@pytest.mark.parametrize("text, tree", WHITESPACE)
def test_whitespace_between_tokens(text, tree):
    assert parse(text) == tree


# --------------------------------------------------------------------------- round trip

ROUND_TRIP = [
    "X @ W + b",
    "A @ B * C",
    "A * B @ C",
    "A - (B - C)",
    "A @ (B @ C)",
    "-A**2",
    "(-A)**2",
    "(X**2)**3",
    "X ** 2 ** -1",
    "X ** -0.5 / 3",
    "2**0.5",
    "2**-1",
    "(1/2) * X",
    "X * 0.25",
    "X / -4",
    "-(-X)",
    "--X",
    "(-X).T",
    "A.T @ B.T",
    "(A @ B).T.T",
    "1 - tanh(Y)**2",
    "tanh(X @ W + b) * 2",
    "sum(X ** 2) / 2",
    "inv(X.T @ X) @ X.T @ Y",
    "det(X) * trace(X) + log(exp(X))",
    "sqrt(sin(X)**2 + cos(X)**2)",
    "1 - sigmoid(X)",
    "eye(3) - ones(3, 3) / 3",
    "1.5.T",
    "1e-3 * X",
    "(2**0.5).T",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_printing_and_parsing_again_gives_the_same_tree(text):
    tree = parse(text)
    assert parse(str(tree)) == tree


def _random_tree(rng: random.Random, depth: int) -> Expr:
    """A tree as the parser makes it: no operation on numbers alone (parentheses fold those)."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([X, W, b, Identity(3), Ones(2, 3), num(rng.choice(["0", "2", "1/3", "-5"]))])
    operand = _random_variable_tree(rng, depth - 1)
    other = _random_tree(rng, depth - 1)
    kind = rng.randrange(9)
    if kind < 5:
        operation = [Add, Sub, MatMul, Hadamard][kind % 4]
        return operation(operand, other) if rng.random() < 0.5 else operation(other, operand)
    if kind == 5:
        return Div(operand, num(rng.choice(["2", "-3", "1/4"])))
    if kind == 6:
        return Power(operand, Fraction(rng.choice(["2", "-1", "1/2", "-3/2"])))
    if kind == 7:
        return rng.choice([Neg, Transpose])(operand)
    function = rng.choice(FUNCTIONS)
    return Call(function, other, Fraction(1, 10) if function in PARAMETRIZED else None)


def _random_variable_tree(rng: random.Random, depth: int) -> Expr:
    tree = _random_tree(rng, depth)
    return tree if not isinstance(tree, Number) else Transpose(tree)


def test_printing_and_parsing_random_trees_gives_them_back():
    rng = random.Random(1)
    for _ in range(500):
        tree = _random_tree(rng, 5)
        assert parse(str(tree)) == tree, str(tree)


# --------------------------------------------------------------------------- errors


def assert_points_at(error: ParseError, line: int, column: int, message: str) -> None:
    """The error's position, message, and its three-line rendering with the caret."""
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    first, shown, caret = str(error).split("\n")
    assert first == f"line {line}, column {column}: {error.message}"
    if len(error.source_line) > 100:  # a window of the line: tested below
        return
    assert caret == " " * (column - 1) + "^"
    if error.source_line.isascii() and error.source_line.isprintable():
        assert shown == error.source_line
    else:  # other characters show as '?', so that the caret stays in its column
        assert len(shown) == len(error.source_line)


def test_the_error_shows_position_message_line_and_caret():
    assert str(parse_error("X + @ W")) == (
        "line 1, column 5: expected an expression after '+'\n"
        "X + @ W\n"
        "    ^"
    )


def test_an_error_on_the_second_line_shows_that_line():
    error = parse_error("X @ W\n  + @ b")
    assert (error.line, error.column, error.source_line) == (2, 5, "  + @ b")
    assert str(error) == (
        "line 2, column 5: expected an expression after '+'\n"
        "  + @ b\n"
        "    ^"
    )


def test_an_unclosed_parenthesis_says_where_it_was_opened():
    error = parse_error("tanh(\n  X @ W\n")
    assert_points_at(error, 2, 8, "expected ')' to close the '(' at line 1, column 5, "
                                  "found the end of the text")


ERRORS = [
    # what is missing or left over
    ("X + @ W", 1, 5, "expected an expression after '+'"),
    ("X +", 1, 4, "expected an expression after '+'"),
    ("X @ ", 1, 4, "expected an expression after '@'"),
    ("-", 1, 2, "expected an expression after '-'"),
    ("()", 1, 2, "expected an expression after '('"),
    (")", 1, 1, "expected an expression, found ')'"),
    ("", 1, 1, "the text is empty"),
    ("  \n\t ", 1, 1, "the text is empty"),
    ("(X", 1, 3, "expected ')' to close the '(' at line 1, column 1"),
    ("(X + (W)", 1, 9, "expected ')' to close the '(' at line 1, column 1"),
    ("(X W)", 1, 4, "expected ')' to close the '(' at line 1, column 1, found 'W'"),
    ("X)", 1, 2, "unexpected ')'"),
    ("X W", 1, 3, "unexpected 'W': is an operator missing?"),
    ("X 2", 1, 3, "unexpected '2'"),
    ("X, W", 1, 2, "unexpected ',': commas are only allowed in ones(rows, cols)"),
    # calls
    ("X(2)", 1, 1, "unknown function 'X'; known: exp, log, tanh"),
    ("foo(X)", 1, 1, "unknown function 'foo'; known: " + ", ".join(FUNCTIONS + ("eye", "ones"))),
    ("(X)(2)", 1, 4, "only a function can be called"),
    ("X.T(2)", 1, 4, "only a function can be called"),
    ("tanh(X)(2)", 1, 8, "only a function can be called"),
    ("tanh + X", 1, 1, "'tanh' is a function: write tanh(...)"),
    ("X @ inv", 1, 5, "'inv' is a function"),
    ("eye + X", 1, 1, "'eye' is a function: write eye(n)"),
    ("ones", 1, 1, "'ones' is a function: write ones(rows, cols)"),
    ("tanh()", 1, 6, "tanh() takes exactly one argument"),
    ("tanh(X, Y)", 1, 7, "tanh() takes exactly one argument"),
    ("eye(0)", 1, 5, "eye(n) must be whole numbers from 1 to 10000"),
    ("eye(10001)", 1, 5, "from 1 to 10000"),
    ("eye(2.0)", 1, 5, "written with digits"),
    ("eye(1e2)", 1, 5, "written with digits"),
    ("eye(X)", 1, 5, "written with digits"),
    ("eye(-3)", 1, 5, "written with digits"),
    ("eye(3, 3)", 1, 6, "too many arguments: write eye(n)"),
    ("eye(3", 1, 6, "expected ')' to close the '(' at line 1, column 4"),
    ("ones(2)", 1, 7, "expected ',' in ones(rows, cols), found ')'"),
    ("ones(2, 3, 4)", 1, 10, "too many arguments: write ones(rows, cols)"),
    ("ones(2, 0)", 1, 9, "ones(rows, cols) must be whole numbers from 1 to 10000"),
    # attributes
    ("X.shape", 1, 3, "only .T is allowed after an expression"),
    ("X.t", 1, 3, "only .T is allowed after an expression"),
    ("X.__class__", 1, 3, "only .T is allowed after an expression"),
    ("X.T.shape", 1, 5, "only .T is allowed after an expression"),
    ("X.", 1, 3, "only .T is allowed after an expression"),
    ("X.(W)", 1, 3, "only .T is allowed after an expression"),
    # exponents and divisors
    ("X ** Y", 1, 6, "the exponent of ** must be a number"),
    ("X ** (Y + 1)", 1, 6, "the exponent of ** must be a number"),
    ("X ** -Y", 1, 6, "the exponent of ** must be a number"),
    ("X ** 2.T", 1, 6, "the exponent of ** must be a number"),
    ("X ** 2.t", 1, 8, "only .T is allowed after an expression"),
    ("X ** (2).T", 1, 6, "the exponent of ** must be a number"),
    ("X ** (2 @ 3)", 1, 6, "the exponent of ** must be a number"),
    ("X ** tanh(2)", 1, 6, "the exponent of ** must be a number"),
    ("X ** (2 ** 0.5)", 1, 6, "the exponent of ** must be a rational number, not sqrt(2)"),
    ("X * (-1) ** (1/2)", 1, 10, "a negative number to a fractional power is not real"),
    ("X / (log(4) - 2 * log(2))", 1, 5, "division by zero"),
    ("X * log(log(4) - 2 * log(2))", 1, 9, "not positive"),
    ("X / ((1 + sqrt(2))**2 - 3 - 2*sqrt(2))", 1, 5, "division by zero"),
    ("step(0) * X", 1, 6, "step is not differentiable (or not defined) at 0"),
    ("leaky_relu(X, slope=0.1)", 1, 15, "takes its slope as the second argument"),
    ("leaky_relu(X, axis=0)", 1, 15, "takes its slope as the second argument"),
    ("tanh(X, axis=0)", 1, 9, "tanh takes no keyword argument"),
    ("X ** (0 ** -1)", 1, 9, "division by zero"),
    ("X ** (1 / 0)", 1, 11, "division by zero"),
    ("X ** (10 ** 2000)", 1, 10, "more than 1000 digits"),
    ("X / 0", 1, 5, "division by zero"),
    ("X / (1 - 1)", 1, 5, "division by zero"),
    # numbers
    ("1j", 1, 1, "malformed number '1j'"),
    ("0x1F", 1, 1, "malformed number '0x1F'"),
    ("1_000", 1, 1, "malformed number '1_000'"),
    ("X * 2e", 1, 5, "malformed number '2e'"),
    ("012", 1, 1, "leading zeros are not allowed: write 12, not 012"),
    ("1e5000", 1, 1, "the exponent of 1e5000 is out of range"),
    ("1" * 1001, 1, 1, "at most 1000 characters"),
    ("1e1000 * 10", 1, 1, "at most 1000 digits"),
    # names
    ("_X", 1, 1, "names may not start with '_'"),
    ("__import__", 1, 1, "names may not start with '_'"),
    ("lambda + X", 1, 1, "'lambda' is a Python keyword, not a name"),
    ("X @ None", 1, 5, "'None' is a Python keyword"),
    ("x" * 33, 1, 1, "is longer than 32 characters"),
    # characters outside the language
    ("X[0]", 1, 2, "unexpected character '[': subscripts are not supported"),
    ("'a'", 1, 1, "unexpected character \"'\": strings are not supported"),
    ('f"{X}"', 1, 2, "strings are not supported"),
    ("X = 1", 1, 3, "not an assignment or a comparison"),
    ("X; import os", 1, 2, "unexpected character ';'"),
    ("lambda: 0", 1, 7, "unexpected character ':'"),
    ("!X", 1, 1, "unexpected character '!'"),
    ("X \\\n+ W", 1, 3, "unexpected character '\\\\'"),
    ("X # note", 1, 3, "unexpected character '#'"),
    ("X\x0cW", 1, 2, "unexpected character U+000C"),
    ("X + é", 1, 5, "unexpected character 'é' (U+00E9): only ASCII is allowed"),
    ("X٣", 1, 2, "(U+0663): only ASCII is allowed"),  # an Arabic-Indic digit
    ("𝑋", 1, 1, "only ASCII is allowed"),  # a mathematical italic X, which Python would accept
    ("X + \x00", 1, 5, "unexpected character U+0000"),
]


@pytest.mark.parametrize("text, line, column, message", ERRORS)
def test_errors(text, line, column, message):
    error = parse_error(text)
    assert_points_at(error, line, column, message)


def test_the_caret_counts_a_tab_as_one_column():
    error = parse_error("\tX +")
    assert (error.line, error.column) == (1, 5)
    assert str(error).split("\n")[1:] == [" X +", "    ^"]


def test_a_long_line_shows_a_window_around_the_column():
    text = "A + " * 50 + ")" + " + B" * 50
    error = parse_error(text)
    assert (error.line, error.column) == (1, 201)
    _, shown, caret = str(error).split("\n")
    assert shown.startswith("...") and shown.endswith("...")
    assert len(shown) < 120
    assert caret.strip() == "^"
    assert shown[caret.index("^")] == ")"


@pytest.mark.parametrize("text, column", [
    ("X Y" + " + X" * 40, 3),  # near the start: no '...' before
    ("X + " * 40 + "X Y", 163),  # near the end: no '...' after
])
def test_a_window_at_either_end_of_a_long_line(text, column):
    error = parse_error(text)
    assert error.column == column
    _, shown, caret = str(error).split("\n")
    assert shown[caret.index("^")] == "Y"
    assert shown.startswith("...") == (column > 60)
    assert shown.endswith("...") == (column < 60)


def test_the_error_is_bad_input():
    error = parse_error("X +")
    assert isinstance(error, BadInput) and isinstance(error, ValueError)
    assert error.exit_status == ExitStatus.BAD_INPUT
    assert symderive.parse.__all__ == ["parse", "ParseError"]


@pytest.mark.parametrize("value", [None, b"X", 3, ["X"]])
def test_a_non_str_is_a_parse_error_at_the_start(value):
    error = parse_error(value)
    assert (error.line, error.column) == (1, 1)
    assert "expected the expression as text (str)" in error.message


# --------------------------------------------------------------------------- limits


def test_text_longer_than_the_limit_is_refused():
    error = parse_error("X" * 10_001)
    assert (error.line, error.column) == (1, 10_001)
    assert "longer than 10000 characters" in error.message
    assert parse("(" + "X" + ")" + " " * 9997) == X  # exactly 10000 characters is fine


@pytest.mark.parametrize("text", [
    "(" * 100 + "X" + ")" * 100,
    "-" * 100 + "X",
    "X" + "**1" * 100,
    "tanh(" * 100 + "X" + ")" * 100,
    "X" + " + X" * 199,
    "X" + ".T" * 199,
])
def test_nesting_up_to_the_limit_is_fine(text):
    assert isinstance(parse(text), Expr)


@pytest.mark.parametrize("text, column, message", [
    ("(" * 101 + "X" + ")" * 101, 101, "nested too deeply"),
    ("-" * 101 + "X", 101, "nested too deeply"),
    ("X" + "**1" * 101, 302, "nested too deeply"),
    ("tanh(" * 101 + "X" + ")" * 101, 505, "nested too deeply"),
    ("(-" * 51 + "X" + ")" * 51, 101, "nested too deeply"),
    ("X" + " + X" * 200, 799, "more than 200 operations inside one another"),
    ("X" + ".T" * 200, 400, "more than 200 operations inside one another"),
])
def test_nesting_beyond_the_limit_is_refused(text, column, message):
    error = parse_error(text)
    assert (error.line, error.column) == (1, column)
    assert message in error.message


HOSTILE = [
    "__import__('os')",
    "__import__('os').system('ls')",
    "X.__class__",
    "X.T.__class__.__bases__",
    "().__class__",
    "lambda: 0",
    "X[0]",
    'f"{X}"',
    "'a'",
    "X; import os",
    "import os",
    "eval(X)",
    "exec(X)",
    "compile(X)",
    "getattr(X, 'T')",
    "X if X else X",
    "[X for X in X]",
    "{X}",
    "X @= W",
    "X := 1",
    "X ** 2j",
    "`X`",
    "$X",
    "X\x00",
    "ｘ",  # a fullwidth x, which Python would read as x
    "X" * 20_000,
    "(" * 100_000 + "X" + ")" * 100_000,
    "(" * 4_999 + "X",
    "-" * 100_000 + "X",
    "-" * 9_999 + "X",
    "X**" * 100_000 + "2",
    "X**" * 3_333 + "2",
    "tanh(" * 2_000,
    "X" + ".T" * 4_999,
    "X" + "+X" * 4_999,
    "2**" * 100 + "2",
    "(9 ** 9 ** 9)",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_is_a_parse_error_and_nothing_else(text):
    start = time.perf_counter()
    try:
        parse(text)
    except ParseError as error:
        assert len(str(error).split("\n")) == 3
    else:
        assert text == "(9 ** 9 ** 9)"  # the one harmless case: a power kept unevaluated
    assert time.perf_counter() - start < 1.0


def _parse_or_error(text: str) -> Expr | None:
    try:
        tree = parse(text)
    except ParseError as error:
        assert len(str(error).split("\n")) == 3
        return None
    assert isinstance(tree, Expr)
    return tree


def test_random_bytes_give_a_tree_or_a_parse_error():
    rng = random.Random(20240525)
    start = time.perf_counter()
    for _ in range(3000):
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(60))).decode("latin-1")
        _parse_or_error(text)
    assert time.perf_counter() - start < 5.0


def test_random_token_soup_gives_a_tree_or_a_parse_error_and_trees_print_back():
    pieces = ["X", "W", "b", "2", "0.5", "1e-3", "+", "-", "*", "@", "/", "**", "(", ")", ".T",
              ".t", "tanh(", "eye(3)", "ones(2, 3)", ",", " ", "\n", "lambda", "_X",
              "softmax(", "sum(", "axis", "=", "0", "1", "-1", "leaky_relu(", "pi", "sqrt(", "log("]
    rng = random.Random(7)
    parsed = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 16)))
        tree = _parse_or_error(text)
        if tree is not None:
            parsed += 1
            assert parse(str(tree)) == tree, text
    assert parsed > 100  # the soup does reach the grammar, not only its errors


# --------------------------------------------------------------------------- security


def test_the_parser_uses_no_python_or_sympy_parser():
    source = Path(symderive.parse.__file__).read_text()
    builtins = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals", "vars"}
    parsers = {"sympify", "parse_expr", "literal_eval", "ast", "sympy"}
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
    assert not attributes & parsers  # re.compile is fine: it compiles our own patterns
    # constants combines SymPy values the parser has already read (1 / sqrt(d)): no text
    assert imported <= {"__future__", "keyword", "re", "dataclasses", "fractions", "errors", "expr", None}


def test_a_nearly_full_stack_gives_a_parse_error_not_a_recursion_error():
    """The nesting limit keeps the parser's stack shallow; if even that is too deep, still a ParseError."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        error = parse_error("(" * 100 + "X" + ")" * 100)
    finally:
        sys.setrecursionlimit(limit)
    assert "nested too deeply" in error.message


@pytest.mark.parametrize("text, column, message", [
    ("mean(X, axis=0, keepdims=True)", 15, "too many arguments"),
    ("softmax(X, ax=0)", 12, "expected axis=0 or axis=1"),
])
def test_keyword_arguments_are_read_as_part_of_one_expression(text, column, message):
    """An '=' inside parentheses does not make the text a program: the expression
    parser reports it where it is (found by a hostile tester)."""
    from symderive.program import looks_like_program, read_program

    assert not looks_like_program(text)
    with pytest.raises(ParseError) as caught:
        read_program(text)
    assert caught.value.column == column and message in caught.value.message
