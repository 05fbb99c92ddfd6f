"""Every generated document compiles with pdflatex, shell escape off."""

import pytest

from symderive import derive
from symderive.render import environment, template_dir

from conftest import compile_latex

SIZES = [(1, 1, 1), (2, 2, 2), (3, 2, 4), (2, 3, 12), (11, 2, 3), (9, 9, 9)]


@pytest.mark.latex
@pytest.mark.parametrize("n, m, d", SIZES, ids=lambda v: str(v))
def test_document_compiles(tmp_path, n, m, d):
    source = derive(n=n, m=m, d=d).latex()
    code, log = compile_latex(source, tmp_path)
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert code == 0 and not errors, "\n".join(errors) or log[-2000:]
    assert "Output written on doc.pdf" in log
    # every package the document asks for was found
    assert "not found" not in log


def test_document_walks_through_the_note():
    source = derive(n=3, m=2, d=4).latex()
    # the matrices written out, with 1-based entries
    assert r"X_{32}" in source and r"W_{24}" in source
    # the 4th-rank tensors with their sizes and nonzero counts
    assert r"3 \times 4 \times 3 \times 2" in source and "72 entries, of which 24 are nonzero" in source
    assert r"3 \times 4 \times 2 \times 4" in source and "96 entries, of which 24 are nonzero" in source
    # the note's intermediate results, in its index order
    assert r"\delta_{pi} W_{jq}" in source and r"\delta_{qj} X_{pi}" in source
    # the vanishing terms of the chain-rule sum are shown: 8 of 12 for dX_11, 9 of 12 for dW_11
    assert source.count(r"\cdot 0}") == 8 + 9
    # the closed forms
    assert r"\frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^{\top}" in source
    assert r"\mathbf{X}^{\top} \frac{\partial f}{\partial \mathbf{Y}}" in source
    assert "moreover proven for all sizes" in source and "not a proof for all sizes" not in source


def test_large_tensors_show_one_slice_and_say_so():
    source = derive(n=5, m=4, d=6).latex()
    assert "only this one slice" in source
    assert r"5 \times 6 \times 5 \times 4" in source


def test_index_ten_is_separated_in_the_document():
    source = derive(n=11, m=1, d=1).latex()
    assert r"X_{11,1}" in source and r"X_{111}" not in source


def test_same_input_same_bytes():
    assert derive(n=3, m=2, d=4).latex() == derive(n=3, m=2, d=4).latex()


def test_templates_hold_the_latex():
    assert (template_dir() / "document.tex.j2").is_file()
    # a missing variable is an error, not a blank in a lecture note
    with pytest.raises(Exception, match="undefined"):
        environment().from_string("((( missing )))").render()


EXPRESSIONS = [
    ("tanh(X @ W + b)", {"X": (3, 2), "W": (2, 4), "b": (1, 4)}),
    ("tanh(X @ W1) @ W2", {}),
    ("x.T @ B @ x", {"B": (3, 3)}),
    ("trace(X @ A)", {}),
    ("sum(sigmoid(X) * exp(X) / 2 - cos(X)**3 + sqrt(X))", {"X": (2, 2)}),
    ("det(A) + trace(inv(A))", {"A": (2, 2)}),
    ("det(X @ W)", {"X": (3, 2), "W": (2, 3)}),
    ("X_1 @ W_2", {}),
]


@pytest.mark.latex
@pytest.mark.parametrize("expression, shapes", EXPRESSIONS, ids=[e for e, _ in EXPRESSIONS])
def test_expression_documents_compile(tmp_path, expression, shapes):
    source = derive(expression, shapes=shapes).latex()
    code, log = compile_latex(source, tmp_path)
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert code == 0 and not errors, "\n".join(errors) or log[-2000:]


def test_composite_documents_walk_through_the_rules():
    source = derive("tanh(X @ W1) @ W2").latex()
    assert "The closed forms, rule by rule" in source
    assert source.count(r"\item \textbf{") == 5  # matmul, tanh, matmul twice, matmul
    assert "rule by rule" not in derive("X @ W").latex()


@pytest.mark.latex
def test_a_large_document_stays_bounded_and_compiles(tmp_path):
    small = derive(n=12, m=12, d=12).latex()
    large = derive(n=24, m=24, d=24).latex()
    # every matrix and tensor is elided past a fixed size, so doubling the sizes
    # barely changes the document (its length grows only with the digits of indices)
    assert len(large) < 1.2 * len(small) and len(large) < 120_000
    assert r"(shown elided: the full matrix is $24\times24$.)" in large
    code, log = compile_latex(large, tmp_path)
    assert code == 0 and not [line for line in log.splitlines() if line.startswith("!")]
