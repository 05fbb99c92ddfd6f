"""Programs of named steps: what the reader accepts, and where it points when it refuses."""

import pytest

from symderive.expr import Call, MatMul, Name
from symderive.parse import ParseError
from symderive.program import read_program

MLP = """\
X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k
Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2
"""


def test_the_issue_s_two_layer_network():
    program = read_program(MLP)
    assert program.declared == {"X": ("n", "m"), "W1": ("m", "h"), "b1": (1, "h"), "W2": ("h", "k"),
                                "b2": (1, "k"), "T": ("n", "k")}
    assert program.step_names == ["Z", "H", "Y", "L"]
    assert program.output == "L"
    assert program.sizes == ["n", "m", "h", "k"]
    assert program.steps[1].expression == Call("tanh", Name("Z"))


def test_new_lines_comments_and_compact_shapes():
    program = read_program("# a linear layer\nX : 3x2   # three examples\nW : 2 x 4\n\nY = X @ W  # the output\n")
    assert program.declared == {"X": (3, 2), "W": (2, 4)}
    assert program.steps[0].expression == MatMul(Name("X"), Name("W"))
    assert program.steps[0].line == 5


def test_a_single_expression_is_a_one_step_program():
    program = read_program("tanh(X @ W)")
    assert program.single_expression and len(program.steps) == 1


def test_undeclared_inputs_are_allowed_and_listed():
    program = read_program("Z = X @ W; L = sum(Z)")
    assert program.inputs == ["X", "W"]


@pytest.mark.parametrize("text, line, column, words", [
    ("X : n x m\nY = X @ @ W", 2, 9, "expected an expression after"),
    ("X : n x m; X : n x m; Y = X", 1, 12, "declared twice"),
    ("X : n x m; Y = X; Y = X.T", 1, 19, "assigned twice"),
    ("X : n x m; X = X.T", 1, 12, "is an input"),
    ("Y = Z @ X; Z = X", 1, 5, "before the step that defines it"),
    ("X : n x m; Y = n @ X", 1, 16, "is a size"),
    ("X : n x m", 1, 1, "at least one step"),
    ("X : n by m; Y = X", 1, 3, "a declaration is NAME : ROWS x COLS"),
    ("X : 0 x 2; Y = X", 1, 5, "whole number from 1"),
    ("Y = Y + X", 1, 5, "its own definition"),
    ("lambda = X", 1, 1, "Python keyword"),
    ("Y = ", 1, 4, "expected an expression"),
    ("import os", 1, 1, "Python keyword"),
    ("import os; Y = X", 1, 1, "expected a declaration"),
])
def test_mistakes_point_at_their_line_and_column(text, line, column, words):
    with pytest.raises(ParseError) as caught:
        read_program(text)
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)
    assert words in caught.value.message


def test_limits():
    with pytest.raises(ParseError, match="longer than"):
        read_program("Y = X\n" + "#" * 20_001)
    with pytest.raises(ParseError, match="more than 200 statements"):
        read_program("; ".join(f"Y{k} = X" for k in range(201)))
