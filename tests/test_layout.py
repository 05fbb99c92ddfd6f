"""Nothing runs off the page, and chktex has nothing to say, at every size.

Each document is compiled with pdflatex in its standalone form, and its
fragment is compiled inside a minimal host document that loads only the
packages the fragment's header lists.  A test fails on any error, any Overfull
box (too wide or too tall), any undefined or multiply defined reference, and
any chktex warning.

Each is compiled a second time when the first pass asks for it, as latexmk
does: when its log says labels may have changed or references are undefined
(every document with a \\label says so on its first pass), the second pass
resolves them and its log is the one checked.  A document whose first pass
asks for nothing has no cross-references, and a second pass would set the
same pages again.  The standalone document and the fragment are rendered
together by ``render_forms``, as the command line does, from one pass over
the derivation (``test_the_forms_checked_are_the_documents``).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from symderive import derive
from symderive.render import render_forms

from catalogue import distinct_expressions
from conftest import pdflatex_or_skip, tool_or_skip

# The seed note's product at every size from (1,1,1) to (64,64,64), and lopsided shapes.
CUBES = [(k, k, k) for k in range(1, 65)]
# The default suite sets the note at every size where the layout changes character (1 to
# 12: each dimension's entries are shown in full; 16, 32, 64: slices, elided sums, the
# largest), and the thorough profile (python3 -m pytest -m thorough) at all 64.
QUICK_CUBES = [(k, k, k) for k in (*range(1, 13), 16, 32, 64)]
LOPSIDED = [(1, 64, 1), (64, 1, 64), (2, 3, 12), (11, 2, 3), (12, 3, 11), (1, 1, 64), (64, 64, 1)]

EXTRA = [
    ("tanh(X @ W + b)", {"X": (3, 2), "W": (2, 4), "b": (1, 4)}),
    ("sigmoid(X @ W1) @ W2", {}),
    ("sum(exp(X @ W))", {}),
    ("trace(inv(A) @ B)", {}),
    ("a_long_name_matrix @ another_long_name", {}),
    ("X_1 @ W_2", {}),
]


def _catalogue_cases():
    return [pytest.param(entry.expression, shapes, id=f"eq{entry.equation}:{entry.expression}")
            for entry, shapes in distinct_expressions()]


def chktex_or_skip() -> str:
    return tool_or_skip("chktex", "chktex")


# What pdflatex writes at the end of a pass whose cross-references are not settled yet.
RERUN = re.compile(r"Label\(s\) may have changed|Rerun to get|There were undefined references")


def _compile(folder: Path, name: str) -> str:
    """Compile ``name.tex``, a second time when the first pass asks for it; the last pass's log."""
    engine = pdflatex_or_skip()
    for _ in range(2):
        done = subprocess.run([engine, "-no-shell-escape", "-halt-on-error", "-interaction=nonstopmode",
                               f"{name}.tex"], cwd=folder, capture_output=True, timeout=300)
        log = (folder / f"{name}.log").read_text(encoding="latin-1")
        if done.returncode != 0 or not RERUN.search(log):
            break
    assert done.returncode == 0, "\n".join(line for line in log.splitlines() if line.startswith("!")) or log[-3000:]
    return log


def layout_problems(log: str) -> list[str]:
    """Every line of a pdflatex log that says something is off the page or unresolved."""
    lines = log.splitlines()
    found = []
    for k, line in enumerate(lines):
        if re.match(r"(Overfull|Underfull) \\[hv]box", line) and line.startswith("Overfull"):
            found.append(" ".join(lines[k:k + 3]))
        elif "multiply defined" in line or "There were undefined references" in line \
                or re.search(r"Reference .* undefined", line):
            found.append(line)
    return found


def chktex_warnings(folder: Path, name: str) -> list[str]:
    done = subprocess.run([chktex_or_skip(), "-q", "-v0", f"{name}.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    return [line for line in done.stdout.splitlines() if line.strip()]


def check_both_forms(derivation, folder: Path) -> None:
    standalone, fragment = render_forms(derivation)
    (folder / "doc.tex").write_text(standalone, encoding="utf-8")
    (folder / "part.tex").write_text(fragment, encoding="utf-8")
    packages = re.findall(r"^%   (\\usepackage\{[a-z]+\})$", fragment, flags=re.M)
    host = "\n".join([r"\documentclass{article}", *packages, r"\begin{document}",
                      r"Some notes of the lecturer's own.", r"\input{part}", r"\end{document}", ""])
    (folder / "host.tex").write_text(host, encoding="utf-8")
    problems = {
        "standalone": layout_problems(_compile(folder, "doc")),
        "fragment in a host": layout_problems(_compile(folder, "host")),
        "chktex standalone": chktex_warnings(folder, "doc"),
        "chktex fragment": chktex_warnings(folder, "part"),
    }
    assert not any(problems.values()), {k: v[:5] for k, v in problems.items() if v}


@pytest.mark.latex
@pytest.mark.parametrize("n, m, d", [
    pytest.param(*size, id=str(size), marks=() if size in QUICK_CUBES else pytest.mark.thorough)
    for size in CUBES] + [pytest.param(*size, id=str(size)) for size in LOPSIDED])
def test_the_note_fits_the_page(tmp_path, n, m, d):
    check_both_forms(derive(n=n, m=m, d=d, max_work=10**9), tmp_path)


@pytest.mark.latex
@pytest.mark.parametrize("expression, shapes", _catalogue_cases() + [
    pytest.param(e, s, id=e) for e, s in EXTRA])
def test_every_catalogue_expression_fits_the_page(tmp_path, expression, shapes):
    check_both_forms(derive(expression, shapes=shapes, max_work=10**9), tmp_path)


@pytest.mark.latex
def test_notation_options_fit_the_page(tmp_path):
    derivation = derive("tanh(X @ W + b)", shapes={"X": (3, 2), "W": (2, 4), "b": (1, 4)})
    for k, options in enumerate([{"upstream": "short"}, {"bold": False},
                                 {"title": "Week 3 & a long title about backpropagation, 100% checked"}]):
        folder = tmp_path / str(k)
        folder.mkdir()
        standalone = derivation.latex(**options)
        (folder / "doc.tex").write_text(standalone, encoding="utf-8")
        assert not layout_problems(_compile(folder, "doc")), options
        assert not chktex_warnings(folder, "doc"), options


def test_the_checks_can_fail(tmp_path):
    # the detectors themselves: an overfull line and a chktex warning are seen
    log = "Overfull \\hbox (12.0pt too wide) in paragraph at lines 3--4\n[]\\OT1/cmr/m/n/10 x\n"
    assert layout_problems(log)
    (tmp_path / "bad.tex").write_text("\\documentclass{article}\\begin{document}\nSee figure \\ref{x}.\n"
                                      "\\end{document}\n")
    assert chktex_warnings(tmp_path, "bad")


@pytest.mark.latex
def test_a_document_with_a_reference_is_compiled_until_it_resolves(tmp_path):
    # a forward reference: the first pass asks for a second, whose log is the one checked
    (tmp_path / "ref.tex").write_text("\\documentclass{article}\\begin{document}\n"
                                      "See Section~\\ref{s}.\n\\section{S}\\label{s}\n\\end{document}\n")
    assert not layout_problems(_compile(tmp_path, "ref"))
    # a reference to no label stays undefined, and is seen
    (tmp_path / "dangling.tex").write_text("\\documentclass{article}\\begin{document}\n"
                                           "See Section~\\ref{nowhere}.\n\\end{document}\n")
    assert layout_problems(_compile(tmp_path, "dangling"))
    # a label defined twice is seen too
    (tmp_path / "twice.tex").write_text("\\documentclass{article}\\begin{document}\n"
                                        "\\section{A}\\label{s}\\section{B}\\label{s}\n\\end{document}\n")
    assert layout_problems(_compile(tmp_path, "twice"))


def test_the_forms_checked_are_the_documents():
    # check_both_forms renders through render_forms (one pass over the data, as the command
    # line does); it gives the same bytes as Derivation.latex() in both forms
    for derivation in (derive(n=3, m=2, d=4), derive("tanh(X @ W1) @ W2")):
        assert render_forms(derivation) == (derivation.latex(), derivation.latex(fragment=True))
