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
