"""Lecture notes in LaTeX and Markdown read into derivations (symderive/latex_notes.py), issue #14.

The notes below are sections 3 and 4 of "Chain Rule on Matrix Multiplication"
(M. Samir, 2021) typed as a lecturer would.  The expected verdicts and lines
are worked out by hand: the chains are correct (Y = X W), so every step is
proven for all sizes; each planted mistake is false at the line it is on."""

import pytest

from symderive.latex_notes import MAX_TEXT_LENGTH, read_notes
from symderive.notes import READING, REFUSAL, SKIPPED, SLIP, check_notes
from symderive.parse import ParseError
from symderive.prove import FALSE

PREAMBLE = r"""\documentclass{article}
\begin{document}
\section{Defining the Problem}
Let $\mathbf{X} \in \mathbb{R}^{n \times m}$, $\mathbf{W} \in \mathbb{R}^{m \times d}$, and
$\mathbf{Y} \in \mathbb{R}^{n \times d}$ such that:
$$\mathbf{Y} = \mathbf{X}\mathbf{W}$$
Moreover, let $f : \mathbb{R}^{n \times d} \rightarrow \mathbb{R}$ be a real-valued function
of $\mathbf{Y}$, $f = f(\mathbf{Y})$.
"""  # 8 lines

SECTION3 = r"""\section{Calculating $\frac{\partial f}{\partial \mathbf{X}}$}
We start simple by calculating $\frac{\partial f}{\partial X_{ij}}$, since
$$f = f(Y_{11}(X_{ij}), Y_{12}(X_{ij}), \dots, Y_{pq}(X_{ij}))$$
By applying the multivariable chain rule on $f$, we get:
$$\frac{\partial f}{\partial X_{ij}} = \sum_{p=1}^n \sum_{q=1}^d \frac{\partial f}{\partial Y_{pq}} \frac{\partial Y_{pq}}{\partial X_{ij}}$$
We can use the definition of matrix multiplication in order to calculate $\frac{\partial Y_{pq}}{\partial X_{ij}}$:
$$\frac{\partial Y_{pq}}{\partial X_{ij}} = \sum_{r=1}^m \frac{\partial}{\partial X_{ij}} (X_{pr} W_{rq}) = \begin{cases} W_{jq}, & p = i, r = j \\ 0 & \text{otherwise} \end{cases}$$
By substituting the derivative back into the chain rule expression we get:
$$\frac{\partial f}{\partial X_{ij}} = \sum_{p \neq i} \sum_{q=1}^d \frac{\partial f}{\partial Y_{pq}} \times 0 + \sum_{q=1}^d \frac{\partial f}{\partial Y_{iq}} W_{jq} = \sum_{q=1}^d \frac{\partial f}{\partial Y_{iq}} W_{jq}$$
Note that $W_{jq} = W_{qj}^\top$, hence:
$$\frac{\partial f}{\partial X_{ij}} = \sum_{q=1}^d \frac{\partial f}{\partial Y_{iq}} W_{qj}^\top$$
By comparing the equation above with the definition of matrix multiplication, we can easily conclude that:
$$\frac{\partial f}{\partial \mathbf{X}} = \frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^\top$$
"""  # lines 9..22: chain at 13, 17, 19, conclusion 21; dY/dX at 15

SECTION4 = r"""\section{Calculating $\frac{\partial f}{\partial \mathbf{W}}$}
By an argument similar to what we did in the last section, we can write:
\begin{align*}
\frac{\partial f}{\partial W_{ij}} &= \sum_{p=1}^n \sum_{q=1}^d \frac{\partial f}{\partial Y_{pq}} \frac{\partial Y_{pq}}{\partial W_{ij}} \label{eq:chain}
\end{align*}
From the definition of matrix multiplication, we get that:
\[ \frac{\partial Y_{pq}}{\partial W_{ij}} = \sum_{r=1}^m \frac{\partial}{\partial W_{ij}} \left( X_{pr} W_{rq} \right) = \begin{cases} X_{pi}, & r = i, q = j \\ 0 & \text{otherwise} \end{cases} \]
Substituting that into the chain rule expression gives us:
\begin{equation}
\begin{aligned}
\frac{\partial f}{\partial W_{ij}} &= \sum_{p=i}^n \sum_{q \neq j} \frac{\partial f}{\partial Y_{pq}} \times 0 + \sum_{p=1}^n \frac{\partial f}{\partial Y_{pj}} X_{pi} \nonumber \\
&= \sum_{p=1}^n \frac{\partial f}{\partial Y_{pj}} X_{pi}
\end{aligned}
\end{equation}
Noticing that $X_{pi} = X_{ip}^\top$ yields:
$$\frac{\partial f}{\partial W_{ij}} = \sum_{p=1}^n X_{ip}^\top \frac{\partial f}{\partial Y_{pj}}$$
Which defines the individual elements of the matrix multiplication:
$$\frac{\partial f}{\partial \mathbf{W}} = \mathbf{X}^\top \frac{\partial f}{\partial \mathbf{Y}}$$
\end{document}
"""  # lines 22..40: chain at 25, 32, 33, 37, conclusion 39; dY/dW at 28

NOTE = PREAMBLE + SECTION3 + SECTION4


def line_of(text: str, fragment: str) -> int:
    """The line (from 1) where ``fragment`` first occurs: the tests name lines by their text."""
    return text[:text.index(fragment)].count("\n") + 1


def derivation_about(document, latex: str):
    found = [d for d in document.derivations if d.derivation.steps[0].text == latex]
    assert len(found) == 1, [d.derivation.steps[0].text for d in document.derivations]
    return found[0]


def verdicts(report_of_one):
    return [v.verdict for v in report_of_one.report.steps]


def test_sections_3_and_4_are_proven_for_all_sizes_conclusions_included():
    document = read_notes(NOTE, "note.tex")
    report = check_notes(document)
    assert report.proven, [(c.report.error, [v.verdict for v in c.report.steps]) for c in report.derivations]
    assert not report.refusals
    # two chains about f, two about the entries of Y, nothing else
    assert len(document.derivations) == 4
    df_dx = derivation_about(document, r"\frac{\partial f}{\partial X_{ij}}")
    # d f/d X_ij, the chain-rule sum, the p != i line's two sides, the W^T line, the conclusion
    assert [s.line for s in df_dx.derivation.steps] == [13, 13, 17, 17, 19, 21]
    assert df_dx.conclusions == {5}
    assert df_dx.columns[0] == 3  # after the $$
    df_dw = derivation_about(document, r"\frac{\partial f}{\partial W_{ij}}")
    assert [s.line for s in df_dw.derivation.steps] == [25, 25, 32, 33, 37, 39]
    assert df_dw.conclusions == {5}
    assert df_dw.derivation.declarations.ranges == {"i": (1, "m"), "j": (1, "d")}
    assert df_dw.derivation.declarations.upstream[1] == "Y"
    dy_dx = derivation_about(document, r"\frac{\partial Y_{pq}}{\partial X_{ij}}")
    assert len(dy_dx.derivation.steps) == 3 and {s.line for s in dy_dx.derivation.steps} == {15}


def test_readings_and_the_slip_are_said_at_their_lines():
    document = read_notes(NOTE, "note.tex")
    slips = [r for r in document.remarks if r.kind == SLIP]
    assert [r.line for r in slips] == [32]
    assert "p = i..n" in slips[0].text and "p = 1..n" in slips[0].text and "0" in slips[0].text
    readings = [r for r in document.remarks if r.kind == READING]
    # the cases' r = j names the index of the sum before it, on lines 15 and 29
    assert {r.line for r in readings if "sum over r = 1..m" in r.text} == {15, 28}
    assert any(r.line == 13 and r.text.startswith("i ranges over 1..n") for r in readings)
    # the picture f = f(Y_11(X_ij), ...) is not a derivation, and is said to be skipped
    assert any(r.kind == SKIPPED and r.line == 11 for r in document.remarks)
    assert document.skipped["sections"] == 3 and document.skipped["displays"] == 1


def test_the_note_as_written_is_refused_naming_the_shapes():
    as_written = NOTE.replace(r"$$\mathbf{Y} = \mathbf{X}\mathbf{W}$$", r"$$\mathbf{Y} = \mathbf{W}\mathbf{X}$$")
    document = read_notes(as_written, "note.tex")
    report = check_notes(document)
    refusals = report.refusals
    assert len(refusals) == 1 and refusals[0].line == 6
    assert refusals[0].text.startswith("W X does not conform: W is m x d and X is n x m")
    assert not report.proven and report.unreadable
    assert document.derivations == []  # nothing about Y is checked as if it were defined


def planted(old: str, new: str) -> str:
    assert NOTE.count(old) == 1, old
    return NOTE.replace(old, new)


@pytest.mark.parametrize("old, new, about, line", [
    # an index swap: W_{qj} for W_{jq}
    (r"\frac{\partial f}{\partial Y_{iq}} W_{jq} = \sum", r"\frac{\partial f}{\partial Y_{iq}} W_{qj} = \sum",
     r"\frac{\partial f}{\partial X_{ij}}", 17),
    # a dropped transpose: X_{ip} for X_{ip}^\top
    (r"X_{ip}^\top \frac", r"X_{ip} \frac", r"\frac{\partial f}{\partial W_{ij}}", 37),
    # a wrong sum range: q up to n instead of d
    (r"= \sum_{q=1}^d \frac{\partial f}{\partial Y_{iq}} W_{qj}^\top",
     r"= \sum_{q=1}^{n} \frac{\partial f}{\partial Y_{iq}} W_{qj}^\top", r"\frac{\partial f}{\partial X_{ij}}", 19),
    # a sign error
    (r"&= \sum_{p=1}^n \frac{\partial f}{\partial Y_{pj}} X_{pi}", r"&= -\sum_{p=1}^n \frac{\partial f}{\partial Y_{pj}} X_{pi}",
     r"\frac{\partial f}{\partial W_{ij}}", 33),
])
def test_planted_mistakes_are_false_at_their_line(old, new, about, line):
    text = planted(old, new)
    document = read_notes(text, "note.tex")
    report = check_notes(document)
    assert not report.proven
    checked = next(c for c in report.derivations if c.note.derivation.steps[0].text == about)
    falses = [v for v in checked.report.steps if v.verdict == FALSE]
    assert falses, verdicts(checked)
    first = falses[0]
    assert checked.note.derivation.steps[first.number].line == line
    # the others chain, untouched, are still proven
    assert all(c.proven for c in report.derivations if c is not checked)


def test_markdown_notes():
    markdown = (
        "# Section 3\n"
        "Let $\\mathbf{X} \\in \\mathbb{R}^{n \\times m}$ and $\\mathbf{W} \\in \\mathbb{R}^{m \\times d}$, "
        "$\\mathbf{Y} = \\mathbf{XW}$, and $f = f(\\mathbf{Y})$ (it costs \\$5).\n"
        "```\n$$ not maths: code $$\n```\n"
        "$$\n\\frac{\\partial f}{\\partial X_{ij}} = \\sum_{q=1}^d \\frac{\\partial f}{\\partial Y_{iq}} W_{jq}\n$$\n"
        "hence\n"
        "$$\\frac{\\partial f}{\\partial \\mathbf{X}} = \\frac{\\partial f}{\\partial \\mathbf{Y}} \\mathbf{W}^\\top$$\n")
    document = read_notes(markdown, "note.md", kind="md")
    report = check_notes(document)
    assert report.proven
    (note,) = document.derivations
    assert [s.line for s in note.derivation.steps] == [7, 7, 10]
    assert note.conclusions == {2}


def test_a_lone_matrix_form_claim_is_checked_at_one_entry_and_a_false_one_is_found():
    text = (r"Let $\mathbf{X} \in \mathbb{R}^{n \times m}$, $\mathbf{W} \in \mathbb{R}^{m \times d}$, "
            r"$\mathbf{Y} = \mathbf{X} \mathbf{W}$, $f = f(\mathbf{Y})$." "\n"
            r"\[ \frac{\partial f}{\partial \mathbf{W}} = \mathbf{X}^\top \frac{\partial f}{\partial \mathbf{Y}} \]" "\n")
    document = read_notes(text, "claim.tex")
    assert check_notes(document).proven
    wrong = text.replace(r"\mathbf{X}^\top \frac{\partial f}{\partial \mathbf{Y}}",
                         r"\mathbf{X}^\top \mathbf{X} \mathbf{W}")  # conforms (m x d), but is not the gradient
    report = check_notes(read_notes(wrong, "claim.tex"))
    assert report.first_false is not None


def test_a_nonconforming_conclusion_is_refused_naming_the_shapes():
    text = planted(r"\frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^\top$$", r"\frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}$$")
    document = read_notes(text, "note.tex")
    (refusal,) = [r for r in document.remarks if r.kind == REFUSAL]
    assert refusal.line == 21 and "G W does not conform: G is n x d and W is m x d" in refusal.text


def test_input_is_not_followed():
    document = read_notes(r"\input{/etc/passwd} \include{other}" "\n", "x.tex")
    assert document.derivations == []
    assert [r.kind for r in document.remarks] == [SKIPPED, SKIPPED]
    assert "not followed" in document.remarks[0].text


@pytest.mark.parametrize("text, kind, line", [
    ("a\n" + "{" * 500 + "}" * 500, "tex", 2),
    ("ok\n$$ x = y", "md", 2),
    ("ok\n\n$$ x", "tex", 3),
    ("a\x00b", "tex", 1),
    ("x" * (MAX_TEXT_LENGTH + 1), "tex", 1),
    ("\\begin{align} a &= b\n", "tex", 1),
])
def test_hostile_notes_are_refused_with_a_line_and_column(text, kind, line):
    with pytest.raises(ParseError) as caught:
        read_notes(text, "bad", kind=kind)
    assert caught.value.line >= line and caught.value.column >= 1


def test_unreadable_maths_inside_a_display_is_skipped_not_a_crash():
    document = read_notes("$$\\frac{\\partial f}{\\partial X_{ij}} = \\undefinedmacro{1}$$\n"
                          "$$ " + "(" * 60 + "X" + ")" * 60 + " $$\n", "x.tex")
    assert document.derivations == []
    assert [r.kind for r in document.remarks] == [SKIPPED, SKIPPED]


def test_stated_ranges_inline_conclusions_and_a_signature_alone():
    text = (r"Let $\mathbf{X} \in \mathbb{R}^{n \times m}$, $\mathbf{W} \in \mathbb{R}^{m \times d}$, "
            r"$\mathbf{Y} = \mathbf{X} \mathbf{W}$ and $f : \mathbb{R}^{n \times d} \rightarrow \mathbb{R}$, "
            r"for $1 \le i \le n$, $1 \le j \le m$:" "\n"
            r"\[ \frac{\partial f}{\partial X_{ij}} = \sum_{q=1}^{d} \frac{\partial f}{\partial Y_{iq}} W_{jq} \]" "\n"
            r"hence $\frac{\partial f}{\partial \mathbf{X}} = \frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^\top$." "\n")
    document = read_notes(text, "x.tex")
    (note,) = document.derivations
    assert note.derivation.declarations.ranges == {"i": (1, "n"), "j": (1, "m")}
    assert note.derivation.declarations.upstream[1] == "Y"
    assert note.conclusions == {2} and note.derivation.steps[2].line == 3
    readings = [r.text for r in document.remarks if r.kind == READING]
    assert readings == ["f is read as a function of Y, the only matrix of shape n x d"]  # ranges were stated
    assert check_notes(document).proven


def test_deeply_nested_sums_are_skipped_with_a_remark():
    document = read_notes("$$" + r"\sum_p " * 1500 + "X_{ij} = 1$$", "deep.tex")
    assert document.derivations == [] and "nested" in document.remarks[0].text


def test_the_prose_before_a_display_is_the_rule_of_its_first_step():
    document = read_notes(NOTE, "note.tex")
    df_dx = derivation_about(document, r"\frac{\partial f}{\partial X_{ij}}")
    rules = [s.rule for s in df_dx.derivation.steps]
    assert rules[0] == "" and rules[1] == "By applying the multivariable chain rule on $f$, we get"
    assert rules[3] == ""  # the second side of the same display: no prose of its own
    assert rules[4] == r"Note that $W_{jq} = W_{qj}^\top$, hence"
    df_dw = derivation_about(document, r"\frac{\partial f}{\partial W_{ij}}")
    assert df_dw.derivation.steps[1].rule.startswith("By an argument similar")  # not the section title
