"""The example programs of issue #13 (examples/*.prog): each derived, verified at
concrete sizes and proven for all sizes; the textbook formulas, written here by hand
from the literature, verified as claims; plausible mistakes refuted; the documents
compile.

Each example is derived once per module (``derivations``); every claim reuses it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import compile_latex

from symderive.cli import main
from symderive.network import check_program, derive_program
from symderive.parse import parse
from symderive.program import read_program
from symderive.render import render_program_forms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SIZES = {
    "mlp_softmax_cross_entropy": {"n": 2, "m": 2, "h": 2, "k": 3},
    "layer_norm": {"n": 2, "d": 3},
    "batch_norm": {"n": 3, "d": 2},
    "attention": {"n": 2, "m": 2, "d": 2, "e": 2},  # square: a missing transpose still has the right shape
    "logistic_regression": {"n": 3, "m": 2},
    "l2_least_squares": {"n": 3, "m": 2},
}

SOFTMAX_MINUS_T = "(softmax(Z, axis=1) - T) / n"
DS = "(A * (G @ V.T - sum((G @ V.T) * A, axis=1)))"  # softmax's backward step, row by row

# (example, input, claim): the textbook gradients, as lecture notes write them
TEXTBOOK = [
    ("mlp_softmax_cross_entropy", "W2", f"H.T @ {SOFTMAX_MINUS_T}"),
    ("mlp_softmax_cross_entropy", "b2", f"sum({SOFTMAX_MINUS_T}, axis=0)"),
    ("mlp_softmax_cross_entropy", "W1", f"X.T @ (({SOFTMAX_MINUS_T} @ W2.T) * step(Z1))"),
    ("layer_norm", "X", "(G * g - mean(G * g, axis=1) - Xh * mean(G * g * Xh, axis=1)) / S"),
    ("layer_norm", "g", "sum(G * Xh, axis=0)"),
    ("layer_norm", "b", "sum(G, axis=0)"),
    ("batch_norm", "X", "(G * g - mean(G * g, axis=0) - Xh * mean(G * g * Xh, axis=0)) / S"),
    ("batch_norm", "g", "sum(G * Xh, axis=0)"),
    ("attention", "V", "A.T @ G"),
    ("attention", "Q", f"{DS} @ K / sqrt(d)"),
    ("attention", "K", f"{DS}.T @ Q / sqrt(d)"),
    ("logistic_regression", "w", "X.T @ (p - t) / n"),
    ("logistic_regression", "b", "sum(p - t) / n"),
    ("l2_least_squares", "w", "2 * X.T @ (X @ w - y) / n + 2 * lam * w"),
]

# plausible mistakes, each refuted with a counterexample
MISTAKES = [
    ("mlp_softmax_cross_entropy", "W2", "H.T @ (softmax(Z, axis=1) - T)"),  # the 1/n of the mean
    ("mlp_softmax_cross_entropy", "W1", f"X.T @ ({SOFTMAX_MINUS_T} @ W2.T)"),  # relu's step forgotten
    ("layer_norm", "X", "(G * g - Xh * mean(G * g * Xh, axis=1)) / S"),  # the centring's term forgotten
    ("layer_norm", "X", "(G * g - mean(G * g, axis=0) - Xh * mean(G * g * Xh, axis=0)) / S"),  # the wrong axis
    ("batch_norm", "X", "(G * g - sum(G * g, axis=0) - Xh * sum(G * g * Xh, axis=0)) / S"),  # sum for mean
    ("attention", "K", f"{DS} @ Q / sqrt(d)"),  # a missing transpose, at square sizes
    ("attention", "Q", "(A * (1 - A) * (G @ V.T)) @ K / sqrt(d)"),  # softmax's Jacobian as its diagonal only
    ("attention", "Q", f"{DS} @ K"),  # the scale 1/sqrt(d) forgotten
    ("logistic_regression", "w", "X.T @ (p - t)"),  # a missing 1/n
    ("l2_least_squares", "w", "X.T @ (X @ w - y) / n + 2 * lam * w"),  # a forgotten factor 2 of the square
    ("l2_least_squares", "w", "2 * X.T @ (X @ w - y) + 2 * lam * w"),  # a missing 1/n
    ("l2_least_squares", "w", "2 * X.T @ (X @ w - y) / n + lam * w"),  # the factor 2 of lam |w|^2
]


def _text(name: str) -> str:
    return (EXAMPLES / f"{name}.prog").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def derivations():
    return {name: derive_program(_text(name), sizes=sizes) for name, sizes in SIZES.items()}


def test_every_example_is_shipped_and_reads_back():
    assert sorted(p.stem for p in EXAMPLES.glob("*.prog")) == sorted(SIZES)
    for name in SIZES:
        program = read_program(_text(name))
        again = read_program(str(program))
        assert [s.expression for s in again.steps] == [s.expression for s in program.steps]


@pytest.mark.parametrize("name", sorted(SIZES))
def test_each_example_is_verified_and_proven_for_all_sizes(derivations, name):
    derivation = derivations[name]
    assert derivation.verified, derivation.report()["local_checks"]
    assert all(w.agrees for w in derivation.witnesses.values())
    assert derivation.proven_for_all_sizes, derivation.proof_statement()


@pytest.mark.parametrize("name, wrt, claim", TEXTBOOK)
def test_the_textbook_gradient_is_verified(derivations, name, wrt, claim):
    result = check_program(_text(name), wrt, claim, sizes=SIZES[name], derivation=derivations[name])
    assert result.holds, result.report()
    uses = "sum(T, axis=1)" not in claim and name == "mlp_softmax_cross_entropy"
    assert (result.under == "under the assumption sum(T, axis=1) = 1") == uses
    if uses:
        assert "under the assumption sum(T, axis=1) = 1" in result.method


@pytest.mark.parametrize("name, wrt, claim", MISTAKES)
def test_a_plausible_mistake_is_refuted(derivations, name, wrt, claim):
    result = check_program(_text(name), wrt, claim, sizes=SIZES[name], derivation=derivations[name])
    assert result.status == "refuted" and result.counterexample is not None, result.report()


def test_cross_entropy_without_the_assumption_keeps_the_row_sums(derivations):
    """softmax(Z) * sum(T, axis=1) - T, with no assumption, and the textbook form under it."""
    derivation = derivations["mlp_softmax_cross_entropy"]
    constants = derivation.program.constants()
    form = derivation.textbook["dZ"]
    assert form.tidied == parse("(softmax(Z, axis=1) * sum(T, axis=1) - T) / n", constants)
    assert form.form == parse(SOFTMAX_MINUS_T, constants)
    assert form.status == "verified" and [str(a) for a in form.used] == ["sum(T, axis=1) = 1"]
    general = check_program(_text("mlp_softmax_cross_entropy"), "W2",
                            "H.T @ (softmax(Z, axis=1) * sum(T, axis=1) - T) / n",
                            sizes=SIZES["mlp_softmax_cross_entropy"], derivation=derivation)
    assert general.holds and general.under == ""


def test_the_textbook_claims_are_proven_for_all_sizes(derivations):
    """Where the prover reaches the claim (the attention's, the regressions'), it is proven;
    under the assumption, the proof says so."""
    for name, wrt, claim in [("attention", "Q", f"{DS} @ K / sqrt(d)"), ("attention", "V", "A.T @ G"),
                             ("l2_least_squares", "w", "2 * X.T @ (X @ w - y) / n + 2 * lam * w"),
                             ("mlp_softmax_cross_entropy", "W2", f"H.T @ {SOFTMAX_MINUS_T}")]:
        result = check_program(_text(name), wrt, claim, sizes=SIZES[name], derivation=derivations[name])
        assert result.for_all_sizes, (name, wrt, result.report()["scope"])
        assert ("under the assumption" in result.report()["scope"]) == (name == "mlp_softmax_cross_entropy")


def test_the_domains_are_stated(derivations):
    """relu's kink and the logarithms' positive arguments are where the gradients hold."""
    assert "relu has a kink at 0" in derivations["mlp_softmax_cross_entropy"].report()["domain"]
    assert "positive" in derivations["logistic_regression"].report()["domain"]
    assert derivations["attention"].report()["domain"] is None  # smooth everywhere; sqrt(d) is not 0


def test_the_documents_compile(derivations, tmp_path):
    """Every example's document, and one through the command line as a user runs it."""
    for name, derivation in derivations.items():
        standalone, _ = render_program_forms(derivation)
        assert "Under the assumptions" in standalone or name != "mlp_softmax_cross_entropy"
        code, log = compile_latex(standalone, tmp_path, name)
        assert code == 0, f"{name}: {log[-2000:]}"
    sizes = [arg for size, value in SIZES["attention"].items() for arg in ("--size", f"{size}={value}")]
    out = io.StringIO()
    code = main(["derive", "--file", str(EXAMPLES / "attention.prog"), *sizes, "--out", str(tmp_path)],
                stdout=out, stderr=io.StringIO())
    assert code == 0, out.getvalue()
    written = [p for p in tmp_path.glob("Y_*.tex") if not p.stem.endswith("_fragment")]
    assert len(written) == 1
    code, log = compile_latex(written[0].read_text(encoding="utf-8"), tmp_path, "cli")
    assert code == 0, log[-2000:]
