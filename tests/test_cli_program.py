"""The command line on programs of named steps: the issue's acceptance commands."""

import io
import json

import pytest

from symderive.cli import main

MLP = ("X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k\n"
       "Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2")
SIZES = ["--size", "n=4", "--size", "m=3", "--size", "h=5", "--size", "k=2"]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_true_w1_claim_is_verified_and_proven():
    code, out, _ = run("check", MLP, "--wrt", "W1", "--claim", "X.T @ (((Y - T) @ W2.T) * (1 - H ** 2))", *SIZES)
    assert code == 0 and "VERIFIED exactly" in out and "PROVEN for all sizes" in out


def test_the_claim_without_the_tanh_derivative_is_refuted_with_an_entry():
    code, out, _ = run("check", MLP, "--wrt", "W1", "--claim", "X.T @ ((Y - T) @ W2.T)", *SIZES)
    assert code == 1 and "REFUTED" in out and "entry (1, 1) differs" in out


def test_the_check_as_json():
    code, out, _ = run("check", MLP, "--wrt", "b2", "--claim", "ones(1, 4) @ (Y - T)", *SIZES, "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "verified" and report["proven_for_all_sizes"] is True


def test_a_program_from_a_file(tmp_path):
    path = tmp_path / "mlp.sd"
    path.write_text("# the issue's network\n" + MLP.replace("; ", "\n") + "\n", encoding="utf-8")
    code, out, _ = run("check", "--file", str(path), "--wrt", "W2", "--claim", "H.T @ (Y - T)", *SIZES)
    assert code == 0 and "PROVEN for all sizes" in out


@pytest.mark.parametrize("argv, words", [
    (["check", MLP, "--wrt", "W1", "--claim", "X.T", "--size", "n=4"], "--size m=VALUE"),
    (["check", MLP, "--wrt", "W1", "--claim", "X.T", *SIZES, "--n", "3"], "--size NAME=VALUE"),
    (["check", "X @ W", "--wrt", "X", "--claim", "G @ W.T", "--size", "n=3"], "--shape"),
    (["check", MLP, "--wrt", "W1", "--claim", "Q", *SIZES], "not a name of the program"),
    (["check", MLP, "--wrt", "Z", "--claim", "X", *SIZES], "inputs are"),
    (["check", "--wrt", "W1", "--claim", "X"], "EXPR"),
    (["check", MLP, "--wrt", "W1", "--claim", "X", "--size", "n=0", "--size", "m=3", "--size", "h=5",
      "--size", "k=2"], "--size n"),
    (["check", "X : n x m; Y = X @@ W", "--wrt", "X", "--claim", "X"], "line 1, column"),
])
def test_bad_input_exits_2_with_one_message(argv, words):
    code, out, err = run(*argv)
    assert code == 2 and out == "" and words in err and "Traceback" not in err


def test_a_file_and_an_expression_together_are_refused(tmp_path):
    path = tmp_path / "p.sd"
    path.write_text(MLP, encoding="utf-8")
    code, _, err = run("check", "X", "--file", str(path), "--wrt", "W1", "--claim", "X", *SIZES)
    assert code == 2 and "not both" in err
    code, _, err = run("check", "--file", str(tmp_path / "missing.sd"), "--wrt", "W1", "--claim", "X")
    assert code == 2 and "does not exist" in err


def test_derive_the_network_as_json_writes_both_forms(tmp_path):
    code, out, _ = run("derive", MLP, *SIZES, "--json", "--out", str(tmp_path))
    report = json.loads(out)
    assert code == 0 and report["verified"] is True and report["proven_for_all_sizes"] is True
    assert set(report["closed_forms"]) >= {"X", "W1", "b1", "W2", "b2"}
    assert report["closed_forms"]["W2"] == "H.T @ (Y - T)"
    assert all(lemma["proof"]["steps"] for lemma in report["lemmas"])  # every lemma's proof is in --json
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["L_n4_m3_h5_k2.tex", "L_n4_m3_h5_k2_fragment.tex"]
    again = tmp_path / "again"
    again.mkdir()
    run("derive", MLP, *SIZES, "--out", str(again))
    assert (again / written[0]).read_bytes() == (tmp_path / written[0]).read_bytes()  # deterministic


def test_derive_summary_says_what_was_proven(tmp_path):
    code, out, _ = run("derive", MLP, *SIZES, "--out", str(tmp_path))
    assert code == 0 and "dZ += dH * (1 - H**2)" in out and "10 of 10 lemmas proven for all sizes" in out
    code, out, _ = run("derive", "A : n x n; B : n x n; Y = inv(A) @ B; L = trace(Y)", "--size", "n=2",
                       "--out", str(tmp_path))
    assert code == 0 and "not proven for all sizes" in out and "inv" in out


# --- found by a hostile reading of the first version -------------------------

BIAS = "X : n x m; b : 1 x m; Y = X + b; L = sum(Y)"


def test_a_claim_true_only_at_the_sizes_given_is_never_proven_for_all_sizes():
    # dL/db = n * ones(1, m): 4 * ones(1, 3) holds at n = 4 only
    code, out, _ = run("check", BIAS, "--size", "n=4", "--size", "m=3", "--wrt", "b", "--claim", "ones(1,3) * 4")
    assert code == 0 and "VERIFIED" in out and "PROVEN" not in out and "not a proof for all sizes" in out
    code, out, _ = run("check", BIAS, "--size", "n=5", "--size", "m=3", "--wrt", "b", "--claim", "ones(1,3) * 4")
    assert code == 1 and "REFUTED" in out
    code, out, _ = run("check", BIAS, "--size", "n=4", "--size", "m=4", "--wrt", "b", "--claim", "ones(1,4) * 4")
    assert code == 0 and "PROVEN" not in out


@pytest.mark.parametrize("program, sizes", [
    ("X : n x m; Y = exp(X * 2); L = sum(Y)", ["--size", "n=2", "--size", "m=3"]),  # a named argument U1
    ("A : n x n; L = det(A)", ["--size", "n=2"]),  # det's adjugate in the numeric witness
    ("X : n x m; s = sum(X); Y = X * s; L = sum(Y)", ["--size", "n=3", "--size", "m=2"]),  # a 1 x 1 step
])
def test_programs_that_once_crashed_or_were_called_false_derive(tmp_path, program, sizes):
    code, out, err = run("derive", program, *sizes, "--out", str(tmp_path))
    assert code == 0 and "Traceback" not in err and "(false)" not in out and "VERIFIED" in out


def test_an_internal_error_is_exit_4_never_a_verdict(monkeypatch):
    import symderive.network as network

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(network, "derive_program", broken)
    code, out, err = run("check", BIAS, "--size", "n=4", "--size", "m=3", "--wrt", "b", "--claim", "ones(1,3) * 4")
    assert code == 4 and out == "" and "internal error" in err and "Traceback" not in err


def test_an_undecided_claim_names_its_entry():
    code, out, _ = run("check", "X : n x m; Y = X * X; L = sum(sqrt(Y))", "--size", "n=3", "--size", "m=2",
                       "--wrt", "X", "--claim", "ones(3, 2)")
    assert code == 3 and "UNDECIDED" in out and "entry (1, 1) is undecided" in out
