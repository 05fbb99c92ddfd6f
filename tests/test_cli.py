"""The command line, run in-process through symderive.cli.main."""

import io
import json
import os
import subprocess
import sys

import pytest

from symderive.cli import main
from symderive.errors import ExitStatus


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_good_run_writes_the_document_and_says_so(tmp_path):
    code, out, err = run("--n", "3", "--m", "2", "--d", "4", "--out", str(tmp_path))
    assert code == ExitStatus.VERIFIED == 0
    written = tmp_path / "XW_X3x2_W2x4.tex"
    assert written.is_file() and written.read_text().startswith(r"\documentclass")
    fragment = tmp_path / "XW_X3x2_W2x4_fragment.tex"
    assert fragment.is_file() and r"\documentclass" not in fragment.read_text()
    assert f"wrote {written}, {fragment}" in out
    assert "X: 3x2, W: 2x4" in out
    assert "all 4 identities verified exactly at these sizes" in out
    assert out.count("steps, proven for all sizes") == 2 and "closed forms proven for all sizes" in out
    assert err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [written.name, fragment.name]  # no temporary left


def test_defaults_are_the_issue_sizes(tmp_path):
    code, out, _ = run("--out", str(tmp_path))
    assert code == 0 and (tmp_path / "XW_X3x2_W2x4.tex").is_file()


def test_help_text_names_each_default(capsys):
    assert main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines where it likes
    for flag in ("--n N", "--m N", "--d N"):
        assert flag in text
    assert text.count("(default 3)") == 1 and "(default 2)" in text and "(default 4)" in text


def test_json_report(tmp_path):
    code, out, _ = run("--n", "2", "--m", "3", "--d", "2", "--json", "--out", str(tmp_path))
    assert code == 0
    report = json.loads(out)
    assert report["shapes"] == {"X": [2, 3], "W": [3, 2]}
    assert report["closed_forms"] == {"X": "G @ W.T", "W": "X.T @ G"}
    assert report["verified"] is True
    assert [i["verified"] for i in report["identities"]] == [True] * 4
    assert report["jacobians"]["X"] == {"shape": [2, 2, 2, 3], "nonzero": 12, "entries": 24}
    assert report["output"] == str(tmp_path / "XW_X2x3_W3x2.tex")
    assert os.path.isfile(report["output"])


@pytest.mark.parametrize("argv, words", [
    (["--n", "0"], "--n"),
    (["--m", "-3"], "--m"),
    (["--d", "2.5"], "--d"),
    (["--d", "2.0"], "--d"),
    (["--n", "three"], "--n"),
    (["--n", ""], "--n"),
    (["--n", "１"], "--n"),          # a full-width digit is not a size
    (["--bogus"], "unrecognized"),
    (["--n"], "expected one argument"),
    (["--max-work", "0"], "--max-work"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, argv, words):
    code, out, err = run(*argv, "--out", str(tmp_path))
    assert code == ExitStatus.BAD_INPUT == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_too_much_work_is_refused_with_an_estimate(tmp_path):
    code, _, err = run("--n", "300", "--m", "300", "--d", "300", "--out", str(tmp_path))
    assert code == 2
    assert "units of work" in err and "--max-work" in err and " s)" in err
    assert list(tmp_path.iterdir()) == []


def test_raising_the_limit_lets_a_run_through(tmp_path):
    code, _, err = run("--n", "3", "--m", "2", "--d", "4", "--max-work", "1", "--out", str(tmp_path))
    assert code == 2 and "--max-work" in err
    code, _, _ = run("--n", "3", "--m", "2", "--d", "4", "--max-work", "1000", "--out", str(tmp_path))
    assert code == 0


def test_out_must_be_an_existing_folder(tmp_path):
    missing = tmp_path / "nope"
    code, _, err = run("--out", str(missing))
    assert code == 2 and "does not exist" in err and not missing.exists()
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    code, _, err = run("--out", str(a_file))
    assert code == 2 and "not a folder" in err and a_file.read_text() == "keep me"


def test_default_output_folder_is_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("--n", "1", "--m", "1", "--d", "1")
    assert code == 0 and (tmp_path / "output" / "XW_X1x1_W1x1.tex").is_file()


def test_a_refuted_identity_exits_1(tmp_path, monkeypatch):
    from symderive.expr import MatMul
    from symderive.rules import Rule, _RULES

    left, right = _RULES["matmul"]
    broken = Rule("matmul", 1, "df/dB = A @ G", "test", lambda G, node, shapes, out: MatMul(node.left, G),
                  right.entry_jacobian)
    monkeypatch.setitem(_RULES, "matmul", (left, broken))
    code, out, _ = run("--n", "2", "--m", "2", "--d", "2", "--out", str(tmp_path))
    assert code == ExitStatus.REFUTED == 1
    assert "FAILED" in out and "NOT verified" in out


def test_python_dash_m_runs_as_a_process(tmp_path):
    done = subprocess.run([sys.executable, "-m", "symderive", "--n", "2", "--m", "1", "--d", "2",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "XW_X2x1_W1x2.tex").is_file()
    bad = subprocess.run([sys.executable, "-m", "symderive", "--n", "-1"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_output_is_byte_identical_across_processes_and_hash_seeds(tmp_path):
    texts = []
    for seed in ("1", "12345"):
        folder = tmp_path / seed
        folder.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "symderive", "--out", str(folder), "--json"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        texts.append(((folder / "XW_X3x2_W2x4.tex").read_bytes(),
                      done.stdout.replace(str(folder), "OUT")))
    assert texts[0] == texts[1]


# ---------------------------------------------------------------------------
# derive EXPR and check EXPR
# ---------------------------------------------------------------------------


def test_derive_an_expression_writes_its_document(tmp_path):
    code, out, err = run("derive", "tanh(X @ W + b)", "--shape", "X=3x2", "--shape", "W=2x4",
                         "--shape", "b=1x4", "--out", str(tmp_path))
    assert code == 0, err
    written = tmp_path / "tanhXWpb_X3x2_W2x4_b1x4.tex"
    assert written.is_file() and f"wrote {written}" in out
    assert "df/db = ones(1, 3) @ (G * (1 - tanh(X @ W + b)**2))" in out


def test_derive_reports_default_sizes(tmp_path):
    code, out, _ = run("derive", "trace(X @ A)", "--json", "--out", str(tmp_path))
    report = json.loads(out)
    assert code == 0 and report["defaulted"] == {"X": ["rows", "cols"], "A": ["rows", "cols"]}
    assert report["upstream"] is None and report["closed_forms"] == {"X": "A.T", "A": "X.T"}


def test_bare_flags_and_derive_agree(tmp_path):
    code, out, _ = run("derive", "X @ W", "--n", "3", "--m", "2", "--d", "4", "--json", "--out", str(tmp_path))
    assert code == 0 and json.loads(out)["shapes"] == {"X": [3, 2], "W": [2, 4]}


def test_check_verified_exits_0_and_names_the_shapes():
    code, out, _ = run("check", "X @ W", "--wrt", "X", "--claim", "G @ W.T + 0 * X",
                       "--n", "3", "--m", "2", "--d", "4")
    assert code == 0 and "VERIFIED exactly" in out and "X: 3x2, W: 2x4" in out
    # G @ W.T + 0 * X is G @ W.T in index notation: proven for all sizes too
    assert "PROVEN for all sizes" in out and "not a proof for all sizes" not in out


def test_a_check_the_index_language_cannot_follow_is_at_these_sizes_only():
    code, out, _ = run("check", "sum(log(X * X))", "--wrt", "X", "--claim", "2 * X ** -1", "--shape", "X=2x2")
    assert code == 0 and "not a proof for all sizes" in out


def test_check_refuted_exits_1_with_the_entry_and_difference():
    code, out, _ = run("check", "X @ W", "--wrt", "W", "--claim", "G @ X",
                       "--shape", "X=3x3", "--shape", "W=3x3")
    assert code == 1 and "REFUTED" in out
    assert "entry (1, 1) differs: derived" in out and "claimed" in out and "difference" in out


def test_check_wrong_shape_exits_1_naming_both_shapes():
    code, out, _ = run("check", "X @ W", "--wrt", "X", "--claim", "W.T", "--n", "3", "--m", "2", "--d", "4")
    assert code == 1 and "4x2" in out and "3x2" in out


def test_check_json():
    code, out, _ = run("check", "trace(X @ A)", "--wrt", "X", "--claim", "A.T", "--json")
    report = json.loads(out)
    assert code == 0 and report["verified"] is True and report["claim"] == "A.T"


@pytest.mark.parametrize("argv, words", [
    (["check", "W @ X", "--wrt", "X", "--claim", "G", "--shape", "X=3x2", "--shape", "W=2x4"],
     "W @ X does not conform"),
    (["check", "X @ W", "--wrt", "X", "--claim", "G @ W.T +"], "in the claim"),
    (["check", "X @ W", "--wrt", "Q", "--claim", "G"], "cannot differentiate by 'Q'"),
    (["check", "X @ W", "--wrt", "X"], "--claim"),
    (["derive", "__import__('os')"], "line 1"),
    (["derive", "X.__class__"], "line 1"),
    (["derive", "lambda: 0"], "line 1"),
    (["derive", "X[0]"], "line 1"),
    (["derive", "X @ W", "--shape", "X=3by2"], "--shape"),
    (["derive", "X @ W", "--shape", "X=0x2"], "--shape X"),
])
def test_expression_bad_input_exits_2(tmp_path, argv, words):
    code, out, err = run(*argv, *(["--out", str(tmp_path)] if argv[0] == "derive" else []))
    assert code == 2 and out == "" and words in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# prove FILE
# ---------------------------------------------------------------------------

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_prove_the_notes_section_exits_0():
    code, out, _ = run("prove", os.path.join(EXAMPLES, "note_section3.sd"))
    assert code == 0 and "all 6 steps proven for all sizes" in out
    assert out.count(": proven for all sizes") == 6


def test_prove_a_planted_mistake_exits_1_with_the_step_and_counterexample():
    code, out, _ = run("prove", os.path.join(EXAMPLES, "mistake_w_qj.sd"))
    assert code == 1 and "step 3 (line 16" in out and "NOT proven: step 3 is false" in out
    assert "counterexample at n=" in out and "the two sides differ" in out


def test_prove_json():
    code, out, _ = run("prove", os.path.join(EXAMPLES, "mistake_wrong_sum_index.sd"), "--json")
    report = json.loads(out)
    assert code == 1 and report["proven"] is False
    assert [s["verdict"] for s in report["steps"]][:4] == ["proven for all sizes"] * 3 + ["false"]
    assert report["steps"][3]["counterexample"]["reason"] == "the two sides differ"


def test_prove_the_note_as_written_names_the_dimensions():
    # refused as stated, like any input that does not make sense: exit 2, not "false"
    code, out, _ = run("prove", os.path.join(EXAMPLES, "note_as_written.sd"))
    assert code == 2 and "W @ X does not conform" in out


@pytest.mark.parametrize("setup, words", [
    (lambda d: d / "missing.sd", "missing.sd"),
    (lambda d: d, "directory"),
    (lambda d: (d / "bad.sd").write_text("sizes n\nmatrix X : n x q\n") and d / "bad.sd", "line 2"),
])
def test_prove_an_unreadable_file_exits_2(tmp_path, setup, words):
    path = setup(tmp_path)
    code, out, err = run("prove", str(path))
    assert code == 2 and out == "" and words in err and "Traceback" not in err


def test_a_scalar_output_is_called_L_alike_in_summary_json_and_document(tmp_path):
    # a scalar-valued expression is a loss: Y reads as a matrix; the same name everywhere
    code, out, _ = run("derive", "sum(exp(X @ W))", "--shape", "X=3x2", "--shape", "W=2x4",
                       "--out", str(tmp_path))
    assert code == 0
    assert out.startswith("L = sum(exp(X @ W))") and "L is 1x1: differentiated directly (f = L)" in out
    assert "dL/dX: 1x1x3x2 tensor, 6 of 6 entries nonzero" in out
    # two identities (df/dX, df/dW): "both", not "all 2"
    assert "both identities verified exactly" in out and "all 2 identities" not in out
    document = (tmp_path / "sumexpXW_X3x2_W2x4.tex").read_text()
    assert r"The chain rule on $L = " in document and r"$f = L$" in document  # italic: a scalar
    code, out, _ = run("derive", "sum(exp(X @ W))", "--shape", "X=3x2", "--shape", "W=2x4", "--json",
                       "--out", str(tmp_path))
    assert json.loads(out)["expression"].startswith("L = ")


def test_counts_in_the_summary_have_thousands_separators(tmp_path):
    # dY/dX at X: 40x40, W: 40x40 has 40^4 = 2,560,000 entries, of which the
    # support p = i has 40^3 = 64,000 nonzero (Y_pq contains X_pr only for p = i)
    code, out, _ = run("derive", "X @ W", "--shape", "X=40x40", "--shape", "W=40x40", "--out", str(tmp_path))
    assert code == 0, out
    assert "dY/dX: 40x40x40x40 tensor, 64,000 of 2,560,000 entries nonzero" in out
