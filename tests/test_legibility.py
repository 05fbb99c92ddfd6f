"""Every generated document is legible: no word on its pages is under 4.5 pt tall.

A display wider than the line used to be shrunk until it fitted, whatever the
factor: tanh(X @ W + b) at X 3x2, W 2x4, b 1x4 had 885 words under 4.5 pt,
the smallest 1.9 pt.  Now a display is shrunk by at most a mild factor, and
past that it is broken over lines, elided, or has sub-expressions named.

The height of a word is that of its box as pdftotext -bbox reads it from the
PDF (yMax - yMin), which follows the size the glyphs are set at.  The
threshold is independent of the program: 4.5 pt is about the smallest a
printed page is read at.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from symderive import derive
from symderive.network import derive_program
from symderive.render import render_forms, render_program_forms

from catalogue import distinct_expressions
from conftest import compile_latex, tool_or_skip
from test_layout import CUBES, LOPSIDED

LEGIBLE = 4.5  # points: the smallest word height allowed
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORD = re.compile(r'<word xMin="[-\d.]+" yMin="([-\d.]+)" xMax="[-\d.]+" yMax="([-\d.]+)">')

# the sizes in each example program's header comment
PROGRAMS = {
    "attention.prog": {"n": 2, "m": 2, "d": 2, "e": 1},
    "batch_norm.prog": {"n": 3, "d": 2},
    "l2_least_squares.prog": {"n": 3, "m": 2},
    "layer_norm.prog": {"n": 2, "d": 3},
    "logistic_regression.prog": {"n": 3, "m": 2},
    "mlp_softmax_cross_entropy.prog": {"n": 2, "m": 2, "h": 2, "k": 3},
}
QUICK_NOTES = [(1, 1, 1), (3, 2, 4), (12, 3, 11), (16, 16, 16), (64, 64, 64)] + LOPSIDED
TANH = ("tanh(X @ W + b)", {"X": (3, 2), "W": (2, 4), "b": (1, 4)})
TRACE = ("trace(inv(A) @ B)", {"A": (3, 3), "B": (3, 3)})


def word_heights(pdf: Path) -> list[float]:
    """The height of every word box pdftotext -bbox finds in ``pdf``."""
    done = subprocess.run([tool_or_skip("pdftotext", "poppler-utils"), "-bbox", str(pdf), "-"],
                          capture_output=True, text=True, timeout=120, check=True)
    return [float(y_max) - float(y_min) for y_min, y_max in WORD.findall(done.stdout)]


def smallest_word(source: str, folder: Path) -> float:
    """Compile ``source`` and return its smallest word height (one pass: an unresolved
    reference prints as ?? at the size of the text, and sets no display differently)."""
    folder.mkdir(parents=True, exist_ok=True)
    code, log = compile_latex(source, folder)
    assert code == 0, log[-2000:]
    heights = word_heights(folder / "doc.pdf")
    assert heights, "pdftotext found no words"
    return min(heights)


def _catalogue():
    return [(entry.expression, shapes) for entry, shapes in distinct_expressions()]


CATALOGUE_CASES = _catalogue()
# a sample: the first, and the long products and sums whose closed forms are the widest
CATALOGUE_SAMPLE = [CATALOGUE_CASES[0]] + [c for c in CATALOGUE_CASES if c[0] in {
    "trace(B.T @ X.T @ C @ X @ X.T @ C @ X @ B)", "trace((A @ X @ B + C) @ (A @ X @ B + C).T)",
    "(x - A @ s).T @ (V + V.T) @ (x - A @ s)"}]


# ------------------------------------------------------------------ the measure itself

@pytest.mark.latex
def test_the_measure_sees_small_print(tmp_path):
    # a line shrunk to a third has words under 4.5 pt; the same line at its size has none
    body = r"Some text, $X_{11} W_{11}$."
    small = smallest_word("\\documentclass[11pt]{article}\\usepackage{graphicx}\\begin{document}\n"
                          "\\scalebox{0.33}{" + body + "}\n\\end{document}\n", tmp_path / "small")
    normal = smallest_word("\\documentclass[11pt]{article}\\begin{document}\n" + body + "\n\\end{document}\n",
                           tmp_path / "normal")
    assert small < LEGIBLE <= normal


# ------------------------------------------------------------------ compiled once a module

@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """``measured(kind, key)``: the smallest word height of a document, compiled once."""
    cache: dict = {}

    def measure(kind: str, key) -> float:
        if (kind, key) not in cache:
            if kind == "note":
                n, m, d = key
                source = render_forms(derive(n=n, m=m, d=d, max_work=10**9))[0]
            elif kind == "expression":
                expression, shapes = key
                source = render_forms(derive(expression, shapes=dict(shapes), max_work=10**9))[0]
            else:
                source = render_program_forms(derive_program((EXAMPLES / key[0]).read_text(encoding="utf-8"),
                                                             sizes=dict(key[1])))[0]
            cache[kind, key] = smallest_word(source, tmp_path_factory.mktemp(kind))
        return cache[kind, key]
    return measure


def _key(shapes: dict) -> tuple:
    return tuple(sorted(shapes.items()))


@pytest.mark.latex
@pytest.mark.parametrize("n, m, d", QUICK_NOTES, ids=str)
def test_the_note_is_legible(measured, n, m, d):
    assert measured("note", (n, m, d)) >= LEGIBLE


@pytest.mark.latex
@pytest.mark.parametrize("expression, shapes", [TANH, TRACE] + CATALOGUE_SAMPLE, ids=lambda v: str(v))
def test_expressions_are_legible(measured, expression, shapes):
    assert measured("expression", (expression, _key(shapes))) >= LEGIBLE


@pytest.mark.latex
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_example_programs_are_legible(measured, program):
    assert (EXAMPLES / program).exists()
    assert measured("program", (program, _key(PROGRAMS[program]))) >= LEGIBLE


def test_every_example_program_is_measured():
    # a new example program must be added here with the sizes of its header comment
    assert sorted(p.name for p in EXAMPLES.glob("*.prog")) == sorted(PROGRAMS)


# ------------------------------------------------------------------ the exhaustive sweep

@pytest.mark.thorough
@pytest.mark.latex
@pytest.mark.parametrize("n, m, d", [c for c in CUBES + LOPSIDED if c not in QUICK_NOTES], ids=str)
def test_the_note_is_legible_at_every_size(measured, n, m, d):
    assert measured("note", (n, m, d)) >= LEGIBLE


@pytest.mark.thorough
@pytest.mark.latex
@pytest.mark.parametrize("expression, shapes", [c for c in CATALOGUE_CASES if c not in CATALOGUE_SAMPLE],
                         ids=lambda v: str(v))
def test_every_catalogue_expression_is_legible(measured, expression, shapes):
    assert measured("expression", (expression, _key(shapes))) >= LEGIBLE


# ------------------------------------------------------------------ following the note at the sizes chosen

def test_an_elided_sum_shows_its_nonzero_terms():
    # at (12,3,11), df/dW_11 = sum_p G_p1 X_p1 (the definition of the product): twelve
    # nonzero terms among 132, in positions 0, 11, 22, ...; each of them is written by value
    text = derive(n=12, m=3, d=11).latex()
    chain = text[text.index(r"\settowidth{\symderivelhs}{$\displaystyle \frac{\partial f}{\partial W_{1,1}}"):]
    chain = chain[:chain.index(r"\end{align*}")]
    by_value = chain.split("&= ")[2]  # the note's sum, then by value (zeros and all), then without zeros
    assert r"\color{gray}" not in by_value  # the zeros are the ones elided
    for p in range(1, 13):
        assert f"G_{{{p},1}} X_{{{p},1}}" in by_value, p


def test_the_concrete_section_contracts_transposes_and_recognises_the_product():
    # the seed note, sections 3 and 4, at n=3, m=2, d=4: only p = i (q = j) survives,
    # W_jq is (W^T)_qj, and the sum is an entry of (df/dY) W^T (X^T df/dY)
    text = derive(n=3, m=2, d=4).latex()
    up = r"\frac{\partial f}{\partial \mathbf{Y}}"
    assert r"only the terms of the chain-rule sum with $p = 1$ survive" in text
    assert r"W_{1q} = {(\mathbf{W}^{\top})}_{q1}" in text
    assert r"{\left(%s \mathbf{W}^{\top}\right)}_{11}" % up in text
    assert r"only the terms of the chain-rule sum with $q = 1$ survive" in text
    assert r"X_{p1} = {(\mathbf{X}^{\top})}_{1p}" in text
    assert r"{\left(\mathbf{X}^{\top} %s\right)}_{11}" % up in text
