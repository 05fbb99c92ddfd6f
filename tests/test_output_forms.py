"""The forms symderive writes: standalone document, fragment, PDF, notebook maths,
and the notation a lecturer can choose."""

import io
import os
import stat
from pathlib import Path

import pytest

from symderive import derive
from symderive.cli import main
from symderive.errors import BadInput

from conftest import pdflatex_or_skip


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# --- the fragment -----------------------------------------------------------------


def test_the_fragment_is_the_document_body_without_preamble():
    r = derive(n=3, m=2, d=4)
    standalone, fragment = r.latex(), r.latex(fragment=True)
    assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
    assert r"\usepackage" not in fragment.replace("%   \\usepackage", "")  # only in the comment
    # the packages the body needs are listed in the comment at its top ...
    header = fragment.split(r"\section", 1)[0]
    for package in ("amsmath", "amssymb", "graphicx", "xcolor"):
        assert f"%   \\usepackage{{{package}}}" in header
        assert f"\\usepackage{{{package}}}" in standalone  # ... and loaded by the standalone preamble
    # the same body: everything from the first section on is identical
    body = standalone.split(r"\section", 1)[1].rsplit(r"\end{document}", 1)[0]
    assert fragment.split(r"\section", 1)[1] == body


def test_two_fragments_have_different_labels():
    # two derivations input into one set of notes must not define the same label
    a = derive("tanh(X @ W) @ V").latex(fragment=True)
    b = derive("sigmoid(X @ W) @ V").latex(fragment=True)
    labels = lambda text: {line.split(r"\label{")[1].split("}")[0] for line in text.splitlines() if r"\label{" in line}
    assert labels(a) and labels(b) and not labels(a) & labels(b)


# --- notation -----------------------------------------------------------------------


def test_the_default_notation_is_the_notes():
    source = derive(n=2, m=2, d=2).latex()
    assert r"\frac{\partial f}{\partial \mathbf{X}} = \frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^{\top}" in source
    assert r"\mathbf{X}^{\top} \frac{\partial f}{\partial \mathbf{Y}}" in source
    # entries in products in the note's order: Y_pq = sum_r X_pr W_rq, and G_iq W_jq in the chain rule
    assert r"X_{11} W_{11} + X_{12} W_{21}" in source and "W_{11} X_{11}" not in source
    assert r"G_{11} W_{11} + G_{12} W_{12}" in source


def test_the_short_upstream_name_is_introduced_and_used():
    source = derive(n=2, m=2, d=2).latex(upstream="short")
    assert r"\frac{\partial f}{\partial \mathbf{X}} = \mathbf{G} \mathbf{W}^{\top}" in source
    assert r"\mathbf{X}^{\top} \mathbf{G}" in source
    assert r"written $\mathbf{G} = \partial f / \partial \mathbf{Y}$" in source


def test_plain_names_drop_the_bold():
    source = derive(n=2, m=2, d=2).latex(bold=False)
    assert r"\mathbf{" not in source.replace(r"\mathbf{1}", "")
    assert r"\frac{\partial f}{\partial X} = \frac{\partial f}{\partial Y} W^{\top}" in source


def test_a_users_title_is_text_not_latex():
    title = r"Week 3: 100% of X_1 & {Y} \relax #1 ~^$"
    source = derive(n=1, m=1, d=1).latex(title=title)
    assert r"\title{Week 3: 100\% of X\_1 \& \{Y\} \textbackslash{}relax \#1 \textasciitilde{}\textasciicircum{}\$}" \
        in source.replace("\n", "")


@pytest.mark.parametrize("options", [{"upstream": "dfdY"}, {"bold": "yes"}, {"title": 3},
                                     {"title": "Gradient \u2202f/\u2202X"}, {"title": "\U0001F600"}])
def test_bad_notation_is_refused(options):
    with pytest.raises(BadInput):
        derive(n=1, m=1, d=1).latex(**options)


@pytest.mark.latex
def test_every_title_character_allowed_compiles(tmp_path):
    # every character a title may hold, all at once, through pdflatex
    from conftest import compile_latex
    from symderive.render import _typesettable

    allowed = "".join(chr(c) for c in range(32, 0x300) if _typesettable(chr(c)))
    assert "é" in allowed and "ß" in allowed and "ł" in allowed and "%" in allowed
    code, log = compile_latex(derive(n=1, m=1, d=1).latex(title=allowed), tmp_path)
    assert code == 0, [line for line in log.splitlines() if line.startswith("!")]


def test_notation_flags_on_the_command_line(tmp_path):
    code, _, _ = run("--out", str(tmp_path), "--upstream-notation", "short", "--plain-names",
                     "--title", "Backprop through a linear layer")
    assert code == 0
    for name in ("XW_X3x2_W2x4.tex", "XW_X3x2_W2x4_fragment.tex"):
        text = (tmp_path / name).read_text()
        assert r"G W^{\top}" in text and r"\mathbf{X}" not in text
    assert r"\title{Backprop through a linear layer" in (tmp_path / "XW_X3x2_W2x4.tex").read_text()
    code, _, err = run("--out", str(tmp_path), "--upstream-notation", "dfdY")
    assert code == 2 and "invalid choice" in err


# --- notebooks ----------------------------------------------------------------------


def test_a_notebook_shows_the_closed_forms_as_maths():
    shown = derive(n=3, m=2, d=4)._repr_latex_()
    assert shown.startswith("$$") and shown.rstrip().endswith("$$")  # Jupyter renders it with MathJax
    assert r"\frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^{\top}" in shown
    assert r"\text{verified exactly}" in shown and "proven for all sizes" in shown
    assert r"\documentclass" not in shown and r"\section" not in shown
    # a composite expression is checked at these sizes only, and says so
    assert r"\text{ only}" in derive("tanh(X @ W)")._repr_latex_()


def test_a_notebook_shows_a_check_as_maths():
    from symderive import check

    shown = check("X @ W", "X", "G @ W.T", n=3, m=2, d=4)._repr_latex_()
    assert shown.startswith("$$") and r"\mathbf{Y} &= \mathbf{X} \mathbf{W}" in shown
    assert r"&= \frac{\partial f}{\partial \mathbf{Y}} \mathbf{W}^{\top}" in shown and "proven for all sizes" in shown
    wrong = check("trace(X @ A)", "X", "A", shapes={"X": (2, 2)})._repr_latex_()
    assert r"f &= \operatorname{tr}" in wrong and r"\neq \mathbf{A}" in wrong and "entry" in wrong


# --- --pdf --------------------------------------------------------------------------


@pytest.mark.latex
def test_pdf_is_written_beside_the_tex(tmp_path):
    pdflatex_or_skip()
    code, out, err = run("--n", "2", "--m", "2", "--d", "2", "--out", str(tmp_path), "--pdf")
    assert code == 0, err
    pdf = tmp_path / "XW_X2x2_W2x2.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and str(pdf) in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "XW_X2x2_W2x2.pdf", "XW_X2x2_W2x2.tex", "XW_X2x2_W2x2_fragment.tex"]  # no log, aux, temporaries


@pytest.mark.latex
def test_pdf_with_pdflatex_alone(tmp_path, monkeypatch):
    # no latexmk on the PATH: pdflatex itself, run twice for the cross-references
    engine = pdflatex_or_skip()
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "pdflatex").symlink_to(engine)
    monkeypatch.setenv("PATH", str(folder))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, _, err = run("derive", "tanh(X @ W1) @ W2", "--out", str(out_dir), "--pdf")  # has a \ref
    assert code == 0, err
    pdf = next(out_dir.glob("*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")


def _fake_path(tmp_path: Path, engines: dict[str, str]) -> str:
    """A PATH holding only the given fake executables (name -> shell script body)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in engines.items():
        script = folder / name
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(folder)


def test_pdf_without_a_latex_engine_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _fake_path(tmp_path, {}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, _, err = run("--out", str(out_dir), "--pdf")
    assert code == 2
    assert "no LaTeX engine" in err and "apt-get install texlive-latex-base" in err
    assert len(err.strip().splitlines()) == 1
    assert list(out_dir.iterdir()) == []  # found out before any work: nothing written


def test_a_failing_latex_engine_keeps_the_tex_and_writes_no_pdf(tmp_path, monkeypatch):
    # a pdflatex that writes a log with an error and fails, as a broken installation would
    monkeypatch.setenv("PATH", _fake_path(tmp_path, {
        "pdflatex": 'for last; do :; done; echo "! LaTeX Error: File amsmath.sty not found." '
                    '> "${last%.tex}.log"; exit 1'}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    old_pdf = out_dir / "XW_X3x2_W2x4.pdf"
    old_pdf.write_bytes(b"%PDF old")
    code, _, err = run("--out", str(out_dir), "--pdf")
    assert code == 2
    assert "pdflatex failed" in err and "amsmath.sty not found" in err and "no PDF" in err
    assert (out_dir / "XW_X3x2_W2x4.tex").is_file() and (out_dir / "XW_X3x2_W2x4_fragment.tex").is_file()
    assert old_pdf.read_bytes() == b"%PDF old"  # the old PDF is kept, not half-replaced
    # the engine's log is kept beside the .tex, for the whole story
    assert "XW_X3x2_W2x4.log" in err and "amsmath.sty" in (out_dir / "XW_X3x2_W2x4.log").read_text()
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "XW_X3x2_W2x4.log", "XW_X3x2_W2x4.pdf", "XW_X3x2_W2x4.tex", "XW_X3x2_W2x4_fragment.tex"]


def test_pdf_never_enables_shell_escape(tmp_path, monkeypatch):
    # record the arguments the engine is given
    record = tmp_path / "args"
    monkeypatch.setenv("PATH", _fake_path(tmp_path, {"pdflatex": f'echo "$@" >> {record}; exit 1'}) + os.pathsep
                       + "/usr/bin/nonexistent")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run("--out", str(out_dir), "--pdf")
    args = record.read_text()
    assert "-no-shell-escape" in args and "-shell-escape" not in args.replace("-no-shell-escape", "")
