"""Every row of README.md's table of bad input: the exit status, one clear
error on stderr and no traceback, nothing written, nothing outside the output
folder touched."""

import io
import os
import re

import pytest

from symderive import cli, pipeline
from symderive.cli import main
from symderive.parse import ParseError

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def run(argv, cwd):
    out, err = io.StringIO(), io.StringIO()
    before = sorted(os.listdir(cwd))
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue(), before


ROWS = [
    # (what, argv, exit status, words in the error)
    ("size zero", ["--n", "0"], 2, "--n"),
    ("negative size", ["--m", "-3"], 2, "--m"),
    ("non-integer size", ["--d", "2.5"], 2, "--d"),
    ("non-numeric size", ["--n", "two"], 2, "--n"),
    ("absurdly many digits", ["--n", "9" * 5000], 2, "absurdly large"),
    ("absurdly large size", ["--n", "5000", "--m", "5000", "--d", "5000"], 2, "units of work"),
    ("absurdly large size, no estimate", ["derive", "tanh(X @ W)", "--shape", "X=5000x5000",
                                          "--shape", "W=5000x5000"], 2, "needs at least"),
    ("time limit zero", ["--time-limit", "0"], 2, "--time-limit"),
    ("time limit negative", ["--time-limit", "-1"], 2, "--time-limit"),
    ("time limit not a number", ["--time-limit", "abc"], 2, "--time-limit"),
    ("a run that does not end", ["derive", "sum((tanh(X @ A) @ B - T) ** 2)", "--time-limit", "1"], 3,
     "time limit of 1 s reached while"),
    ("unknown flag", ["--frobnicate"], 2, "unrecognized"),
    ("unparsable expression", ["derive", "X @ + "], 2, "line 1, column"),
    ("__import__", ["derive", "__import__('os').system('true')"], 2, "line 1"),
    ("dunder attribute", ["derive", "X.__class__"], 2, "line 1"),
    ("lambda", ["derive", "lambda: 0"], 2, "line 1"),
    ("subscript", ["derive", "X[0]"], 2, "line 1"),
    ("f-string", ["derive", 'f"{X}"'], 2, "line 1"),
    ("very long input", ["derive", "X + " * 5000 + "X"], 2, "line 1"),
    ("deeply nested input", ["derive", "(" * 1000 + "X" + ")" * 1000], 2, "nested"),
    ("longer than the limit", ["derive", "(" * 10000 + "X" + ")" * 10000], 2, "longer than"),
    ("unknown name in a claim", ["check", "X @ W", "--wrt", "X", "--claim", "G @ Q.T"], 2, "not in the expression"),
    ("non-conforming shapes", ["derive", "W @ X", "--shape", "X=3x2", "--shape", "W=2x4"], 2, "does not conform"),
    ("claim of the wrong shape", ["check", "X @ W", "--wrt", "X", "--claim", "W.T",
                                  "--n", "3", "--m", "2", "--d", "4"], 1, None),
    ("wrong claim", ["check", "trace(X @ A)", "--wrt", "X", "--claim", "A"], 1, None),
    ("claim the exact check cannot decide", ["check", "sum(sqrt(X * X))", "--wrt", "X", "--claim", "ones(3, 2)",
                                             "--shape", "X=3x2"], 3, None),
    ("LaTeX special character in a name", ["derive", "X$ @ W"], 2, "line 1, column 2"),
    ("percent in a name", ["derive", "X% @ W"], 2, "line 1, column 2"),
    ("backslash in a name", ["derive", "X\\W"], 2, "line 1, column 2"),
    ("undefined everywhere", ["derive", "log(X - X)"], 2, "undefined"),
    ("singular inverse", ["derive", "inv(X - X)", "--shape", "X=2x2"], 2, "no inverse"),
    ("shape for a missing matrix", ["derive", "X @ W", "--shape", "Q=2x2"], 2, "no matrix 'Q'"),
    ("upstream name that is no name", ["derive", "X @ W", "--upstream", "X$"], 2,
     "--upstream: 'X$' is not a name"),
    ("size for no matrix", ["derive", "A @ B", "--n", "5"], 2, "--n sets the rows of X, and A @ B has no matrix X"),
    ("size against a shape", ["derive", "X @ W", "--shape", "X=3x2", "--n", "5"], 2,
     "--n 5 disagrees with --shape X=3x2"),
    ("title pdflatex cannot typeset", ["--title", "\u2202f/\u2202X"], 2, "U+2202"),
    ("unknown notation", ["--upstream-notation", "dfdY"], 2, "invalid choice"),
    ("derivation file missing", ["prove", "no-such-file.sd"], 2, "no-such-file.sd"),
    ("derivation file with a syntax error", ["prove", os.path.join(EXAMPLES, "..", "README.md")], 2, "line"),
]


@pytest.mark.parametrize("what, argv, status, words", ROWS, ids=[row[0] for row in ROWS])
def test_bad_input(tmp_path, monkeypatch, what, argv, status, words):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    writes_document = argv[0] not in ("check", "prove")
    code, out, err, before = run(argv + (["--out", str(out_dir)] if writes_document else []), tmp_path)
    assert code == status
    assert "Traceback" not in err
    if status == 2:
        assert out == "" and err.startswith("symderive: error: ") and words in err
        # one clear line: the message, plus for a parse error the text and a caret under it
        assert len(err.strip().splitlines()) in (1, 3)
    if status == 3 and words is not None:  # stopped by the time limit: one line, what was decided, nothing written
        assert out == "" and err.startswith("symderive: stopped: ") and words in err
        assert len(err.strip().splitlines()) == 1 and "nothing was written" in err
    assert list(out_dir.iterdir()) == []  # nothing written (a refuted check writes nothing either)
    assert sorted(os.listdir(tmp_path)) == before  # nothing outside the output folder touched


def test_a_parse_error_points_at_the_column(tmp_path):
    code, _, err, _ = run(["derive", "X @ @ W", "--out", str(tmp_path)], tmp_path)
    message, text, caret = err.rstrip("\n").splitlines()
    assert code == 2 and text.endswith("X @ @ W") and caret.index("^") == text.index("X @ @ W") + 4


@pytest.mark.parametrize("problem", ["missing", "file", "unwritable"])
def test_a_bad_output_folder(tmp_path, problem):
    if problem == "missing":
        out = tmp_path / "nope"
    elif problem == "file":
        out = tmp_path / "file.tex"
        out.write_text("keep")
    else:
        out = "/proc/self"  # not writable even for root, unlike a chmod 000 folder
    code, _, err, _ = run(["--out", str(out)], tmp_path)
    assert code == 2 and "--out" in err and len(err.strip().splitlines()) == 1
    if problem == "file":
        assert out.read_text() == "keep"
    if problem == "missing":
        assert not out.exists()


def test_an_existing_output_file_is_replaced_whole_and_identically(tmp_path):
    assert run(["--out", str(tmp_path)], tmp_path)[0] == 0
    first = (tmp_path / "XW_X3x2_W2x4.tex").read_bytes()
    assert run(["--out", str(tmp_path)], tmp_path)[0] == 0
    assert (tmp_path / "XW_X3x2_W2x4.tex").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["XW_X3x2_W2x4.tex", "XW_X3x2_W2x4_fragment.tex"]


def test_ctrl_c_while_deriving_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "derive", interrupted)
    code, out, err, _ = run(["--out", str(tmp_path)], tmp_path)
    assert code == 130 and "interrupted" in err and list(tmp_path.iterdir()) == []


def test_ctrl_c_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    assert run(["--out", str(tmp_path)], tmp_path)[0] == 0
    old = (tmp_path / "XW_X3x2_W2x4.tex").read_bytes()

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    code, _, err, _ = run(["--out", str(tmp_path)], tmp_path)
    assert code == 130 and "no file was written or changed" in err
    assert (tmp_path / "XW_X3x2_W2x4.tex").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["XW_X3x2_W2x4.tex", "XW_X3x2_W2x4_fragment.tex"]


def test_names_with_underscores_are_escaped_in_the_document():
    source = pipeline.derive("X_a @ W_b").latex()
    assert r"\mathbf{X\_a}" in source and "X_a}" not in source.replace(r"X\_a}", "")


def test_templates_never_input_a_path():
    from symderive.render import template_dir

    for template in template_dir().glob("*.j2"):
        text = re.sub(r"\(\(=.*?=\)\)", "", template.read_text(), flags=re.S)  # jinja comments
        text = re.sub(r"(?<!\\)%.*", "", text)  # LaTeX comments, which the engine never runs
        assert r"\input" not in text and r"\include" not in text and r"\write18" not in text


def test_a_parse_error_is_a_parse_error():
    with pytest.raises(ParseError):
        pipeline.derive("X @")
