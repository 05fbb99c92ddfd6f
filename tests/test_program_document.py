"""The document of a program's staged backward pass (render.render_program_forms).

The facts asserted here are worked out by hand from the programs, not copied
from symderive's output: for L = sum((Y - T)**2) / 2 the gradient reaching Y is
Y - T; through Y = H W2 + b2 the weights get H^T dL/dY and the bias, added to
every row, the column sums 1_{1 x n} dL/dY; through H = tanh(Z) the upstream is
multiplied entrywise by 1 - H^2; and so on.  Each document is compiled with
pdflatex (standalone, and the fragment inside a host document), and must show
no Overfull box and no chktex warning.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from symderive.network import derive_program
from symderive.render import Notation, program_filename, render_program_forms

from conftest import compile_latex
from test_layout import chktex_warnings, layout_problems

MLP = ("X : n x m; W1 : m x h; b1 : 1 x h; W2 : h x k; b2 : 1 x k; T : n x k; "
       "Z = X @ W1 + b1; H = tanh(Z); Y = H @ W2 + b2; L = sum((Y - T) ** 2) / 2")
MLP_SIZES = {"n": 4, "m": 3, "h": 5, "k": 2}
ONE_STEP = "X : n x m; W : m x d; Y = X @ W"
ONE_STEP_SIZES = {"n": 3, "m": 2, "d": 4}
INVERSE = "A : n x n; L = trace(inv(A))"  # inv has no definition in index notation: not provable here
RESIDUAL = "X : n x m; W : m x m; Z = X @ W; Y = Z + X; L = sum(Y * Y)"  # X reaches L twice

GRADIENT = r"\frac{\partial L}{\partial %s}"


@pytest.fixture(scope="module")
def mlp():
    return derive_program(MLP, sizes=MLP_SIZES)


@pytest.fixture(scope="module")
def one_step():
    return derive_program(ONE_STEP, sizes=ONE_STEP_SIZES)


@pytest.fixture(scope="module")
def inverse():
    return derive_program(INVERSE, sizes={"n": 2})


@pytest.fixture(scope="module")
def documents(mlp, one_step, inverse):
    return {"mlp": render_program_forms(mlp), "one step": render_program_forms(one_step),
            "inverse": render_program_forms(inverse)}


def section(text: str, title: str) -> str:
    """The text of \\section{title}, up to the next \\section."""
    start = text.index("\\section{%s}" % title)
    end = text.find("\\section{", start + 1)
    return text[start:] if end == -1 else text[start:end]


def subsection(text: str, title: str) -> str:
    """The text of the \\subsection whose title starts with ``title``, up to the next (sub)section."""
    start = text.index("\\subsection{%s" % title)
    ends = [k for k in (text.find("\\subsection{", start + 1), text.find("\\section{", start + 1)) if k != -1]
    return text[start:min(ends)] if ends else text[start:]


def backward_step(text: str, number: int) -> str:
    """One backward step of the section "The backward pass": from its heading to the next step's."""
    body = section(text, "The backward pass")
    start = body.index("\\textbf{Step %d}" % number)
    end = body.find("\\textbf{Step %d}" % (number + 1), start)
    return body[start:] if end == -1 else body[start:end]


def positive_proven(text: str) -> list[int]:
    """Where the text says "proven" without a "not" just before it."""
    return [found.start() for found in re.finditer("proven", text, flags=re.I)
            if not re.search(r"not\s*$", text[max(0, found.start() - 6):found.start()], flags=re.I)]


def compile_both(standalone: str, fragment: str, folder: Path) -> dict[str, list[str]]:
    """Every problem pdflatex and chktex report for both forms."""
    packages = re.findall(r"^%   (\\usepackage\{[a-z]+\})$", fragment, flags=re.M)
    host = "\n".join([r"\documentclass{article}", *packages, r"\begin{document}",
                      r"Notes of the lecturer's own.", r"\input{part}", r"\end{document}", ""])
    (folder / "part.tex").write_text(fragment, encoding="utf-8")
    problems = {}
    for name, source in (("doc", standalone), ("host", host)):
        code, log = compile_latex(source, folder, name)
        errors = [line for line in log.splitlines() if line.startswith("!")]
        problems[f"{name}: pdflatex"] = errors or ([] if code == 0 else [f"exit {code}"])
        problems[f"{name}: layout"] = layout_problems(log)
    problems["chktex standalone"] = chktex_warnings(folder, "doc")
    problems["chktex fragment"] = chktex_warnings(folder, "part")
    return {k: v for k, v in problems.items() if v}


# --- compiling -----------------------------------------------------------------------


@pytest.mark.latex
@pytest.mark.parametrize("which", ["mlp", "one step", "inverse"])
def test_both_forms_compile_without_overfull_boxes_or_chktex_warnings(documents, which, tmp_path):
    standalone, fragment = documents[which]
    assert not compile_both(standalone, fragment, tmp_path)


@pytest.mark.latex
@pytest.mark.parametrize("options", [{"upstream": "short"}, {"bold": False},
                                     {"title": "Week 5: backprop through a 2-layer net, 100% checked & proven"}])
def test_the_notation_options_compile_too(mlp, options, tmp_path):
    standalone, fragment = render_program_forms(mlp, Notation(**options))
    assert not compile_both(standalone, fragment, tmp_path)


LONG_NAMES = ("input_batch : n x m; first_layer_weights : m x h\n"
              "hidden_pre_activation = input_batch @ first_layer_weights\n"
              "hidden_activation = sigmoid(hidden_pre_activation)\n"
              "loss_value = sum(hidden_activation * hidden_activation + exp(hidden_pre_activation) * hidden_activation"
              " - hidden_activation ** 3) / 7")


@pytest.mark.latex
@pytest.mark.parametrize("program, sizes, shapes", [
    pytest.param(LONG_NAMES, {"n": 3, "m": 2, "h": 4}, {}, id="long names, long expressions"),
    pytest.param("Z = A @ B; Y = Z.T @ C", {}, {"A": (3, 2), "B": (2, 4), "C": (3, 5)}, id="nothing declared"),
])
def test_long_names_and_undeclared_inputs_fit_the_page(program, sizes, shapes, tmp_path):
    standalone, fragment = render_program_forms(derive_program(program, sizes=sizes, shapes=shapes))
    assert not compile_both(standalone, fragment, tmp_path)


def test_the_layout_checks_can_fail(tmp_path):
    # a line too wide, and a fragment chktex warns about, are both seen
    wide = "\\documentclass{article}\n\\begin{document}\n\\mbox{%s}\n\\end{document}\n" % ("x" * 400)
    problems = compile_both(wide, "See figure \\ref{x}.\n", tmp_path)
    assert problems.get("doc: layout") and problems.get("chktex fragment")
    assert not problems.get("doc: pdflatex")


# --- the forms -----------------------------------------------------------------------


def test_the_fragment_is_the_standalone_body_without_preamble(documents):
    for standalone, fragment in documents.values():
        assert "\\documentclass" not in fragment and "\\begin{document}" not in fragment
        body = standalone.split("\\section", 1)[1].rsplit("\\end{document}", 1)[0]
        assert fragment.split("\\section", 1)[1] == body


def test_the_same_input_gives_the_same_bytes(mlp, documents):
    assert render_program_forms(mlp) == documents["mlp"]
    assert render_program_forms(derive_program(MLP, sizes=MLP_SIZES)) == documents["mlp"]


def test_the_same_input_gives_the_same_bytes_in_other_processes(documents):
    script = ("import sys; from symderive.network import derive_program; "
              "from symderive.render import render_program_forms; "
              f"sys.stdout.write('\\0'.join(render_program_forms(derive_program({ONE_STEP!r}, "
              f"sizes={ONE_STEP_SIZES!r}))))")
    root = Path(__file__).resolve().parent.parent
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                              env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)
        assert done.returncode == 0, done.stderr
        assert tuple(done.stdout.split("\0")) == documents["one step"]


def test_file_names_show_the_output_and_the_sizes(mlp, one_step, inverse):
    assert program_filename(mlp) == "L_n4_m3_h5_k2.tex"
    assert program_filename(mlp, fragment=True) == "L_n4_m3_h5_k2_fragment.tex"
    assert program_filename(one_step) == "Y_n3_m2_d4.tex"
    assert program_filename(inverse) == "L_n2.tex"
    # the order of the sizes given does not matter: the program's order is used
    assert program_filename(derive_program(ONE_STEP, sizes={"d": 4, "m": 2, "n": 3})) == "Y_n3_m2_d4.tex"


def test_file_names_are_safe_and_bounded():
    rows, cols = "number_of_rows_in_the_batch", "number_of_input_features_here"
    program = f"X : {rows} x {cols}; a_rather_long_output_name_here = sum(X * X)"
    name = program_filename(derive_program(program, sizes={rows: 2, cols: 3}))
    assert re.fullmatch(r"[A-Za-z0-9_]+\.tex", name) and len(name) == 84
    assert name.startswith("a_rather_long_output_name_here_number_of_rows_in_the_batch2_")
    layer = program_filename(derive_program("X : n1 x m; L = sum(X)", sizes={"n1": 2, "m": 3}))
    assert layer == "L_n1_2_m3.tex"  # a size name that ends in a digit keeps its value apart
    undeclared = program_filename(derive_program("Z = A @ B; L = sum(Z)", shapes={"A": (3, 2), "B": (2, 4)}))
    assert undeclared == "L_A3x2_B2x4.tex"


# --- what the document says ------------------------------------------------------------


def test_the_forward_steps_and_the_sizes(documents):
    text = documents["mlp"][0]
    program = section(text, "The program")
    assert r"$\mathbf{W}^{(1)}$ & $m \times h$ & $3 \times 5$" in program
    assert r"$\mathbf{b}^{(2)}$ & $1 \times k$ & $1 \times 2$" in program
    assert "$n = 4$, $m = 3$, $h = 5$, $k = 2$" in program
    assert r"\mathbf{X} \mathbf{W}^{(1)} + \mathbf{b}^{(1)} \in \mathbb{R}^{n \times h}" in program
    assert r"\tanh\left(\mathbf{Z}\right) \in \mathbb{R}^{n \times h}" in program
    # the biases are 1 x h and 1 x k rows added to n-row matrices: repeated over the rows
    assert r"$\mathbf{b}^{(1)} \in \mathbb{R}^{1 \times h}$ is repeated over the rows" in program
    assert "W_{1}" not in text and "W_1" not in text  # layer numbers are superscripts


# bold names, and the gradients of the loss with respect to them, as the document prints them
X, Y, Z, H, T, W = (r"\mathbf{%s}" % name for name in "XYZHTW")
W1, W2, b1, b2 = r"\mathbf{W}^{(1)}", r"\mathbf{W}^{(2)}", r"\mathbf{b}^{(1)}", r"\mathbf{b}^{(2)}"
W1T, W2T = r"\mathbf{W}^{(1)\top}", r"\mathbf{W}^{(2)\top}"


def dL(name: str) -> str:
    return GRADIENT % name


def df(name: str) -> str:
    return r"\frac{\partial f}{\partial %s}" % name


def test_the_backward_steps_of_the_two_layer_network(documents):
    text = documents["mlp"][0]
    # L = sum((Y - T)**2) / 2: the loss's gradient reaching Y is Y - T, and -(Y - T) for T
    assert dL(Y) + " = " + Y + " - " + T + "." in backward_step(text, 1)
    assert "by Lemmas" in backward_step(text, 1)  # div, sum, power and sub, each a lemma
    # Y = H W2 + b2: dH = dY W2^T, dW2 = H^T dY, db2 = 1_{1 x n} dY (summed over the n rows)
    assert dL(H) + " = " + dL(Y) + " " + W2T + "." in backward_step(text, 3)
    assert dL(W2) + " = " + H + r"^{\top} " + dL(Y) + "." in backward_step(text, 4)
    step5 = backward_step(text, 5)
    assert dL(b2) + r" = \mathbf{1}_{1 \times n} " + dL(Y) + "." in step5
    assert r"\mathbf{1}_{1 \times 4} " + dL(Y) + "." in step5  # n = 4, as checked
    # H = tanh(Z): dZ = dH * (1 - H^2), written with H, not tanh(Z)
    step6 = backward_step(text, 6)
    assert r"From the upstream gradient $\partial L / \partial \mathbf{H}$" in section(text, "The backward pass")
    assert dL(Z) + " = " + dL(H) + r" \odot \left(1 - " + H + r"^{\circ 2}\right)." in step6
    assert r"(\emph{tanh})" in step6
    # Z = X W1 + b1
    assert dL(X) + " = " + dL(Z) + " " + W1T + "." in backward_step(text, 7)
    assert dL(W1) + " = " + X + r"^{\top} " + dL(Z) + "." in backward_step(text, 8)
    # 9 steps: Y and T from L; H, W2 and b2 from Y; Z from H; X, W1 and b1 from Z
    body = section(text, "The backward pass")
    assert body.count(r"\textbf{Step ") == 9 and r"\textbf{Step 10}" not in body
    for number in range(1, 10):
        assert "Verified exactly at the sizes chosen" in backward_step(text, number)
        assert "proven for all sizes (backward step %d" % number in backward_step(text, number)


def test_the_closed_forms_of_the_two_layer_network(documents):
    gradients = section(documents["mlp"][0], "The gradients")
    row = lambda name: next(line for line in gradients.splitlines() if line.strip().startswith(GRADIENT % name))
    # dL/dW2 = H^T (Y - T), the textbook result
    assert r"{\mathbf{H}^{\top} \left(\mathbf{Y} - \mathbf{T}\right)}" in row(r"\mathbf{W}^{(2)}")
    # dL/db1 sums the hidden gradient over the n rows: 1_{1 x n} (((Y - T) W2^T) * (1 - H^2))
    assert (r"\mathbf{1}_{1 \times n} \left(\left(\left(\mathbf{Y} - \mathbf{T}\right) \mathbf{W}^{(2)\top}\right)"
            r" \odot \left(1 - \mathbf{H}^{\circ 2}\right)\right)") in row(r"\mathbf{b}^{(1)}")
    assert r"\mathbf{1}_{1 \times 4}" in gradients  # and, at the sizes chosen, n = 4


def test_every_lemma_once_with_its_proof(mlp, documents):
    lemmas = section(documents["mlp"][0], "Lemmas")
    titles = re.findall(r"\\subsection\{Lemma (\d+): ([^}]*)\}", lemmas)
    # / 2, sum, ** 2, - (both sides), + with a broadcast row (both sides), @ (both sides), tanh
    assert len(titles) == 10 and len({name for _, name in titles}) == 10
    assert [int(k) for k, _ in titles] == list(range(1, 11))
    # every lemma a step cites is one of them, and every one is cited
    cited = set(re.findall(r"(\d+)~\(\\emph\{", section(documents["mlp"][0], "The backward pass")))
    assert cited == {k for k, _ in titles}
    # the product's lemma carries the seed note's derivation, each step with its verdict
    product = subsection(lemmas, "Lemma 4: matmul")
    assert "delta contraction over r" in product and product.count("\\noindent Step ") == 8
    assert product.count("$\\checkmark$ proven for all sizes") == 8
    # each backward step's own proof, once
    proofs = section(documents["mlp"][0], "The backward steps in index notation")
    assert proofs.count("\\subsection{Backward step ") == 9
    assert proofs.count("The backward step is proven for all sizes.") == 9


def test_what_was_checked(documents):
    checked = section(documents["mlp"][0], "What was checked")
    assert checked.count("\\item Step ") == 9 and checked.count("verified; ") == 9
    assert "in each of the 20 entries ($4 \\times 5$)" in checked  # dZ is 4 x 5
    assert checked.count("they agree; central differences") == 6  # one witness per input
    assert "Not run: the inlined program is not polynomial" in checked  # tanh: not expanded whole
    assert "\\textbf{Proven for all sizes.}" in checked
    assert "the gradients are proven for all sizes" in checked


def test_a_proven_program_never_says_not_proven(documents):
    for which in ("mlp", "one step"):
        text = documents[which][0]
        assert not re.search("not proven", text, flags=re.I), which
        assert positive_proven(text)


def test_the_one_step_program_is_the_seed_note(documents):
    text = documents["one step"][0]
    # a matrix-valued output: f is any scalar function of Y, dY stays a symbol
    assert "Let $f$ be any scalar function of it" in text
    assert df(X) + " = " + df(Y) + " " + W + r"^{\top}." in backward_step(text, 1)
    assert df(W) + " = " + X + r"^{\top} " + df(Y) + "." in backward_step(text, 2)
    assert r"No 4th-rank tensor such as $\partial \mathbf{Y} / \partial \mathbf{X}$ is formed" in text
    assert "Not needed: a program of one step is checked whole by its local check." in text
    assert r"\subsection{The backward pass in summary}" not in text  # it would repeat the one step


def test_an_inverse_is_never_called_proven(documents):
    text = documents["inverse"][0]
    # d trace(inv(A)) / dA = -(A^-1)^T (A^-1)^T, checked at n = 2
    gradients = section(text, "The gradients")
    assert r"-{\left(\mathbf{A}^{-1}\right)}^{\top} {\left(\mathbf{A}^{-1}\right)}^{\top}" in gradients
    assert "Verified exactly at the sizes chosen" in backward_step(text, 1)
    assert "\\textbf{not proven} for all sizes" in backward_step(text, 1)
    checked = section(text, "What was checked")
    assert "Not proven for all sizes" in checked and "Checked but not proven: Lemma~1 (\\emph{inv})" in checked
    assert "not a proof for all sizes" in checked
    assert "Lemma 1: inv" in text and "\\textbf{\\color{red}Not proven}" in subsection(text, "Lemma 1: inv")
    # "proven" without a "not" only where it is true: the trace's lemma (G * I, provable in index notation)
    trace = subsection(text, "Lemma 2: trace")
    start = text.index(trace)
    claims = positive_proven(text)
    assert claims and all(start <= k < start + len(trace) for k in claims), \
        [text[k - 60:k + 20] for k in claims if not start <= k < start + len(trace)]


def test_the_proven_word_check_can_fail():
    assert positive_proven("a step not proven, Not proven; another \\textbf{not proven}") == []
    assert len(positive_proven("not proven, and proven for all sizes")) == 1


def test_a_matrix_used_twice_adds_its_contributions():
    text = render_program_forms(derive_program(RESIDUAL, sizes={"n": 2, "m": 3}))[0]
    body = section(text, "The backward pass")
    # Y = Z + X and Z = X W: X gets dY from the sum and dZ W^T from the product
    assert dL(X) + r" \mathrel{+}= " + dL(Y) + "." in body
    assert dL(X) + r" \mathrel{+}= " + dL(Z) + " " + W + r"^{\top}." in body
    assert "Adding its 2 contributions" in body
    assert dL(X) + " = " + dL(Y) + " + " + dL(Z) + " " + W + r"^{\top}." in body
    # L = sum(Y * Y): dY = 2 Y
    assert dL(Y) + " = 2 " + Y + "." in body


def test_the_short_notation_and_plain_names(mlp):
    short = render_program_forms(mlp, Notation(upstream="short"))[0]
    assert r"it is written" in short and r"$\overline{\mathbf{Z}}$" in short
    assert (r"\overline{\mathbf{Z}} = \overline{\mathbf{H}} \odot \left(1 - \mathbf{H}^{\circ 2}\right)"
            in section(short, "The backward pass"))
    assert r"\frac{\partial L}" not in section(short, "The backward pass")
    plain = render_program_forms(mlp, Notation(bold=False))[0]
    assert r"\mathbf{" not in plain.replace(r"\mathbf{1}", "")
    assert r"W^{(2)\top}" in plain
    titled = render_program_forms(mlp, Notation(title="100% & {x}"))[0]
    assert r"\title{100\% \& \{x\}}" in titled.replace("\n", "")
