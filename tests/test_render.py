"""Writing files atomically, and eliding what is too large to print."""

import os

import pytest
import sympy

from symderive.build import matrix_of_symbols
from symderive.render import Cell, MathPrinter, matrix_cells, write_atomic


def test_write_replaces_the_whole_file(tmp_path):
    target = tmp_path / "doc.tex"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.tex"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "doc.tex"
    target.write_text("old and whole")

    def crash(src, dst):
        raise KeyboardInterrupt  # as if Ctrl-C came between writing and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old and whole"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.tex"]


def test_written_files_follow_the_umask(tmp_path):
    target = tmp_path / "doc.tex"
    old = os.umask(0o022)
    try:
        write_atomic(target, "x")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


def test_large_matrices_show_their_corners():
    cells = matrix_cells(matrix_of_symbols("X", 20, 30), MathPrinter(), max_rows=5, max_cols=4)
    assert len(cells) == 5 and all(len(row) == 4 for row in cells)
    assert cells[0][0] == Cell("X_{1,1}") and cells[-1][-1] == Cell("X_{20,30}")
    assert cells[3][0] == Cell(dots="v") and cells[0][2] == Cell(dots="h") and cells[3][2] == Cell(dots="d")


def test_long_sums_show_their_ends():
    terms = sympy.Add(*matrix_of_symbols("G", 1, 9))
    printed = MathPrinter({"max_terms": 4}).doprint(terms)
    assert printed.count("+") == 4 and r"\cdots" in printed
    assert "G_{11}" in printed and "G_{19}" in printed and "G_{15}" not in printed
    assert MathPrinter().doprint(terms).count("+") == 8


# --- prose and typesetting (issue #16) -----------------------------------------


def test_entries_of_a_numbered_matrix_carry_the_number_as_a_superscript():
    # W2_11 is entry (1,1) of W2: as W_{2}{}_{11} it reads as W_{211}; the layer
    # number goes up in parentheses, the index stays below
    from symderive.render import IndexPrinter
    from symderive import index as I
    from symderive import expr as E

    printer = MathPrinter()
    assert printer.doprint(sympy.Symbol("W2_11")) == "W^{(2)}_{11}"
    assert printer.doprint(sympy.Symbol("b1_13")) == "b^{(1)}_{13}"
    assert printer.doprint(sympy.Symbol("X_11")) == "X_{11}"
    # a power of such an entry: the entry in parentheses, not a double superscript
    assert printer.doprint(sympy.Symbol("W2_11") ** 2) == r"{\left(W^{(2)}_{11}\right)}^{2}"
    entry = I.Entry(E.Transpose(E.Name("W1")), "q", "j")
    assert IndexPrinter().entry(entry) == r"{(W^{(1)\top})}_{qj}"


def test_a_long_entry_is_described_without_brackets_of_its_own():
    # inside a pmatrix, "(a sum of 39 terms)" showed two pairs of brackets
    x = sympy.symbols("x1:40")
    assert len(x) == 39
    printer = MathPrinter({"max_width": 5})
    text = printer.doprint(sympy.Add(*[sympy.exp(s) for s in x]))
    assert text == r"\text{a sum of 39 terms}"
    product = sympy.Mul(*[sympy.sin(s) for s in x[:4]])  # expands to one term
    assert MathPrinter({"max_width": 5}).doprint(product) == r"\text{a product of 4 factors}"


def test_a_scalar_times_ones_has_a_visible_operator():
    # 2 \mathbf{1}_{2 \times 1} reads as 21
    from symderive.parse import parse
    from symderive.render import ExprPrinter

    printer = ExprPrinter(None, "L")
    assert printer(parse("2 * ones(2, 1)")) == r"2 \cdot \mathbf{1}_{2 \times 1}"
    assert printer(parse("ones(2, 1) * 2")) == r"\mathbf{1}_{2 \times 1} \cdot 2"
    assert printer(parse("2 * X")) == r"2 \mathbf{X}"  # no ambiguity there: juxtaposed as before


def _macros():
    from symderive.render import environment

    return environment().get_template("macros.tex.j2").module


@pytest.mark.parametrize("n, text, maths", [
    (16777216, "16,777,216", "16{,}777{,}216"),  # 2^24
    (1000, "1,000", "1{,}000"),
    (999, "999", "999"),
    ("12,345", "12,345", "12{,}345"),  # already formatted as text (a proof's coverage)
])
def test_counts_have_thousands_separators(n, text, maths):
    m = _macros()
    assert str(m.num(n)) == text and str(m.mathnum(n)) == maths


@pytest.mark.parametrize("n, expected", [
    (1, "the only entry"), (2, "both entries"), (3, "all 3 entries"), (1234, "all 1,234 entries")])
def test_every_names_a_whole_count_in_words(n, expected):
    assert str(_macros().every(n, "entry", "entries")) == expected


def test_two_terms_are_counted_in_words():
    # Y = X @ W with X: 2x1, W: 1x1: Y_11 = X_11 W_11 and Y_21 = X_21 W_11.
    # For X_11 the chain rule's two terms are p = 1 (contains X_11) and p = 2 (does not):
    # one vanishes.  For W_11 both Y_11 and Y_21 contain it: neither vanishes.
    from symderive.pipeline import derive
    from symderive.render import render_document

    text = render_document(derive("X @ W", shapes={"X": (2, 1), "W": (1, 1)}))
    assert "Of the 2 terms, 1 vanishes:\nin one of them $Y_{pq}$ does not contain $X_{11}$ at all." in text
    assert "Of the 2 terms, neither vanishes." in text
    assert "none vanishes" not in text and "in 1 of them" not in text
